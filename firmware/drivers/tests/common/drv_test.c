#include <stdarg.h>
#include "drv_test.h"
#include "soc.h"

#if defined(STM32F103xB)
#define POOL_SIZE (8u * 1024u)
#elif defined(STM32F103xE)
#define POOL_SIZE (24u * 1024u)    /* 48 KiB SRAM */
#else
#define POOL_SIZE (48u * 1024u)
#endif

static uint64_t g_pool[POOL_SIZE / 8u];
w25q_t g_nor;
at24c_t g_eeprom;
lfs_port_t g_lfs;
uint32_t g_reset_cause;
static w25q_part_t g_nor0;

void ms_kputc(char c) { bsp_console_putc(c); }

void drv_test_run(const char *name, ms_thread_entry_t body, uint32_t stack_size)
{
    bsp_clock_init();
    g_reset_cause = bsp_reset_cause();
    ms_rtos_init(bsp_hclk_hz(), g_pool, sizeof g_pool);
    static const struct bsp_uart_cfg console = {115200, 8, 'N', 1, BSP_PIN_NONE};
    if (bsp_uart_open(1, &console) < 0)
        ms_panic("cannot open the console");
    bsp_console_select(1);
    ms_printk("test %s on %s: reset %s\n", name, SOC_PART_NAME, bsp_reset_cause_name(g_reset_cause));
    if (ms_thread_create("main", body, 0, stack_size, 10, 0) < 0)
        ms_panic("cannot create the main thread");
    ms_rtos_start();
}

void drv_console_drain(void) { bsp_uart_drain(1, 100); }

static __attribute__((noreturn)) void halt(void)
{
    drv_console_drain();
    for (;;)
        ms_thread_sleep(MS_WAIT_FOREVER);
}

void drv_pass(void)
{
    ms_printk("PASS\n");
    halt();
}

void drv_fail(const char *fmt, ...)
{
    char line[120];
    va_list ap;
    va_start(ap, fmt);
    ms_vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    ms_printk("FAIL %s\n", line);
    halt();
}

void drv_storage_init(int with_eeprom)
{
    int r = bsp_spi_init(NOR_SPI, 25000000u, 0);
    CHECK(r == 0, "spi init %d", r);
    r = w25q_init(&g_nor, NOR_SPI, NOR_CS);
    CHECK(r == 0, "w25q init %d", r);
    ms_printk("nor jedec %02x %02x %02x size %u\n", g_nor.jedec[0], g_nor.jedec[1], g_nor.jedec[2],
              (unsigned)g_nor.size);
    g_nor0.dev = &g_nor;
    g_nor0.offset = STORAGE_RAW_OFFSET;
    g_nor0.size = STORAGE_RAW_SIZE;
    r = w25q_register(&g_nor0, "/dev/nor0");
    CHECK(r == 0, "register /dev/nor0 %d", r);
    if (with_eeprom) {
        r = bsp_i2c_init(EEPROM_I2C, 400000u);
        CHECK(r == 0, "i2c init %d", r);
        r = at24c_init(&g_eeprom, EEPROM_I2C, EEPROM_ADDR, "AT24C256");
        CHECK(r == 0, "at24c init %d", r);
        r = at24c_register(&g_eeprom, "/dev/eeprom");
        CHECK(r == 0, "register /dev/eeprom %d", r);
        ms_printk("eeprom AT24C256 size %u page %u\n", (unsigned)g_eeprom.size,
                  (unsigned)g_eeprom.page_size);
    }
}

int drv_lfs_mount(void)
{
    int r = lfs_port_init(&g_lfs, &g_nor, STORAGE_LFS_OFFSET, STORAGE_LFS_BLOCKS);
    CHECK(r == 0, "lfs init %d", r);
    r = lfs_port_mount(&g_lfs, 1);
    CHECK(r >= 0, "lfs mount %d", r);
    int reg = lfs_port_register(&g_lfs, "/nor");
    CHECK(reg == 0, "mount /nor %d", reg);
    return r;
}

uint32_t drv_crc32(uint32_t crc, const void *buf, uint32_t len)
{
    const uint8_t *p = buf;
    crc = ~crc;
    while (len--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}
