/*
 * Kernel console: ms_printk formats in the caller's context (so process
 * threads format unprivileged) and writes the line with one ms_kwrite.
 * ms_panic reports on the console with interrupts off and halts.
 * The formatter is ms_format.c (apps link it too).
 */
#include <stdarg.h>
#include "ms_kernel.h"
#include "soc.h"

__attribute__((weak)) void ms_kputc(char c) { (void)c; }

void ms_kputs(const char *s)
{
    while (*s)
        ms_kputc(*s++);
}

int ms_snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = ms_vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

void ms_panic(const char *fmt, ...)
{
    char line[160];
    cm_disable_irq();
    (void)ms_tick_now(); /* the tickless idle's ticks counted before the counter stops */
    SYSTICK->CSR = 0;
    va_list ap;
    va_start(ap, fmt);
    ms_vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    ms_kputs("\n*** KERNEL PANIC: ");
    ms_kputs(line);
    ms_kputs("\n*** tick ");
    char num[16];
    ms_snprintf(num, sizeof num, "%u", (unsigned)ms_ticks);
    ms_kputs(num);
    ms_kputs(", running thread '");
    ms_kputs(ms_current ? ms_current->name : "-");
    ms_kputs("'\n*** system halted\n");
    for (;;)
        cm_wfi();
}
