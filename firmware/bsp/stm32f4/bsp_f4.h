/*
 * STM32F4 (F413) registers the BSP needs beyond stm32f4.h (RM0430 rev 8): RCC CR/PLLCFGR/
 * CFGR/BDCR/CSR and enable bits (§6.3), PWR_CR.VOS (§5.4.1), flash interface (§3.8), GPIO
 * (§8.4), SYSCFG_EXTICR (§7.2.3), RTC (§24.6). BSP-private names.
 */
#ifndef BSP_F4_H
#define BSP_F4_H

#include <stdint.h>
#include "soc.h"

#define F4_RCC_CR_HSEON (1u << 16)
#define F4_RCC_CR_HSERDY (1u << 17)
#define F4_RCC_CR_PLLON (1u << 24)
#define F4_RCC_CR_PLLRDY (1u << 25)
#define F4_RCC_PLLCFGR(m, n, p, q, r) ((uint32_t)(m) | ((uint32_t)(n) << 6) | \
    ((uint32_t)((p) / 2u - 1u) << 16) | (1u << 22) | ((uint32_t)(q) << 24) | ((uint32_t)(r) << 28))
#define F4_RCC_CFGR_SW_PLL 2u
#define F4_RCC_CFGR_SWS_MASK (3u << 2)
#define F4_RCC_CFGR_SWS_PLL (2u << 2)
#define F4_RCC_CFGR_PPRE1_DIV2 (4u << 10)
#define F4_RCC_BDCR (*(volatile uint32_t *)0x40023870u)
#define F4_RCC_CSR (*(volatile uint32_t *)0x40023874u)
#define F4_RCC_BDCR_LSEON (1u << 0)
#define F4_RCC_BDCR_LSERDY (1u << 1)
#define F4_RCC_BDCR_RTCSEL_LSE (1u << 8)
#define F4_RCC_BDCR_RTCSEL_MASK (3u << 8)
#define F4_RCC_BDCR_RTCEN (1u << 15)
#define F4_AHB1_GPIO(port) (1u << (port))
#define F4_APB1_TIM(n) (1u << ((n) - 2u))
#define F4_APB1_SPI2 (1u << 14)
#define F4_APB1_USART2 (1u << 17)
#define F4_APB1_USART3 (1u << 18)
#define F4_APB1_I2C1 (1u << 21)
#define F4_APB1_I2C2 (1u << 22)
#define F4_APB1_PWR (1u << 28)
#define F4_APB2_USART1 (1u << 4)
#define F4_APB2_USART6 (1u << 5)
#define F4_APB2_SPI1 (1u << 12)
#define F4_APB2_SYSCFG (1u << 14)
#define F4_PWR_CR_VOS_SCALE1 (3u << 14)

typedef struct {
    volatile uint32_t ACR, KEYR, OPTKEYR, SR, CR, OPTCR;
} f4_flash_regs_t;
#define F4_FLASH ((f4_flash_regs_t *)0x40023C00u)
#define F4_FLASH_ACR_LATENCY_MASK 0xFu
#define F4_FLASH_ACR_PRFTEN (1u << 8)
#define F4_FLASH_ACR_ICEN (1u << 9)
#define F4_FLASH_ACR_DCEN (1u << 10)
#define F4_FLASH_SR_EOP (1u << 0)
#define F4_FLASH_SR_OPERR (1u << 1)
#define F4_FLASH_SR_WRPERR (1u << 4)
#define F4_FLASH_SR_PGAERR (1u << 5)
#define F4_FLASH_SR_PGPERR (1u << 6)
#define F4_FLASH_SR_PGSERR (1u << 7)
#define F4_FLASH_SR_RDERR (1u << 8)
#define F4_FLASH_SR_BSY (1u << 16)
#define F4_FLASH_CR_PG (1u << 0)
#define F4_FLASH_CR_SER (1u << 1)
#define F4_FLASH_CR_SNB_POS 3u
#define F4_FLASH_CR_PSIZE_X8 (0u << 8)
#define F4_FLASH_CR_PSIZE_X32 (2u << 8)
#define F4_FLASH_CR_STRT (1u << 16)
#define F4_FLASH_CR_LOCK (1u << 31)
#define F4_FLASH_KEY1 0x45670123u
#define F4_FLASH_KEY2 0xCDEF89ABu

#define F4_GPIO(port) ((gpio_regs_t *)(0x40020000u + 0x400u * (port)))
#define F4_SYSCFG_EXTICR(i) (*(volatile uint32_t *)(0x40013808u + 4u * (i)))

typedef struct {
    volatile uint32_t TR, DR, CR, ISR, PRER, WUTR, CALIBR, ALRMAR, ALRMBR, WPR, SSR;
} f4_rtc_regs_t;
#define F4_RTC ((f4_rtc_regs_t *)0x40002800u)
#define F4_RTC_BKP(n) (*(volatile uint32_t *)(0x40002850u + 4u * (n)))
#define F4_RTC_ISR_INITS (1u << 4)
#define F4_RTC_ISR_RSF (1u << 5)
#define F4_RTC_ISR_INITF (1u << 6)
#define F4_RTC_ISR_INIT (1u << 7)

#endif
