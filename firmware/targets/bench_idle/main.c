/*
 * Idle benchmark: SysTick at 1 kHz from the core clock increments a counter;
 * main sleeps in WFI forever and prints "idle <n>" every 10000 ticks
 * (10 s of virtual time). Measures how cheaply an engine skips idle time.
 */
#include "test.h"

#define IDLE_REPORT_TICKS 10000u

static volatile uint32_t g_ticks;

void SysTick_Handler(void)
{
    g_ticks++;
}

int main(void)
{
    console_init();
    con_printf("bench idle on %s (%s)\n", SOC_PART_NAME, CORE_NAME);
    systick_start(HCLK_HZ / 1000u, 1);
    for (uint32_t next = IDLE_REPORT_TICKS;; next += IDLE_REPORT_TICKS) {
        while (g_ticks < next)
            cm_wfi();
        con_printf("idle %u\n", (unsigned)next);
    }
}
