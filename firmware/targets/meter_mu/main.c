/*
 * meter_mu: the new-generation meter's management unit (platforms/boards/
 * meter_management_unit.repl): the RTOS image (at 0x08008000 behind its image header,
 * started by the bootloader; docs/meter_flash_layout.md) with the middle layer's services as
 * processes, and the extended apps started from flashfs.
 *
 * The kernel side (this file) brings up the board, opens the serial ports (which registers
 * /dev/ttyS1/2/3/5), registers the clock (/dev/rtc) and the load switch (/dev/relay) as
 * device files, makes the AT24C256 /dev/eeprom (each process reaches only its start-parameter
 * window of it), the segment LCD /dev/lcd, the keys /dev/keys and this boot's reset cause
 * /dev/reset (handed over by the bootloader; the platform service counts it), mounts littlefs
 * on the NOR as /nor (nor_fs.c: the basic app's freeze backups), then starts the services: the
 * virtual bus first and at the most urgent
 * priority, so its pipes exist before any other process looks for them; then the
 * communication, metering and platform services. Then the RTOS's loader starts every app
 * start.par lists from flashfs (LOADID: firmware/apps/loadid, linked for its slot), each an
 * unprivileged process in its own window that registers itself on the bus. This thread then
 * feeds the independent watchdog while the services run (2 s), once a second on the wake
 * grid. The processes share no memory; they talk through the bus's pipes, device files and
 * system calls.
 */
#include <string.h>
#include "bsp.h"
#include "bsp_date.h"
#include "at24c.h"
#include "meter_lcd.h"
#include "ms_driver.h"
#include "ms_rtos.h"
#include "soc.h"
#include "services.h"
#include "svc_util.h"
#include "ms_image.h"
#include "ms_loader.h"
#include "nor_fs.h"

#define PIN_RS485_DE BSP_PIN(0, 1)
#define PIN_RELAY_FB BSP_PIN(1, 5)
#define PIN_RELAY_SET BSP_PIN(1, 8)
#define PIN_RELAY_RESET BSP_PIN(1, 9)
#define PIN_LCD_CS BSP_PIN(1, 12)
#define PIN_LCD_WR BSP_PIN(1, 13)
#define PIN_LCD_DATA BSP_PIN(1, 14)
#define PIN_KEY_PAGE BSP_PIN(2, 0)
#define PIN_KEY_PROG BSP_PIN(2, 1)
#define KEY_DEBOUNCE_MS 30u
#define PIN_COVER BSP_PIN(2, 2)         /* terminal-cover switch, high = open */
#define RELAY_PULSE_MS 50u
#define WATCHDOG_MS 2000u
/* The feed comes on the wake grid's whole seconds (svc_grid_next), the instants the basic
 * app's display and event checks wake the core anyway: at most a second apart, half the
 * window, so a late second (this thread is the least urgent) still leaves a second in hand. */
#define WATCHDOG_KICK_TICKS SVC_GRID_S
#define NOR_FS_PRIO 9u           /* /nor's worker: as urgent as the basic app, its user */
#define WATCHDOG_PRIO 30u        /* less urgent than every process: starved by a hung one */

#define EEPROM_I2C 1
#define EEPROM_I2C_HZ 400000u

static at24c_t g_eeprom;
/* Kernel RAM is the first 128 KiB (image/ld/meter_rtos.ld): the services' windows, the pipes
 * and the kernel's objects come from this pool; the apps' windows lie above it. */
static uint64_t g_pool[96u * 1024u / 8u];
extern const ms_image_hdr_t ms_header;

void ms_kputc(char c) { bsp_console_putc(c); }

