/*
 * meter_mu_bringup: board bring-up of the new-generation meter's management unit
 * (platforms/boards/meter_management_unit.repl, STM32F413RG). Exercises every device of the
 * board once and reports on the console (USART1, 115200 8N1), one line per check:
 *   "eeprom: ...", "nor: jedec ...", "rs485: sent ...", "metrology: ...", "esam: atr ...",
 *   "esam: challenge ...", "lcd: ...", "relay: ...", "rtc: ...", then "bringup: done".
 * Afterwards it serves the board's inputs: keys ("key: page" / "key: prog", the LCD pages
 * through energy / date / time), the cover switch ("cover: opened" / "cover: closed", COVER
 * icon), the IR port (what a reader sends is echoed back: "ir: echoed <n> bytes"), the PVD
 * ("pvd: supply below threshold", counted in RTC backup register 0, which the battery keeps
 * through a power cut) and the relay command on the console: 'o' opens, 'c' closes.
 */
#include <string.h>
#include <stdarg.h>
#include "bsp.h"
#include "bsp_priv.h"
#include "ms_rtos.h"
#include "soc.h"
#include "at24c.h"
#include "w25q.h"
#include "ht1621.h"
#include "meter_lcd.h"
#include "iso7816.h"

#define PIN_RS485_DE BSP_PIN(0, 1)
#define PIN_NOR_CS BSP_PIN(0, 4)
#define PIN_ESAM_RST BSP_PIN(1, 0)
#define PIN_RELAY_FB BSP_PIN(1, 5)
#define PIN_RELAY_SET BSP_PIN(1, 8)
#define PIN_RELAY_RESET BSP_PIN(1, 9)
#define PIN_LCD_CS BSP_PIN(1, 12)
#define PIN_LCD_WR BSP_PIN(1, 13)
#define PIN_LCD_DATA BSP_PIN(1, 14)
#define PIN_KEY_PAGE BSP_PIN(2, 0)
#define PIN_KEY_PROG BSP_PIN(2, 1)
#define PIN_COVER BSP_PIN(2, 2)
#define PIN_SC_IO BSP_PIN(2, 6)
#define PIN_SC_CK BSP_PIN(2, 8)

#define UART_CONSOLE 1
#define UART_RS485 2
#define UART_IR 3
#define UART_METROLOGY 5
#define USART_ESAM 6

#define RELAY_PULSE_MS 50u       /* coil pulse, above the relay's operate time */
#define PVD_LEVEL 7u             /* PLS = 7: 2.96 V falling */
#define ENERGY_CWh 12345u        /* shown as "123.45" kWh */

static uint64_t g_pool[24u * 1024u / 8u];
static at24c_t g_eeprom;
static w25q_t g_nor;
static ht1621_t g_lcd;
static iso7816_t g_esam;
static volatile uint32_t g_events;
static uint32_t g_page;
static int g_relay_closed;

#define EV_KEY_PAGE 1u
#define EV_KEY_PROG 2u
#define EV_COVER 4u
#define EV_PVD 8u

void ms_kputc(char c) { bsp_console_putc(c); }

static void fmt(char *buf, size_t size, const char *f, ...) __attribute__((format(printf, 3, 4)));
static void fmt(char *buf, size_t size, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    ms_vsnprintf(buf, size, f, ap);
    va_end(ap);
}

static void on_event(void *arg) { g_events |= (uint32_t)(uintptr_t)arg; }

