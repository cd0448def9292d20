/*
 * Helpers shared by the SoC test programs (tests/soc_*): the HSE -> PLL clock switch as
 * real firmware does it, the console's baud rate after a clock change, pin set-up and
 * DWT-based delays. Header-only (static inline) so each program stays one directory of
 * sources in the existing build.
 *
 * Clock plans (HSE crystal 8 MHz on both boards):
 * - STM32F413 (RM0430 §6.3.2, §3.4.1 Table 6): VOS scale 1; PLLM = 4 (2 MHz VCO input),
 *   PLLN = 100 (VCO 200 MHz), PLLP = /2 -> SYSCLK 100 MHz, PLLQ = 4, PLLR = 2; AHB /1,
 *   APB1 /2 (50 MHz, its maximum), APB2 /1 (100 MHz); 3 flash wait states (90-100 MHz at
 *   2.7-3.6 V) with prefetch and caches.
 * - STM32F103 (RM0008 §7.2, §3.3.3): PLLSRC = HSE, PLLMUL x9 -> 72 MHz; AHB /1,
 *   APB1 /2 (36 MHz, its maximum), APB2 /1 (72 MHz); 2 flash wait states (48-72 MHz)
 *   with the prefetch buffer on.
 * The wait states are raised before the switch, as the reference manuals require.
 */
#ifndef SOC_TEST_H
#define SOC_TEST_H

#include <stdint.h>
#include "soc.h"
#include "test.h"

#define HSE_HZ 8000000u

typedef struct {
    uint32_t hclk_hz, pclk1_hz, pclk2_hz, timclk1_hz;
    uint32_t hse_wait_cycles;  /* core cycles spent waiting for HSERDY (at the HSI clock) */
    uint32_t pll_wait_cycles;  /* ... for PLLRDY */
    uint32_t latency;          /* flash wait states programmed */
} soc_clocks_t;

/* Clocks at reset: HSI, every prescaler 1. */
static inline soc_clocks_t soc_clocks_reset(void)
{
    soc_clocks_t c = {SOC_RESET_HCLK_HZ, SOC_RESET_HCLK_HZ, SOC_RESET_HCLK_HZ,
                      SOC_RESET_HCLK_HZ, 0, 0, 0};
    return c;
}

/* Console (USART1 on APB2) at 115200 for a new PCLK2: wait for the last frame, set BRR. */
static inline void soc_console_set_pclk(uint32_t pclk2_hz)
{
    con_flush();
    USART1->BRR = (pclk2_hz + CONSOLE_BAUD / 2u) / CONSOLE_BAUD;
}

/* HSE -> PLL -> maximum clock (see the plans above). DWT CYCCNT must be running. */
static inline soc_clocks_t soc_clock_pll(void)
{
    soc_clocks_t c;
    uint32_t t0;
    con_flush();                                   /* the console's BRR changes below */
    RCC->CR |= RCC_CR_HSEON;
    t0 = DWT_CYCCNT;
    while (!(RCC->CR & RCC_CR_HSERDY))
        ;
    c.hse_wait_cycles = DWT_CYCCNT - t0;
#if defined(SOC_FAMILY_STM32F4)
    RCC->APB1ENR |= RCC_APB1ENR_PWREN;
    (void)RCC->APB1ENR;
    PWR->CR = (PWR->CR & ~PWR_CR_VOS_MASK) | PWR_CR_VOS_SCALE1;
    RCC->PLLCFGR = (4u << RCC_PLLCFGR_PLLM_POS) | (100u << RCC_PLLCFGR_PLLN_POS) |
                   (0u << RCC_PLLCFGR_PLLP_POS) | RCC_PLLCFGR_PLLSRC_HSE |
                   (4u << RCC_PLLCFGR_PLLQ_POS) | (2u << RCC_PLLCFGR_PLLR_POS);
    c.latency = 3u;
    FLASHIF->ACR = FLASH_ACR_PRFTEN | FLASH_ACR_ICEN | FLASH_ACR_DCEN | c.latency;
    RCC->CFGR = (RCC->CFGR & ~(RCC_CFGR_HPRE_MASK | RCC_CFGR_PPRE1_MASK | RCC_CFGR_PPRE2_MASK)) |
                RCC_CFGR_PPRE1_DIV2;
    c.hclk_hz = 100000000u;
#else
    c.latency = 2u;
    FLASHIF->ACR = FLASH_ACR_PRFTBE | c.latency;
    RCC->CFGR = (RCC->CFGR & ~(RCC_CFGR_PLLMUL_MASK | RCC_CFGR_PLLXTPRE | RCC_CFGR_HPRE_MASK |
                               RCC_CFGR_PPRE1_MASK | RCC_CFGR_PPRE2_MASK)) |
                RCC_CFGR_PLLSRC_HSE | ((9u - 2u) << RCC_CFGR_PLLMUL_POS) | RCC_CFGR_PPRE1_DIV2;
    c.hclk_hz = 72000000u;
#endif
    /* The flash interface takes the new latency before the clock rises: read it back. */
    while ((FLASHIF->ACR & FLASH_ACR_LATENCY_MASK) != c.latency)
        ;
    RCC->CR |= RCC_CR_PLLON;
    t0 = DWT_CYCCNT;
    while (!(RCC->CR & RCC_CR_PLLRDY))
        ;
    c.pll_wait_cycles = DWT_CYCCNT - t0;
    RCC->CFGR = (RCC->CFGR & ~RCC_CFGR_SW_MASK) | RCC_CFGR_SW_PLL;
    while ((RCC->CFGR & RCC_CFGR_SWS_MASK) != RCC_CFGR_SWS_PLL)
        ;
    c.pclk1_hz = c.hclk_hz / 2u;
    c.pclk2_hz = c.hclk_hz;
    c.timclk1_hz = 2u * c.pclk1_hz;                /* APB1 prescaler != 1: timers get x2 */
    soc_console_set_pclk(c.pclk2_hz);
    return c;
}

