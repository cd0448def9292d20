/*
 * Process limits and permissions give error codes, not crashes.
 * Process "small": heap 2^2 = 4 KiB, 2 threads, 2 kernel objects, 1 file,
 * EEPROM read permission for [0x100, 0x200) only, no privileged calls.
 * Each attempt prints "<what> -> <result>" (the MS_ERR_* number).
 * Process "rogue" writes an NVIC register (unprivileged: BusFault): the
 * kernel ends that process with a report and the system keeps running.
 */
#include "rtos_test.h"

/* "small" gets the kernel's "done" semaphore as its argument: with the MPU it
 * cannot read the kernel's variables. */
static const ms_io_dev_ops_t g_dummy_ops;

/* A RAM-backed EEPROM device that enforces the caller's EEPROM ranges. */
static uint8_t g_eeprom[1024];
static int ee_rw(ms_file_t *f, size_t len, int write)
{
    int r = ms_process_check_eeprom(f->pos, (uint32_t)len, write);
    if (r < 0)
        return r;
    f->pos += (uint32_t)len;
    return (int)len;
}
static int ee_read(void *ctx, ms_file_t *f, void *buf, size_t len)
{
    (void)ctx;
    uint32_t at = f->pos;
    int r = ee_rw(f, len, 0);
    for (int i = 0; i < r; i++)
        ((uint8_t *)buf)[i] = g_eeprom[(at + (uint32_t)i) % sizeof g_eeprom];
    return r;
}
static int ee_write(void *ctx, ms_file_t *f, const void *buf, size_t len)
{
    (void)ctx;
    (void)buf;
    return ee_rw(f, len, 1);
}
static int ee_ioctl(void *ctx, ms_file_t *f, int cmd, void *arg)
{
    (void)ctx;
    if (cmd != 1)
        return MS_ERR_INVAL;
    f->pos = (uint32_t)(uintptr_t)arg; /* seek */
    return MS_OK;
}
static const ms_io_dev_ops_t g_eeprom_ops = {.read = ee_read, .write = ee_write, .ioctl = ee_ioctl};

static void idle_thread(void *arg)
{
    (void)arg;
    ms_thread_sleep(MS_WAIT_FOREVER);
}

/* A path in kernel RAM: a process under isolation may not have the kernel read it for it. */
static char g_kernel_path[] = "/dev/nothing";
#define ARG_ISOLATED 0x40000000u   /* in small's argument, beside the semaphore's handle */

