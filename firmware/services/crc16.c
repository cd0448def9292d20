/* CRC-16/CCITT-FALSE, bitwise: the records are a few dozen bytes, a table would cost 512 B of
 * flash in every image that links this (crc16.h). */
#include "crc16.h"

uint16_t crc16_ccitt(const uint8_t *p, size_t n)
{
    uint16_t crc = 0xFFFFu;
    while (n--) {
        crc ^= (uint16_t)(*p++ << 8);
        for (unsigned i = 0; i < 8u; i++)
            crc = (uint16_t)(crc & 0x8000u ? ((unsigned)crc << 1) ^ 0x1021u : (unsigned)crc << 1);
    }
    return crc;
}
