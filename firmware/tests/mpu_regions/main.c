/*
 * MPU regions and MemManage faults (ARMv7-M B3.5, PM0214 4.5). On a core
 * without an MPU (STM32F1) MPU_TYPE reads 0 and the program stops there.
 * Layout (PRIVDEFENA set: privileged code also has the default map):
 *   R0 flash 1 MiB        RO for both, executable
 *   R1 SRAM 512 KiB       RW for both (stacks, console)
 *   R2 arena 8 KiB        privileged RW, unprivileged none; sub-region 7
 *                         disabled (falls back to R1)
 *   R3 arena+1K, 1 KiB    privileged RW, unprivileged RO (overlaps R2: R3 wins)
 *   R4 arena+2K, 1 KiB    no access at all
 *   R5 arena+3K, 32 B     no access at all (smaller than a page)
 *   R6 arena+4K, 256 B    RW, execute never
 * Each line states an access and its outcome: "ok" or the MemManage status
 * (CFSR) and, when valid, the faulting address (MMFAR) as an offset from the
 * arena. Output (F413):
 *   mpu type 0x00000800
 *   unpriv write arena+0x8: fault cfsr=0x82 mmfar=arena+0x8
 *   unpriv write arena+0x1c08: ok
 *   unpriv write arena+0x404: fault cfsr=0x82 mmfar=arena+0x404
 *   unpriv read arena+0x404: ok
 *   priv write arena+0x404: ok
 *   priv write arena+0x80c: fault cfsr=0x82 mmfar=arena+0x80c
 *   priv read arena+0xc1c: fault cfsr=0x82 mmfar=arena+0xc1c
 *   priv read arena+0xc20: ok
 *   exec arena+0x1400: 42
 *   exec arena+0x1000: fault cfsr=0x01
 *   privdefena off, priv read rcc: fault cfsr=0x82 mmfar=0x40023800
 *   unpriv stack below arena+0x1c00: fault cfsr=0x10
 *   PASS
 */
#include "fault_entry.h"
#include "mpu.h"
#include "test.h"

static uint8_t arena[8192] __attribute__((aligned(8192)));
static uint32_t good_stack[64] __attribute__((aligned(8)));

static volatile uint32_t g_cfsr, g_mmfar, g_faults;
static volatile int g_stack_test;

#define ARENA ((uint32_t)(uintptr_t)arena)
#define AT(off) ((volatile uint32_t *)(uintptr_t)(ARENA + (off)))

void memmanage_c(uint32_t *frame)
{
    uint32_t cfsr = SCB->CFSR;
    g_cfsr = cfsr & 0xFFu;
    g_mmfar = SCB->MMFAR;
    SCB->CFSR = cfsr; /* write-one-to-clear */
    g_faults++;
    if (cfsr & SCB_CFSR_IACCVIOL) {
        frame[6] = frame[5] & ~1u; /* back to the caller of the code that could not run */
    } else if (cfsr & SCB_CFSR_DACCVIOL) {
        uint16_t first = *(const uint16_t *)(uintptr_t)frame[6];
        frame[6] += ((first & 0xF800u) >= 0xE800u) ? 4u : 2u;
    }
    /* MSTKERR: the SVC handler that follows recovers (svc_c). */
}

static void finish(void);

/* SVC 1: back to privileged. The SVC of the stacking test: its frame is broken
 * (what a failed stacking leaves is UNKNOWN, so not even its PC is read), so
 * resume privileged on a fresh frame at finish(). */
void svc_c(uint32_t *frame)
{
    if (g_stack_test) {
        uint32_t *f = &good_stack[64 - 8];
        for (int i = 0; i < 8; i++)
            f[i] = 0;
        f[6] = (uint32_t)(uintptr_t)finish & ~1u;
        f[7] = 1u << 24; /* xPSR: Thumb */
        cm_set_psp((uint32_t)(uintptr_t)f);
        cm_set_control(cm_get_control() & ~CONTROL_NPRIV);
    } else if (((const uint8_t *)(uintptr_t)frame[6])[-2] == 1) {
        cm_set_control(cm_get_control() & ~CONTROL_NPRIV);
    }
}

static void drop_privilege(void) { cm_set_control(cm_get_control() | CONTROL_NPRIV); }
static void regain_privilege(void) { __asm__ volatile("svc 1" ::: "memory"); }

static void report(const char *what, uint32_t off, uint32_t faults_before)
{
    if (g_faults == faults_before)
        con_printf("%s arena+0x%x: ok\n", what, (unsigned)off);
    else
        con_printf("%s arena+0x%x: fault cfsr=0x%02x mmfar=arena+0x%x\n", what, (unsigned)off,
                   (unsigned)g_cfsr, (unsigned)(g_mmfar - ARENA));
}

static void unpriv_write(uint32_t off)
{
    uint32_t before = g_faults;
    drop_privilege();
    probe_write(AT(off), 0x5A5A0000u | off);
    regain_privilege();
    report("unpriv write", off, before);
}

static void unpriv_read(uint32_t off)
{
    uint32_t before = g_faults;
    drop_privilege();
    (void)probe_read(AT(off));
    regain_privilege();
    report("unpriv read", off, before);
}

static void priv_write(uint32_t off)
{
    uint32_t before = g_faults;
    probe_write(AT(off), 0xA5A50000u | off);
    report("priv write", off, before);
}

static void priv_read(uint32_t off)
{
    uint32_t before = g_faults;
    (void)probe_read(AT(off));
    report("priv read", off, before);
}

