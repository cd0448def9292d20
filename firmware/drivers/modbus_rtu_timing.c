/* Modbus RTU receive timing (see modbus_rtu_timing.h). */
#include "modbus_rtu_timing.h"

void mb_silences(uint32_t baud, uint32_t char_us, uint32_t *broken_us, uint32_t *end_us)
{
    /* bits per character from the UART's (rounded-up) character time, then t1.5 and t3.5 from
     * the bit rate itself: exact to the microsecond (floor for the end, ceiling for the break),
     * not 1.5 and 3.5 times a rounded character */
    uint32_t bits = (uint32_t)(((uint64_t)char_us * baud + 500000u) / 1000000u);
    uint32_t t15 = baud > 19200u ? 750u
                                 : (uint32_t)((3ull * bits * 1000000u + 2u * baud - 1u) / (2u * baud));
    uint32_t t35 = baud > 19200u ? 1750u : (uint32_t)(7ull * bits * 1000000u / (2u * baud));
    *broken_us = t15 + MB_STAMP_JITTER_US;
    *end_us = t35 - MB_STAMP_JITTER_US;
}