/* ---- /dev/rtc: 4 bytes, seconds since 2000-01-01 00:00:00 ---- */
static int rtc_read(void *ctx, ms_file_t *f, void *buf, size_t len)
{
    (void)ctx; (void)f;
    struct bsp_datetime dt;
    if (len < 4u)
        return MS_ERR_INVAL;
    bsp_rtc_get(&dt);
    uint32_t s = bsp_date_to_secs(&dt);
    memcpy(buf, &s, 4);
    return 4;
}
static int rtc_write(void *ctx, ms_file_t *f, const void *buf, size_t len)
{
    (void)ctx; (void)f;
    uint32_t s;
    struct bsp_datetime dt;
    if (len != 4u)
        return MS_ERR_INVAL;
    memcpy(&s, buf, 4);
    bsp_date_from_secs(s, &dt);
    return bsp_rtc_set(&dt) < 0 ? MS_ERR_IO : 4;
}
static const ms_io_dev_ops_t g_rtc_ops = {.read = rtc_read, .write = rtc_write};

/* Read 1 byte = the level of the input pin registered as the device's context (the relay's
 * feedback, the cover switch). */
static int pin_read(void *ctx, ms_file_t *f, void *buf, size_t len)
{
    (void)f;
    if (!len)
        return 0;
    *(uint8_t *)buf = (uint8_t)bsp_pin_read((bsp_pin_t)(uintptr_t)ctx);
    return 1;
}

/* ---- /dev/relay: write 1 byte (1 close, 0 open) pulses a coil; read 1 byte = feedback ---- */
static int relay_write(void *ctx, ms_file_t *f, const void *buf, size_t len)
{
    (void)ctx; (void)f;
    if (len != 1u || *(const uint8_t *)buf > 1u)
        return MS_ERR_INVAL;
    bsp_pin_t coil = *(const uint8_t *)buf ? PIN_RELAY_SET : PIN_RELAY_RESET;
    bsp_pin_write(coil, 1);
    ms_thread_sleep_ms(RELAY_PULSE_MS);
    bsp_pin_write(coil, 0);
    ms_thread_sleep_ms(5);                  /* the auxiliary contact settles */
    return 1;
}
static const ms_io_dev_ops_t g_relay_ops = {.read = pin_read, .write = relay_write};

/* ---- /dev/lcd: write one meter_lcd_frame_t (drivers/meter_lcd.h); the driver sends the
 * HT1621 only the RAM nibbles that changed (one successive write from the first to the last):
 * every bit costs two /WR edges of the data sheet's 4 us clock. ---- */
static ht1621_t g_lcd;
static uint8_t g_lcd_ram[METER_LCD_NIBBLES];
static ms_handle_t g_lcd_lock = -1;
/* The frame g_lcd_ram shows: the display refreshes its screen every second, mostly with the
 * same text, which then needs no encoding (the RAM image would come out the same). */
static meter_lcd_frame_t g_lcd_shown;
static uint8_t g_lcd_have_shown;

static int lcd_write(void *ctx, ms_file_t *f, const void *buf, size_t len)
{
    (void)ctx; (void)f;
    meter_lcd_frame_t fr;
    uint8_t ram[METER_LCD_NIBBLES];
    if (len != sizeof fr)
        return MS_ERR_INVAL;
    memcpy(&fr, buf, sizeof fr);
    fr.text[sizeof fr.text - 1u] = 0;
    ms_mutex_lock(g_lcd_lock, MS_WAIT_FOREVER);
    if (g_lcd_have_shown && fr.icons == g_lcd_shown.icons && !strcmp(fr.text, g_lcd_shown.text)) {
        ms_mutex_unlock(g_lcd_lock);
        return (int)len;
    }
    meter_lcd_encode(fr.text, fr.icons, ram);
    unsigned first = 0, last = METER_LCD_NIBBLES;
    while (first < METER_LCD_NIBBLES && ram[first] == g_lcd_ram[first])
        first++;
    while (last > first && ram[last - 1u] == g_lcd_ram[last - 1u])
        last--;
    if (last > first) {
        ht1621_write(&g_lcd, first, ram + first, last - first);
        memcpy(g_lcd_ram, ram, sizeof ram);
    }
    g_lcd_shown = fr;
    g_lcd_have_shown = 1;
    ms_mutex_unlock(g_lcd_lock);
    return (int)len;
}
static const ms_io_dev_ops_t g_lcd_ops = {.write = lcd_write};

