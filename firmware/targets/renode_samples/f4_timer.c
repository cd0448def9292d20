/* TIM2 update interrupt on the STM32F4 (USART2 console): TIM2 counts up (or down with
 * -DCOUNT_DOWN) at 10 kHz with a 100 ms period, and each update event's interrupt prints
 * "period elapsed callback". Stands in for the timer binaries of Renode's STM32F4_Discovery
 * suite. RM0090 18.4: CR1.DIR selects the direction, an update event happens on overflow (up)
 * or underflow (down) and sets SR.UIF, which DIER.UIE turns into the TIM2 interrupt. */
#include "sample.h"

#define TIM2_BASE   0x40000000u
#define TIM2_CR1    REG(TIM2_BASE + 0x00u)
#define TIM2_DIER   REG(TIM2_BASE + 0x0Cu)
#define TIM2_SR     REG(TIM2_BASE + 0x10u)
#define TIM2_EGR    REG(TIM2_BASE + 0x14u)
#define TIM2_PSC    REG(TIM2_BASE + 0x28u)
#define TIM2_ARR    REG(TIM2_BASE + 0x2Cu)
#define IRQ_TIM2    28u

static volatile uint32_t g_updates;

void TIM2_IRQHandler(void)
{
    if (TIM2_SR & 1u) {
        TIM2_SR = ~1u;                              /* UIF is rc_w0 */
        g_updates++;
    }
}

int main(void)
{
    console_init();
#ifdef COUNT_DOWN
    put_line("*** Timer2 Downcount Overflow Example ***");
#else
    put_line("*** Timer2 Upcount Overflow Example ***");
#endif
    RCC_APB1ENR |= 1u << 0;                         /* TIM2EN */
#ifdef COUNT_DOWN
    TIM2_CR1 = 1u << 4;                             /* DIR down before UG: CNT = ARR */
#endif
    TIM2_PSC = HCLK_HZ / 10000u - 1u;               /* 10 kHz count */
    TIM2_ARR = 1000u - 1u;                          /* 100 ms period */
    TIM2_EGR = 1u;                                  /* UG: load PSC, restart the count */
    TIM2_SR = ~1u;                                  /* the UG update is not a period */
    TIM2_DIER = 1u;                                 /* UIE */
    nvic_enable(IRQ_TIM2);
    put_line("Tim2 IRQ enabled");
#ifdef COUNT_DOWN
    TIM2_CR1 = (1u << 4) | 1u;                      /* DIR down, CEN */
#else
    TIM2_CR1 = 1u;                                  /* CEN */
#endif
    put_line("Tim2 started");
    uint32_t seen = 0;
    for (;;) {
        while (g_updates == seen) {
            __asm volatile("wfi");
        }
        seen++;
        put_line("period elapsed callback");
    }
}
