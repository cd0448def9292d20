/*
 * App "overflow": after 150 ms its main thread (1 KiB of stack) calls a function with a
 * 1.5 KiB local buffer and makes a system call from there. The overrun stays in its own window
 * (its 2 KiB of static data lie below the heap), so the MPU does not object; the kernel finds
 * the stack's canary overwritten and ends this process, and the others run on.
 */
#include "app.h"

static volatile uint8_t g_static[2048];     /* at the window's base, below the heap */

__attribute__((noinline)) static void deep(void)
{
    volatile uint8_t buf[1536];
    for (unsigned i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)i;
    ms_thread_sleep_ms(10);
    ms_printk("overflow: back from the call (%u)\n", (unsigned)buf[100]);
}

int main(void)
{
    g_static[0] = 1;
    ms_printk("overflow: running\n");
    ms_thread_sleep_ms(150);
    ms_printk("overflow: calling with 1536 bytes of locals\n");
    deep();
    ms_printk("overflow: survived\n");
    return 0;
}