static uint32_t exec_at(uint32_t off)
{
    uint16_t *dst = (uint16_t *)(uintptr_t)(ARENA + off);
    const uint16_t *src = answer_code;
    while (src < answer_code_end)
        *dst++ = *src++;
    cm_dsb();
    cm_isb();
    uint32_t (*fn)(void) = (uint32_t (*)(void))(uintptr_t)(ARENA + off + 1u);
    return fn();
}

static void stack_thread(void)
{
    __asm__ volatile("svc 2" ::: "memory"); /* stacking runs below the arena: no access */
    test_fail("returned from svc 2");
}

int main(void)
{
    test_begin("mpu_regions");
    uint32_t type = MPU->TYPE;
    con_printf("mpu type 0x%08x\n", (unsigned)type);
    if (((type >> 8) & 0xFFu) == 0u) {
        MPU->CTRL = MPU_CTRL_ENABLE; /* no MPU: writes are ignored */
        if (MPU->CTRL != 0u)
            test_fail("MPU_CTRL 0x%x on a core without an MPU", (unsigned)MPU->CTRL);
        test_pass();
    }
    SCB->SHCSR |= SCB_SHCSR_MEMFAULTENA;
    SCB->SHPR[SHPR_SVCALL] = 0x80; /* below MemManage (0): a stacking fault preempts SVC */

    mpu_set_region(0, 0x08000000u, MPU_RASR_AP(MPU_AP_RO) | MPU_RASR_SIZE(20) | MPU_RASR_ENABLE);
    mpu_set_region(1, 0x20000000u, MPU_RASR_AP(MPU_AP_FULL) | MPU_RASR_SIZE(19) | MPU_RASR_ENABLE);
    mpu_set_region(2, ARENA, MPU_RASR_AP(MPU_AP_PRIV_RW) | MPU_RASR_SRD(0x80) | MPU_RASR_SIZE(13) |
                                 MPU_RASR_ENABLE);
    mpu_set_region(3, ARENA + 0x400u, MPU_RASR_AP(MPU_AP_PRIV_RW_USER_RO) | MPU_RASR_SIZE(10) |
                                          MPU_RASR_ENABLE);
    mpu_set_region(4, ARENA + 0x800u, MPU_RASR_AP(MPU_AP_NONE) | MPU_RASR_SIZE(10) | MPU_RASR_ENABLE);
    mpu_set_region(5, ARENA + 0xC00u, MPU_RASR_AP(MPU_AP_NONE) | MPU_RASR_SIZE(5) | MPU_RASR_ENABLE);
    mpu_set_region(6, ARENA + 0x1000u, MPU_RASR_AP(MPU_AP_FULL) | MPU_RASR_XN | MPU_RASR_SIZE(8) |
                                           MPU_RASR_ENABLE);
    MPU->CTRL = MPU_CTRL_ENABLE | MPU_CTRL_PRIVDEFENA;
    cm_dsb();
    cm_isb();
    if (MPU->TYPE != 0x800u || (MPU->CTRL & 7u) != 5u)
        test_fail("MPU registers read back TYPE 0x%x CTRL 0x%x", (unsigned)MPU->TYPE,
                  (unsigned)MPU->CTRL);

    unpriv_write(0x8);    /* R2: outside what unprivileged code may touch */
    unpriv_write(0x1C08); /* sub-region 7 disabled: R1, open to everyone */
    if (*AT(0x1C08) != 0x5A5A1C08u)
        test_fail("unprivileged write to arena+0x1c08 did not land");
    unpriv_write(0x404);  /* R3 over R2: read-only for unprivileged code */
    unpriv_read(0x404);
    priv_write(0x404);
    priv_write(0x80C);    /* R4: nobody */
    priv_read(0xC1C);     /* R5: 32 bytes of nothing */
    priv_read(0xC20);
    if (*AT(0x8) != 0u || *AT(0x404) != 0xA5A50404u)
        test_fail("a refused write changed memory (0x%x, 0x%x)", (unsigned)*AT(0x8),
                  (unsigned)*AT(0x404));

    uint32_t before = g_faults;
    uint32_t r = exec_at(0x1400);
    con_printf("exec arena+0x1400: %u\n", (unsigned)r);
    r = exec_at(0x1000);
    if (g_faults != before + 1)
        test_fail("code ran from an execute-never region (returned %u)", (unsigned)r);
    con_printf("exec arena+0x1000: fault cfsr=0x%02x\n", (unsigned)g_cfsr);

    MPU->CTRL = MPU_CTRL_ENABLE; /* privileged code loses the default map */
    cm_dsb();
    cm_isb();
    before = g_faults;
    (void)probe_read((const volatile uint32_t *)0x40023800u); /* RCC: no region covers it */
    MPU->CTRL = MPU_CTRL_ENABLE | MPU_CTRL_PRIVDEFENA;
    cm_dsb();
    cm_isb();
    if (g_faults != before + 1)
        test_fail("privileged read without PRIVDEFENA did not fault");
    con_printf("privdefena off, priv read rcc: fault cfsr=0x%02x mmfar=0x%08x\n", (unsigned)g_cfsr,
               (unsigned)g_mmfar);

    g_stack_test = 1;
    before = g_faults;
    /* PSP 16 bytes into sub-region 7: the 32-byte frame runs into sub-region 6 (R2). */
    launch_unpriv_psp(stack_thread, ARENA + 0x1C10u);
    test_fail("launch returned");
}

static void finish(void)
{
    cm_set_control(0); /* privileged, back on MSP */
    if (g_faults == 0u || !(g_cfsr & SCB_CFSR_MSTKERR))
        test_fail("no stacking fault (cfsr 0x%02x)", (unsigned)g_cfsr);
    con_printf("unpriv stack below arena+0x1c00: fault cfsr=0x%02x\n", (unsigned)g_cfsr);
    MPU->CTRL = 0;
    test_pass();
}
