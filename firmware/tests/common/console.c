/*
 * Polled console on USART1 (RM0090/RM0430 24.3.2 and RM0008 27.3.2 "character
 * transmission": enable UE, set BRR, set TE, then write DR whenever SR.TXE=1).
 * BRR = f_PCLK2 / baud with 16x oversampling (mantissa.fraction in one word,
 * rounded to nearest): 8 MHz -> 0x45 (F1), 16 MHz -> 0x8B (F4).
 */
#include "console.h"
#include "soc.h"

static void pins_and_clocks(void)
{
#if defined(SOC_FAMILY_STM32F4)
    RCC->AHB1ENR |= RCC_AHB1ENR_GPIOAEN;
    RCC->APB2ENR |= RCC_APB2ENR_USART1EN;
    (void)RCC->APB2ENR; /* errata: allow two AHB cycles after a clock enable */
    /* PA9 = USART1_TX: alternate function 7, high speed */
    GPIOA->AFR[1] = (GPIOA->AFR[1] & ~(0xFu << 4)) | (USART1_AF << 4);
    GPIOA->OSPEEDR = (GPIOA->OSPEEDR & ~(3u << 18)) | (GPIO_SPEED_HIGH << 18);
    GPIOA->MODER = (GPIOA->MODER & ~(3u << 18)) | (GPIO_MODE_AF << 18);
#elif defined(SOC_FAMILY_STM32F1)
    RCC->APB2ENR |= RCC_APB2ENR_IOPAEN | RCC_APB2ENR_USART1EN;
    (void)RCC->APB2ENR;
    /* PA9 = USART1_TX: alternate function push-pull, 50 MHz (CRH bits 7:4) */
    GPIOA->CR[1] = (GPIOA->CR[1] & ~(0xFu << 4)) | (GPIO_CFG_AF_PP_50MHZ << 4);
#endif
}

void console_init(void)
{
    pins_and_clocks();
    USART1->CR1 = USART_CR1_UE;
    USART1->BRR = (SOC_RESET_HCLK_HZ + CONSOLE_BAUD / 2u) / CONSOLE_BAUD;
    USART1->CR1 = USART_CR1_UE | USART_CR1_TE;
}

void con_putc(char c)
{
    while (!(USART1->SR & USART_SR_TXE))
        ;
    USART1->DR = (uint8_t)c;
}

void con_flush(void)
{
    while (!(USART1->SR & USART_SR_TC))
        ;
}

void con_puts(const char *s)
{
    while (*s)
        con_putc(*s++);
}

static void put_num(uint32_t v, unsigned base, int upper, unsigned width, char pad)
{
    char buf[12];
    unsigned n = 0;
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    do {
        buf[n++] = digits[v % base];
        v /= base;
    } while (v);
    while (width > n) {
        con_putc(pad);
        width--;
    }
    while (n)
        con_putc(buf[--n]);
}

void con_put_dec(uint32_t v) { put_num(v, 10, 0, 0, ' '); }

void con_put_hex(uint32_t v)
{
    con_puts("0x");
    put_num(v, 16, 0, 8, '0');
}

void con_vprintf(const char *fmt, va_list ap)
{
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            con_putc(*fmt);
            continue;
        }
        fmt++;
        char pad = ' ';
        unsigned width = 0;
        if (*fmt == '0') {
            pad = '0';
            fmt++;
        }
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10u + (unsigned)(*fmt++ - '0');
        switch (*fmt) {
        case 's':
            con_puts(va_arg(ap, const char *));
            break;
        case 'c':
            con_putc((char)va_arg(ap, int));
            break;
        case 'd': {
            int v = va_arg(ap, int);
            if (v < 0) {
                con_putc('-');
                put_num(0u - (uint32_t)v, 10, 0, width ? width - 1 : 0, pad);
            } else {
                put_num((uint32_t)v, 10, 0, width, pad);
            }
            break;
        }
        case 'u':
            put_num(va_arg(ap, unsigned), 10, 0, width, pad);
            break;
        case 'x':
        case 'X':
            put_num(va_arg(ap, unsigned), 16, *fmt == 'X', width, pad);
            break;
        case '%':
            con_putc('%');
            break;
        case '\0':
            return;
        default:
            con_putc('%');
            con_putc(*fmt);
            break;
        }
    }
}

void con_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    con_vprintf(fmt, ap);
    va_end(ap);
}
