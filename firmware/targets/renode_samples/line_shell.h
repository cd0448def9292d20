/* A line-editing console for the shell samples: echoes what is typed, handles backspace, and
 * returns each line on ENTER (CR or LF). */
#ifndef LINE_SHELL_H
#define LINE_SHELL_H

#include "sample.h"

#define LINE_MAX 64

/* Reads one line into buf (NUL-terminated, at most LINE_MAX - 1 characters); returns its
 * length. */
static inline int read_line(char *buf)
{
    int n = 0;
    for (;;) {
        int c = get_char();
        if (c < 0) {
            continue;
        }
        if (c == '\r' || c == '\n') {
            put_char('\n');
            buf[n] = '\0';
            return n;
        }
        if ((c == 0x7F || c == '\b') && n > 0) {
            n--;
            put_str("\b \b");
        } else if (c >= ' ' && n < LINE_MAX - 1) {
            buf[n++] = (char)c;
            put_char((char)c);
        }
    }
}

static inline int str_eq(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

static inline int starts_with(const char *s, const char *prefix)
{
    while (*prefix) {
        if (*s++ != *prefix++) {
            return 0;
        }
    }
    return 1;
}

#endif
