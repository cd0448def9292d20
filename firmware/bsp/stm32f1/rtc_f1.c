/*
 * STM32F1 RTC (RM0008 §18) from the LSE, counting seconds since 2000-01-01 00:00:00.
 * Backup domain set-up (§5.4.1, §7.3.9): PWREN|BKPEN, PWR_CR.DBP, LSEON -> LSERDY,
 * RTCSEL = LSE, RTCEN. Register access (§18.3.3-18.3.4): wait RSF after reset, then for
 * writes wait RTOFF, set CNF, write PRL/CNT, clear CNF, wait RTOFF. PRL = 32767 gives 1 Hz.
 * BKP_DR1 holds a marker so a warm reset keeps the running calendar.
 */
#include "bsp_priv.h"
#include "bsp_date.h"
#include "soc.h"

#define RTC_MAGIC 0xA5C3u
#define LSE_TIMEOUT_US 5000000u                /* tSU(LSE) up to seconds (DS5319 Table 23) */

static int rtc_write_begin(void)
{
    if (bsp_wait_bits(&RTC->CRL, RTC_CRL_RTOFF, RTC_CRL_RTOFF, 1000u, 0))
        return BSP_ERR_TIMEOUT;
    RTC->CRL |= RTC_CRL_CNF;
    return 0;
}

static int rtc_write_end(void)
{
    RTC->CRL &= ~RTC_CRL_CNF;
    return bsp_wait_bits(&RTC->CRL, RTC_CRL_RTOFF, RTC_CRL_RTOFF, 1000u, 0);
}

int bsp_rtc_init(void)
{
    bsp_fam_pwr_clock();
    PWR->CR |= PWR_CR_DBP;
    if ((RCC->BDCR & (RCC_BDCR_RTCEN | RCC_BDCR_LSERDY)) != (RCC_BDCR_RTCEN | RCC_BDCR_LSERDY) ||
        (BKP->DR[0] & 0xFFFFu) != RTC_MAGIC) {
        RCC->BDCR |= RCC_BDCR_LSEON;
        if (bsp_wait_bits(&RCC->BDCR, RCC_BDCR_LSERDY, RCC_BDCR_LSERDY, LSE_TIMEOUT_US, 1))
            return BSP_ERR_TIMEOUT;
        RCC->BDCR = (RCC->BDCR & ~RCC_BDCR_RTCSEL_MASK) | RCC_BDCR_RTCSEL_LSE | RCC_BDCR_RTCEN;
        /* Cold start: PRL and CNT are written below, so nothing stale can be read and the
         * RSF wait (needed before reading after a reset) is not required here. */
        if (rtc_write_begin())
            return BSP_ERR_TIMEOUT;
        RTC->PRLH = 0;
        RTC->PRLL = 32767u;                 /* 32768 Hz / (PRL + 1) = 1 Hz */
        RTC->CNTH = 0;
        RTC->CNTL = 0;
        if (rtc_write_end())
            return BSP_ERR_TIMEOUT;
        BKP->DR[0] = RTC_MAGIC;   /* DR1 */
        return 0;
    }
    /* Warm start: only resynchronise the APB view (RSF). */
    RTC->CRL &= ~RTC_CRL_RSF;
    return bsp_wait_bits(&RTC->CRL, RTC_CRL_RSF, RTC_CRL_RSF, 10000u, 0);
}

int bsp_rtc_get(struct bsp_datetime *dt)
{
    if (!dt)
        return BSP_ERR_INVAL;
    uint32_t hi, lo;
    do {                                       /* the halves can tick between the reads */
        hi = RTC->CNTH & 0xFFFFu;
        lo = RTC->CNTL & 0xFFFFu;
    } while (hi != (RTC->CNTH & 0xFFFFu));
    bsp_date_from_secs((hi << 16) | lo, dt);
    return 0;
}

int bsp_rtc_set(const struct bsp_datetime *dt)
{
    if (!bsp_date_valid(dt))
        return BSP_ERR_INVAL;
    uint32_t secs = bsp_date_to_secs(dt);
    PWR->CR |= PWR_CR_DBP;
    if (rtc_write_begin())
        return BSP_ERR_TIMEOUT;
    RTC->CNTH = secs >> 16;
    RTC->CNTL = secs & 0xFFFFu;
    return rtc_write_end();
}
