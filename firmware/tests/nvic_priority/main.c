/*
 * NVIC priority rules (ARMv7-M B1.5.4 "Exception priorities and preemption",
 * B1.5.6 tail-chaining; PM0214 4.3 / PM0056 4.3). Uses external IRQn 0..4,
 * which exist on every STM32F1/F4 and have no hardware source here (their
 * peripherals are left unconfigured):
 *   F4: 0 WWDG, 1 PVD, 2 TAMP_STAMP, 3 RTC_WKUP, 4 FLASH
 *   F1: 0 WWDG, 1 PVD, 2 TAMPER,     3 RTC,      4 FLASH
 * All are pended by software through NVIC_ISPR, followed by DSB+ISB so the
 * pend is taken before the next instruction when priority allows. Priority
 * levels below are the 4-bit STM32 values (register byte = level << 4).
 *
 * Expected lines (each handler or main appends a token to a log):
 *   order A: L+ H L-       IRQ0 (level 3) pends IRQ1 (level 1): IRQ1 preempts
 *   order A2: H+ H- L      IRQ1 (level 1) pends IRQ0 (level 3): IRQ0 waits
 *   order B: M 2 0 3 1 E   PRIMASK=1, pend 3,1,0,2 (levels 2,3,2,1), main logs M,
 *                          CPSIE+ISB: run by level, equal levels by IRQ number, then E
 *   order C: 1+ 2 1- 0     PRIGROUP=5 (group = bits 7:6): IRQ1 (0x50) pends IRQ0
 *                          (0x40, same group) and IRQ2 (0x30, group 0): only IRQ2
 *                          preempts; IRQ0 waits for IRQ1 to return
 *   order D: 2 M 0 1 E     BASEPRI=0x40 masks IRQ0 (0x40) and IRQ1 (0x80) but not
 *                          IRQ2 (0x30); BASEPRI=0 + ISB releases them in level order
 */
#include "test.h"

#if defined(SOC_FAMILY_STM32F4)
#define IRQ2_HANDLER TAMP_STAMP_IRQHandler
#define IRQ3_HANDLER RTC_WKUP_IRQHandler
#else
#define IRQ2_HANDLER TAMPER_IRQHandler
#define IRQ3_HANDLER RTC_IRQHandler
#endif

#define TEST_IRQ_MASK 0x1Fu /* IRQn 0..4 */

static char g_log[96];
static volatile unsigned g_len;
static volatile char g_case;
static int g_failed;

static void log_tok(const char *t)
{
    if (g_len && g_len < sizeof g_log - 1)
        g_log[g_len++] = ' ';
    while (*t && g_len < sizeof g_log - 1)
        g_log[g_len++] = *t++;
    g_log[g_len] = '\0';
}

static void pend_mask(uint32_t mask)
{
    NVIC->ISPR[0] = mask;
    cm_dsb();
    cm_isb();
}

static void on_irq(int n)
{
    static const char *const digits[] = {"0", "1", "2", "3", "4"};
    switch (g_case) {
    case 'A':
        if (n == 0) {
            log_tok("L+");
            pend_mask(1u << 1);
            log_tok("L-");
        } else {
            /* Nested: IPSR is IRQ1's exception number, IRQ0 still active. */
            log_tok(cm_get_ipsr() == EXC_IRQ0 + 1 && nvic_is_active(0) ? "H" : "H?");
        }
        break;
    case 'a':
        if (n == 1) {
            log_tok("H+");
            pend_mask(1u << 0);
            log_tok("H-");
        } else {
            log_tok("L");
        }
        break;
    case 'C':
        if (n == 1) {
            log_tok("1+");
            pend_mask((1u << 0) | (1u << 2));
            log_tok("1-");
        } else {
            log_tok(digits[n]);
        }
        break;
    default:
        log_tok(digits[n]);
        break;
    }
}

void WWDG_IRQHandler(void) { on_irq(0); }
void PVD_IRQHandler(void) { on_irq(1); }
void IRQ2_HANDLER(void) { on_irq(2); }
void IRQ3_HANDLER(void) { on_irq(3); }
void FLASH_IRQHandler(void) { on_irq(4); }

static void begin_case(char c, const unsigned levels[5])
{
    NVIC->ICPR[0] = TEST_IRQ_MASK;
    for (int i = 0; i < 5; i++)
        nvic_set_priority(i, levels[i]);
    g_len = 0;
    g_log[0] = '\0';
    g_case = c;
}

static void end_case(const char *label, const char *expected)
{
    con_printf("order %s: %s\n", label, g_log);
    if (!g_failed && !str_eq(g_log, expected)) {
        g_failed = 1;
        con_printf("  expected: %s\n", expected);
    }
}

int main(void)
{
    test_begin("nvic_priority");
    con_puts("irqs 0..4 pended by software\n");
    NVIC->ICPR[0] = TEST_IRQ_MASK;
    NVIC->ISER[0] = TEST_IRQ_MASK;

    /* A: a low-priority handler pends a high-priority IRQ -> preemption. */
    static const unsigned lv_a[5] = {3, 1, 15, 15, 15};
    begin_case('A', lv_a);
    pend_mask(1u << 0);
    end_case("A", "L+ H L-");

    /* A2: the reverse; the low one waits for the high one to return. */
    begin_case('a', lv_a);
    pend_mask(1u << 1);
    end_case("A2", "H+ H- L");

    /* B: masked pends, then release: priority order, ties by IRQ number. */
    static const unsigned lv_b[5] = {2, 3, 1, 2, 15};
    begin_case('B', lv_b);
    cm_disable_irq();
    pend_mask(1u << 3);
    pend_mask(1u << 1);
    pend_mask(1u << 0);
    pend_mask(1u << 2);
    log_tok("M");
    cm_enable_irq();
    cm_isb();
    log_tok("E");
    end_case("B", "M 2 0 3 1 E");

    /* C: sub-priority never preempts; group priority does. */
    static const unsigned lv_c[5] = {4, 5, 3, 15, 15};
    nvic_set_priority_grouping(5);
    begin_case('C', lv_c);
    pend_mask(1u << 1);
    end_case("C", "1+ 2 1- 0");
    nvic_set_priority_grouping(0);

    /* D: BASEPRI masks levels at or below it. */
    static const unsigned lv_d[5] = {4, 8, 3, 15, 15};
    begin_case('D', lv_d);
    cm_set_basepri(CM_PRIO(4));
    pend_mask((1u << 0) | (1u << 1) | (1u << 2));
    log_tok("M");
    cm_set_basepri(0);
    cm_isb();
    log_tok("E");
    end_case("D", "2 M 0 1 E");

    NVIC->ICER[0] = TEST_IRQ_MASK;
    if (g_failed)
        test_fail("interrupt order differs from the architecture");
    test_pass();
}
