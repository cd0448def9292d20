/*
 * App "counter": counts every 100 ms in a variable of its own RAM window (the first word of
 * its .bss, at the window's base) and prints every fifth count, so the console shows it
 * running while another app misbehaves.
 */
#include "app.h"

volatile uint32_t g_count;

int main(void)
{
    ms_printk("counter: running, count at %p\n", (void *)&g_count);
    for (;;) {
        if (++g_count % 5u == 0)
            ms_printk("counter: %u\n", (unsigned)g_count);
        ms_thread_sleep_ms(100);
    }
}
