#include <setjmp.h>
#include <stdarg.h>
#include "console.h"
#include "mstest.h"

/* The linker provides these for a section whose name is a C identifier (and keeps it). */
extern const mstest_case_t __start_mstest_cases[], __stop_mstest_cases[];

static jmp_buf g_case_exit;
static const mstest_case_t *g_current;
static unsigned g_failed;   /* not a local: setjmp/longjmp would leave it undefined */

void mstest_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    con_printf("mstest case %s.%s FAIL %s:%d: ", g_current->suite, g_current->name, file, line);
    va_start(ap, fmt);
    con_vprintf(fmt, ap);
    va_end(ap);
    con_putc('\n');
    longjmp(g_case_exit, 1);
}

static int str_cmp(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return (int)(unsigned char)*a - (int)(unsigned char)*b;
}

/* Source order: by file, then line (the linker may lay a file's cases out in any order). */
static int before(const mstest_case_t *a, const mstest_case_t *b)
{
    int c = str_cmp(a->file, b->file);
    return c < 0 || (c == 0 && a->line < b->line);
}

static const mstest_case_t *next_case(const mstest_case_t *prev)
{
    const mstest_case_t *best = 0;
    for (const mstest_case_t *c = __start_mstest_cases; c < __stop_mstest_cases; c++)
        if ((!prev || before(prev, c)) && (!best || before(c, best)))
            best = c;
    return best;
}

int mstest_run_all(const char *image)
{
    unsigned n = (unsigned)(__stop_mstest_cases - __start_mstest_cases);
    g_failed = 0;
    con_printf("mstest begin %s %u\n", image, n);
    for (const mstest_case_t *c = next_case(0); c; c = next_case(c)) {
        g_current = c;
        if (setjmp(g_case_exit) == 0) {
            c->fn();
            con_printf("mstest case %s.%s PASS\n", c->suite, c->name);
        } else {
            g_failed++;
        }
    }
    g_current = 0;
    con_printf("mstest done %s passed %u failed %u\n", image, n - g_failed, g_failed);
    con_flush();
    return (int)g_failed;
}

int mstest_str_eq_(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

int mstest_mem_diff_(const void *a, const void *b, uint32_t n)
{
    const uint8_t *x = a, *y = b;
    for (uint32_t i = 0; i < n; i++)
        if (x[i] != y[i])
            return (int)i;
    return -1;
}
