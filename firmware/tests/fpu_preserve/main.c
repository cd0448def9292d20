/*
 * FP context preservation across interrupts (Cortex-M4F; PM0214 2.3.7
 * "Exception entry and return" with the FP extension, 4.6.2 FPCCR; ARMv7-M
 * B1.5.7 extended frames, lazy stacking).
 *
 * The thread (main, MSP) fills s0-s31 with patterns, FPSCR = 0 (round to
 * nearest), and loops s27 = 1.0 + 0x1.8p-24 (exact result lies 0.75 ulp
 * above 1.0: round-to-nearest gives 0x3f800001 and sets IXC; round-toward-
 * zero would give 0x3f800000). SysTick fires every 2000 core clocks; its
 * handler does float maths (x = x/2 + 1, which converges to exactly 2.0 only
 * under round-to-nearest, i.e. when the handler starts with FPSCR from FPDSCR)
 * and then clobbers s0-s15 and FPSCR (all flags, DN, FZ, round-toward-zero).
 * After the interrupts the thread checks every register, s27 and FPSCR
 * (exactly IXC). Phase "lazy" runs with the reset FPCCR (ASPEN|LSPEN),
 * phase "eager" with LSPEN=0.
 * Output:
 *   fpccr 0xc0000000
 *   lazy: 10000 interrupts, s0-s31 and fpscr intact
 *   eager: 2000 interrupts, s0-s31 and fpscr intact
 *   isr result 0x40000000
 *   PASS
 */
#include "fp_work.h"
#include "test.h"

#if !defined(__ARM_FP)
#error "fpu_preserve needs the Cortex-M4F hard-float build"
#endif

#define IRQ_PERIOD 2000u
#define LAZY_IRQS 10000u
#define EAGER_IRQS 2000u

#define ONE 0x3F800000u
#define SMALL 0x33C00000u   /* 0x1.8p-24 */
#define SUM_RN 0x3F800001u
#define FPSCR_IXC 0x10u
#define FPSCR_POISON 0xF3C0009Fu /* NZCV, DN, FZ, RMode=RZ, IDC, IXC..IOC */


static volatile uint32_t g_irqs;
static volatile float g_isr_acc;

void SysTick_Handler(void)
{
    g_irqs++;
    float x = g_isr_acc;
    g_isr_acc = x * 0.5f + 1.0f;
    __asm__ volatile(
        "movw r0, #0xdead\n\tmovt r0, #0xbeef\n\t"
        "vmov s0, r0\n\tvmov s1, r0\n\tvmov s2, r0\n\tvmov s3, r0\n\t"
        "vmov s4, r0\n\tvmov s5, r0\n\tvmov s6, r0\n\tvmov s7, r0\n\t"
        "vmov s8, r0\n\tvmov s9, r0\n\tvmov s10, r0\n\tvmov s11, r0\n\t"
        "vmov s12, r0\n\tvmov s13, r0\n\tvmov s14, r0\n\tvmov s15, r0\n\t"
        "movw r0, #0x009f\n\tmovt r0, #0xf3c0\n\t"
        "vmsr fpscr, r0"
        ::: "r0", "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10",
            "s11", "s12", "s13", "s14", "s15", "memory");
}

static void run_phase(const char *name, uint32_t irqs)
{
    uint32_t in[33], out[34];
    for (uint32_t i = 0; i < 32; i++)
        in[i] = 0x41000000u + i * 0x00012345u; /* finite, distinct */
    in[25] = ONE;
    in[26] = SMALL;
    in[27] = 0;
    in[32] = 0; /* round to nearest, no flags */

    g_irqs = 0;
    systick_start(IRQ_PERIOD, 1);
    fp_work(in, out, &g_irqs, irqs);
    systick_stop();

    for (uint32_t i = 0; i < 32; i++) {
        uint32_t want = i == 27 ? SUM_RN : in[i];
        if (out[i] != want)
            test_fail("%s: s%u=0x%08x expected 0x%08x", name, (unsigned)i, (unsigned)out[i], (unsigned)want);
    }
    if (out[32] != FPSCR_IXC)
        test_fail("%s: fpscr=0x%08x expected 0x%08x", name, (unsigned)out[32], (unsigned)FPSCR_IXC);
    if (out[33] == 0)
        test_fail("%s: thread loop never ran", name);
    con_printf("%s: %u interrupts, s0-s31 and fpscr intact\n", name, (unsigned)irqs);
}

int main(void)
{
    test_begin("fpu_preserve");
    uint32_t fpccr = FPU_FPCCR;
    con_printf("fpccr 0x%08x\n", (unsigned)fpccr);
    if (!(fpccr & FPU_FPCCR_ASPEN))
        test_fail("FPCCR.ASPEN clear: FP context is not saved on exception entry");
    g_isr_acc = 0.0f;
    run_phase("lazy", LAZY_IRQS);
    FPU_FPCCR = fpccr & ~FPU_FPCCR_LSPEN;
    cm_dsb();
    cm_isb();
    run_phase("eager", EAGER_IRQS);
    FPU_FPCCR = fpccr;

    union { float f; uint32_t u; } acc = {.f = g_isr_acc};
    con_printf("isr result 0x%08x\n", (unsigned)acc.u);
    if (acc.u != 0x40000000u)
        test_fail("isr maths gave 0x%08x, expected 0x40000000 (round to nearest)", (unsigned)acc.u);
    test_pass();
}
