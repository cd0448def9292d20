#include "test.h"

void test_begin(const char *name)
{
    console_init();
    con_printf("test %s on %s (%s)\n", name, SOC_PART_NAME, CORE_NAME);
}

void test_halt(void)
{
    con_flush();
    for (;;)
        __asm__ volatile("wfi");
}

void test_pass(void)
{
    con_puts("PASS\n");
    test_halt();
}

void test_fail(const char *fmt, ...)
{
    va_list ap;
    con_puts("FAIL ");
    va_start(ap, fmt);
    con_vprintf(fmt, ap);
    va_end(ap);
    con_putc('\n');
    test_halt();
}

int str_eq(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}
