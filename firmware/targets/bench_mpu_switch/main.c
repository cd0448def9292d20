/*
 * Context-switch cost with and without the MPU (benchmarks/bench_mpu_switch.py).
 * Two unprivileged threads, each in its own 4 KiB process memory (stack and
 * data), yield to each other through SVC + PendSV. Phase 1 switches SWITCHES
 * times with the MPU off; phase 2 turns the MPU on (flash read-only and
 * executable for all, the kernel's memory privileged through PRIVDEFENA) and
 * switches SWITCHES times more, reprogramming the process region on every
 * switch. Lines: "phase off <switches>", "phase on <switches>", then PASS.
 */
#include "mpu.h"
#include "switch.h"
#include "test.h"

#define SWITCHES 2000u
#define PROC_BYTES 4096u

static uint8_t proc_mem[2][PROC_BYTES] __attribute__((aligned(PROC_BYTES)));
static uint32_t g_sp[2];
static uint32_t g_current, g_switches;
static int g_mpu_on;

static void map_process(uint32_t n)
{
    mpu_set_region(1, (uint32_t)(uintptr_t)proc_mem[n],
                   MPU_RASR_AP(MPU_AP_FULL) | MPU_RASR_XN | MPU_RASR_SIZE(12) | MPU_RASR_ENABLE);
}

static void mpu_on(void)
{
    mpu_set_region(0, 0x08000000u, MPU_RASR_AP(MPU_AP_RO) | MPU_RASR_SIZE(20) | MPU_RASR_ENABLE);
    map_process(g_current);
    MPU->CTRL = MPU_CTRL_ENABLE | MPU_CTRL_PRIVDEFENA;
    cm_dsb();
    cm_isb();
    g_mpu_on = 1;
}

uint32_t switch_to(uint32_t sp)
{
    g_sp[g_current] = sp;
    g_current ^= 1u;
    if (g_mpu_on)
        map_process(g_current);
    if (++g_switches == SWITCHES) {
        con_printf("phase off %u\n", (unsigned)g_switches);
        mpu_on();
    } else if (g_switches == 2u * SWITCHES) {
        MPU->CTRL = 0;
        con_printf("phase on %u\n", (unsigned)(g_switches - SWITCHES));
        test_pass();
    }
    return g_sp[g_current];
}

static void thread(void)
{
    volatile uint32_t counter = 0; /* on the thread's own stack, inside its region */
    for (;;) {
        counter++;
        __asm__ volatile("svc 1" ::: "memory");
    }
}

static uint32_t prepare(uint32_t n)
{
    uint32_t *sp = (uint32_t *)(uintptr_t)(proc_mem[n] + PROC_BYTES);
    *--sp = 1u << 24;                               /* xPSR: Thumb */
    *--sp = (uint32_t)(uintptr_t)thread & ~1u;      /* pc */
    for (int i = 0; i < 6; i++)
        *--sp = 0;                                  /* lr, r12, r3-r0 */
    *--sp = 0xFFFFFFFDu;                            /* EXC_RETURN: thread, PSP */
    for (int i = 0; i < 8; i++)
        *--sp = 0;                                  /* r11-r4 */
    return (uint32_t)(uintptr_t)sp;
}

uint32_t first_thread_sp(void)
{
    g_sp[1] = prepare(1);
    return prepare(0) + 0u;
}

int main(void)
{
    test_begin("bench_mpu_switch");
    SCB->SHPR[SHPR_PENDSV] = 0xF0;
    SCB->SHCSR |= SCB_SHCSR_MEMFAULTENA;
    __asm__ volatile("svc 0" ::: "memory");
    test_fail("returned to main");
}
