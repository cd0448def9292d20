/*
 * WFI idle: SysTick every 10 ms (core clock); main loops on `wfi` and counts
 * wake-ups. After 100 wake-ups it prints "woke 100", the ISR's tick count and
 * the DWT CYCCNT cycles spent awake. Checks: every wake-up was caused by a
 * tick (wake-ups == ticks), and the core slept most of the 1 s (awake cycles
 * < 10 % of the elapsed clocks): on an STM32 the core clock, and with it
 * CYCCNT, stops in Sleep mode (RM0090 5.3 / RM0008 5.3; DBGMCU_CR.DBG_SLEEP=0).
 */
#include "test.h"

#define PERIOD (HCLK_HZ / 100u)
#define WAKEUPS 100u

static volatile uint32_t g_ticks;

void SysTick_Handler(void)
{
    g_ticks++;
}

int main(void)
{
    test_begin("wfi_idle");
    dwt_cyccnt_start();
    systick_start(PERIOD, 1);
    uint32_t wakeups = 0;
    /* Align to a tick so that every WFI below sleeps a full period. */
    while (g_ticks == 0)
        cm_wfi();
    uint32_t start_ticks = g_ticks;
    uint32_t cyc0 = DWT_CYCCNT;
    while (wakeups < WAKEUPS) {
        cm_wfi();
        wakeups++;
    }
    uint32_t awake = DWT_CYCCNT - cyc0;
    uint32_t ticks = g_ticks - start_ticks;
    systick_stop();
    uint32_t elapsed = WAKEUPS * PERIOD;
    con_printf("woke %u\n", (unsigned)wakeups);
    con_printf("ticks %u\n", (unsigned)ticks);
    con_printf("awake %u of %u cycles\n", (unsigned)awake, (unsigned)elapsed);
    if (ticks != wakeups)
        test_fail("%u ticks for %u wake-ups", (unsigned)ticks, (unsigned)wakeups);
    if (awake >= elapsed / 10u)
        test_fail("core awake %u of %u cycles while idle", (unsigned)awake, (unsigned)elapsed);
    test_pass();
}
