/*
 * STM32F4 peripheral registers beyond the console set of stm32f4.h: clock tree (RCC CR,
 * PLLCFGR, CFGR fields, CSR), PWR voltage scaling, flash interface, GPIO ports B/C, SYSCFG,
 * and the F4 addresses and alternate functions of EXTI, USART2, SPI1, I2C1, TIM2 and IWDG.
 * Used by the SoC test programs (firmware/tests/soc_*); no vendor headers.
 *
 * Source: RM0430 rev 8: RCC §6.3.1-6.3.3, §6.3.13-14, §6.3.21 (CR, PLLCFGR, CFGR, APBxENR,
 * CSR at 0x74), PWR §5.4.1 (VOS), flash §3.4-3.8 (ACR LATENCY: 3 wait states for
 * 90 < HCLK <= 100 MHz at 2.7-3.6 V, Table 6), SYSCFG §7.2.3-6, I2C_FLTR §27.6.
 * Alternate functions (DS11581 Table 12): USART2 PA2/PA3 AF7, SPI1 PA5/PA6/PA7 AF5,
 * I2C1 PB6/PB7 AF4.
 *
 * The layouts and bits of EXTI, USART, SPI, I2C, TIM2-5 and IWDG, identical on the F1, are in
 * bsp/stm32/soc_periph_common.h; same names as bsp/stm32f1/soc_periph.h, so the SoC tests
 * pick the family by include path.
 */
#ifndef SOC_PERIPH_H
#define SOC_PERIPH_H

#include <stdint.h>
#include "soc.h"
/* I2C v1 on the F4 has one register more than on the F1: FLTR (noise filters) after TRISE. */
#define SOC_I2C_FAMILY_REGS volatile uint32_t FLTR; /* 0x24 */
#include "../stm32/soc_periph_common.h"

/* ---- RCC fields (rcc_regs_t up to APB2ENR is in stm32f4.h) ---- */
#define RCC_CR_HSEON (1u << 16)
#define RCC_CR_HSERDY (1u << 17)
#define RCC_CR_PLLON (1u << 24)
#define RCC_CR_PLLRDY (1u << 25)
#define RCC_PLLCFGR_PLLM_POS 0u
#define RCC_PLLCFGR_PLLN_POS 6u
#define RCC_PLLCFGR_PLLP_POS 16u       /* PLLP code: 0 = /2, 1 = /4, 2 = /6, 3 = /8 */
#define RCC_PLLCFGR_PLLSRC_HSE (1u << 22)
#define RCC_PLLCFGR_PLLQ_POS 24u
#define RCC_PLLCFGR_PLLR_POS 28u
#define RCC_CFGR_SW_MASK 3u
#define RCC_CFGR_SW_PLL 2u
#define RCC_CFGR_SWS_MASK (3u << 2)
#define RCC_CFGR_SWS_PLL (2u << 2)
#define RCC_CFGR_HPRE_MASK (0xFu << 4)
#define RCC_CFGR_PPRE1_MASK (7u << 10)
#define RCC_CFGR_PPRE1_DIV2 (4u << 10)  /* APB1 = HCLK / 2 (PCLK1 <= 50 MHz) */
#define RCC_CFGR_PPRE2_MASK (7u << 13)
#define RCC_AHB1ENR_GPIOBEN (1u << 1)
#define RCC_AHB1ENR_GPIOCEN (1u << 2)
#define RCC_APB1ENR_TIM2EN (1u << 0)
#define RCC_APB1ENR_USART2EN (1u << 17)
#define RCC_APB1ENR_I2C1EN (1u << 21)
#define RCC_APB1ENR_PWREN (1u << 28)
#define RCC_APB2ENR_SPI1EN (1u << 12)
#define RCC_APB2ENR_SYSCFGEN (1u << 14)
#define RCC_CSR_REG (*(volatile uint32_t *)0x40023874u)
#define RCC_CSR_LSION (1u << 0)
#define RCC_CSR_RMVF (1u << 24)
#define RCC_CSR_BORRSTF (1u << 25)
#define RCC_CSR_PINRSTF (1u << 26)
#define RCC_CSR_PORRSTF (1u << 27)
#define RCC_CSR_SFTRSTF (1u << 28)
#define RCC_CSR_IWDGRSTF (1u << 29)
#define RCC_CSR_WWDGRSTF (1u << 30)

