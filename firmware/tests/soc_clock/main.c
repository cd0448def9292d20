/*
 * soc_clock: switch from the reset clock (HSI) to HSE -> PLL at the part's maximum
 * (F413 100 MHz, F103 72 MHz; plans in ../soc_common/soc_test.h), waiting on HSERDY, PLLRDY
 * and SWS as real start-up code does, then run SysTick at 1 ms from the new HCLK.
 *
 * Prints:
 *   hse ready after <n> us             (HSERDY wait, measured at the HSI clock)
 *   pll ready after <n> us
 *   sysclk pll <hz> Hz, flash latency <ws>
 *   apb1 <hz> Hz, apb2 <hz> Hz
 *   systick start                      (written right after SysTick is enabled)
 *   ticks 1000                         (written at the 1000th tick)
 *   PASS
 * The console's BRR is recomputed for the new PCLK2 before anything is printed at the new
 * clock. A host checks that "ticks 1000" comes 1.000 s after "systick start".
 */
#include "../soc_common/soc_test.h"

static volatile uint32_t g_ticks;

void SysTick_Handler(void) { g_ticks++; }

int main(void)
{
    test_begin("soc_clock");
    dwt_cyccnt_start();
    soc_clocks_t reset = soc_clocks_reset();
    soc_clocks_t c = soc_clock_pll();
    /* The waits ran at the HSI clock. */
    con_printf("hse ready after %u us\n", (unsigned)soc_cycles_to_us(&reset, c.hse_wait_cycles));
    con_printf("pll ready after %u us\n", (unsigned)soc_cycles_to_us(&reset, c.pll_wait_cycles));
    if ((RCC->CFGR & RCC_CFGR_SWS_MASK) != RCC_CFGR_SWS_PLL)
        test_fail("SWS does not show the PLL");
    con_printf("sysclk pll %u Hz, flash latency %u\n", (unsigned)c.hclk_hz,
               (unsigned)(FLASHIF->ACR & FLASH_ACR_LATENCY_MASK));
    con_printf("apb1 %u Hz, apb2 %u Hz\n", (unsigned)c.pclk1_hz, (unsigned)c.pclk2_hz);
    con_flush();

    g_ticks = 0;
    systick_start(c.hclk_hz / 1000u, 1);
    con_puts("systick start\n");
    while (g_ticks < 1000u)
        cm_wfi();
    con_puts("ticks 1000\n");
    systick_stop();
    test_pass();
}
