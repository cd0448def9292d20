/*
 * RCC bits that are the same on the STM32F1 and F4 (RM0008 rev 21 §7.3, RM0430 rev 8 §6.3),
 * included by rcc_f1.h / rcc_f4.h, which add the register layout (different on each family)
 * and the family's own bits.
 */
#ifndef REGS_RCC_H
#define REGS_RCC_H

#define RCC_CR_HSEON (1u << 16)
#define RCC_CR_HSERDY (1u << 17)
#define RCC_CR_PLLON (1u << 24)
#define RCC_CR_PLLRDY (1u << 25)
#define RCC_CFGR_SW_MASK 3u
#define RCC_CFGR_SW_PLL 2u
#define RCC_CFGR_SWS_MASK (3u << 2)
#define RCC_CFGR_SWS_PLL (2u << 2)
#define RCC_CFGR_HPRE_MASK (0xFu << 4)
#define RCC_APB1ENR_TIM2EN (1u << 0)    /* TIMn (2..7): TIM2EN << (n - 2) */
#define RCC_APB1ENR_SPI2EN (1u << 14)
#define RCC_APB1ENR_USART2EN (1u << 17)
#define RCC_APB1ENR_USART3EN (1u << 18)
#define RCC_APB1ENR_UART5EN (1u << 20)
#define RCC_APB1ENR_I2C1EN (1u << 21)
#define RCC_APB1ENR_I2C2EN (1u << 22)
#define RCC_APB1ENR_PWREN (1u << 28)
#define RCC_BDCR_LSEON (1u << 0)
#define RCC_BDCR_LSERDY (1u << 1)
#define RCC_BDCR_RTCSEL_LSE (1u << 8)
#define RCC_BDCR_RTCSEL_MASK (3u << 8)
#define RCC_BDCR_RTCEN (1u << 15)
#define RCC_CSR_LSION (1u << 0)
#define RCC_CSR_RMVF (1u << 24)
#define RCC_CSR_PINRSTF (1u << 26)
#define RCC_CSR_PORRSTF (1u << 27)
#define RCC_CSR_SFTRSTF (1u << 28)
#define RCC_CSR_IWDGRSTF (1u << 29)
#define RCC_CSR_WWDGRSTF (1u << 30)
#define RCC_CSR_LPWRRSTF (1u << 31)

#endif
