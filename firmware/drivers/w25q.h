/*
 * Winbond W25Qxx serial NOR flash driver (single I/O SPI) on the BSP SPI API, with the chip
 * select on a GPIO.
 *
 * Data sheet rules followed (W25Q64JV / W25Q128JV; shared/reference/protocols-and-chips.md §6.2):
 * - JEDEC ID (9Fh) probe: manufacturer EFh, memory type 40h, capacity byte = log2(size);
 * - 03h read with a 3-byte address, any length;
 * - 06h write enable before every 02h page program and 20h/52h/D8h erase; a page program never
 *   crosses a 256-byte page (the chip would wrap inside the page), so writes are split;
 * - the status register 1 (05h) BUSY/WIP bit is polled until the operation ends; each wait has a
 *   timeout from the data sheet's maximum times (tPP 3 ms, tSE 400 ms, tBE32 1.6 s,
 *   tBE64 2 s) and fails with MS_ERR_TIMEOUT; the driver sleeps one RTOS tick between polls
 *   so other threads run meanwhile and the SPI bus is not flooded with status reads.
 * A program over bytes that are not erased ANDs the bits (NOR): callers erase first.
 * w25q_register() makes a raw-sector window of the chip a device node (e.g. /dev/nor0).
 */
#ifndef W25Q_H
#define W25Q_H

#include <stdint.h>
#include "bsp.h"
#include "ms_rtos.h"

#define W25Q_PAGE_SIZE 256u
#define W25Q_SECTOR_SIZE 4096u
#define W25Q_BLOCK32_SIZE (32u * 1024u)
#define W25Q_BLOCK64_SIZE (64u * 1024u)

typedef struct {
    int bus;
    bsp_pin_t cs;
    uint8_t jedec[3];
    uint32_t size;            /* from the JEDEC capacity byte */
    ms_handle_t lock;
    uint32_t programs, erases, busy_polls;   /* statistics */
} w25q_t;

/* The SPI bus must be initialised (bsp_spi_init, mode 0 or 3). MS_ERR_NODEV when the JEDEC
 * ID is not a Winbond serial NOR. */
int w25q_init(w25q_t *dev, int bus, bsp_pin_t cs);
int w25q_read(w25q_t *dev, uint32_t addr, void *buf, uint32_t len);
/* Page programs, split at page boundaries. */
int w25q_program(w25q_t *dev, uint32_t addr, const void *buf, uint32_t len);
/* size: W25Q_SECTOR_SIZE, W25Q_BLOCK32_SIZE or W25Q_BLOCK64_SIZE; addr aligned to it. */
int w25q_erase(w25q_t *dev, uint32_t addr, uint32_t size);

/* Device node over [offset, offset + size) of the chip: read/write (= program) at the file
 * position, DRV_IOCTL_ERASE (sector offset inside the window), DRV_IOCTL_SEEK, DRV_IOCTL_STAT. */
typedef struct {
    w25q_t *dev;
    uint32_t offset, size;
} w25q_part_t;
int w25q_register(w25q_part_t *part, const char *path);

#endif
