/* The console and the millisecond tick of the samples (see sample.h). */
#include "sample.h"

static volatile uint32_t g_ms;

void console_init(void)
{
#if defined(FAMILY_F0)
    RCC_AHBENR |= 1u << 17;                         /* IOPAEN */
    RCC_APB2ENR |= 1u << 14;                        /* USART1EN */
    /* PA9, PA10: alternate function 1 (USART1). */
    REG(0x48000000u) = (REG(0x48000000u) & ~(0xFu << 18)) | (0xAu << 18);
    REG(0x48000024u) = (REG(0x48000024u) & ~(0xFFu << 4)) | (0x11u << 4);
#elif defined(FAMILY_F7)
    RCC_AHB1ENR |= (1u << 0) | (1u << 1);           /* GPIOAEN, GPIOBEN */
    RCC_APB2ENR |= 1u << 4;                         /* USART1EN */
    /* PA9 (TX), PB7 (RX): alternate function 7 (USART1). */
    REG(0x40020000u) = (REG(0x40020000u) & ~(3u << 18)) | (2u << 18);
    REG(0x40020024u) = (REG(0x40020024u) & ~(0xFu << 4)) | (7u << 4);
    REG(0x40020400u) = (REG(0x40020400u) & ~(3u << 14)) | (2u << 14);
    REG(0x40020420u) = (REG(0x40020420u) & ~(0xFu << 28)) | (7u << 28);
#elif defined(FAMILY_L0)
    RCC_IOPENR |= 1u << 0;                          /* IOPAEN */
#if defined(CONSOLE_LPUART1)
    RCC_APB1ENR |= 1u << 18;                        /* LPUART1EN */
#else
    RCC_APB1ENR |= 1u << 17;                        /* USART2EN */
#endif
    /* PA2, PA3: alternate function 4 (USART2) or 6 (LPUART1). */
    REG(0x50000000u) = (REG(0x50000000u) & ~(0xFu << 4)) | (0xAu << 4);
#if defined(CONSOLE_LPUART1)
    REG(0x50000020u) = (REG(0x50000020u) & ~(0xFFu << 8)) | (0x66u << 8);
#else
    REG(0x50000020u) = (REG(0x50000020u) & ~(0xFFu << 8)) | (0x44u << 8);
#endif
#elif defined(FAMILY_F1)
    RCC_APB1ENR |= 1u << 17;                        /* USART2EN */
    RCC_APB2ENR |= 1u << 2;                         /* IOPAEN */
    /* PA2 (TX): alternate push-pull 50 MHz; PA3 (RX): floating input (reset state). */
    REG(0x40010800u) = (REG(0x40010800u) & ~(0xFu << 8)) | (0xBu << 8);
#else
    RCC_APB1ENR |= 1u << 17;                        /* USART2EN */
    RCC_AHB1ENR |= 1u << 0;                         /* GPIOAEN */
    /* PA2, PA3: alternate function 7 (USART2). */
    REG(0x40020000u) = (REG(0x40020000u) & ~(0xFu << 4)) | (0xAu << 4);
    REG(0x40020020u) = (REG(0x40020020u) & ~(0xFFu << 8)) | (0x77u << 8);
#endif
#if defined(CONSOLE_LPUART1)
    /* LPUART: BRR = 256 * fck / baud (RM0367 25.4.4). */
    USART_BRR = (uint32_t)((256ull * HCLK_HZ + 57600u) / 115200u);
#else
    USART_BRR = (HCLK_HZ + 57600u) / 115200u;
#endif
    USART_CR1 = USART_CR1_ON;
}

void put_char(char c)
{
    if (c == '\n') {
        put_char('\r');
    }
    while (!(USART_SR & USART_SR_TXE)) {
    }
    USART_TDR = (uint8_t)c;
}

void put_str(const char *s)
{
    while (*s) {
        put_char(*s++);
    }
}

void put_line(const char *s)
{
    put_str(s);
    put_char('\n');
}

void put_uint(uint32_t v)
{
    char buf[10];
    int n = 0;
    do {
        buf[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    while (n) {
        put_char(buf[--n]);
    }
}

int get_char(void)
{
    return (USART_SR & USART_SR_RXNE) ? (int)(USART_RDR & 0xFFu) : -1;
}

void SysTick_Handler(void)
{
    g_ms += TICK_MS;
}

void ticks_start(void)
{
    SYST_RVR = HCLK_HZ / 1000u * TICK_MS - 1u;
    SYST_CVR = 0;
    SYST_CSR = 7u;                                  /* processor clock, interrupt, enable */
}

uint32_t ticks_ms(void)
{
    return g_ms;
}

void delay_ms(uint32_t ms)
{
    uint32_t start = g_ms;
    while (g_ms - start < ms) {
        __asm volatile("wfi");
    }
}
