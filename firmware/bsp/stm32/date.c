/* Days-from-civil arithmetic (years from 2000, leap years every 4 except centuries not
 * divisible by 400: 2000 is a leap year, 2100 is not). Both directions are closed forms with
 * at most a step or two of correction, not a walk over every year since 2000: the clock is
 * converted every second on both units of the meter (an RTC read, a timestamp, a tariff
 * period), and a walk from 2000 cost some 30 calls of leap() each time by 2026. */
#include "bsp_date.h"

static int leap(unsigned y) { return (y % 4u == 0 && y % 100u != 0) || y % 400u == 0; }
static const uint8_t k_mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
/* days in a common year before the first of each month */
static const uint16_t k_before[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};

static unsigned mdays(unsigned y, unsigned m) { return k_mdays[m - 1] + (m == 2 && leap(y)); }

/* Days from 2000-01-01 to the first of January of year y >= 2000: 365 a year and a leap day
 * for each of the years before y that is one (2000, 2004, ... less 2100, 2200, 2300). */
static uint32_t days_before_year(unsigned y)
{
    unsigned n = y - 2000u;
    return 365u * n + (n + 3u) / 4u - (n + 99u) / 100u + (n + 399u) / 400u;
}

/* Days from the first of January of year y to the first of month m (1..12). */
static unsigned days_before_month(unsigned y, unsigned m)
{
    return k_before[m - 1] + (m > 2 && leap(y));
}

int bsp_date_valid(const struct bsp_datetime *dt)
{
    return dt && dt->year >= 2000 && dt->year <= 2099 && dt->month >= 1 && dt->month <= 12 &&
           dt->day >= 1 && dt->day <= mdays(dt->year, dt->month) && dt->hour < 24 &&
           dt->min < 60 && dt->sec < 60;
}

uint32_t bsp_date_to_secs(const struct bsp_datetime *dt)
{
    uint32_t days = days_before_year(dt->year) + days_before_month(dt->year, dt->month) +
                    dt->day - 1u;
    return ((days * 24u + dt->hour) * 60u + dt->min) * 60u + dt->sec;
}

void bsp_date_from_secs(uint32_t secs, struct bsp_datetime *dt)
{
    uint32_t days = secs / 86400u, rem = secs % 86400u;
    dt->hour = (uint8_t)(rem / 3600u);
    dt->min = (uint8_t)(rem / 60u % 60u);
    dt->sec = (uint8_t)(rem % 60u);
    /* no year is longer than 366 days, so days / 366 years have passed at least; the
     * shortfall is under one year for the 136 years a 32-bit count spans */
    unsigned y = 2000u + days / 366u;
    while (days >= days_before_year(y + 1u))
        y++;
    days -= days_before_year(y);
    /* no month is longer than 31 days and none starts later than 31 days a month: month
     * days / 32 + 1 has begun, and the one found is at most a step or two on */
    unsigned m = days / 32u + 1u;
    while (m < 12u && days >= days_before_month(y, m + 1u))
        m++;
    dt->year = (uint16_t)y;
    dt->month = (uint8_t)m;
    dt->day = (uint8_t)(days - days_before_month(y, m) + 1u);
}
