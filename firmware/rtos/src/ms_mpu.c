/*
 * Process isolation with the ARMv7-M MPU (PMSAv7, ARMv7-M ARM B3.5; PM0214 4.5).
 *
 * The kernel and drivers run privileged with the default memory map as
 * background (PRIVDEFENA), so no region has to describe kernel memory or the
 * peripherals: unprivileged code, which has no background map, reaches only
 *   region 0   on-chip flash: read and execute (privileged code may also write
 *              it, for the flash programming sequence)
 *   region 1   its process's RAM window: read/write, execute never
 *   region 2.. the shared memories it was granted (MS_IOCTL_SHM_GRANT; read-only
 *              or read/write, execute never)
 * and anything else (kernel RAM, another process's window, peripherals, the
 * System Control Space) ends in MemManage or BusFault, which kills the process.
 * PendSV reprograms regions 1.. when the incoming thread belongs to another
 * process than the one mapped. A core without an MPU (STM32F103: TYPE reads
 * 0) runs with isolation off.
 */
#include "ms_kernel.h"
#include "mpu.h"
#include "soc.h"

static uint8_t g_mpu_on;
static uint8_t g_maps_on;       /* shared-memory regions now enabled (2 .. 2 + g_maps_on - 1) */
static const ms_process_t *g_mapped;

#define RASR_WINDOW(log2) (MPU_RASR_AP(MPU_AP_FULL) | MPU_RASR_XN | MPU_RASR_SIZE(log2) | MPU_RASR_ENABLE)
#define RASR_READ_ONLY(log2) (MPU_RASR_AP(MPU_AP_PRIV_RW_USER_RO) | MPU_RASR_XN | MPU_RASR_SIZE(log2) | \
                              MPU_RASR_ENABLE)

/* The smallest n with 2^n >= v (v <= 2^31): one CLZ, not a loop over the bits (PendSV
 * computes a region size per process switch). */
static inline unsigned log2u(uint32_t v)
{
    return v <= 1u ? 0u : 32u - (unsigned)__builtin_clz(v - 1u);
}

void ms_mpu_init(void)
{
    unsigned regions = (MPU->TYPE >> 8) & 0xFFu;
    if (regions < 2u + MS_MPU_MAPS) {
        g_mpu_on = 0;
        ms_printk("mpu: none, process isolation off\n");
        return;
    }
    MPU->CTRL = 0;
    for (unsigned r = 0; r < regions; r++) {
        MPU->RNR = r;
        MPU->RASR = 0;
    }
    mpu_set_region(0, MS_MPU_FLASH_BASE, MPU_RASR_AP(MPU_AP_PRIV_RW_USER_RO) |
                                             MPU_RASR_SIZE(MS_MPU_FLASH_LOG2) | MPU_RASR_ENABLE);
    MPU->CTRL = MPU_CTRL_ENABLE | MPU_CTRL_PRIVDEFENA;
    cm_dsb();
    cm_isb();
    g_mpu_on = 1;
    ms_printk("mpu: %u regions, process isolation on\n", regions);
}

int ms_isolation_enabled(void) { return g_mpu_on; }

uint32_t ms_mpu_region_size(uint32_t bytes)
{
    return bytes <= 32u ? 32u : 1u << log2u(bytes);
}

uint32_t ms_mpu_window_size(uint32_t bytes)
{
    return bytes <= MS_MPU_MIN_WINDOW ? MS_MPU_MIN_WINDOW : 1u << log2u(bytes);
}

/* Interrupts masked (PendSV, or the lock held). */
void ms_mpu_switch(const ms_process_t *p)
{
    if (!g_mpu_on || p == g_mapped)
        return;
    mpu_set_region(1, p->win_base, RASR_WINDOW(log2u(p->win_size)));
    for (unsigned i = 0; i < MS_MPU_MAPS; i++) {
        if (i < p->nmaps)
            mpu_set_region(2u + i, p->maps[i].start, (p->maps_ro >> i & 1u)
                                                         ? RASR_READ_ONLY(log2u(p->maps[i].size))
                                                         : RASR_WINDOW(log2u(p->maps[i].size)));
        else if (i < g_maps_on)
            mpu_set_region(2u + i, 0, 0); /* the previous process's: off (others already are) */
    }
    g_maps_on = p->nmaps;
    cm_dsb();
    cm_isb();
    g_mapped = p;
}

void ms_mpu_forget(const ms_process_t *p)
{
    if (g_mapped == p)
        g_mapped = 0;
}

