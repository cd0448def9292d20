/*
 * Register layouts and bits of the IP blocks the STM32F1 and F4 share, for the SoC test
 * programs (firmware/tests/soc_*). Included by bsp/stm32f1/soc_periph.h and
 * bsp/stm32f4/soc_periph.h, which add the base addresses, pins and everything family-only.
 * Only what is identical in both manuals is here; no vendor headers.
 *
 * Source (RM0008 rev 21 / RM0430 rev 8): USART §27.6 / §26.6, SPI §25.5 / §29.7,
 * I2C v1 §26.6 / §27.6, general-purpose timers TIM2-5 §15.4 / §18.4, EXTI §10.3 / §10.3,
 * IWDG §19.4 / §17.4.
 */
#ifndef SOC_PERIPH_COMMON_H
#define SOC_PERIPH_COMMON_H

#include <stdint.h>

/* ---- EXTI ---- */
typedef struct {
    volatile uint32_t IMR;   /* 0x00 */
    volatile uint32_t EMR;   /* 0x04 */
    volatile uint32_t RTSR;  /* 0x08 */
    volatile uint32_t FTSR;  /* 0x0C */
    volatile uint32_t SWIER; /* 0x10 */
    volatile uint32_t PR;    /* 0x14 rc_w1 */
} exti_regs_t;

/* ---- USART SR error/receive bits (usart_regs_t and the rest are in stm32f1.h/stm32f4.h) ---- */
#define USART_SR_PE (1u << 0)
#define USART_SR_FE (1u << 1)
#define USART_SR_NE (1u << 2)
#define USART_SR_ORE (1u << 3)
#define USART_SR_RXNE (1u << 5)

/* ---- SPI ---- */
typedef struct {
    volatile uint32_t CR1;     /* 0x00 */
    volatile uint32_t CR2;     /* 0x04 */
    volatile uint32_t SR;      /* 0x08 */
    volatile uint32_t DR;      /* 0x0C */
    volatile uint32_t CRCPR;   /* 0x10 */
    volatile uint32_t RXCRCR;  /* 0x14 */
    volatile uint32_t TXCRCR;  /* 0x18 */
    volatile uint32_t I2SCFGR; /* 0x1C */
    volatile uint32_t I2SPR;   /* 0x20 */
} spi_regs_t;
#define SPI_CR1_MSTR (1u << 2)
#define SPI_CR1_BR_POS 3u              /* f_SCK = f_PCLK / 2^(BR+1) */
#define SPI_CR1_SPE (1u << 6)
#define SPI_CR1_SSI (1u << 8)
#define SPI_CR1_SSM (1u << 9)
#define SPI_SR_RXNE (1u << 0)
#define SPI_SR_TXE (1u << 1)
#define SPI_SR_MODF (1u << 5)
#define SPI_SR_OVR (1u << 6)
#define SPI_SR_BSY (1u << 7)

/* ---- I2C v1 ---- */
/* Registers after TRISE differ (the F4 adds FLTR): the family header defines them here. */
#ifndef SOC_I2C_FAMILY_REGS
#define SOC_I2C_FAMILY_REGS
#endif
typedef struct {
    volatile uint32_t CR1;   /* 0x00 */
    volatile uint32_t CR2;   /* 0x04 FREQ[5:0] = PCLK1 in MHz */
    volatile uint32_t OAR1;  /* 0x08 */
    volatile uint32_t OAR2;  /* 0x0C */
    volatile uint32_t DR;    /* 0x10 */
    volatile uint32_t SR1;   /* 0x14 */
    volatile uint32_t SR2;   /* 0x18 */
    volatile uint32_t CCR;   /* 0x1C */
    volatile uint32_t TRISE; /* 0x20 */
    SOC_I2C_FAMILY_REGS
} i2c_regs_t;
#define I2C_CR1_PE (1u << 0)
#define I2C_CR1_START (1u << 8)
#define I2C_CR1_STOP (1u << 9)
#define I2C_CR1_ACK (1u << 10)
#define I2C_CR1_SWRST (1u << 15)
#define I2C_SR1_SB (1u << 0)
#define I2C_SR1_ADDR (1u << 1)
#define I2C_SR1_BTF (1u << 2)
#define I2C_SR1_RXNE (1u << 6)
#define I2C_SR1_TXE (1u << 7)
#define I2C_SR1_AF (1u << 10)
#define I2C_SR2_MSL (1u << 0)
#define I2C_SR2_BUSY (1u << 1)

/* ---- General-purpose timers TIM2-5, up to ARR (counter width is per family) ---- */
typedef struct {
    volatile uint32_t CR1;   /* 0x00 */
    volatile uint32_t CR2;   /* 0x04 */
    volatile uint32_t SMCR;  /* 0x08 */
    volatile uint32_t DIER;  /* 0x0C */
    volatile uint32_t SR;    /* 0x10 */
    volatile uint32_t EGR;   /* 0x14 */
    volatile uint32_t CCMR1; /* 0x18 */
    volatile uint32_t CCMR2; /* 0x1C */
    volatile uint32_t CCER;  /* 0x20 */
    volatile uint32_t CNT;   /* 0x24 */
    volatile uint32_t PSC;   /* 0x28 */
    volatile uint32_t ARR;   /* 0x2C */
} tim_regs_t;
#define TIM_CR1_CEN (1u << 0)
#define TIM_CR1_URS (1u << 2)
#define TIM_DIER_UIE (1u << 0)
#define TIM_SR_UIF (1u << 0)
#define TIM_EGR_UG (1u << 0)

/* ---- IWDG (clocked by the LSI, whose rate is per family) ---- */
typedef struct {
    volatile uint32_t KR;  /* 0x00 keys 0x5555 access, 0xAAAA reload, 0xCCCC start */
    volatile uint32_t PR;  /* 0x04 prescaler /4 << PR */
    volatile uint32_t RLR; /* 0x08 12-bit reload */
    volatile uint32_t SR;  /* 0x0C PVU RVU */
} iwdg_regs_t;

#endif /* SOC_PERIPH_COMMON_H */
