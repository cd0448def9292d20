/*
 * Scheduling: priority order, preemption and round-robin slices.
 * 1. main (prio 2) creates p30, p12, p20, p40; each prints "order pNN" and
 *    exits; they run most urgent first: p12 p20 p30 p40.
 * 2. rr1..rr3 (prio 20, 5-tick slices) spin; each prints "slice rrN k" when it
 *    gets the CPU from another of them. Slices alternate rr1 rr2 rr3 ... and
 *    last 5 ticks each.
 * 3. hi (prio 10) sleeps 12 ticks and prints "hi preempts at tick T" in the
 *    middle of the round-robin: a higher priority preempts at once.
 */
#include "rtos_test.h"

static volatile int g_last = -1;
static ms_handle_t g_done;

static void order_thread(void *arg)
{
    ms_printk("order %s\n", (const char *)arg);
}

static void rr_thread(void *arg)
{
    int me = (int)(intptr_t)arg;
    for (unsigned k = 0; k < 6;) {
        if (g_last != me) {
            g_last = me;
            k++;
            ms_printk("slice rr%d %u tick %u\n", me, k, (unsigned)ms_tick_get());
        }
    }
    ms_sem_post(g_done);
}

static void hi_thread(void *arg)
{
    (void)arg;
    ms_thread_sleep(12);
    ms_printk("hi preempts at tick %u\n", (unsigned)ms_tick_get());
}

static void body(void *arg)
{
    (void)arg;
    static const char *const names[] = {"p30", "p12", "p20", "p40"};
    static const unsigned prios[] = {30, 12, 20, 40};
    for (int i = 0; i < 4; i++)
        CHECK(ms_thread_create(names[i], order_thread, (void *)names[i], 512, prios[i], 0) > 0,
              "create %s", names[i]);
    ms_thread_sleep(2);

    g_done = ms_sem_create("done", 0, 3);
    CHECK(g_done > 0, "sem create %d", g_done);
    ms_printk("round robin starts at tick %u\n", (unsigned)ms_tick_get());
    for (int i = 1; i <= 3; i++)
        CHECK(ms_thread_create("rr", rr_thread, (void *)(intptr_t)i, 512, 20, 5) > 0, "create rr%d", i);
    CHECK(ms_thread_create("hi", hi_thread, 0, 512, 10, 0) > 0, "create hi");
    for (int i = 0; i < 3; i++)
        CHECK(ms_sem_wait(g_done, 1000) == MS_OK, "rr threads did not finish");
    rtos_pass();
}

int main(void) { rtos_test_run("rtos_sched", body, 2); }
