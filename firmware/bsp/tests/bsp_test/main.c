/*
 * bsp_test: the BSP drivers driven from the msh shell, for tests/firmware/test_bsp_*.py on
 * the test boards platforms/boards/test_bsp_<target>.repl (AT24C256 EEPROM at I2C1 0x50,
 * W25Q64 SPI NOR on SPI1 with /CS on PB12). USART1 is the console (/dev/ttyS1); USART2 runs
 * at 115200 8N1 as an RS-485 port with DE on PA1 (/dev/ttyS2).
 *
 * Commands (numbers in hex where noted, results as "ok ..." or "err <code>"):
 *   rx N                read N bytes from ttyS2; prints count, CRC-32 and overruns/drops
 *   tx TEXT             send TEXT on ttyS2 (RS-485: DE high, released after the last stop bit)
 *   txn N               send N bytes 0, 1, 2 ... (mod 251) on ttyS2: more than the TX ring
 *   frames N [LEN [MS]] Modbus RTU framing on ttyS2 (TIM3 silence timer, t1.5 750 us, t3.5
 *                       1750 us, as at 115200 baud): sleep MS, then read N frames into a
 *                       LEN-byte buffer (at most 64; 2 s for each first byte); prints
 *                       "frame <bytes> flags <hex> crc <CRC-32>" each, then the port's counts
 *   i2c w ADDR HEX..    write bytes; i2c r ADDR N; i2c wr ADDR N HEX.. (write then read N)
 *   spi HEX..           one transfer with /CS low; prints what came back
 *   flash e ADDR | flash p ADDR HEX.. | flash r ADDR N
 *   pvd LEVEL           PVD interrupt at PLS level 0..7: prints "pvd: power failing"
 *   tim N               TIM2 at 1 kHz for N callbacks; prints the ticks they took
 *   pin PORT N          EXTI on that pin (both edges); each edge prints "edge <level>"
 */
#include <string.h>
#include "bsp.h"
#include "ms_rtos.h"
#include "shell.h"
#include "soc.h"

#if defined(STM32F103xB)
#define POOL_SIZE (6u * 1024u)
#define SHELL_STACK 1280u
#elif defined(STM32F103xE)
#define POOL_SIZE (24u * 1024u)    /* 48 KiB SRAM: 32 KiB did not fit beside the kernel heap */
#define SHELL_STACK 2048u
#else
#define POOL_SIZE (32u * 1024u)
#define SHELL_STACK 2048u
#endif
#define RS485_DE BSP_PIN(0, 1)
#define NOR_CS BSP_PIN(1, 12)

static uint64_t g_pool[POOL_SIZE / 8u];

void ms_kputc(char c) { bsp_console_putc(c); }

static unsigned hexval(const char *s, int *ok)
{
    unsigned v = 0;
    *ok = *s != 0;
    for (; *s; s++) {
        char c = *s;
        unsigned d = (c >= '0' && c <= '9') ? (unsigned)(c - '0') : (c >= 'a' && c <= 'f') ? (unsigned)(c - 'a' + 10)
                   : (c >= 'A' && c <= 'F') ? (unsigned)(c - 'A' + 10) : 99u;
        if (d > 15) {
            *ok = 0;
            return 0;
        }
        v = v * 16u + d;
    }
    return v;
}

static unsigned decval(const char *s)
{
    unsigned v = 0;
    while (*s >= '0' && *s <= '9')
        v = v * 10u + (unsigned)(*s++ - '0');
    return v;
}

static int parse_bytes(int argc, char **argv, int first, uint8_t *out, unsigned max)
{
    unsigned n = 0;
    for (int i = first; i < argc && n < max; i++) {
        int ok;
        out[n++] = (uint8_t)hexval(argv[i], &ok);
        if (!ok)
            return -1;
    }
    return (int)n;
}

static void print_bytes(struct shell *sh, const uint8_t *b, unsigned n)
{
    shell_printf(sh, "ok");
    for (unsigned i = 0; i < n; i++)
        shell_printf(sh, " %02x", b[i]);
    shell_printf(sh, "\n");
}

