/* CRC-16/MODBUS (reflected polynomial 0xA001, initial value 0xFFFF): the Modbus RTU frame check
 * and the check word of every EEPROM record of the metering controller. */
#ifndef MC_CRC_H
#define MC_CRC_H
#include <stddef.h>
#include <stdint.h>

uint16_t mc_crc16(const void *data, size_t len);
uint16_t mc_crc16_update(uint16_t crc, const void *data, size_t len);

#endif