/* ---- PWR (0x40007000) ---- */
#define PWR_CR (*(volatile uint32_t *)0x40007000u)
#define PWR_CR_VOS_MASK (3u << 14)
#define PWR_CR_VOS_SCALE1 (3u << 14)   /* needed for HCLK up to 100 MHz */

/* ---- Flash interface (0x40023C00) ---- */
typedef struct {
    volatile uint32_t ACR;     /* 0x00 LATENCY[3:0] PRFTEN ICEN DCEN ICRST DCRST */
    volatile uint32_t KEYR;    /* 0x04 */
    volatile uint32_t OPTKEYR; /* 0x08 */
    volatile uint32_t SR;      /* 0x0C EOP OPERR WRPERR PGAERR PGPERR PGSERR RDERR BSY */
    volatile uint32_t CR;      /* 0x10 PG SER MER SNB PSIZE STRT EOPIE ERRIE LOCK */
    volatile uint32_t OPTCR;   /* 0x14 */
} flashif_regs_t;
#define FLASHIF ((flashif_regs_t *)0x40023C00u)
#define FLASH_ACR_LATENCY_MASK 0xFu
#define FLASH_ACR_PRFTEN (1u << 8)
#define FLASH_ACR_ICEN (1u << 9)
#define FLASH_ACR_DCEN (1u << 10)
#define FLASH_KEY1 0x45670123u
#define FLASH_KEY2 0xCDEF89ABu
#define FLASH_SR_EOP (1u << 0)
#define FLASH_SR_OPERR (1u << 1)
#define FLASH_SR_WRPERR (1u << 4)
#define FLASH_SR_PGAERR (1u << 5)
#define FLASH_SR_PGPERR (1u << 6)
#define FLASH_SR_PGSERR (1u << 7)
#define FLASH_SR_BSY (1u << 16)
#define FLASH_SR_ERRORS (FLASH_SR_OPERR | FLASH_SR_WRPERR | FLASH_SR_PGAERR | FLASH_SR_PGPERR | \
                         FLASH_SR_PGSERR)
#define FLASH_CR_PG (1u << 0)
#define FLASH_CR_SER (1u << 1)
#define FLASH_CR_MER (1u << 2)
#define FLASH_CR_SNB_POS 3u
#define FLASH_CR_PSIZE_X32 (2u << 8)
#define FLASH_CR_STRT (1u << 16)
#define FLASH_CR_EOPIE (1u << 24)
#define FLASH_CR_ERRIE (1u << 25)
#define FLASH_CR_LOCK (1u << 31)

/* ---- GPIO ports B, C (GPIOA in stm32f4.h) ---- */
#define GPIOB ((gpio_regs_t *)0x40020400u)
#define GPIOC ((gpio_regs_t *)0x40020800u)
#define GPIO_MODE_IN 0u
#define GPIO_MODE_OUT 1u
#define GPIO_PULL_UP 1u
#define GPIO_PULL_DOWN 2u

/* ---- SYSCFG (0x40013800) ---- */
typedef struct {
    volatile uint32_t MEMRMP;    /* 0x00 */
    volatile uint32_t PMC;       /* 0x04 */
    volatile uint32_t EXTICR[4]; /* 0x08 EXTI line x source port in bits 4*(x%4), A = 0 */
} syscfg_regs_t;
#define SYSCFG ((syscfg_regs_t *)0x40013800u)

/* ---- Shared blocks at their F4 addresses, with their alternate functions ---- */
#define EXTI ((exti_regs_t *)0x40013C00u)
#define USART2 ((usart_regs_t *)0x40004400u)   /* APB1 */
#define USART2_AF 7u
#define SPI1 ((spi_regs_t *)0x40013000u)       /* APB2 */
#define SPI1_AF 5u
#define I2C1 ((i2c_regs_t *)0x40005400u)       /* APB1 */
#define I2C1_AF 4u
#define TIM2 ((tim_regs_t *)0x40000000u)       /* APB1; 32-bit counter on F4 */
#define IWDG ((iwdg_regs_t *)0x40003000u)
#define IWDG_LSI_HZ 32000u  /* LSI typical, DS11581 'LSI oscillator characteristics' */

#endif /* SOC_PERIPH_H */
