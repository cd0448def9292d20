/*
 * STM32F1 peripheral registers beyond the console set of stm32f1.h: clock tree (RCC CR/CFGR
 * fields), flash interface, GPIO ports B/C, AFIO, EXTI, USART2, SPI1, I2C1, TIM2, IWDG.
 * Used by the SoC test programs (firmware/tests/soc_*); no vendor headers.
 *
 * Source: RM0008 rev 21: RCC §7.3.1-7.3.10 (CR, CFGR, APB1ENR, CSR), flash §3.3.3 and PM0075
 * §3 (ACR, KEYR, SR, CR, AR), GPIO/AFIO §9.2-9.4 (AFIO_EXTICR), EXTI §10.3, USART §27.6,
 * SPI §25.5, I2C §26.6, general-purpose timers §15.4, IWDG §19.4. Memory map §3.3 Table 3.
 * Pins (DS5319 Table 5, default functions): USART2 TX/RX PA2/PA3, SPI1 NSS/SCK/MISO/MOSI
 * PA4..PA7, I2C1 SCL/SDA PB6/PB7.
 *
 * The register layouts of USART, SPI, I2C, TIM, EXTI and IWDG are the same on the F4; the
 * F4 twin of this file is bsp/stm32f4/soc_periph.h (same names, F4 addresses and bits).
 */
#ifndef SOC_PERIPH_H
#define SOC_PERIPH_H

#include <stdint.h>
#include "soc.h"

/* ---- RCC fields (rcc_regs_t is in stm32f1.h) ---- */
#define RCC_CR_HSEON (1u << 16)
#define RCC_CR_HSERDY (1u << 17)
#define RCC_CR_PLLON (1u << 24)
#define RCC_CR_PLLRDY (1u << 25)
#define RCC_CFGR_SW_MASK 3u
#define RCC_CFGR_SW_PLL 2u
#define RCC_CFGR_SWS_MASK (3u << 2)
#define RCC_CFGR_SWS_PLL (2u << 2)
#define RCC_CFGR_PPRE1_DIV2 (4u << 8)   /* APB1 = HCLK / 2 (PCLK1 <= 36 MHz) */
#define RCC_CFGR_PPRE1_MASK (7u << 8)
#define RCC_CFGR_PPRE2_MASK (7u << 11)
#define RCC_CFGR_HPRE_MASK (0xFu << 4)
#define RCC_CFGR_PLLSRC_HSE (1u << 16)
#define RCC_CFGR_PLLXTPRE (1u << 17)
#define RCC_CFGR_PLLMUL_POS 18u        /* PLLMUL code = factor - 2 */
#define RCC_CFGR_PLLMUL_MASK (0xFu << 18)
#define RCC_APB2ENR_IOPBEN (1u << 3)
#define RCC_APB2ENR_IOPCEN (1u << 4)
#define RCC_APB2ENR_SPI1EN (1u << 12)
#define RCC_APB1ENR_TIM2EN (1u << 0)
#define RCC_APB1ENR_USART2EN (1u << 17)
#define RCC_APB1ENR_I2C1EN (1u << 21)
#define RCC_APB1ENR_PWREN (1u << 28)
#define RCC_CSR_REG (RCC->CSR)
#define RCC_CSR_LSION (1u << 0)
#define RCC_CSR_RMVF (1u << 24)
#define RCC_CSR_PINRSTF (1u << 26)
#define RCC_CSR_PORRSTF (1u << 27)
#define RCC_CSR_SFTRSTF (1u << 28)
#define RCC_CSR_IWDGRSTF (1u << 29)
#define RCC_CSR_WWDGRSTF (1u << 30)

