#include <stdarg.h>
#include "rtos_test.h"

#if defined(STM32F103xB)
#define POOL_SIZE (11u * 1024u)
#elif defined(STM32F103xE)
#define POOL_SIZE (28u * 1024u)    /* 48 KiB SRAM */
#else
#define POOL_SIZE (96u * 1024u)
#endif

static uint64_t g_pool[POOL_SIZE / 8u];

static volatile uint32_t g_console_ticks_per_char;

/* A slow console for threads: the writer sleeps after each character, as one
 * waiting for room in a UART's transmit ring; handlers write at once. */
void rtos_slow_console(uint32_t ticks_per_char) { g_console_ticks_per_char = ticks_per_char; }

void ms_kputc(char c)
{
    uint32_t ipsr;
    __asm__ volatile("mrs %0, ipsr" : "=r"(ipsr));
    con_putc(c);
    if (g_console_ticks_per_char && (ipsr & 0x1FFu) == 0 && ms_thread_self() > 0)
        ms_thread_sleep(g_console_ticks_per_char);
}

void rtos_test_run(const char *name, ms_thread_entry_t body, unsigned prio)
{
    test_begin(name);
    ms_rtos_init(HCLK_HZ, g_pool, sizeof g_pool);
    if (ms_thread_create("main", body, 0, 1024, prio, 0) < 0)
        test_fail("cannot create the main thread");
    ms_rtos_start();
}

static void halt(void)
{
    __asm__ volatile("cpsid i" ::: "memory");
    SYSTICK->CSR = 0;
    for (;;)
        __asm__ volatile("wfi");
}

void rtos_pass(void)
{
    ms_printk("PASS\n");
    halt();
    for (;;)
        ;
}

void rtos_fail(const char *fmt, ...)
{
    char line[120];
    va_list ap;
    va_start(ap, fmt);
    ms_vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    ms_printk("FAIL %s\n", line);
    halt();
    for (;;)
        ;
}

void rtos_work(uint32_t ticks)
{
    for (uint32_t n = 0; n < ticks; n++) {
        ms_tick_t t = ms_tick_get();
        while (ms_tick_get() == t)
            ;
    }
}
