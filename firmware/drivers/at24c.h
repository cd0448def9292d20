/*
 * AT24Cxx I2C EEPROM driver (AT24C02 ... AT24C512, 24LCxxx compatible) on the BSP I2C API.
 *
 * Data sheet rules followed (Microchip AT24C256C; shared/reference/protocols-and-chips.md §6.1):
 * - writes never cross a page: the device's address counter wraps inside the page, so a write
 *   is split at page boundaries into page writes (2-byte word address + up to one page);
 * - after each page write the device runs its self-timed write cycle (tWR <= 5 ms) and NACKs
 *   its address meanwhile: the driver waits tWR off the bus (the thread sleeps), then polls
 *   with dummy writes (ACK polling) once a millisecond until the device answers, failing
 *   with MS_ERR_TIMEOUT after `write_timeout_ms`;
 * - reads are random reads (dummy write of the word address + repeated START + sequential
 *   read of any length; the counter rolls over at the end of the array, the driver refuses
 *   ranges past the end instead).
 * at24c_register() makes the chip /dev/eeprom (or another path) in the RTOS IO system, where
 * every read/write is first checked against the calling process's EEPROM ranges
 * (ms_process_check_eeprom); kernel threads may access everything.
 */
#ifndef AT24C_H
#define AT24C_H

#include <stdint.h>
#include "bsp.h"
#include "ms_rtos.h"

typedef struct {
    int bus;                    /* BSP I2C instance (1 = I2C1) */
    uint8_t addr7;              /* 0x50 | A2A1A0 */
    uint8_t addr_bytes;         /* 1 (AT24C02) or 2 */
    uint16_t page_size;         /* bytes */
    uint32_t size;              /* bytes */
    uint32_t write_timeout_ms;  /* ACK polling limit per page write */
    ms_handle_t lock;
    /* statistics, for tests and diagnostics */
    uint32_t page_writes, ack_polls;
} at24c_t;

/* part: "AT24C02", "AT24C64", "AT24C128", "AT24C256" or "AT24C512". The bus must be
 * initialised (bsp_i2c_init). Probes the device: MS_ERR_NODEV when nothing ACKs. */
int at24c_init(at24c_t *dev, int bus, uint8_t addr7, const char *part);
int at24c_read(at24c_t *dev, uint32_t addr, void *buf, uint32_t len);
int at24c_write(at24c_t *dev, uint32_t addr, const void *buf, uint32_t len);
/* The IO-system node: read/write at the file position, DRV_IOCTL_SEEK / DRV_IOCTL_STAT. */
int at24c_register(at24c_t *dev, const char *path);

#endif