/* ---- /dev/keys: read gives the key presses since the last read, one byte each (KEY_PAGE,
 * KEY_PROG), 0 bytes when there was none (it never blocks); select() sees it readable while
 * presses wait. Presses are latched in the EXTI handler (falling edge: pressed), a second
 * edge of the same key within KEY_DEBOUNCE_MS is contact bounce. ---- */
#define KEYS_MAX 8u
static volatile uint8_t g_keys[KEYS_MAX], g_keys_head, g_keys_tail;
static ms_tick_t g_key_at[2];

static void on_key(void *arg)
{
    uint8_t k = (uint8_t)(uintptr_t)arg;
    ms_tick_t now = ms_tick_get();
    if (now - g_key_at[k - 1u] < ms_ms_to_ticks(KEY_DEBOUNCE_MS) && g_key_at[k - 1u])
        return;
    g_key_at[k - 1u] = now;
    uint8_t next = (uint8_t)((g_keys_head + 1u) % KEYS_MAX);
    if (next != g_keys_tail) {              /* full: the press is dropped */
        g_keys[g_keys_head] = k;
        g_keys_head = next;
    }
    ms_io_poll_notify();
}
static int keys_read(void *ctx, ms_file_t *f, void *buf, size_t len)
{
    (void)ctx; (void)f;
    uint8_t *out = buf;
    size_t n = 0;
    uint32_t s = ms_irq_lock();
    for (; n < len && g_keys_tail != g_keys_head; n++) {
        out[n] = g_keys[g_keys_tail];
        g_keys_tail = (uint8_t)((g_keys_tail + 1u) % KEYS_MAX);
    }
    ms_irq_unlock(s);
    return (int)n;
}
static int keys_poll(void *ctx, ms_file_t *f, int events)
{
    (void)ctx; (void)f;
    return g_keys_tail != g_keys_head ? (events & MS_POLLIN) : 0;
}
static const ms_io_dev_ops_t g_keys_ops = {.read = keys_read, .poll = keys_poll};

/* ---- /dev/cover: read 1 byte = the terminal-cover switch (1 open); the basic app's events ---- */
static const ms_io_dev_ops_t g_cover_ops = {.read = pin_read};

/* ---- /dev/reset: read 4 bytes = this boot's reset cause (RCC_CSR flags, BSP_RESET_*) ---- */
static uint32_t g_reset_cause;

static int reset_read(void *ctx, ms_file_t *f, void *buf, size_t len)
{
    (void)ctx; (void)f;
    if (len < 4u)
        return MS_ERR_INVAL;
    memcpy(buf, &g_reset_cause, 4);
    return 4;
}
static const ms_io_dev_ops_t g_reset_ops = {.read = reset_read};

/* The cause the bootloader read from RCC_CSR and handed over (ms_image.h), taken once; an
 * image started without the bootloader (by a debugger) finds the flags still in RCC_CSR.
 * The backup domain is open: bsp_rtc_init() set PWR_CR.DBP. */
static void take_reset_cause(void)
{
    int w = bsp_backup_read(MS_BOOT_CAUSE_WORD);
    if (w >= 0 && ((unsigned)w & MS_BOOT_CAUSE_MAGIC_MASK) == MS_BOOT_CAUSE_MAGIC) {
        g_reset_cause = ((uint32_t)w & 0xFFu) << 24;
        bsp_backup_write(MS_BOOT_CAUSE_WORD, 0);
    } else {
        g_reset_cause = bsp_reset_cause();
    }
    ms_printk("meter: reset cause: %s\n", bsp_reset_cause_name(g_reset_cause));
}