/* The process's regions changed: reprogram them if it is the one mapped now. */
static void remap(const ms_process_t *p)
{
    if (g_mapped == p) {
        g_mapped = 0;
        ms_mpu_switch(p);
    }
}

int ms_mpu_map(ms_process_t *p, uint32_t base, uint32_t size, int writable)
{
    if (!g_mpu_on || !p)
        return MS_OK;
    uint32_t s = ms_lock();
    int r = MS_OK;
    unsigned i = 0;
    while (i < p->nmaps && p->maps[i].start != base)
        i++;
    if (i == p->nmaps && p->nmaps >= MS_MPU_MAPS) {
        r = MS_ERR_LIMIT;
    } else {
        if (i == p->nmaps)
            p->nmaps++;
        p->maps[i].start = base;
        p->maps[i].size = size;
        p->maps_ro = (uint8_t)((p->maps_ro & ~(1u << i)) | (writable ? 0u : 1u << i));
        remap(p);
    }
    ms_unlock(s);
    return r;
}

void ms_mpu_unmap(ms_process_t *p, uint32_t base)
{
    if (!g_mpu_on || !p)
        return;
    uint32_t s = ms_lock();
    for (unsigned i = 0; i < p->nmaps; i++)
        if (p->maps[i].start == base) {
            for (unsigned k = i; k + 1u < p->nmaps; k++) {
                p->maps[k] = p->maps[k + 1u];
                p->maps_ro = (uint8_t)((p->maps_ro & ~(1u << k)) | ((p->maps_ro >> (k + 1u) & 1u) << k));
            }
            p->nmaps--;
            p->maps_ro &= (uint8_t)~(1u << p->nmaps);
            remap(p);
            break;
        }
    ms_unlock(s);
}

static int inside(uintptr_t a, uintptr_t end, uint32_t base, uint32_t size)
{
    return a >= base && end <= (uintptr_t)base + size;
}

int ms_uaccess_proc(const ms_process_t *p, const void *ptr, size_t len, int write)
{
    if (!g_mpu_on || !p || !len)
        return MS_OK;
    uintptr_t a = (uintptr_t)ptr, end = a + len;
    if (end < a)
        return MS_ERR_FAULT;
    if (inside(a, end, p->win_base, p->win_size))
        return MS_OK;
    for (unsigned i = 0; i < p->nmaps; i++)
        if (inside(a, end, p->maps[i].start, p->maps[i].size) && !(write && (p->maps_ro >> i & 1u)))
            return MS_OK;
    if (!write && inside(a, end, MS_MPU_FLASH_BASE, 1u << MS_MPU_FLASH_LOG2))
        return MS_OK;
    return MS_ERR_FAULT;
}

/* The end of the memory p may read that holds address a (its window, a shared memory it
 * maps, the flash), 0 if none does. */
static uintptr_t readable_end(const ms_process_t *p, uintptr_t a)
{
    if (inside(a, a + 1u, p->win_base, p->win_size))
        return (uintptr_t)p->win_base + p->win_size;
    for (unsigned i = 0; i < p->nmaps; i++)
        if (inside(a, a + 1u, p->maps[i].start, p->maps[i].size))
            return (uintptr_t)p->maps[i].start + p->maps[i].size;
    if (inside(a, a + 1u, MS_MPU_FLASH_BASE, 1u << MS_MPU_FLASH_LOG2))
        return (uintptr_t)MS_MPU_FLASH_BASE + (1u << MS_MPU_FLASH_LOG2);
    return 0;
}

/* Every byte up to the NUL readable: the string is scanned a readable range at a time, not
 * checked byte by byte against every range. */
int ms_ustr_proc(const ms_process_t *p, const char *s)
{
    if (!g_mpu_on || !p) {
        while (*s)
            s++;
        return MS_OK;
    }
    for (uintptr_t a = (uintptr_t)s;;) {
        uintptr_t end = a == UINTPTR_MAX ? 0 : readable_end(p, a); /* no byte past the top */
        if (!end)
            return MS_ERR_FAULT; /* runs off the end of what the caller may read */
        for (; a < end; a++)
            if (!*(const char *)a)
                return MS_OK;
    }
}

/* The process a system call runs for: the current thread's, while it is in a
 * call it made through SVC (kernel threads and interrupts pass anything). */
static const ms_process_t *caller(void)
{
    ms_thread_t *t = ms_current;
    return (t && t->in_syscall && !ms_in_isr()) ? t->proc : 0;
}

int ms_uaccess(const void *ptr, size_t len, int write)
{
    return ms_uaccess_proc(caller(), ptr, len, write);
}

int ms_ustr(const char *s) { return ms_ustr_proc(caller(), s); }