/* ---- Flash interface (FPEC, 0x40022000) ---- */
typedef struct {
    volatile uint32_t ACR;     /* 0x00 LATENCY[2:0] HLFCYA PRFTBE PRFTBS */
    volatile uint32_t KEYR;    /* 0x04 */
    volatile uint32_t OPTKEYR; /* 0x08 */
    volatile uint32_t SR;      /* 0x0C BSY PGERR WRPRTERR EOP */
    volatile uint32_t CR;      /* 0x10 PG PER MER OPTPG OPTER STRT LOCK OPTWRE ERRIE EOPIE */
    volatile uint32_t AR;      /* 0x14 */
    uint32_t reserved;         /* 0x18 */
    volatile uint32_t OBR;     /* 0x1C */
    volatile uint32_t WRPR;    /* 0x20 */
} flashif_regs_t;
#define FLASHIF ((flashif_regs_t *)0x40022000u)
#define FLASH_ACR_LATENCY_MASK 7u
#define FLASH_ACR_PRFTBE (1u << 4)
#define FLASH_KEY1 0x45670123u
#define FLASH_KEY2 0xCDEF89ABu
#define FLASH_SR_BSY (1u << 0)
#define FLASH_SR_PGERR (1u << 2)
#define FLASH_SR_WRPRTERR (1u << 4)
#define FLASH_SR_EOP (1u << 5)
#define FLASH_CR_PG (1u << 0)
#define FLASH_CR_PER (1u << 1)
#define FLASH_CR_MER (1u << 2)
#define FLASH_CR_STRT (1u << 6)
#define FLASH_CR_LOCK (1u << 7)
#define FLASH_CR_ERRIE (1u << 10)
#define FLASH_CR_EOPIE (1u << 12)

/* ---- GPIO ports B, C (GPIOA in stm32f1.h) ---- */
#define GPIOB ((gpio_regs_t *)0x40010C00u)
#define GPIOC ((gpio_regs_t *)0x40011000u)
/* CNF[1:0] MODE[1:0] nibbles beyond stm32f1.h's */
#define GPIO_CFG_OUT_PP_2MHZ 0x2u     /* CNF=00 push-pull, MODE=10 */
#define GPIO_CFG_AF_OD_2MHZ 0xEu      /* CNF=11 alternate open-drain, MODE=10 */
#define GPIO_CFG_INPUT_PULL 0x8u      /* CNF=10: pull-up if ODR=1, pull-down if ODR=0 */

/* ---- AFIO (0x40010000) ---- */
typedef struct {
    volatile uint32_t EVCR;      /* 0x00 */
    volatile uint32_t MAPR;      /* 0x04 */
    volatile uint32_t EXTICR[4]; /* 0x08 EXTI line x source port in bits 4*(x%4), A = 0 */
    uint32_t reserved;           /* 0x18 */
    volatile uint32_t MAPR2;     /* 0x1C */
} afio_regs_t;
#define AFIO ((afio_regs_t *)0x40010000u)

/* ---- EXTI (0x40010400) ---- */
typedef struct {
    volatile uint32_t IMR;   /* 0x00 */
    volatile uint32_t EMR;   /* 0x04 */
    volatile uint32_t RTSR;  /* 0x08 */
    volatile uint32_t FTSR;  /* 0x0C */
    volatile uint32_t SWIER; /* 0x10 */
    volatile uint32_t PR;    /* 0x14 rc_w1 */
} exti_regs_t;
#define EXTI ((exti_regs_t *)0x40010400u)

/* ---- USART2 (APB1, 0x40004400); usart_regs_t and SR/CR1 bits in stm32f1.h ---- */
#define USART2 ((usart_regs_t *)0x40004400u)
#define USART_SR_PE (1u << 0)
#define USART_SR_FE (1u << 1)
#define USART_SR_NE (1u << 2)
#define USART_SR_ORE (1u << 3)
#define USART_SR_RXNE (1u << 5)

/* ---- SPI1 (APB2, 0x40013000) ---- */
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
#define SPI1 ((spi_regs_t *)0x40013000u)
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

/* ---- I2C1 (APB1, 0x40005400) ---- */
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
} i2c_regs_t;
#define I2C1 ((i2c_regs_t *)0x40005400u)
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

/* ---- TIM2 (APB1, 0x40000000) ---- */
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
#define TIM2 ((tim_regs_t *)0x40000000u)
#define TIM_CR1_CEN (1u << 0)
#define TIM_CR1_URS (1u << 2)
#define TIM_DIER_UIE (1u << 0)
#define TIM_SR_UIF (1u << 0)
#define TIM_EGR_UG (1u << 0)

/* ---- IWDG (0x40003000) ---- */
typedef struct {
    volatile uint32_t KR;  /* 0x00 keys 0x5555 access, 0xAAAA reload, 0xCCCC start */
    volatile uint32_t PR;  /* 0x04 prescaler /4 << PR */
    volatile uint32_t RLR; /* 0x08 12-bit reload */
    volatile uint32_t SR;  /* 0x0C PVU RVU */
} iwdg_regs_t;
#define IWDG ((iwdg_regs_t *)0x40003000u)
#define IWDG_LSI_HZ 40000u  /* LSI typical, DS5319 Table 25 */

#endif /* SOC_PERIPH_H */
