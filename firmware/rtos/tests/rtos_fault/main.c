/*
 * A process faults while a kernel thread is in the middle of a console line, and
 * it holds two mutexes when it dies. The console is slow (a tick per character),
 * so "writer" (prio 20) holds the console lock for ~60 ticks:
 * - process "faulty" (prio 10) locks mutexes "m1" and "m2" (the kernel's, handles
 *   in its argument), starts thread "faulty2" (prio 12), which blocks on the console
 *   lock behind the writer, waits 15 ticks and reads the System Control Space
 *   unprivileged: a BusFault that ends the process;
 * - "locker" (prio 5) waits for m1, so faulty runs at priority 5 when it dies;
 * - "waiter" (prio 21) waits for the console lock behind the writer.
 * Expected: the writer's line whole, then the fault report; "locker m1 1"
 * (MS_OWNER_DIED, it owns m1) and "locker m1 again 0"; "waiter ran"; the kernel's
 * "m2 1" (no waiter was told: the next locker is) and "m2 again 0"; every thread
 * ends, faulty is gone and the ready queues hold only the living.
 * Then process "cutter" writes a slow line itself and its thread "cutter2" faults
 * in the middle of it, while kernel thread "after" waits for the console: the cut
 * line stays cut, the report and "after ran" each come on a line of their own: PASS.
 */
#include "rtos_test.h"

static ms_handle_t g_m1, g_m2, g_done;

static void faulty2(void *arg)
{
    (void)arg;
    ms_thread_sleep(3);                          /* the writer has the console by then */
    ms_printk("faulty2 never prints\n");
}

static void faulty_main(void *arg)
{
    uint32_t hs = (uint32_t)(uintptr_t)arg;
    ms_handle_t m1 = (ms_handle_t)(hs >> 16), m2 = (ms_handle_t)(hs & 0xFFFFu);
    if (ms_mutex_lock(m1, MS_NO_WAIT) != MS_OK || ms_mutex_lock(m2, MS_NO_WAIT) != MS_OK)
        rtos_fail("faulty lock");
    ms_thread_create("faulty2", faulty2, 0, 512, 12, 0);
    ms_thread_sleep(15);
    (void)*(volatile uint32_t *)0xE000ED00u;     /* CPUID: privileged only */
    ms_printk("faulty survived\n");
}

static ms_process_desc_t faulty = {
    .name = "faulty", .entry = faulty_main, .prio = 10, .mem_order = 2, .stack_size = 512,
    .max_threads = 2, .max_kobjs = 2, .max_files = 1,
};

static void cutter2(void *arg)
{
    (void)arg;
    ms_thread_sleep(8);
    (void)*(volatile uint32_t *)0xE000ED00u;
}

static void cutter_main(void *arg)
{
    (void)arg;
    ms_thread_create("cutter2", cutter2, 0, 512, 11, 0);
    ms_printk("cutter: a line its own process cuts short\n");
}

static ms_process_desc_t cutter = {
    .name = "cutter", .entry = cutter_main, .prio = 10, .mem_order = 2, .stack_size = 512,
    .max_threads = 2, .max_kobjs = 1, .max_files = 1,
};

static void after(void *arg)
{
    (void)arg;
    ms_thread_sleep(3);
    ms_printk("after ran\n");
    ms_sem_post(g_done);
}

static void writer(void *arg)
{
    (void)arg;
    ms_printk("writer: a line the console takes a tick per character for, whole\n");
    ms_sem_post(g_done);
}

static void waiter(void *arg)
{
    (void)arg;
    ms_thread_sleep(5);
    ms_printk("waiter ran\n");
    ms_sem_post(g_done);
}

static void locker(void *arg)
{
    (void)arg;
    ms_thread_sleep(5);
    int r = ms_mutex_lock(g_m1, 500);
    ms_printk("locker m1 %d\n", r);
    ms_mutex_unlock(g_m1);
    r = ms_mutex_lock(g_m1, MS_NO_WAIT);
    ms_printk("locker m1 again %d\n", r);
    ms_mutex_unlock(g_m1);
    ms_sem_post(g_done);
}

static void body(void *arg)
{
    (void)arg;
    g_m1 = ms_mutex_create("m1");
    g_m2 = ms_mutex_create("m2");
    g_done = ms_sem_create("done", 0, 3);
    CHECK(g_m1 > 0 && g_m2 > 0 && g_m1 <= 0xFFFF && g_m2 <= 0xFFFF && g_done > 0, "objects");
    faulty.arg = (void *)(uintptr_t)(((uint32_t)g_m1 << 16) | (uint32_t)g_m2);
    rtos_slow_console(1);
    CHECK(ms_thread_create("writer", writer, 0, 1024, 20, 0) > 0, "writer");
    CHECK(ms_thread_create("waiter", waiter, 0, 1024, 21, 0) > 0, "waiter");
    CHECK(ms_thread_create("locker", locker, 0, 1024, 5, 0) > 0, "locker");
    CHECK(ms_process_create(&faulty) > 0, "faulty");
    for (int i = 0; i < 3; i++)
        CHECK(ms_sem_wait(g_done, 1000) == MS_OK, "a thread never ran after the fault (%d)", i);
    rtos_slow_console(0);
    int r = ms_mutex_lock(g_m2, MS_NO_WAIT);
    ms_printk("m2 %d\n", r);
    ms_mutex_unlock(g_m2);
    r = ms_mutex_lock(g_m2, MS_NO_WAIT);
    ms_printk("m2 again %d\n", r);
    ms_mutex_unlock(g_m2);
    rtos_slow_console(1);
    CHECK(ms_thread_create("after", after, 0, 1024, 21, 0) > 0, "after");
    CHECK(ms_process_create(&cutter) > 0, "cutter");
    CHECK(ms_sem_wait(g_done, 1000) == MS_OK, "after never ran");
    rtos_slow_console(0);
    ms_thread_sleep(5);
    CHECK(ms_process_find("faulty") == MS_ERR_NOENT && ms_process_find("cutter") == MS_ERR_NOENT,
          "a killed process still listed");
    ms_thread_info_t info[8];
    int n = ms_ps(info, 8);
    for (int i = 0; i < n; i++)
        ms_printk("ps %s %s\n", info[i].name, ms_state_name(info[i].state));
    rtos_pass();
}

int main(void) { rtos_test_run("rtos_fault", body, 2); }
