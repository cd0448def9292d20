/* Calendar arithmetic for RTCs that count seconds (the F1 RTC): seconds since
 * 2000-01-01 00:00:00 <-> struct bsp_datetime, proleptic Gregorian, years 2000..2099+. */
#ifndef BSP_DATE_H
#define BSP_DATE_H
#include "bsp.h"
int bsp_date_valid(const struct bsp_datetime *dt);
uint32_t bsp_date_to_secs(const struct bsp_datetime *dt);
void bsp_date_from_secs(uint32_t secs, struct bsp_datetime *dt);
#endif
