/* Board glue of the bootloader and the RTOS stand-in (see ms_port.h). */
#include "ms_port.h"

ms_nor_t g_port_nor;

static int nor_read(void *ctx, uint32_t a, void *b, uint32_t n) { return ms_nor_read(ctx, a, b, n); }
static int nor_prog(void *ctx, uint32_t a, const void *b, uint32_t n)
{
    return ms_nor_program(ctx, a, b, n);
}
static int nor_erase(void *ctx, uint32_t a) { return ms_nor_erase_sector(ctx, a); }

const ms_upg_nor_t g_port_upg = {nor_read, nor_prog, nor_erase, &g_port_nor};

int ms_port_init(void)
{
    bsp_clock_init();
    static const struct bsp_uart_cfg console = {115200, 8, 'N', 1, BSP_PIN_NONE};
    bsp_uart_open(MS_PORT_CONSOLE, &console);
    int r = bsp_spi_init(MS_PORT_NOR_SPI, 25000000u, 0);
    return r ? r : ms_nor_init(&g_port_nor, MS_PORT_NOR_SPI, MS_PORT_NOR_CS);
}

static int port_getc(void *ctx, uint32_t timeout_ms)
{
    (void)ctx;
    uint8_t c;
    return bsp_uart_read(MS_PORT_CONSOLE, &c, 1, timeout_ms) == 1 ? c : -1;
}

static void port_write(void *ctx, const uint8_t *buf, uint32_t len)
{
    (void)ctx;
    while (len--)
        con_putc((char)*buf++);
}

void ms_port_ymodem_io(ms_ymodem_io_t *io, uint32_t start_tries)
{
    io->getc = port_getc;
    io->write = port_write;
    io->start_tries = start_tries;
}

int ms_port_readline(char *buf, unsigned size, uint32_t timeout_ms)
{
    unsigned n = 0;
    for (;;) {
        int c = port_getc(0, timeout_ms ? timeout_ms : 1000u);
        if (c < 0 && timeout_ms)
            return 0;
        if (c < 0)
            continue;
        if (c == '\r' || c == '\n') {
            if (n == 0)
                continue;
            con_puts("\n");
            buf[n] = '\0';
            return (int)n + 1;
        }
        if (n + 1 < size) {
            buf[n++] = (char)c;
            con_putc((char)c);
        }
    }
}

static uint32_t sector_size(uint32_t addr)
{
    uint32_t off = addr - 0x08000000u;
    return off < 0x10000u ? 0x4000u : off < 0x20000u ? 0x10000u : 0x20000u;
}

int ms_port_flash_erase(uint32_t addr, uint32_t len)
{
    uint32_t a = addr;
    while (a < addr + len) {
        uint32_t sz = sector_size(a);
        a &= ~(sz - 1u);
        int e = bsp_flash_erase(a);
        if (e)
            return e;
        a += sz;
    }
    return 0;
}

int ms_port_flash_from_nor(uint32_t dest, uint32_t src, uint32_t len)
{
    uint8_t buf[256];
    while (len) {
        uint32_t n = len < sizeof buf ? len : sizeof buf;
        int e = ms_nor_read(&g_port_nor, src, buf, n);
        uint32_t padded = (n + 3u) & ~3u;
        for (uint32_t i = n; i < padded; i++)
            buf[i] = 0xFFu;
        if (!e)
            e = bsp_flash_program(dest, buf, padded);
        if (e)
            return e;
        dest += n;
        src += n;
        len -= n;
    }
    return 0;
}

int ms_port_nor_from_flash(uint32_t dest, uint32_t src, uint32_t len)
{
    return ms_nor_program(&g_port_nor, dest, (const void *)src, len);
}
