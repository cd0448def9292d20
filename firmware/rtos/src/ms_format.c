/*
 * printf subset for the kernel console and for separately linked apps (which
 * compile this file into their own image): %s %c %d %u %x %X %p %% with
 * optional '-', '0' and width; ms_printk formats on the caller's stack and hands the
 * line to ms_kwrite (the kernel's, or an app's system call).
 */
#include <stdarg.h>
#include "ms_rtos.h"

typedef struct {
    char *buf;
    size_t size, len;
} out_t;

static void put(out_t *o, char c)
{
    if (o->len + 1 < o->size)
        o->buf[o->len] = c;
    o->len++;
}

static void put_num(out_t *o, uint32_t v, unsigned base, int upper, int neg, unsigned width, char pad, int left)
{
    char tmp[12];
    unsigned n = 0;
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    do {
        tmp[n++] = digits[v % base];
        v /= base;
    } while (v);
    unsigned total = n + (neg ? 1u : 0u);
    if (neg && pad == '0')
        put(o, '-');
    if (!left)
        for (; width > total; width--)
            put(o, pad);
    if (neg && pad != '0')
        put(o, '-');
    while (n)
        put(o, tmp[--n]);
    if (left)
        for (; width > total; width--)
            put(o, ' ');
}

int ms_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    out_t o = {buf, size, 0};
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            put(&o, *fmt);
            continue;
        }
        fmt++;
        int left = 0;
        char pad = ' ';
        unsigned width = 0;
        if (*fmt == '-') {
            left = 1;
            fmt++;
        }
        if (*fmt == '0') {
            pad = '0';
            fmt++;
        }
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10u + (unsigned)(*fmt++ - '0');
        switch (*fmt) {
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            unsigned n = 0;
            while (s[n])
                n++;
            if (!left)
                for (unsigned w = width; w > n; w--)
                    put(&o, ' ');
            for (unsigned i = 0; i < n; i++)
                put(&o, s[i]);
            if (left)
                for (unsigned w = width; w > n; w--)
                    put(&o, ' ');
            break;
        }
        case 'c':
            put(&o, (char)va_arg(ap, int));
            break;
        case 'd': {
            int v = va_arg(ap, int);
            put_num(&o, v < 0 ? 0u - (uint32_t)v : (uint32_t)v, 10, 0, v < 0, width, pad, left);
            break;
        }
        case 'u':
            put_num(&o, va_arg(ap, unsigned), 10, 0, 0, width, pad, left);
            break;
        case 'x':
        case 'X':
            put_num(&o, va_arg(ap, unsigned), 16, *fmt == 'X', 0, width, pad, left);
            break;
        case 'p':
            put(&o, '0');
            put(&o, 'x');
            put_num(&o, (uint32_t)(uintptr_t)va_arg(ap, void *), 16, 0, 0, 8, '0', 0);
            break;
        case '%':
            put(&o, '%');
            break;
        case '\0':
            fmt--;
            break;
        default:
            put(&o, '%');
            put(&o, *fmt);
            break;
        }
    }
    if (size)
        buf[o.len < size ? o.len : size - 1] = '\0';
    return (int)o.len;
}

int ms_printk(const char *fmt, ...)
{
    char line[128];
    va_list ap;
    va_start(ap, fmt);
    int n = ms_vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof line - 1)
        n = (int)sizeof line - 1;
    return ms_kwrite(line, (size_t)n);
}
