/*
 * App "intruder": after 250 ms it writes into app "counter"'s window (0x20020000, where
 * counter keeps its count). With the MPU that store is a MemManage fault: the kernel kills
 * this process with a report naming it, the address and the PC, and the others keep going.
 */
#include "app.h"

#define COUNTER_COUNT ((volatile uint32_t *)0x20020000u)

__attribute__((noinline)) void intrude(void);
__attribute__((noinline)) void intrude(void) { *COUNTER_COUNT = 0xBADC0DEu; }

int main(void)
{
    ms_printk("intruder: running\n");
    ms_thread_sleep_ms(250);
    ms_printk("intruder: writing 0x%08x\n", (unsigned)(uintptr_t)COUNTER_COUNT);
    intrude();
    ms_printk("intruder: the write went through\n");
    return 0;
}
