/*
 * Demo: banner, CPUID, then "uptime <s> s" once per second for 5 s from a
 * 1 ms SysTick (core clock, WFI between ticks), then "bye" and PASS.
 */
#include "test.h"

static volatile uint32_t g_ms;

void SysTick_Handler(void)
{
    g_ms++;
}

int main(void)
{
    console_init();
    con_printf("metersim hello on %s (%s)\n", SOC_PART_NAME, CORE_NAME);
    con_printf("cpuid 0x%08x\n", (unsigned)SCB->CPUID);

    systick_start(HCLK_HZ / 1000u, 1);
    for (uint32_t s = 1; s <= 5; s++) {
        while (g_ms < s * 1000u)
            cm_wfi();
        con_printf("uptime %u s\n", (unsigned)s);
    }
    systick_stop();
    con_puts("bye\n");
    test_pass();
}