static void show_page(void)
{
    char text[12];
    struct bsp_datetime dt;
    uint32_t icons = 0;
    if (!g_relay_closed)
        icons |= LCD_ICON(LCD_RELAY_OPEN);
    if (bsp_pin_read(PIN_COVER))
        icons |= LCD_ICON(LCD_COVER);
    bsp_rtc_get(&dt);
    switch (g_page % 3u) {
    case 0:
        fmt(text, sizeof text, "%6u.%02u", (unsigned)(ENERGY_CWh / 100u),
                    (unsigned)(ENERGY_CWh % 100u));
        icons |= LCD_ICON(LCD_KWH);
        break;
    case 1:
        fmt(text, sizeof text, "  %02u.%02u.%02u", dt.year % 100u, dt.month, dt.day);
        break;
    default:
        fmt(text, sizeof text, "%02u-%02u-%02u", dt.hour, dt.min, dt.sec);
        break;
    }
    meter_lcd_show(&g_lcd, text, icons);
}

static void check_eeprom(void)
{
    uint8_t out[16], back[16];
    for (unsigned i = 0; i < sizeof out; i++)
        out[i] = (uint8_t)(0xA0u + i);
    int r = bsp_i2c_init(1, 400000u);
    if (r == 0)
        r = at24c_init(&g_eeprom, 1, 0x50, "AT24C256");
    if (r == 0)
        r = at24c_write(&g_eeprom, 0x7F00, out, sizeof out);   /* bytes written */
    if (r == (int)sizeof out)
        r = at24c_read(&g_eeprom, 0x7F00, back, sizeof back);
    if (r == (int)sizeof back && memcmp(out, back, sizeof out) == 0)
        ms_printk("eeprom: wrote and read back 16 bytes at 0x7f00: ok\n");
    else
        ms_printk("eeprom: FAIL (%d)\n", r);
}

static void check_nor(void)
{
    static uint8_t page[W25Q_PAGE_SIZE], back[W25Q_PAGE_SIZE];
    const uint32_t addr = 0x7FF000u;                  /* last sector of the 8 MiB part */
    int r = bsp_spi_init(1, 25000000u, 0);
    if (r == 0)
        r = w25q_init(&g_nor, 1, PIN_NOR_CS);
    if (r < 0) {
        ms_printk("nor: FAIL init (%d)\n", r);
        return;
    }
    ms_printk("nor: jedec %02x %02x %02x, %u bytes\n", g_nor.jedec[0], g_nor.jedec[1],
              g_nor.jedec[2], (unsigned)g_nor.size);
    for (unsigned i = 0; i < sizeof page; i++)
        page[i] = (uint8_t)(i * 7u + 1u);
    r = w25q_erase(&g_nor, addr, W25Q_SECTOR_SIZE);
    if (r == 0)
        r = w25q_program(&g_nor, addr, page, sizeof page);      /* bytes programmed */
    if (r == (int)sizeof page)
        r = w25q_read(&g_nor, addr, back, sizeof back);
    if (r == (int)sizeof back && memcmp(page, back, sizeof page) == 0)
        ms_printk("nor: page program at 0x%06x: ok\n", (unsigned)addr);
    else
        ms_printk("nor: FAIL page program (%d)\n", r);
}

static void check_rs485(void)
{
    static const struct bsp_uart_cfg cfg = {2400, 8, 'E', 1, PIN_RS485_DE};
    /* DL/T645-2007 wake-up preamble and a broadcast time-sync-like test frame */
    static const uint8_t frame[] = {0xFE, 0xFE, 0xFE, 0xFE, 0x68, 0x99, 0x99, 0x99, 0x99, 0x99,
                                    0x99, 0x68, 0x08, 0x00, 0xDF, 0x16};
    int r = bsp_uart_open(UART_RS485, &cfg);
    if (r == 0)
        r = bsp_uart_write(UART_RS485, frame, sizeof frame, 1000);
    if (r == (int)sizeof frame)
        r = bsp_uart_drain(UART_RS485, 1000);
    ms_printk("rs485: sent %u bytes at 2400 8E1 with DE: %s\n", (unsigned)sizeof frame,
              r == 0 ? "ok" : "FAIL");
}

