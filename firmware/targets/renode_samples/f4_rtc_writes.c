/* RTC calendar writes on the STM32F4 (USART2 console): sets 2006-01-09 00:00:00, then month
 * 10 with hour 20, then hour 18, each in initialization mode (RM0090 26.3.7), and prints
 * "RTC date and time: YYYY-MM-DD hh:mm:ss" read back from TR/DR once a second in between.
 * BCD tens digits (month 1 -> 10, hour 20 -> 18) are what the writes exercise. Stands in for
 * the RTC-writes binary of Renode's STM32F4_Discovery suite. */
#include "sample.h"

#define PWR_CR      REG(0x40007000u)
#define RTC_BASE    0x40002800u
#define RTC_TR      REG(RTC_BASE + 0x00u)
#define RTC_DR      REG(RTC_BASE + 0x04u)
#define RTC_ISR     REG(RTC_BASE + 0x0Cu)
#define RTC_PRER    REG(RTC_BASE + 0x10u)
#define RTC_WPR     REG(RTC_BASE + 0x24u)
#define ISR_RSF     (1u << 5)
#define ISR_INITF   (1u << 6)
#define ISR_INIT    (1u << 7)

static void init_mode(int on)
{
    if (on) {
        RTC_ISR = ISR_INIT;
        while (!(RTC_ISR & ISR_INITF)) {
        }
    } else {
        RTC_ISR = 0;
    }
}

static void put2(uint32_t bcd)
{
    put_char((char)('0' + (bcd >> 4)));
    put_char((char)('0' + (bcd & 0xFu)));
}

static void print_calendar(void)
{
    RTC_ISR = (~(ISR_RSF | ISR_INIT) & 0x0001FFFFu);   /* wait for a fresh shadow copy */
    while (!(RTC_ISR & ISR_RSF)) {
    }
    uint32_t tr = RTC_TR;
    uint32_t dr = RTC_DR;
    put_str("RTC date and time: 20");
    put2((dr >> 16) & 0xFFu);
    put_char('-');
    put2((dr >> 8) & 0x1Fu);
    put_char('-');
    put2(dr & 0x3Fu);
    put_char(' ');
    put2((tr >> 16) & 0x3Fu);
    put_char(':');
    put2((tr >> 8) & 0x7Fu);
    put_char(':');
    put2(tr & 0x7Fu);
    put_char('\n');
}

int main(void)
{
    console_init();
    ticks_start();
    RCC_APB1ENR |= 1u << 28;                        /* PWREN */
    PWR_CR |= 1u << 8;                              /* DBP */
    RCC_CSR |= 1u;                                  /* LSION */
    while (!(RCC_CSR & 2u)) {
    }
    RCC_BDCR = (RCC_BDCR & ~(3u << 8)) | (2u << 8) | (1u << 15);   /* LSI, RTCEN */
    RTC_WPR = 0xCA;
    RTC_WPR = 0x53;
    init_mode(1);
    RTC_PRER = 249u;
    RTC_PRER = (127u << 16) | 249u;                 /* 32 kHz LSI -> 1 Hz */
    RTC_TR = 0;                                     /* 00:00:00 */
    RTC_DR = (0x06u << 16) | (1u << 13) | (0x01u << 8) | 0x09u;   /* 2006-01-09, Monday */
    init_mode(0);
    print_calendar();
    delay_ms(1000);
    init_mode(1);
    RTC_DR = (RTC_DR & ~(0x1Fu << 8)) | (0x10u << 8);             /* month 10 */
    RTC_TR = (RTC_TR & ~(0x3Fu << 16)) | (0x20u << 16);           /* hour 20 */
    init_mode(0);
    print_calendar();
    delay_ms(1000);
    init_mode(1);
    RTC_TR = (RTC_TR & ~(0x3Fu << 16)) | (0x18u << 16);           /* hour 18 */
    init_mode(0);
    print_calendar();
    for (;;) {
        __asm volatile("wfi");
    }
}
