/*
 * soc_timer: TIM2 (general-purpose, APB1) update interrupt at 1 kHz after the PLL switch.
 *
 * The timer clock follows the APB rule of RM0008 §7.2 / RM0430 §6.2: with the APB1
 * prescaler != 1, TIMCLK1 = 2 x PCLK1. Here APB1 = HCLK / 2, so TIMCLK1 = HCLK (F103:
 * PCLK1 36 MHz -> 72 MHz; F413: 50 MHz -> 100 MHz). PSC = TIMCLK1 / 1 MHz - 1 and ARR = 999
 * give one update per millisecond (RM0008 §15.3.1 time-base unit: CK_CNT = TIMCLK /
 * (PSC + 1); UEV on overflow at ARR). UG loads PSC before the start (URS = 1: no interrupt
 * from UG).
 *
 * SysTick runs at 1 ms from HCLK as an independent reference. Prints:
 *   timclk1 <hz> psc <psc> arr 999
 *   tim2 1000 | tim2 2000 | tim2 3000         (written at that TIM2 interrupt)
 *   tim2 irqs in 1000 systick ms: <n>
 *   PASS (n within 1000 +- 1)
 */
#include "../soc_common/soc_test.h"

static volatile uint32_t g_tim_irqs, g_ticks;

void TIM2_IRQHandler(void)
{
    if (TIM2->SR & TIM_SR_UIF) {
        TIM2->SR = ~TIM_SR_UIF & 0xFFFFu;     /* rc_w0 */
        g_tim_irqs++;
    }
}

void SysTick_Handler(void) { g_ticks++; }

int main(void)
{
    test_begin("soc_timer");
    dwt_cyccnt_start();
    soc_clocks_t c = soc_clock_pll();

    RCC->APB1ENR |= RCC_APB1ENR_TIM2EN;
    (void)RCC->APB1ENR;
    uint32_t psc = c.timclk1_hz / 1000000u - 1u;
    TIM2->CR1 = TIM_CR1_URS;
    TIM2->PSC = psc;
    TIM2->ARR = 999u;
    TIM2->EGR = TIM_EGR_UG;                    /* load PSC now */
    TIM2->SR = 0;
    TIM2->DIER = TIM_DIER_UIE;
    con_printf("timclk1 %u psc %u arr 999\n", (unsigned)c.timclk1_hz, (unsigned)psc);
    con_flush();
    nvic_set_priority(TIM2_IRQn, 2);
    nvic_enable(TIM2_IRQn);
    g_tim_irqs = 0;
    TIM2->CR1 |= TIM_CR1_CEN;

    for (uint32_t next = 1000u; next <= 3000u; next += 1000u) {
        while (g_tim_irqs < next)
            cm_wfi();
        con_printf("tim2 %u\n", (unsigned)next);
    }

    /* Count TIM2 interrupts over 1000 SysTick periods. */
    g_ticks = 0;
    systick_start(c.hclk_hz / 1000u, 1);
    while (g_ticks < 1u)
        cm_wfi();
    uint32_t first = g_tim_irqs;
    while (g_ticks < 1001u)
        cm_wfi();
    uint32_t n = g_tim_irqs - first;
    systick_stop();
    TIM2->CR1 &= ~TIM_CR1_CEN;
    con_printf("tim2 irqs in 1000 systick ms: %u\n", (unsigned)n);
    if (n + 1u < 1000u || n > 1001u)
        test_fail("TIM2 rate %u per second, expected 1000", (unsigned)n);
    test_pass();
}