static void check_metrology(void)
{
    static const struct bsp_uart_cfg cfg = {9600, 8, 'E', 1, BSP_PIN_NONE};
    char reply[32];
    int r = bsp_uart_open(UART_METROLOGY, &cfg);
    if (r == 0)
        r = bsp_uart_write(UART_METROLOGY, "PING\n", 5, 100);
    if (r < 0) {
        ms_printk("metrology: FAIL (%d)\n", r);
        return;
    }
    unsigned n = 0;
    while (n < sizeof reply - 1) {
        char c;
        if (bsp_uart_read(UART_METROLOGY, &c, 1, 100) <= 0 || c == '\n')
            break;
        reply[n++] = c;
    }
    reply[n] = 0;
    if (n)
        ms_printk("metrology: reply %s\n", reply);
    else
        ms_printk("metrology: no answer\n");
}

static void print_hex(const char *what, const uint8_t *b, unsigned n)
{
    ms_printk("%s", what);
    for (unsigned i = 0; i < n; i++)
        ms_printk(" %02x", b[i]);
}

static void check_esam(void)
{
    uint8_t ch[8];
    int r = iso7816_init(&g_esam, USART_ESAM, PIN_SC_IO, PIN_SC_CK, PIN_ESAM_RST, 5000000u);
    if (r == 0)
        r = iso7816_reset(&g_esam);
    if (r < 0) {
        ms_printk("esam: FAIL no ATR (%d)\n", r);
        return;
    }
    print_hex("esam: atr", g_esam.atr, g_esam.atr_len);
    ms_printk(" (clock %u Hz)\n", (unsigned)g_esam.ck_hz);
    r = esam_get_challenge(&g_esam, ch, sizeof ch);
    if (r < 0) {
        ms_printk("esam: FAIL get challenge (%d)\n", r);
        return;
    }
    print_hex("esam: challenge", ch, r == 0x9000 ? sizeof ch : 0);
    ms_printk(" sw %04x\n", (unsigned)r);
    ms_printk("esam: characters repeated %u, parity errors %u\n", (unsigned)g_esam.repeats,
              (unsigned)g_esam.parity_errors);
}

static int relay_set(int close)
{
    bsp_pin_t coil = close ? PIN_RELAY_SET : PIN_RELAY_RESET;
    bsp_pin_write(coil, 1);
    ms_thread_sleep_ms(RELAY_PULSE_MS);
    bsp_pin_write(coil, 0);
    ms_thread_sleep_ms(5);                            /* auxiliary contact settles */
    int fb = bsp_pin_read(PIN_RELAY_FB);
    g_relay_closed = fb;
    ms_printk("relay: %s, feedback %s: %s\n", close ? "close" : "open",
              fb ? "closed" : "open", fb == close ? "ok" : "FAULT");
    show_page();
    return fb == close ? 0 : BSP_ERR_IO;
}

static void check_rtc(void)
{
    struct bsp_datetime dt;
    bsp_rtc_init();
    bsp_rtc_get(&dt);
    if (dt.year < 2020) {
        static const struct bsp_datetime start = {2026, 12, 6, 10, 0, 0};
        bsp_rtc_set(&start);
        bsp_rtc_get(&dt);
        ms_printk("rtc: calendar lost, set to ");
    } else {
        ms_printk("rtc: running on the battery, ");
    }
    ms_printk("%04u-%02u-%02u %02u:%02u:%02u, power failures %u\n", dt.year, dt.month, dt.day,
              dt.hour, dt.min, dt.sec, (unsigned)RTC->BKPR[0]);
}

