/*
 * Two unprivileged threads on their own PSP stacks (PM0214 2.1.3, 2.3.7;
 * ARMv7-M B1.4.4, B1.5.6-B1.5.8):
 * - main configures PendSV at the lowest priority (15) and SysTick at 14, then
 *   `svc 0`: the SVC handler starts SysTick (1 ms, core clock), loads thread
 *   A's prepared context and returns to thread mode on PSP with EXC_RETURN
 *   0xFFFFFFFD and CONTROL.nPRIV=1.
 * - Each SysTick pends PendSV; PendSV saves r4-r11 (and s16-s31 on the M4F
 *   when EXC_RETURN bit 4 says an extended frame was stacked) and switches.
 * - Each thread prints "A <n>" / "B <n>" once per activation (a LDREX/STREX
 *   lock keeps lines whole; no thread ever yields), checks it runs
 *   unprivileged on PSP inside its own stack, and holds register patterns
 *   across a full switch-out/switch-in: r4-r11 in both threads and, on the
 *   M4F, s0-s31 and FPSCR in thread A (B uses no FP, so its frames are basic).
 * - After 20 rounds each, B stops SysTick through `svc 2` and prints PASS.
 */
#include "switch.h"
#include "test.h"

#define ROUNDS 20u
#define STACK_WORDS 512u

static uint64_t g_stack[2][STACK_WORDS / 2]; /* 8-byte aligned */
static uint32_t g_sp[2];
static volatile uint32_t g_current;
static volatile uint32_t g_activations[2];
static volatile uint32_t g_switches;
static volatile uint32_t g_done_a;
static volatile uint32_t g_lock;

void SysTick_Handler(void)
{
    SCB->ICSR = SCB_ICSR_PENDSVSET;
}

uint32_t first_thread_sp(void)
{
    g_current = 0;
    g_activations[0] = 1;
    systick_start(HCLK_HZ / 1000u, 1);
    return g_sp[0];
}

uint32_t ctx_switch(uint32_t sp)
{
    g_sp[g_current] = sp;
    g_current ^= 1u;
    g_activations[g_current]++;
    g_switches++;
    return g_sp[g_current];
}

void svc_c(uint32_t *frame, uint32_t imm)
{
    (void)frame;
    if (imm == 2) { /* stop switching: no tick, nothing pending */
        systick_stop();
        SCB->ICSR = SCB_ICSR_PENDSTCLR | SCB_ICSR_PENDSVCLR;
    }
}

static void lock(void)
{
    while (__atomic_exchange_n(&g_lock, 1u, __ATOMIC_ACQUIRE))
        ;
}

static void unlock(void)
{
    __atomic_store_n(&g_lock, 0u, __ATOMIC_RELEASE);
}

__attribute__((noreturn)) static void thread_fail(const char *what, unsigned n)
{
    __asm__ volatile("svc 2" ::: "memory");
    g_lock = 0;
    test_fail("%s %u", what, n);
}

static void check_mode(int me)
{
    uint32_t ctrl = cm_get_control();
    uint32_t sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    uint32_t lo = (uint32_t)(uintptr_t)&g_stack[me][0];
    uint32_t hi = lo + sizeof g_stack[me];
    if (!(ctrl & CONTROL_NPRIV))
        thread_fail(me ? "thread B privileged, round" : "thread A privileged, round", g_activations[me]);
    if (!(ctrl & CONTROL_SPSEL))
        thread_fail(me ? "thread B not on PSP, round" : "thread A not on PSP, round", g_activations[me]);
    if (sp < lo || sp >= hi)
        thread_fail(me ? "thread B sp outside its stack, sp" : "thread A sp outside its stack, sp", sp);
}

static void thread(int me)
{
    const char *name = me ? "B" : "A";
    for (uint32_t k = 1; k <= ROUNDS; k++) {
        lock();
        con_printf("%s %u\n", name, (unsigned)k);
        unlock();
        check_mode(me);
        uint32_t seed = 0x1000u * (me + 1u) + k;
        uint32_t seen = g_activations[me];
        uint32_t *fp = 0;
#if defined(__ARM_FP)
        uint32_t fpbuf[33];
        if (me == 0) {
            for (uint32_t i = 0; i < 32; i++)
                fpbuf[i] = seed * 0x9E3779B9u + i * 0x01010101u;
            fpbuf[32] = 0x03C0009Fu; /* DN, FZ, RMode=RZ, all cumulative flags */
            fp = fpbuf;
        }
#endif
        uint32_t bad = hold_regs(seed, &g_activations[me], seen, fp);
        if (bad)
            thread_fail(me ? "thread B lost register r" : "thread A lost register r", bad);
#if defined(__ARM_FP)
        if (fp) {
            for (uint32_t i = 0; i < 32; i++)
                if (fpbuf[i] != seed * 0x9E3779B9u + i * 0x01010101u)
                    thread_fail("thread A lost register s", i);
            if (fpbuf[32] != 0x03C0009Fu)
                thread_fail("thread A lost FPSCR, now", fpbuf[32]);
        }
#endif
    }
}

static void thread_a(void)
{
    thread(0);
    g_done_a = 1;
    for (;;)
        ;
}

static void thread_b(void)
{
    thread(1);
    while (!g_done_a)
        ;
    __asm__ volatile("svc 2" ::: "memory");
    test_pass();
}

static void thread_exit(void)
{
    thread_fail("thread returned, round", 0);
}

/* Stack image that PendSV/SVC can "return" into: software part + basic frame. */
static uint32_t prepare_stack(int me, void (*entry)(void))
{
    uint32_t *sp = (uint32_t *)(&g_stack[me][STACK_WORDS / 2]);
    *--sp = 0x01000000u;                                  /* xPSR: Thumb */
    *--sp = (uint32_t)(uintptr_t)entry & ~1u;             /* pc */
    *--sp = (uint32_t)(uintptr_t)thread_exit;             /* lr */
    for (int r = 0; r < 5; r++)                           /* r12, r3..r0 */
        *--sp = 0;
    *--sp = EXC_RETURN_THREAD_PSP;                        /* saved EXC_RETURN */
    for (int r = 0; r < 8; r++)                           /* r11..r4 */
        *--sp = 0;
    return (uint32_t)(uintptr_t)sp;
}

int main(void)
{
    test_begin("context_switch");
    g_sp[0] = prepare_stack(0, thread_a);
    g_sp[1] = prepare_stack(1, thread_b);
    nvic_set_priority(PENDSV_IRQN, 15);
    nvic_set_priority(SYSTICK_IRQN, 14);
    con_puts("start threads\n");
    __asm__ volatile("svc 0" ::: "memory");
    test_fail("svc 0 returned to main");
}