/* Busy-wait `us` microseconds on DWT CYCCNT (it counts core clocks while awake). */
static inline void soc_delay_us(const soc_clocks_t *c, uint32_t us)
{
    uint32_t t0 = DWT_CYCCNT, n = us * (c->hclk_hz / 1000000u);
    while (DWT_CYCCNT - t0 < n)
        ;
}

static inline uint32_t soc_cycles_to_us(const soc_clocks_t *c, uint32_t cycles)
{
    uint32_t mhz = c->hclk_hz / 1000000u;
    return (cycles + mhz / 2u) / mhz;
}

/* ---- pins ---- */
#if defined(SOC_FAMILY_STM32F4)
static inline void soc_pin_mode(gpio_regs_t *port, unsigned pin, unsigned mode, unsigned af,
                                int open_drain, unsigned pull)
{
    if (pin < 8)
        port->AFR[0] = (port->AFR[0] & ~(0xFu << (4 * pin))) | (af << (4 * pin));
    else
        port->AFR[1] = (port->AFR[1] & ~(0xFu << (4 * (pin - 8)))) | (af << (4 * (pin - 8)));
    port->OTYPER = (port->OTYPER & ~(1u << pin)) | ((open_drain ? 1u : 0u) << pin);
    port->OSPEEDR = (port->OSPEEDR & ~(3u << (2 * pin))) | (GPIO_SPEED_HIGH << (2 * pin));
    port->PUPDR = (port->PUPDR & ~(3u << (2 * pin))) | (pull << (2 * pin));
    port->MODER = (port->MODER & ~(3u << (2 * pin))) | (mode << (2 * pin));
}
#else
/* F1: one CNF/MODE nibble per pin (CRL pins 0-7, CRH 8-15). */
static inline void soc_pin_cfg(gpio_regs_t *port, unsigned pin, unsigned nibble)
{
    volatile uint32_t *cr = &port->CR[pin / 8u];
    unsigned sh = 4u * (pin % 8u);
    *cr = (*cr & ~(0xFu << sh)) | (nibble << sh);
}
#endif

/* Enable the clock of GPIO ports A, B and C. */
static inline void soc_gpio_clocks(void)
{
#if defined(SOC_FAMILY_STM32F4)
    RCC->AHB1ENR |= RCC_AHB1ENR_GPIOAEN | RCC_AHB1ENR_GPIOBEN | RCC_AHB1ENR_GPIOCEN;
    (void)RCC->AHB1ENR;
#else
    RCC->APB2ENR |= RCC_APB2ENR_IOPAEN | RCC_APB2ENR_IOPBEN | RCC_APB2ENR_IOPCEN |
                    RCC_APB2ENR_AFIOEN;
    (void)RCC->APB2ENR;
#endif
}

#endif /* SOC_TEST_H */