static void small_main(void *arg)
{
    int isolated = ((uintptr_t)arg & ARG_ISOLATED) != 0;
    arg = (void *)((uintptr_t)arg & ~ARG_ISOLATED);
    void *big = ms_malloc(8192);
    ms_printk("malloc 8192 -> %s\n", big ? "ok" : "null");
    void *ok = ms_malloc(1024);
    ms_printk("malloc 1024 -> %s\n", ok ? "ok" : "null");
    ms_free(ok);
    ms_printk("thread stack 8192 -> %d\n", ms_thread_create("tb", idle_thread, 0, 8192, 25, 0));
    ms_printk("thread 2 -> %d\n", ms_thread_create("t2", idle_thread, 0, 512, 25, 0) > 0 ? 0 : -999);
    ms_printk("thread 3 -> %d\n", ms_thread_create("t3", idle_thread, 0, 512, 25, 0));
    ms_printk("thread prio 5 -> %d\n", ms_thread_create("t5", idle_thread, 0, 512, 5, 0));
    ms_printk("sem 1 -> %d\n", ms_sem_create("a", 0, 1) > 0 ? 0 : -999);
    ms_printk("sem 2 -> %d\n", ms_mutex_create("b") > 0 ? 0 : -999);
    ms_printk("sem 3 -> %d\n", ms_sem_create("c", 0, 1));
    int fd = ms_io_open("/dev/eeprom", O_RDWR, 0);
    ms_printk("open 1 -> %d\n", fd >= 0 ? 0 : fd);
    ms_printk("open 2 -> %d\n", ms_io_open("/dev/eeprom", O_RDWR, 0));
    ms_printk("open missing -> %d\n", ms_io_open("/dev/nothing", O_RDONLY, 0));
    char own_path[16] = "/dev/nothing";                  /* in its window (its stack) */
    int own = ms_io_open(own_path, O_RDONLY, 0), kernel = ms_io_open(g_kernel_path, O_RDONLY, 0);
    if (own != MS_ERR_NOENT || kernel != (isolated ? MS_ERR_FAULT : MS_ERR_NOENT))
        rtos_fail("paths: own window %d, kernel RAM %d", own, kernel);
    char buf[16];
    ms_io_ioctl(fd, 1, (void *)0x100);
    ms_printk("eeprom read 0x100 -> %d\n", ms_io_read(fd, buf, 16));
    ms_io_ioctl(fd, 1, (void *)0x1F8);
    ms_printk("eeprom read 0x1f8 -> %d\n", ms_io_read(fd, buf, 16));
    ms_io_ioctl(fd, 1, (void *)0x300);
    ms_printk("eeprom read 0x300 -> %d\n", ms_io_read(fd, buf, 16));
    ms_io_ioctl(fd, 1, (void *)0x100);
    ms_printk("eeprom write 0x100 -> %d\n", ms_io_write(fd, buf, 16));
    ms_printk("device register -> %d\n", ms_io_device_register("/dev/mine", &g_dummy_ops, 0));
    ms_printk("pipe create -> %d\n", ms_pipe_dev_create("/dev/p", 16));
    ms_printk("process create -> %d\n", ms_process_create((const ms_process_desc_t *)0));
    ms_printk("kill kernel main -> %d\n", ms_thread_kill((ms_handle_t)(uintptr_t)0));
    ms_sem_post((ms_handle_t)(uintptr_t)arg);
    ms_process_exit(0);
}

static void rogue_main(void *arg)
{
    (void)arg;
    ms_printk("rogue writes NVIC_ISER0\n");
    NVIC->ISER[0] = 1u;
    ms_printk("rogue survived\n");
}

static ms_process_desc_t small = {
    .name = "small", .entry = small_main, .prio = 20, .mem_order = 2, .stack_size = 1024,
    .max_threads = 2, .max_kobjs = 2, .max_files = 1, .perms = MS_PERM_EEPROM_RD,
    .eeprom = {{0x100, 0x100}},
};
static const ms_process_desc_t rogue = {
    .name = "rogue", .entry = rogue_main, .prio = 20, .mem_order = 1, .stack_size = 768,
    .max_threads = 1, .max_kobjs = 1, .max_files = 1,
};

static void body(void *arg)
{
    (void)arg;
    ms_handle_t done = ms_sem_create("done", 0, 1);
    small.arg = (void *)((uintptr_t)done | (ms_isolation_enabled() ? ARG_ISOLATED : 0u));
    CHECK(ms_io_device_register("/dev/eeprom", &g_eeprom_ops, 0) == MS_OK, "eeprom register");
    ms_heap_stats_t before, after;
    ms_kheap_stats(0, &before);
    CHECK(ms_process_create(&small) > 0, "create small");
    CHECK(ms_sem_wait(done, 1000) == MS_OK, "small did not finish");
    ms_thread_sleep(5); /* idle reaps the process */
    ms_kheap_stats(0, &after);
    ms_printk("pool free before %u after %u\n", (unsigned)before.free, (unsigned)after.free);
    CHECK(ms_process_find("small") == MS_ERR_NOENT, "small still exists");

    CHECK(ms_process_create(&rogue) > 0, "create rogue");
    ms_thread_sleep(5);
    ms_printk("rogue find -> %d\n", ms_process_find("rogue"));
    ms_kheap_stats(0, &after);
    ms_printk("pool free after rogue %u\n", (unsigned)after.free);
    ms_printk("system alive at tick %u\n", (unsigned)ms_tick_get());
    rtos_pass();
}

int main(void) { rtos_test_run("rtos_limits", body, 2); }
