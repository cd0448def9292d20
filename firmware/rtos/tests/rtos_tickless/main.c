/*
 * Tickless idle: the only application thread sleeps 1 s. The tick is
 * stretched, the core waits in WFI, and the tick count is right afterwards.
 * Lines: "sleep 1s from tick T", "woke at tick T" (T + 1000).
 */
#include "rtos_test.h"

static void body(void *arg)
{
    (void)arg;
    ms_thread_sleep(3);
    ms_tick_t t0 = ms_tick_get();
    ms_printk("sleep 1s from tick %u\n", (unsigned)t0);
    CHECK(ms_thread_sleep_ms(1000) == MS_OK, "sleep");
    ms_tick_t t1 = ms_tick_get();
    ms_printk("woke at tick %u\n", (unsigned)t1);
    CHECK(t1 - t0 == ms_ms_to_ticks(1000), "slept %u ticks", (unsigned)(t1 - t0));
    rtos_pass();
}

int main(void) { rtos_test_run("rtos_tickless", body, 2); }
