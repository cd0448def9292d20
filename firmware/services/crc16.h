/* CRC-16/CCITT-FALSE (polynomial 0x1021, initial 0xFFFF, no reflection, no final XOR): the
 * check word of the metrology link's frames and of every record the meter's services and
 * apps keep in EEPROM. */
#ifndef CRC16_H
#define CRC16_H

#include <stddef.h>
#include <stdint.h>

uint16_t crc16_ccitt(const uint8_t *p, size_t n);

#endif
