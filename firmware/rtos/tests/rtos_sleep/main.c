/*
 * Sleep and soft-timer accuracy in virtual time.
 * 1. "busy" phase: a low-priority thread spins (the tick runs every ms);
 *    the sleeper prints "wake busy k tick T" after each ms_thread_sleep_ms(100).
 * 2. "idle" phase: nothing else runs (tickless idle stretches the tick);
 *    "wake idle k tick T" after each 100 ms.
 * 3. A periodic timer (50 ticks) prints "timer k tick T" 4 times while a
 *    one-shot (30 ticks) prints "oneshot tick T" once.
 */
#include "rtos_test.h"

static volatile int g_stop_busy;
static ms_handle_t g_sem;
static volatile unsigned g_periodic;

static void busy(void *arg)
{
    (void)arg;
    while (!g_stop_busy)
        ;
}

static void periodic(void *arg)
{
    (void)arg;
    unsigned k = ++g_periodic;
    ms_printk("timer %u tick %u\n", k, (unsigned)ms_tick_get());
    if (k == 4)
        ms_sem_post(g_sem);
}

static void oneshot(void *arg)
{
    (void)arg;
    ms_printk("oneshot tick %u\n", (unsigned)ms_tick_get());
}

static void body(void *arg)
{
    (void)arg;
    CHECK(ms_thread_create("busy", busy, 0, 384, 50, 0) > 0, "create busy");
    ms_thread_sleep(1);
    for (unsigned k = 1; k <= 5; k++) {
        CHECK(ms_thread_sleep_ms(100) == MS_OK, "sleep");
        ms_printk("wake busy %u tick %u\n", k, (unsigned)ms_tick_get());
    }
    g_stop_busy = 1;
    ms_thread_sleep(1);
    for (unsigned k = 1; k <= 5; k++) {
        CHECK(ms_thread_sleep_ms(100) == MS_OK, "sleep");
        ms_printk("wake idle %u tick %u\n", k, (unsigned)ms_tick_get());
    }
    g_sem = ms_sem_create("t", 0, 1);
    ms_handle_t tp = ms_timer_create("per", periodic, 0);
    ms_handle_t to = ms_timer_create("one", oneshot, 0);
    CHECK(tp > 0 && to > 0, "timer create %d %d", tp, to);
    ms_printk("timers start at tick %u\n", (unsigned)ms_tick_get());
    CHECK(ms_timer_start(tp, 50, 50) == MS_OK, "start periodic");
    CHECK(ms_timer_start(to, 30, 0) == MS_OK, "start one-shot");
    CHECK(ms_sem_wait(g_sem, 1000) == MS_OK, "periodic timer did not fire 4 times");
    ms_timer_stop(tp);
    ms_thread_sleep(120);
    CHECK(g_periodic == 4, "stopped timer fired again (%u)", g_periodic);
    rtos_pass();
}

int main(void) { rtos_test_run("rtos_sleep", body, 2); }
