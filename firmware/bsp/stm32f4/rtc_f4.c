/*
 * STM32F4 RTC (RM0430 §24) from the LSE: BCD calendar. Backup domain (§5.1.2, §6.3.20):
 * PWREN, PWR_CR.DBP, LSEON -> LSERDY, RTCSEL = LSE, RTCEN. Calendar writes (§24.3.7):
 * WPR 0xCA, 0x53; INIT = 1, wait INITF; PRER = (127 << 16) | 255 for 1 Hz from 32768 Hz
 * (PREDIV_A written first, §24.6.5); TR, DR; INIT = 0; WPR relocked. Reads (§24.3.8): wait
 * RSF, read TR then DR (TR locks the shadow registers until DR is read). INITS (year != 0)
 * tells a calendar already set, kept through warm resets.
 */
#include "bsp_priv.h"
#include "bsp_date.h"
#include "soc.h"

#define LSE_TIMEOUT_US 5000000u

static uint32_t bcd(unsigned v) { return ((v / 10u) << 4) | (v % 10u); }
static unsigned unbcd(uint32_t v) { return (v >> 4) * 10u + (v & 15u); }

static void unprotect(void)
{
    PWR->CR |= PWR_CR_DBP;
    RTC->WPR = 0xCAu;
    RTC->WPR = 0x53u;
}

static int enter_init(void)
{
    unprotect();
    RTC->ISR |= RTC_ISR_INIT;
    return bsp_wait_bits(&RTC->ISR, RTC_ISR_INITF, RTC_ISR_INITF, 10000u, 0);
}

static int leave_init(void)
{
    RTC->ISR &= ~RTC_ISR_INIT;
    RTC->WPR = 0xFFu;                       /* any other key relocks */
    RTC->ISR &= ~RTC_ISR_RSF;
    return bsp_wait_bits(&RTC->ISR, RTC_ISR_RSF, RTC_ISR_RSF, 10000u, 0);
}

static int write_calendar(const struct bsp_datetime *dt)
{
    uint32_t days = bsp_date_to_secs(dt) / 86400u;
    unsigned wd = (days + 5u) % 7u + 1u;       /* 2000-01-01 was a Saturday (6); Monday = 1 */
    if (enter_init())
        return BSP_ERR_TIMEOUT;
    RTC->PRER = 127u << 16;
    RTC->PRER = (127u << 16) | 255u;
    RTC->TR = (bcd(dt->hour) << 16) | (bcd(dt->min) << 8) | bcd(dt->sec);
    RTC->DR = (bcd(dt->year - 2000u) << 16) | ((uint32_t)wd << 13) | (bcd(dt->month) << 8) |
                 bcd(dt->day);
    return leave_init();
}

int bsp_rtc_init(void)
{
    bsp_fam_pwr_clock();
    PWR->CR |= PWR_CR_DBP;
    if ((RCC->BDCR & (RCC_BDCR_RTCEN | RCC_BDCR_LSERDY)) == (RCC_BDCR_RTCEN | RCC_BDCR_LSERDY) &&
        (RTC->ISR & RTC_ISR_INITS)) {
        RTC->ISR &= ~RTC_ISR_RSF;        /* warm start: calendar kept */
        return bsp_wait_bits(&RTC->ISR, RTC_ISR_RSF, RTC_ISR_RSF, 10000u, 0);
    }
    RCC->BDCR |= RCC_BDCR_LSEON;
    if (bsp_wait_bits(&RCC->BDCR, RCC_BDCR_LSERDY, RCC_BDCR_LSERDY, LSE_TIMEOUT_US, 1))
        return BSP_ERR_TIMEOUT;
    RCC->BDCR = (RCC->BDCR & ~RCC_BDCR_RTCSEL_MASK) | RCC_BDCR_RTCSEL_LSE | RCC_BDCR_RTCEN;
    static const struct bsp_datetime epoch = {2000, 1, 1, 0, 0, 0};
    return write_calendar(&epoch);
}

int bsp_rtc_get(struct bsp_datetime *dt)
{
    if (!dt)
        return BSP_ERR_INVAL;
    uint32_t tr = RTC->TR;
    uint32_t dr = RTC->DR;                  /* unlocks the shadow registers */
    dt->sec = (uint8_t)unbcd(tr & 0x7Fu);
    dt->min = (uint8_t)unbcd((tr >> 8) & 0x7Fu);
    dt->hour = (uint8_t)unbcd((tr >> 16) & 0x3Fu);
    dt->day = (uint8_t)unbcd(dr & 0x3Fu);
    dt->month = (uint8_t)unbcd((dr >> 8) & 0x1Fu);
    dt->year = (uint16_t)(2000u + unbcd((dr >> 16) & 0xFFu));
    return 0;
}

int bsp_rtc_set(const struct bsp_datetime *dt)
{
    if (!bsp_date_valid(dt))
        return BSP_ERR_INVAL;
    return write_calendar(dt);
}
