/* Days-from-civil arithmetic (years from 2000, leap years every 4 except centuries not
 * divisible by 400: 2000 is a leap year, 2100 is not). */
#include "bsp_date.h"

static int leap(unsigned y) { return (y % 4u == 0 && y % 100u != 0) || y % 400u == 0; }
static const uint8_t k_mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

static unsigned mdays(unsigned y, unsigned m) { return k_mdays[m - 1] + (m == 2 && leap(y)); }

int bsp_date_valid(const struct bsp_datetime *dt)
{
    return dt && dt->year >= 2000 && dt->year <= 2099 && dt->month >= 1 && dt->month <= 12 &&
           dt->day >= 1 && dt->day <= mdays(dt->year, dt->month) && dt->hour < 24 &&
           dt->min < 60 && dt->sec < 60;
}

uint32_t bsp_date_to_secs(const struct bsp_datetime *dt)
{
    uint32_t days = 0;
    for (unsigned y = 2000; y < dt->year; y++)
        days += leap(y) ? 366u : 365u;
    for (unsigned m = 1; m < dt->month; m++)
        days += mdays(dt->year, m);
    days += dt->day - 1u;
    return ((days * 24u + dt->hour) * 60u + dt->min) * 60u + dt->sec;
}

void bsp_date_from_secs(uint32_t secs, struct bsp_datetime *dt)
{
    uint32_t days = secs / 86400u, rem = secs % 86400u;
    dt->hour = (uint8_t)(rem / 3600u);
    dt->min = (uint8_t)(rem / 60u % 60u);
    dt->sec = (uint8_t)(rem % 60u);
    unsigned y = 2000;
    while (days >= (leap(y) ? 366u : 365u)) {
        days -= leap(y) ? 366u : 365u;
        y++;
    }
    unsigned m = 1;
    while (days >= mdays(y, m)) {
        days -= mdays(y, m);
        m++;
    }
    dt->year = (uint16_t)y;
    dt->month = (uint8_t)m;
    dt->day = (uint8_t)(days + 1u);
}
