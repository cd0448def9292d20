/*
 * STM32F1 registers the BSP needs beyond stm32f1.h (RM0008 rev 21): RCC CR/CFGR/BDCR/enable
 * bits (§7.3), flash interface ACR/KEYR/SR/CR/AR (§3.3.3, PM0075 §3), GPIO ports (§9.2),
 * AFIO EXTICR (§9.4.3), RTC (§18.4), BKP data registers (§6.4). BSP-private names.
 */
#ifndef BSP_F1_H
#define BSP_F1_H

#include <stdint.h>
#include "soc.h"

#define F1_RCC_CR_HSEON (1u << 16)
#define F1_RCC_CR_HSERDY (1u << 17)
#define F1_RCC_CR_PLLON (1u << 24)
#define F1_RCC_CR_PLLRDY (1u << 25)
#define F1_RCC_CFGR_SW_PLL 2u
#define F1_RCC_CFGR_SWS_MASK (3u << 2)
#define F1_RCC_CFGR_SWS_PLL (2u << 2)
#define F1_RCC_CFGR_PPRE1_DIV2 (4u << 8)
#define F1_RCC_CFGR_ADCPRE_DIV6 (2u << 14)
#define F1_RCC_CFGR_PLLSRC_HSE (1u << 16)
#define F1_RCC_CFGR_PLLMUL(x) ((uint32_t)((x) - 2u) << 18)
#define F1_RCC_BDCR_LSEON (1u << 0)
#define F1_RCC_BDCR_LSERDY (1u << 1)
#define F1_RCC_BDCR_RTCSEL_LSE (1u << 8)
#define F1_RCC_BDCR_RTCSEL_MASK (3u << 8)
#define F1_RCC_BDCR_RTCEN (1u << 15)
#define F1_APB2_AFIO (1u << 0)
#define F1_APB2_IOP(port) (1u << (2u + (port)))
#define F1_APB2_SPI1 (1u << 12)
#define F1_APB2_USART1 (1u << 14)
#define F1_APB1_TIM(n) (1u << ((n) - 2u))
#define F1_APB1_SPI2 (1u << 14)
#define F1_APB1_USART2 (1u << 17)
#define F1_APB1_USART3 (1u << 18)
#define F1_APB1_I2C1 (1u << 21)
#define F1_APB1_I2C2 (1u << 22)
#define F1_APB1_BKP (1u << 27)
#define F1_APB1_PWR (1u << 28)

typedef struct {
    volatile uint32_t ACR, KEYR, OPTKEYR, SR, CR, AR, reserved, OBR, WRPR;
} f1_flash_regs_t;
#define F1_FLASH ((f1_flash_regs_t *)0x40022000u)
#define F1_FLASH_ACR_LATENCY(n) ((uint32_t)(n))
#define F1_FLASH_ACR_PRFTBE (1u << 4)
#define F1_FLASH_SR_BSY (1u << 0)
#define F1_FLASH_SR_PGERR (1u << 2)
#define F1_FLASH_SR_WRPRTERR (1u << 4)
#define F1_FLASH_SR_EOP (1u << 5)
#define F1_FLASH_CR_PG (1u << 0)
#define F1_FLASH_CR_PER (1u << 1)
#define F1_FLASH_CR_STRT (1u << 6)
#define F1_FLASH_CR_LOCK (1u << 7)
#define F1_FLASH_KEY1 0x45670123u
#define F1_FLASH_KEY2 0xCDEF89ABu

#define F1_GPIO(port) ((gpio_regs_t *)(0x40010800u + 0x400u * (port)))

typedef struct {
    volatile uint32_t EVCR, MAPR, EXTICR[4];
} f1_afio_regs_t;
#define F1_AFIO ((f1_afio_regs_t *)0x40010000u)

typedef struct {
    volatile uint32_t CRH, CRL, PRLH, PRLL, DIVH, DIVL, CNTH, CNTL, ALRH, ALRL;
} f1_rtc_regs_t;
#define F1_RTC ((f1_rtc_regs_t *)0x40002800u)
#define F1_RTC_CRL_RSF (1u << 3)
#define F1_RTC_CRL_CNF (1u << 4)
#define F1_RTC_CRL_RTOFF (1u << 5)

#define F1_BKP_DR(n) (*(volatile uint32_t *)(0x40006C00u + 4u * (n)))   /* DR1..DR10 */

#endif