static void board_init(void)
{
    static const struct bsp_uart_cfg rs485 = {2400, 8, 'E', 1, PIN_RS485_DE};
    static const struct bsp_uart_cfg ir = {1200, 8, 'E', 1, BSP_PIN_NONE};
    static const struct bsp_uart_cfg metrology = {9600, 8, 'E', 1, BSP_PIN_NONE};
    struct bsp_datetime dt;
    /* the metrology link by DMA: a frame costs the IDLE interrupt, not one per byte */
    if (bsp_uart_open(2, &rs485) < 0 || bsp_uart_open(3, &ir) < 0 ||
        bsp_uart_open(5, &metrology) < 0 || bsp_uart_dma(5) < 0)
        ms_panic("cannot open the serial ports");
    bsp_rtc_init();
    take_reset_cause();
    bsp_rtc_get(&dt);
    if (dt.year < 2020) {
        static const struct bsp_datetime start = {2026, 12, 6, 10, 0, 0};
        bsp_rtc_set(&start);
    }
    bsp_pin_config(PIN_RELAY_SET, BSP_PIN_OUTPUT, 0);
    bsp_pin_config(PIN_RELAY_RESET, BSP_PIN_OUTPUT, 0);
    bsp_pin_config(PIN_RELAY_FB, BSP_PIN_INPUT, 0);
    bsp_pin_config(PIN_COVER, BSP_PIN_INPUT, 0);
    int r = bsp_i2c_init(EEPROM_I2C, EEPROM_I2C_HZ);
    if (r == 0)
        r = at24c_init(&g_eeprom, EEPROM_I2C, 0x50, "AT24C256");
    if (r == 0)
        r = at24c_register(&g_eeprom, DEV_EEPROM);
    if (r < 0)
        ms_printk("meter: no EEPROM (%d): settings are not kept\n", r);
    if (ms_io_device_register(DEV_RTC, &g_rtc_ops, 0) < 0 ||
        ms_io_device_register(DEV_RELAY, &g_relay_ops, (void *)(uintptr_t)PIN_RELAY_FB) < 0 ||
        ms_io_device_register(DEV_COVER, &g_cover_ops, (void *)(uintptr_t)PIN_COVER) < 0 ||
        ms_io_device_register(DEV_RESET, &g_reset_ops, 0) < 0)
        ms_panic("cannot register /dev/rtc, /dev/relay, /dev/cover and /dev/reset");
    /* the LCD: SYS EN, BIAS, a cleared RAM, LCD ON; blank until the basic app's display */
    g_lcd_lock = ms_mutex_create("lcd");
    bsp_pin_config(PIN_KEY_PAGE, BSP_PIN_INPUT_PULLUP, 0);
    bsp_pin_config(PIN_KEY_PROG, BSP_PIN_INPUT_PULLUP, 0);
    if (g_lcd_lock < 0 || ht1621_init(&g_lcd, PIN_LCD_CS, PIN_LCD_WR, PIN_LCD_DATA) < 0 ||
        bsp_pin_irq_attach(PIN_KEY_PAGE, BSP_EDGE_FALLING, on_key, (void *)(uintptr_t)KEY_PAGE) < 0 ||
        bsp_pin_irq_attach(PIN_KEY_PROG, BSP_EDGE_FALLING, on_key, (void *)(uintptr_t)KEY_PROG) < 0 ||
        ms_io_device_register(DEV_LCD, &g_lcd_ops, 0) < 0 ||
        ms_io_device_register(DEV_KEYS, &g_keys_ops, 0) < 0)
        ms_printk("meter: no /dev/lcd, /dev/keys\n");
}