static void serve(void)
{
    static const struct bsp_uart_cfg ir_cfg = {1200, 8, 'E', 1, BSP_PIN_NONE};
    uint8_t buf[32];
    bsp_uart_open(UART_IR, &ir_cfg);
    for (;;) {
        int n = bsp_uart_read(UART_IR, buf, sizeof buf, 20);
        while (n > 0 && n < (int)sizeof buf) {       /* the rest of the frame: until 30 ms quiet */
            int k = bsp_uart_read(UART_IR, buf + n, sizeof buf - (unsigned)n, 30);
            if (k <= 0)
                break;
            n += k;
        }
        if (n > 0) {
            bsp_uart_write(UART_IR, buf, (unsigned)n, 1000);
            ms_printk("ir: echoed %d bytes\n", n);
        }
        char c;
        if (bsp_uart_read(UART_CONSOLE, &c, 1, 0) > 0 && (c == 'o' || c == 'c'))
            relay_set(c == 'c');
        uint32_t s = bsp_irq_lock();
        uint32_t ev = g_events;
        g_events = 0;
        bsp_irq_unlock(s);
        if (ev & EV_PVD) {
            RTC->BKPR[0] = RTC->BKPR[0] + 1u;
            ms_printk("pvd: supply below threshold, power failures %u\n", (unsigned)RTC->BKPR[0]);
        }
        if (ev & EV_KEY_PAGE) {
            g_page++;
            ms_printk("key: page\n");
        }
        if (ev & EV_KEY_PROG)
            ms_printk("key: prog\n");
        if (ev & EV_COVER)
            ms_printk("cover: %s\n", bsp_pin_read(PIN_COVER) ? "opened" : "closed");
        if (ev || g_page % 3u == 2u)
            show_page();
    }
}

static void bringup(void *arg)
{
    (void)arg;
    check_rtc();
    check_eeprom();
    check_nor();
    check_rs485();
    check_metrology();
    check_esam();
    ht1621_init(&g_lcd, PIN_LCD_CS, PIN_LCD_WR, PIN_LCD_DATA);
    show_page();
    ms_printk("lcd: showing energy\n");
    bsp_pin_config(PIN_RELAY_SET, BSP_PIN_OUTPUT, 0);
    bsp_pin_config(PIN_RELAY_RESET, BSP_PIN_OUTPUT, 0);
    bsp_pin_config(PIN_RELAY_FB, BSP_PIN_INPUT, 0);
    relay_set(0);
    relay_set(1);
    bsp_pin_config(PIN_KEY_PAGE, BSP_PIN_INPUT_PULLUP, 0);
    bsp_pin_config(PIN_KEY_PROG, BSP_PIN_INPUT_PULLUP, 0);
    bsp_pin_config(PIN_COVER, BSP_PIN_INPUT_PULLDOWN, 0);
    bsp_pin_irq_attach(PIN_KEY_PAGE, BSP_EDGE_FALLING, on_event, (void *)EV_KEY_PAGE);
    bsp_pin_irq_attach(PIN_KEY_PROG, BSP_EDGE_FALLING, on_event, (void *)EV_KEY_PROG);
    bsp_pin_irq_attach(PIN_COVER, BSP_EDGE_BOTH, on_event, (void *)EV_COVER);
    bsp_pvd_attach(PVD_LEVEL, on_event, (void *)EV_PVD);
    ms_printk("bringup: done\n");
    serve();
}

int main(void)
{
    int clk = bsp_clock_init();
    uint32_t cause = bsp_reset_cause();
    ms_rtos_init(bsp_hclk_hz(), g_pool, sizeof g_pool);
    static const struct bsp_uart_cfg console = {115200, 8, 'N', 1, BSP_PIN_NONE};
    if (bsp_uart_open(UART_CONSOLE, &console) < 0)
        ms_panic("cannot open USART1");
    bsp_console_select(UART_CONSOLE);
    ms_printk("\nmeter management unit bring-up on %s, HCLK %u Hz%s, reset: %s\n", SOC_PART_NAME,
              (unsigned)bsp_hclk_hz(), clk < 0 ? " (HSE failed: HSI)" : "",
              bsp_reset_cause_name(cause));
    if (ms_thread_create("bringup", bringup, 0, 2048, 10, 0) < 0)
        ms_panic("cannot create the bring-up thread");
    ms_rtos_start();
}
