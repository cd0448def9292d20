/*
 * Frame of the driver test programs (drivers/tests/<name>), for the storage test boards
 * platforms/boards/storage_<target>.repl:
 *   - W25Q128 NOR on SPI1 (PA5/PA6/PA7), /CS on PA4;
 *   - AT24C256 EEPROM on I2C1 (PB6/PB7) at 0x50;
 *   - ADE7753 on SPI2 (PB13/PB14/PB15), CS on PB12, IRQ on PB1 (EXTI1);
 *   - console on USART1 at 115200 (ms_printk).
 * NOR layout: littlefs in sectors [0, STORAGE_LFS_BLOCKS), /dev/nor0 = raw sectors after it.
 *
 * drv_test_run() brings up clocks (100 / 72 MHz), the console and the RTOS, prints
 * "test <name> on <part>: reset <cause>", then runs `body` in a kernel thread; the body ends
 * with drv_pass() ("PASS") or drv_fail() ("FAIL <reason>").
 */
#ifndef DRV_TEST_H
#define DRV_TEST_H

#include <stdint.h>
#include "at24c.h"
#include "bsp.h"
#include "drv_io.h"
#include "lfs_port.h"
#include "ms_rtos.h"
#include "w25q.h"

#define NOR_SPI 1
#define NOR_CS BSP_PIN(0, 4)
#define EEPROM_I2C 1
#define EEPROM_ADDR 0x50u
#define ADE_SPI 2
#define ADE_CS BSP_PIN(1, 12)
#define ADE_IRQ BSP_PIN(1, 1)

#define STORAGE_LFS_OFFSET 0u
#define STORAGE_LFS_BLOCKS 128u                     /* 512 KiB */
#define STORAGE_RAW_OFFSET (STORAGE_LFS_BLOCKS * W25Q_SECTOR_SIZE)
#define STORAGE_RAW_SIZE (64u * W25Q_SECTOR_SIZE)   /* /dev/nor0 */

extern w25q_t g_nor;
extern at24c_t g_eeprom;
extern lfs_port_t g_lfs;
extern uint32_t g_reset_cause;

__attribute__((noreturn)) void drv_test_run(const char *name, ms_thread_entry_t body,
                                            uint32_t stack_size);
__attribute__((noreturn)) void drv_pass(void);
__attribute__((noreturn, format(printf, 1, 2))) void drv_fail(const char *fmt, ...);
#define CHECK(cond, ...) do { if (!(cond)) drv_fail(__VA_ARGS__); } while (0)

/* Bring up the NOR (and /dev/nor0) and the EEPROM (/dev/eeprom). */
void drv_storage_init(int with_eeprom);
/* Mount littlefs at /nor (formatting a blank chip); returns lfs_port_mount()'s result. */
int drv_lfs_mount(void);

/* CRC-32 (IEEE 802.3, as zlib.crc32): start with crc = 0. */
uint32_t drv_crc32(uint32_t crc, const void *buf, uint32_t len);
/* Wait until the console has sent everything (before a reset). */
void drv_console_drain(void);

#endif
