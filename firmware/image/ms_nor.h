/*
 * Polled W25Qxx serial NOR access on the BSP's SPI, for code that runs without the RTOS (the
 * bootloader) or must not sleep: JEDEC probe (9Fh), read (03h), page program (02h, split at
 * 256-byte pages), 4 KiB sector erase (20h), each program/erase preceded by write enable (06h)
 * and followed by polling BUSY in status register 1 (05h) with the data sheet's maximum times
 * (tPP 3 ms, tSE 400 ms) as timeouts. The RTOS side uses drivers/w25q.c instead.
 */
#ifndef MS_NOR_H
#define MS_NOR_H

#include <stdint.h>
#include "bsp.h"

#define MS_NOR_SECTOR 4096u
#define MS_NOR_PAGE 256u

typedef struct {
    int bus;
    bsp_pin_t cs;
    uint32_t size;   /* from the JEDEC capacity byte */
    /* Called between BUSY polls (e.g. a `wfi` woken by a periodic tick), with ms() the clock the
     * timeouts are measured on, advancing in steps of ms_step. NULL: 50 us busy waits. */
    void (*idle)(void);
    uint32_t (*ms)(void);
    uint32_t ms_step;
} ms_nor_t;

/* bsp_spi_init(bus) must have run. BSP_ERR_NODEV when no Winbond NOR answers. */
int ms_nor_init(ms_nor_t *n, int bus, bsp_pin_t cs);
int ms_nor_read(const ms_nor_t *n, uint32_t addr, void *buf, uint32_t len);
int ms_nor_program(const ms_nor_t *n, uint32_t addr, const void *buf, uint32_t len);
int ms_nor_erase_sector(const ms_nor_t *n, uint32_t addr);

#endif
