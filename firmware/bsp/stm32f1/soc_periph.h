/*
 * STM32F1 peripheral registers beyond the console set of stm32f1.h: clock tree (RCC CR/CFGR
 * fields), flash interface, GPIO ports B/C, AFIO, and the F1 addresses of EXTI, USART2, SPI1,
 * I2C1, TIM2 and IWDG. Used by the SoC test programs (firmware/tests/soc_*); no vendor headers.
 *
 * Source: RM0008 rev 21: RCC §7.3.1-7.3.10 (CR, CFGR, APB1ENR, CSR), flash §3.3.3 and PM0075
 * §3 (ACR, KEYR, SR, CR, AR), GPIO/AFIO §9.2-9.4 (AFIO_EXTICR). Memory map §3.3 Table 3.
 * Pins (DS5319 Table 5, default functions): USART2 TX/RX PA2/PA3, SPI1 NSS/SCK/MISO/MOSI
 * PA4..PA7, I2C1 SCL/SDA PB6/PB7.
 *
 * The layouts and bits of EXTI, USART, SPI, I2C, TIM2-5 and IWDG, identical on the F4, are in
 * bsp/stm32/soc_periph_common.h; bsp/stm32f4/soc_periph.h gives the same names for the F4.
 */
#ifndef SOC_PERIPH_H
#define SOC_PERIPH_H

#include <stdint.h>
#include "soc.h"
#include "../stm32/soc_periph_common.h"

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

/* ---- Shared blocks at their F1 addresses (RM0008 §3.3 Table 3) ---- */
#define EXTI ((exti_regs_t *)0x40010400u)
#define USART2 ((usart_regs_t *)0x40004400u)   /* APB1 */
#define SPI1 ((spi_regs_t *)0x40013000u)       /* APB2 */
#define I2C1 ((i2c_regs_t *)0x40005400u)       /* APB1; map ends at TRISE */
#define TIM2 ((tim_regs_t *)0x40000000u)       /* APB1; 16-bit counter */
#define IWDG ((iwdg_regs_t *)0x40003000u)
#define IWDG_LSI_HZ 40000u  /* LSI typical, DS5319 Table 25 */

#endif /* SOC_PERIPH_H */
