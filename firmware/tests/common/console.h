/*
 * Polled USART1 console, 115200 8N1 at the reset clock (HSI). TX only.
 * Lines end with "\n". con_printf understands %s %c %d %u %x %X %% with an
 * optional '0' flag and field width (e.g. "%08x"); nothing else.
 */
#ifndef CONSOLE_H
#define CONSOLE_H

#include <stdarg.h>
#include <stdint.h>

#define CONSOLE_BAUD 115200u

void console_init(void);
void con_putc(char c);
void con_puts(const char *s);          /* no newline added */
void con_put_dec(uint32_t v);
void con_put_hex(uint32_t v);          /* "0x" + 8 lower-case digits */
void con_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void con_vprintf(const char *fmt, va_list ap);
void con_flush(void);                  /* wait until the last frame left the shifter */

#endif
