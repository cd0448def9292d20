/* RTC alarm A on the STM32F4 (USART2 console): after 's' is typed it prints "Alarm!" every
 * 2 s, 4 times, from the RTC's alarm interrupt; 'r' prints "ready". Stands in for the RTC test
 * binary of Renode's STM32F4_Discovery suite, printing the lines the suite waits for.
 *
 * RTCCLK is the LSI (32 kHz, RM0090 7.2.5) with PREDIV_A = 127 and PREDIV_S = 249, so the
 * calendar advances once per second (RM0090 26.3.1). The alarm compares seconds only
 * (MSK2..4 set) and is re-armed 2 s after each match (26.3.5); it reaches the NVIC as
 * RTC_Alarm (IRQ 41) through EXTI line 17, rising edge (26.5). */
#include "sample.h"

#define PWR_CR      REG(0x40007000u)
#define RTC_BASE    0x40002800u
#define RTC_TR      REG(RTC_BASE + 0x00u)
#define RTC_DR      REG(RTC_BASE + 0x04u)
#define RTC_CR      REG(RTC_BASE + 0x08u)
#define RTC_ISR     REG(RTC_BASE + 0x0Cu)
#define RTC_PRER    REG(RTC_BASE + 0x10u)
#define RTC_ALRMAR  REG(RTC_BASE + 0x1Cu)
#define RTC_WPR     REG(RTC_BASE + 0x24u)
#define EXTI_IMR    REG(0x40013C00u)
#define EXTI_RTSR   REG(0x40013C08u)
#define EXTI_PR     REG(0x40013C14u)

#define ISR_ALRAWF  (1u << 0)
#define ISR_INITF   (1u << 6)
#define ISR_INIT    (1u << 7)
#define ISR_ALRAF   (1u << 8)
#define CR_ALRAE    (1u << 8)
#define CR_ALRAIE   (1u << 12)
#define EXTI_LINE17 (1u << 17)
#define IRQ_RTC_ALARM 41u
#define ALARMS      4u
#define PERIOD_S    2u

static volatile uint32_t g_alarms;

void RTC_Alarm_IRQHandler(void)
{
    if (RTC_ISR & ISR_ALRAF) {
        /* Clear ALRAF (rc_w0) without touching INIT. */
        RTC_ISR = (~(ISR_ALRAF | ISR_INIT) & 0x0001FFFFu) | (RTC_ISR & ISR_INIT);
        g_alarms++;
    }
    EXTI_PR = EXTI_LINE17;
}

static uint32_t bcd(uint32_t v)
{
    return ((v / 10u) << 4) | (v % 10u);
}

static uint32_t seconds_now(void)
{
    uint32_t tr = RTC_TR;
    (void)RTC_DR;                                   /* unlocks the shadow registers */
    return ((tr >> 4) & 7u) * 10u + (tr & 0xFu);
}

static void rtc_start(void)
{
    RCC_APB1ENR |= 1u << 28;                        /* PWREN */
    PWR_CR |= 1u << 8;                              /* DBP: backup domain writable */
    RCC_CSR |= 1u;                                  /* LSION */
    while (!(RCC_CSR & 2u)) {                       /* LSIRDY */
    }
    RCC_BDCR = (RCC_BDCR & ~(3u << 8)) | (2u << 8) | (1u << 15);   /* RTCSEL = LSI, RTCEN */
    RTC_WPR = 0xCA;
    RTC_WPR = 0x53;
    RTC_ISR = ISR_INIT;
    while (!(RTC_ISR & ISR_INITF)) {
    }
    RTC_PRER = 249u;                                /* synchronous first, then asynchronous */
    RTC_PRER = (127u << 16) | 249u;
    RTC_TR = 0;
    RTC_DR = 0x2101u;                               /* 2000-01-01, Monday */
    RTC_ISR = 0;                                    /* leave init: the calendar runs */
}

static void alarm_in(uint32_t seconds)
{
    RTC_CR &= ~(CR_ALRAE | CR_ALRAIE);
    while (!(RTC_ISR & ISR_ALRAWF)) {
    }
    /* Seconds only: MSK4 (date), MSK3 (hours), MSK2 (minutes) set. */
    RTC_ALRMAR = (1u << 31) | (1u << 23) | (1u << 15) | bcd((seconds_now() + seconds) % 60u);
    RTC_CR |= CR_ALRAE | CR_ALRAIE;
}

int main(void)
{
    console_init();
    rtc_start();
    EXTI_RTSR |= EXTI_LINE17;
    EXTI_IMR |= EXTI_LINE17;
    nvic_enable(IRQ_RTC_ALARM);
    put_line("Help: Press s to start test, r to print it is ready");
    for (;;) {
        int c = get_char();
        if (c == 'r') {
            put_line("ready");
        } else if (c == 's') {
            break;
        }
    }
    put_line("This is RIOT!");
    put_line("RIOT RTC low-level driver test");
    put_line("This test will display 'Alarm!' every 2 seconds for 4 times");
    alarm_in(PERIOD_S);
    uint32_t seen = 0;
    while (seen < ALARMS) {
        while (g_alarms == seen) {
            __asm volatile("wfi");
        }
        seen++;
        put_line("Alarm!");
        if (seen < ALARMS) {
            alarm_in(PERIOD_S);
        } else {
            RTC_CR &= ~(CR_ALRAE | CR_ALRAIE);
        }
    }
    for (;;) {
        __asm volatile("wfi");
    }
}
