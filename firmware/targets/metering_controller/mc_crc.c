/* CRC-16/MODBUS, table-driven (one 512-byte table in flash; a frame costs one lookup per byte). */
#include "mc_crc.h"

static const uint16_t k_table[256] = {
#define B(c) ((c) & 1u ? ((c) >> 1) ^ 0xA001u : (c) >> 1)
#define E(n) (uint16_t)B(B(B(B(B(B(B(B((uint32_t)(n)))))))))
#define R4(n) E(n), E((n) + 1), E((n) + 2), E((n) + 3)
#define R16(n) R4(n), R4((n) + 4), R4((n) + 8), R4((n) + 12)
#define R64(n) R16(n), R16((n) + 16), R16((n) + 32), R16((n) + 48)
    R64(0), R64(64), R64(128), R64(192)
#undef R64
#undef R16
#undef R4
#undef E
#undef B
};

uint16_t mc_crc16_update(uint16_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len--)
        crc = (uint16_t)((crc >> 8) ^ k_table[(crc ^ *p++) & 0xFFu]);
    return crc;
}

uint16_t mc_crc16(const void *data, size_t len) { return mc_crc16_update(0xFFFFu, data, len); }