/* The services' start parameters (the apps': start.par in flashfs). */
#define SERVICES (sizeof k_procs / sizeof k_procs[0])
static const ms_process_desc_t k_procs[] = {
    {.name = "V_BUS", .entry = vbus_service_main, .prio = 4, .mem_order = 4,
     .stack_size = 2048, .max_threads = 1, .max_kobjs = 2, .max_files = 16,
     .perms = MS_PERM_PRIV},                /* creates pipes */
    {.name = "COM_SRV", .entry = com_service_main, .prio = 6, .mem_order = 3,
     .stack_size = 2048, .max_threads = 1, .max_kobjs = 2, .max_files = 8,
     .perms = MS_PERM_EEPROM_RD | MS_PERM_EEPROM_WR,   /* address, passwords, lock */
     .eeprom = {{EEPROM_COM_START, EEPROM_COM_SIZE}}},
    {.name = "MTR_SRV", .entry = metering_service_main, .prio = 7, .mem_order = 3,
     .stack_size = 2048, .max_threads = 1, .max_kobjs = 2, .max_files = 4},
    {.name = "PLAT_SRV", .entry = platform_service_main, .prio = 8, .mem_order = 3,
     .stack_size = 2048, .max_threads = 1, .max_kobjs = 2, .max_files = 8,
     .perms = MS_PERM_PRIV | MS_PERM_EEPROM_RD | MS_PERM_EEPROM_WR,  /* app lifecycle: stops apps */
     .eeprom = {{EEPROM_PLAT_START, EEPROM_PLAT_SIZE}}},              /* reset counts */
};

/* Starts the processes, then keeps the independent watchdog fed for as long as every service
 * exists and none keeps the CPU from this thread: a process that ended (a fault ends
 * it) or hangs in a loop resets the meter within WATCHDOG_MS. */
static void start(void *arg)
{
    (void)arg;
    if (nor_fs_start(NOR_FS_PRIO) < 0)
        ms_printk("meter: no /nor: freezes are kept in EEPROM only\n");
    for (unsigned i = 0; i < sizeof k_procs / sizeof k_procs[0]; i++) {
        int r = ms_process_create(&k_procs[i]);
        if (r < 0)
            ms_printk("start: %s failed (%d)\n", k_procs[i].name, r);
    }
    int apps = ms_loader_start();
    ms_printk("meter: %d app%s from flashfs\n", apps < 0 ? 0 : apps, apps == 1 ? "" : "s");
    bsp_iwdg_start(WATCHDOG_MS);
    ms_thread_set_prio(ms_thread_self(), WATCHDOG_PRIO);
    ms_printk("meter: started\n");
    for (;;) {
        for (unsigned i = 0; i < SERVICES; i++)     /* apps are the platform's business */
            if (ms_process_find(k_procs[i].name) < 0) {
                ms_printk("watchdog: %s has ended, the meter resets\n", k_procs[i].name);
                for (;;)
                    ms_thread_sleep_ms(1000);
            }
        bsp_iwdg_refresh();
        ms_tick_t now = ms_tick_get();
        ms_thread_sleep(svc_grid_next(now, WATCHDOG_KICK_TICKS) - now);
    }
}

int main(void)
{
    int clk = bsp_clock_init();
    ms_rtos_init(bsp_hclk_hz(), g_pool, sizeof g_pool);
    static const struct bsp_uart_cfg console = {115200, 8, 'N', 1, BSP_PIN_NONE};
    if (bsp_uart_open(1, &console) < 0)
        ms_panic("cannot open USART1");
    bsp_console_select(1);
    const volatile ms_image_hdr_t *h = &ms_header;
    ms_printk("\nmeter management unit on %s, HCLK %u Hz%s, RTOS image %u.%u.%u\n",
              SOC_PART_NAME, (unsigned)bsp_hclk_hz(), clk < 0 ? " (HSE failed: HSI)" : "",
              (unsigned)(h->version >> 16), (unsigned)(h->version >> 8 & 0xFFu),
              (unsigned)(h->version & 0xFFu));
    board_init();
    if (ms_thread_create("start", start, 0, 1024, 20, 0) < 0)
        ms_panic("cannot create the start thread");
    ms_rtos_start();
}
