/*
 * Stack overflow detection and the ps/free data.
 * Prints "ps <name> <process> prio <p> <state> stack <used>/<size>" for every
 * thread and "free kernel <free>/<total> pool <free>/<total>", then thread
 * "deep" (512-byte stack) recurses 40 levels with 48-byte frames and yields
 * at the bottom (sleeps a tick): the switch finds its canary overwritten and the kernel
 * panics naming the thread.
 */
#include "rtos_test.h"

static unsigned recurse(unsigned n)
{
    volatile uint32_t frame[10];
    for (unsigned i = 0; i < 10; i++)
        frame[i] = n + i;
    if (n == 0) {
        ms_thread_sleep(1); /* the switch checks the stack */
        return frame[0];
    }
    return recurse(n - 1) + frame[9];
}

static void deep(void *arg)
{
    (void)arg;
    ms_printk("deep recursing\n");
    recurse(40);
    ms_printk("deep returned\n");
}

static void body(void *arg)
{
    (void)arg;
    ms_thread_sleep(2);
    ms_thread_info_t info[8];
    int n = ms_ps(info, 8);
    for (int i = 0; i < n; i++)
        ms_printk("ps %s %s prio %u %s stack %u/%u\n", info[i].name, info[i].process, info[i].prio,
                  ms_state_name(info[i].state), (unsigned)info[i].stack_used, (unsigned)info[i].stack_size);
    ms_heap_stats_t k, p;
    ms_kheap_stats(&k, &p);
    ms_printk("free kernel %u/%u pool %u/%u\n", (unsigned)k.free, (unsigned)k.total, (unsigned)p.free,
              (unsigned)p.total);
    CHECK(ms_thread_create("deep", deep, 0, 512, 10, 0) > 0, "create deep");
    ms_thread_sleep(100);
    rtos_fail("no stack overflow report");
}

int main(void) { rtos_test_run("rtos_overflow", body, 2); }
