/* FAULTMASK against the TIM2 interrupt on the STM32F4 (USART2 console). Stands in for the
 * FAULTMASK binaries of Renode's STM32F4_Discovery suite.
 *
 * Default: FAULTMASK is set, TIM2's update interrupt enabled (100 ms period) and the program
 * busy-waits 1.5 s: the interrupt stays pending (ARMv7-M B1.5.1:
 * FAULTMASK raises the execution priority to -1). Clearing FAULTMASK lets it in, and each
 * interrupt prints "Timer interrupt" from the handler.
 * -DSET_IN_HANDLER: the handler itself sets FAULTMASK after printing; exception return clears
 * it again (ARMv7-M B1.5.8), so the interrupt keeps coming. */
#include "sample.h"

#define TIM2_BASE   0x40000000u
#define TIM2_CR1    REG(TIM2_BASE + 0x00u)
#define TIM2_DIER   REG(TIM2_BASE + 0x0Cu)
#define TIM2_SR     REG(TIM2_BASE + 0x10u)
#define TIM2_EGR    REG(TIM2_BASE + 0x14u)
#define TIM2_PSC    REG(TIM2_BASE + 0x28u)
#define TIM2_ARR    REG(TIM2_BASE + 0x2Cu)
#define IRQ_TIM2    28u

void TIM2_IRQHandler(void)
{
    TIM2_SR = ~1u;                                  /* UIF is rc_w0 */
    put_line("Timer interrupt");
#ifdef SET_IN_HANDLER
    __asm volatile("cpsid f" ::: "memory");
#endif
}

static void timer_start(void)
{
    RCC_APB1ENR |= 1u << 0;                         /* TIM2EN */
    TIM2_PSC = HCLK_HZ / 10000u - 1u;               /* 10 kHz count */
    TIM2_ARR = 1000u - 1u;                          /* 100 ms period */
    TIM2_EGR = 1u;                                  /* UG: load PSC now */
    TIM2_SR = ~1u;
    TIM2_DIER = 1u;                                 /* UIE */
    nvic_enable(IRQ_TIM2);
    TIM2_CR1 = 1u;                                  /* CEN */
}

#ifndef SET_IN_HANDLER
/* Busy-wait in registers only (FAULTMASK holds off SysTick too): at one cycle per instruction,
 * as metersim counts them, each pass of the two-instruction loop takes 2 core cycles. */
static void spin_ms(uint32_t ms)
{
    uint32_t n = ms * (HCLK_HZ / 1000u / 2u);
    __asm volatile("1: subs %0, %0, #1\n\tbne 1b" : "+r"(n) :: "cc");
}
#endif

int main(void)
{
    console_init();
#ifdef SET_IN_HANDLER
    timer_start();
#else
    put_line("Setting FAULTMASK to 1");
    __asm volatile("cpsid f" ::: "memory");
    timer_start();
    put_line("Timer IRQ enabled");
    put_line("Sleeping");
    spin_ms(1500);
    put_line("Setting FAULTMASK to 0");
    __asm volatile("cpsie f" ::: "memory");
#endif
    for (;;) {
        __asm volatile("wfi");
    }
}