static uint32_t crc32(uint32_t crc, const uint8_t *p, unsigned n)
{
    crc = ~crc;
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

static void cmd_rx(struct shell *sh, int argc, char **argv)
{
    unsigned want = argc > 1 ? decval(argv[1]) : 0, got = 0;
    uint32_t crc = 0;
    uint8_t buf[16];
    while (got < want) {
        unsigned chunk = want - got < sizeof buf ? want - got : sizeof buf;
        int n = bsp_uart_read(2, buf, chunk, 2000);
        if (n <= 0)
            break;
        crc = crc32(crc, buf, (unsigned)n);
        got += (unsigned)n;
    }
    uint32_t ore = 0, drop = 0, err = 0;
    bsp_uart_stats(2, &ore, &drop, &err);
    shell_printf(sh, "rx %u crc %08x overruns %u dropped %u errors %u\n", got, (unsigned)crc,
                 (unsigned)ore, (unsigned)drop, (unsigned)err);
}

static void cmd_frames(struct shell *sh, int argc, char **argv)
{
    unsigned n = argc > 1 ? decval(argv[1]) : 1, len = argc > 2 ? decval(argv[2]) : 64u;
    unsigned ms = argc > 3 ? decval(argv[3]) : 0;
    uint8_t buf[64];
    if (!len || len > sizeof buf)
        len = sizeof buf;
    int e = bsp_uart_set_framing(2, 3, 750, 1750);
    if (e) {
        shell_printf(sh, "err %d\n", e);
        return;
    }
    if (ms)
        ms_thread_sleep_ms(ms);
    for (unsigned i = 0; i < n; i++) {
        unsigned flags = 0;
        int got = bsp_uart_read_frame(2, buf, len, 2000, &flags);
        if (got <= 0) {
            shell_printf(sh, "no frame (%d)\n", got);
            break;
        }
        shell_printf(sh, "frame %d flags %x crc %08x\n", got, flags,
                     (unsigned)crc32(0, buf, (unsigned)got));
    }
    bsp_uart_set_framing(2, 3, 0, 0);
    uint32_t ore = 0, drop = 0, err = 0;
    bsp_uart_stats(2, &ore, &drop, &err);
    shell_printf(sh, "overruns %u dropped %u errors %u\n", (unsigned)ore, (unsigned)drop,
                 (unsigned)err);
}

static void cmd_txn(struct shell *sh, int argc, char **argv)
{
    unsigned n = argc > 1 ? decval(argv[1]) : 0, total = 0;
    uint8_t chunk[100];
    while (total < n) {
        unsigned k = n - total < sizeof chunk ? n - total : sizeof chunk;
        for (unsigned i = 0; i < k; i++)
            chunk[i] = (uint8_t)((total + i) % 251u);
        int r = bsp_uart_write(2, chunk, k, 1000);
        if (r <= 0) {
            shell_printf(sh, "err %d\n", r);
            return;
        }
        total += (unsigned)r;
        if ((unsigned)r < k)
            break;
    }
    int r = bsp_uart_drain(2, 1000);
    shell_printf(sh, "sent %u drain %d\n", total, r);
}

static void cmd_tx(struct shell *sh, int argc, char **argv)
{
    unsigned total = 0;
    for (int i = 1; i < argc; i++) {
        unsigned len = (unsigned)strlen(argv[i]);
        int r = bsp_uart_write(2, argv[i], len, 1000);
        if (r < 0) {
            shell_printf(sh, "err %d\n", r);
            return;
        }
        total += (unsigned)r;
    }
    int r = bsp_uart_drain(2, 1000);
    shell_printf(sh, "sent %u de %d drain %d\n", total, bsp_pin_read(RS485_DE), r);
}

static void cmd_i2c(struct shell *sh, int argc, char **argv)
{
    uint8_t w[32], r[64];
    int ok;
    if (argc < 4) {
        shell_printf(sh, "usage: i2c w|r|wr ADDR ...\n");
        return;
    }
    uint8_t addr = (uint8_t)hexval(argv[2], &ok);
    int e;
    if (strcmp(argv[1], "w") == 0) {
        int n = parse_bytes(argc, argv, 3, w, sizeof w);
        e = n < 0 ? BSP_ERR_INVAL : bsp_i2c_write(1, addr, w, (unsigned)n);
        if (!e)
            shell_printf(sh, "ok\n");
    } else if (strcmp(argv[1], "r") == 0) {
        unsigned n = decval(argv[3]);
        if (n > sizeof r)
            n = sizeof r;
        e = bsp_i2c_read(1, addr, r, n);
        if (!e)
            print_bytes(sh, r, n);
    } else {
        unsigned n = decval(argv[3]);
        if (n > sizeof r)
            n = sizeof r;
        int wn = parse_bytes(argc, argv, 4, w, sizeof w);
        e = wn < 0 ? BSP_ERR_INVAL : bsp_i2c_write_read(1, addr, w, (unsigned)wn, r, n);
        if (!e)
            print_bytes(sh, r, n);
    }
    if (e)
        shell_printf(sh, "err %d\n", e);
}

static void cmd_spi(struct shell *sh, int argc, char **argv)
{
    uint8_t b[32];
    int n = parse_bytes(argc, argv, 1, b, sizeof b);
    if (n <= 0) {
        shell_printf(sh, "err %d\n", BSP_ERR_INVAL);
        return;
    }
    bsp_pin_write(NOR_CS, 0);
    int e = bsp_spi_xfer(1, b, b, (unsigned)n);
    bsp_pin_write(NOR_CS, 1);
    if (e)
        shell_printf(sh, "err %d\n", e);
    else
        print_bytes(sh, b, (unsigned)n);
}

static void cmd_flash(struct shell *sh, int argc, char **argv)
{
    int ok;
    if (argc < 3) {
        shell_printf(sh, "usage: flash e|p|r ADDR ...\n");
        return;
    }
    uint32_t addr = hexval(argv[2], &ok);
    int e = 0;
    if (argv[1][0] == 'e') {
        ms_tick_t t0 = ms_tick_get();
        e = bsp_flash_erase(addr);
        if (!e)
            shell_printf(sh, "ok erased in %u ticks\n", (unsigned)(ms_tick_get() - t0));
    } else if (argv[1][0] == 'p') {
        uint8_t b[32];
        int n = parse_bytes(argc, argv, 3, b, sizeof b);
        e = n < 0 ? BSP_ERR_INVAL : bsp_flash_program(addr, b, (unsigned)n);
        if (!e)
            shell_printf(sh, "ok\n");
    } else {
        unsigned n = argc > 3 ? decval(argv[3]) : 4;
        if (n > 32)
            n = 32;
        print_bytes(sh, (const uint8_t *)addr, n);
    }
    if (e)
        shell_printf(sh, "err %d\n", e);
}

static void on_pvd(void *arg)
{
    (void)arg;
    ms_printk("pvd: power failing\n");
}

static void cmd_pvd(struct shell *sh, int argc, char **argv)
{
    int e = bsp_pvd_attach(argc > 1 ? decval(argv[1]) : 7, on_pvd, 0);
    shell_printf(sh, e ? "err %d\n" : "ok\n", e);
}

static volatile uint32_t g_tim_count;
static ms_handle_t g_tim_sem;

static void on_tim(void *arg)
{
    (void)arg;
    g_tim_count++;
    ms_sem_post(g_tim_sem);
}

static void cmd_tim(struct shell *sh, int argc, char **argv)
{
    unsigned n = argc > 1 ? decval(argv[1]) : 10;
    if (g_tim_sem <= 0)
        g_tim_sem = ms_sem_create("tim", 0, 1000);
    g_tim_count = 0;
    ms_tick_t t0 = ms_tick_get();
    int e = bsp_timer_start(2, 1000, on_tim, 0);
    if (e) {
        shell_printf(sh, "err %d\n", e);
        return;
    }
    for (unsigned i = 0; i < n; i++)
        if (ms_sem_wait(g_tim_sem, 1000) < 0)
            break;
    bsp_timer_stop(2);
    (void)t0;
    shell_printf(sh, "tim %u callbacks\n", (unsigned)g_tim_count);
}

static void on_edge(void *arg)
{
    ms_printk("edge %d\n", bsp_pin_read((bsp_pin_t)(uintptr_t)arg));
}

static void cmd_pin(struct shell *sh, int argc, char **argv)
{
    if (argc < 3) {
        shell_printf(sh, "usage: pin PORT N\n");
        return;
    }
    bsp_pin_t p = BSP_PIN(decval(argv[1]), decval(argv[2]));
    bsp_pin_config(p, BSP_PIN_INPUT_PULLDOWN, 0);
    int e = bsp_pin_irq_attach(p, BSP_EDGE_BOTH, on_edge, (void *)(uintptr_t)p);
    shell_printf(sh, e ? "err %d\n" : "ok\n", e);
}

static const struct shell_cmd k_cmds[] = {
    {"rx", "N read N bytes from ttyS2", cmd_rx},
    {"tx", "TEXT send on ttyS2 (RS-485)", cmd_tx},
    {"txn", "N send N counting bytes on ttyS2", cmd_txn},
    {"frames", "N [LEN [MS]] read framed ttyS2", cmd_frames},
    {"i2c", "w|r|wr ADDR ... I2C1 transfers", cmd_i2c},
    {"spi", "HEX.. SPI1 transfer with /CS", cmd_spi},
    {"flash", "e|p|r ADDR ... internal flash", cmd_flash},
    {"pvd", "LEVEL power-fail interrupt", cmd_pvd},
    {"tim", "N TIM2 1 kHz callbacks", cmd_tim},
    {"pin", "PORT N edge interrupts", cmd_pin},
    {0, 0, 0},
};

static void shell_init(struct shell *sh)
{
    (void)sh;
    bsp_pin_write(NOR_CS, 1);
    bsp_pin_config(NOR_CS, BSP_PIN_OUTPUT, 0);
    bsp_spi_init(1, 10000000u, 0);
    bsp_i2c_init(1, 100000u);
}

static const struct shell_cfg k_shell = {"/dev/ttyS1", 10, SHELL_STACK, k_cmds, shell_init};

int main(void)
{
    int clk = bsp_clock_init();
    uint32_t cause = bsp_reset_cause();
    ms_rtos_init(bsp_hclk_hz(), g_pool, sizeof g_pool);
    static const struct bsp_uart_cfg console = {115200, 8, 'N', 1, BSP_PIN_NONE};
    static const struct bsp_uart_cfg rs485 = {115200, 8, 'N', 1, RS485_DE};
    if (bsp_uart_open(1, &console) < 0 || bsp_uart_open(2, &rs485) < 0)
        ms_panic("cannot open the USARTs");
    bsp_console_select(1);
    ms_printk("\nbsp_test on %s: HCLK %u Hz (clock %d), reset %s\n", SOC_PART_NAME,
              (unsigned)bsp_hclk_hz(), clk, bsp_reset_cause_name(cause));
    int sh = shell_start(&k_shell);
    if (sh < 0)
        ms_panic("cannot start the shell (%d)", sh);
    ms_rtos_start();
}
