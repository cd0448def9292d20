/* CRC-16/CCITT-FALSE four bits at a time (crc16.h): a 16-entry table (32 B of flash) instead of
 * a 256-entry one (512 B in every image that links this), and two steps a byte instead of the
 * bitwise loop's eight, for the link's frames on both units and every record checked. */
#include "crc16.h"

/* k_nibble[i]: the CRC register after shifting out the four bits i (i << 12), no input */
static const uint16_t k_nibble[16] = {
    0x0000u, 0x1021u, 0x2042u, 0x3063u, 0x4084u, 0x50A5u, 0x60C6u, 0x70E7u,
    0x8108u, 0x9129u, 0xA14Au, 0xB16Bu, 0xC18Cu, 0xD1ADu, 0xE1CEu, 0xF1EFu,
};

uint16_t crc16_ccitt(const uint8_t *p, size_t n)
{
    unsigned crc = 0xFFFFu;
    while (n--) {
        unsigned b = *p++;
        crc = ((crc << 4) & 0xFFFFu) ^ k_nibble[(crc >> 12) ^ (b >> 4)];
        crc = ((crc << 4) & 0xFFFFu) ^ k_nibble[(crc >> 12) ^ (b & 0xFu)];
    }
    return (uint16_t)crc;
}
