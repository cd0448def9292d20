/*
 * soc_iwdg: the independent watchdog resets the part when it is not refreshed, and the
 * reset cause is read back from RCC_CSR after the reset (RM0008 §7.3.10 / RM0430 §6.3.21:
 * IWDGRSTF, PINRSTF, PORRSTF ..., cleared by RMVF).
 *
 * First boot (no IWDGRSTF): clear the flags (RMVF), program the IWDG (RM0008 §19.3 /
 * RM0430 §17.3: KR = 0x5555 to unlock PR/RLR, wait for SR = 0, reload 0xAAAA, start 0xCCCC)
 * with PR = 3 (LSI / 32) and RLR = 999: timeout = 32 x 1000 / f_LSI = 800 ms at the F1's
 * 40 kHz LSI, 1000 ms at the F4's 32 kHz. It then never refreshes it; SysTick prints a line
 * every 100 ms until the reset. After the reset the banner appears again.
 *
 * Prints (first boot):
 *   reset flags: por pin             (what RCC_CSR holds after power-on; F4 also shows bor)
 *   iwdg started, timeout <ms> ms
 *   alive 100 ms ... alive <n> ms
 * and after the watchdog reset:
 *   reset flags: iwdg pin
 *   reset by iwdg
 *   PASS
 */
#include "../soc_common/soc_test.h"

#define IWDG_PR 3u       /* /32 */
#define IWDG_RLR 999u

static volatile uint32_t g_ms;

void SysTick_Handler(void) { g_ms += 100u; }

static void print_flags(uint32_t csr)
{
    con_puts("reset flags:");
    if (csr & RCC_CSR_PORRSTF)
        con_puts(" por");
#if defined(SOC_FAMILY_STM32F4)
    if (csr & RCC_CSR_BORRSTF)
        con_puts(" bor");
#endif
    if (csr & RCC_CSR_IWDGRSTF)
        con_puts(" iwdg");
    if (csr & RCC_CSR_WWDGRSTF)
        con_puts(" wwdg");
    if (csr & RCC_CSR_SFTRSTF)
        con_puts(" software");
    if (csr & RCC_CSR_PINRSTF)
        con_puts(" pin");
    con_puts("\n");
}

int main(void)
{
    test_begin("soc_iwdg");
    uint32_t csr = RCC->CSR;
    print_flags(csr);
    RCC->CSR |= RCC_CSR_RMVF;            /* clear the flags for the next reset */
    if (csr & RCC_CSR_IWDGRSTF) {
        con_puts("reset by iwdg\n");
        test_pass();
    }
    if ((RCC->CSR & RCC_CSR_FLAGS) != 0)
        test_fail("RMVF left flags 0x%08x", (unsigned)RCC->CSR);

    IWDG->KR = 0x5555u;
    IWDG->PR = IWDG_PR;
    IWDG->RLR = IWDG_RLR;
    while (IWDG->SR != 0)                   /* PVU/RVU: the values reach the LSI domain */
        ;
    IWDG->KR = 0xAAAAu;
    IWDG->KR = 0xCCCCu;
    uint32_t timeout_ms = (4u << IWDG_PR) * (IWDG_RLR + 1u) * 1000u / IWDG_LSI_HZ;
    con_printf("iwdg started, timeout %u ms\n", (unsigned)timeout_ms);

    g_ms = 0;
    systick_start(SOC_RESET_HCLK_HZ / 10u, 1);   /* 100 ms */
    uint32_t shown = 0;
    for (;;) {
        cm_wfi();
        if (g_ms != shown) {
            shown = g_ms;
            con_printf("alive %u ms\n", (unsigned)shown);
        }
        if (shown > 3u * timeout_ms)
            test_fail("no watchdog reset after %u ms", (unsigned)shown);
    }
}
