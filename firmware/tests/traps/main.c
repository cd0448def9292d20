/*
 * UsageFaults the core raises on request or always (ARMv7-M B3.2.8 CCR,
 * B3.2.15 UFSR, B3.2.20 CPACR): each line gives an operation and either its
 * result or the UFSR (CFSR >> 16) it faulted with; the handler checks the
 * stacked PC is the faulting instruction and steps over it.
 *   sdiv 7/0 trap off: 0
 *   udiv 7/0 trap off: 0
 *   sdiv 7/0 trap on: fault ufsr=0x0200
 *   sdiv -7/2 trap on: -3
 *   udiv 7/0 trap on: fault ufsr=0x0200
 *   ldr +1 trap off: 0x04030201
 *   ldr +1 trap on: fault ufsr=0x0100
 *   strh +1 trap on: fault ufsr=0x0100 (memory unchanged)
 *   ldr +0 trap on: 0x03020100
 *   ldrex +2: fault ufsr=0x0100
 *   vadd cpacr off: fault ufsr=0x0008
 *   vadd cpacr full: ok              (Cortex-M4F; the M3 has no FPU: NOCP always)
 *   PASS
 */
#include "fault_entry.h"
#include "test.h"

static uint8_t buf[16] __attribute__((aligned(8)));
static volatile uint32_t g_ufsr, g_faults, g_pc;

void usagefault_c(uint32_t *frame)
{
    uint32_t cfsr = SCB->CFSR;
    g_ufsr = cfsr >> 16;
    SCB->CFSR = cfsr;
    g_faults++;
    g_pc = frame[6];
    uint16_t first = *(const uint16_t *)(uintptr_t)frame[6];
    frame[6] += ((first & 0xF800u) >= 0xE800u) ? 4u : 2u;
}

/* Run one probe; print its value or the fault it took. */
#define PROBE(label, expr)                                                                     \
    do {                                                                                       \
        uint32_t before_ = g_faults;                                                           \
        uint32_t v_ = (expr);                                                                  \
        if (g_faults == before_)                                                               \
            con_printf("%s: %s\n", label, fmt_value(v_));                                      \
        else                                                                                   \
            con_printf("%s: fault ufsr=0x%04x\n", label, (unsigned)g_ufsr);                    \
    } while (0)

static char g_text[16];
static const char *fmt_value(uint32_t v)
{
    /* small signed values in decimal, others in hex */
    int32_t s = (int32_t)v;
    if (s > -1000 && s < 1000) {
        char *p = g_text + sizeof g_text - 1;
        uint32_t a = (uint32_t)(s < 0 ? -s : s);
        *p = 0;
        do {
            *--p = (char)('0' + a % 10u);
            a /= 10u;
        } while (a);
        if (s < 0)
            *--p = '-';
        return p;
    }
    static const char hex[] = "0123456789abcdef";
    g_text[0] = '0';
    g_text[1] = 'x';
    for (int i = 0; i < 8; i++)
        g_text[2 + i] = hex[(v >> (28 - 4 * i)) & 0xFu];
    g_text[10] = 0;
    return g_text;
}

static uint32_t vadd(void)
{
    probe_vadd();
    return 0;
}

int main(void)
{
    test_begin("traps");
    SCB->SHCSR |= SCB_SHCSR_USGFAULTENA;
    for (unsigned i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)i;

    PROBE("sdiv 7/0 trap off", probe_sdiv(7u, 0u));
    PROBE("udiv 7/0 trap off", probe_udiv(7u, 0u));
    SCB->CCR |= SCB_CCR_DIV_0_TRP;
    PROBE("sdiv 7/0 trap on", probe_sdiv(7u, 0u));
    if (g_pc != ((uint32_t)(uintptr_t)probe_sdiv & ~1u))
        test_fail("stacked pc 0x%08x is not the sdiv", (unsigned)g_pc);
    PROBE("sdiv -7/2 trap on", probe_sdiv((uint32_t)-7, 2u));
    PROBE("udiv 7/0 trap on", probe_udiv(7u, 0u));
    SCB->CCR &= ~SCB_CCR_DIV_0_TRP;

    PROBE("ldr +1 trap off", probe_ldr(buf + 1));
    SCB->CCR |= SCB_CCR_UNALIGN_TRP;
    PROBE("ldr +1 trap on", probe_ldr(buf + 1));
    if (g_pc != ((uint32_t)(uintptr_t)probe_ldr & ~1u))
        test_fail("stacked pc 0x%08x is not the ldr", (unsigned)g_pc);
    uint32_t before = g_faults;
    probe_strh(buf + 1, 0xFFFFu);
    con_printf("strh +1 trap on: fault ufsr=0x%04x (memory %s)\n", (unsigned)g_ufsr,
               buf[1] == 1u && buf[2] == 2u ? "unchanged" : "changed");
    if (g_faults != before + 1)
        test_fail("unaligned strh did not fault");
    PROBE("ldr +0 trap on", probe_ldr(buf));
    SCB->CCR &= ~SCB_CCR_UNALIGN_TRP;
    PROBE("ldrex +2", probe_ldrex(buf + 2));

#if defined(__ARM_FP)
    uint32_t cpacr = SCB->CPACR;
    SCB->CPACR = 0;
    cm_dsb();
    cm_isb();
    PROBE("vadd cpacr off", vadd());
    SCB->CPACR = cpacr;
    cm_dsb();
    cm_isb();
    before = g_faults;
    probe_vadd();
    if (g_faults != before)
        test_fail("vadd faulted with CP10/CP11 enabled (ufsr 0x%04x)", (unsigned)g_ufsr);
    con_puts("vadd cpacr full: ok\n");
#else
    PROBE("vadd no fpu", vadd());
#endif
    test_pass();
}
