/*
 * What the bootloader and the RTOS stand-in share on the board: console (USART1, 115200 8N1,
 * output polled through tests/common/console.c, input from the BSP's receive ring), the NOR
 * (W25Q on SPI1, /CS on PA4: the storage test board's wiring, platforms/boards/storage_f413.repl)
 * as an ms_upg_nor_t, the YMODEM byte I/O, and on-chip flash copies by F413 sector.
 */
#ifndef MS_PORT_H
#define MS_PORT_H

#include <stdint.h>
#include "bsp.h"
#include "console.h"
#include "ms_nor.h"
#include "ms_upgrade.h"
#include "ms_ymodem.h"

#define MS_PORT_CONSOLE 1
#define MS_PORT_NOR_SPI 1
#define MS_PORT_NOR_CS BSP_PIN(0, 4)

#define MS_BOOT_ADDR 0x08000000u
#define MS_RTOS_ADDR 0x08008000u
#define MS_RTOS_SIZE 0x38000u            /* 224 KiB, sectors 2..5 */
#define MS_RTOS_VTOR (MS_RTOS_ADDR + 0x200u)

extern ms_nor_t g_port_nor;
extern const ms_upg_nor_t g_port_upg;

/* Clocks, console, NOR. Returns the NOR's ms_nor_init() result (0 = present). */
int ms_port_init(void);
/* YMODEM on the console (getc, write; begin, data and ctx cleared for the caller to set);
 * start_tries 'C's, one a second. */
void ms_port_ymodem_io(ms_ymodem_io_t *io, uint32_t start_tries);
/* Sleep (wfi) at least ms milliseconds. */
void ms_port_sleep_ms(uint32_t ms);
/* A console line (echoed, without CR/LF) into buf; 0 on timeout (timeout_ms 0: none), else
 * its length + 1. */
int ms_port_readline(char *buf, unsigned size, uint32_t timeout_ms);

/* Erase the on-chip flash sectors covering [addr, addr + len) (F413: 4 x 16 K, 64 K, 7 x 128 K) */
int ms_port_flash_erase(uint32_t addr, uint32_t len);
/* Program on-chip flash at dest from NOR at src (len bytes, padded with 0xFF to a word). */
int ms_port_flash_from_nor(uint32_t dest, uint32_t src, uint32_t len);
/* Program NOR at dest (erased by the caller) from on-chip flash. */
int ms_port_nor_from_flash(uint32_t dest, uint32_t src, uint32_t len);

#endif
