/* Board glue of the bootloader and the RTOS stand-in (see ms_port.h). */
#include "cortex_m.h"
#include "ms_port.h"

ms_nor_t g_port_nor;
static volatile uint32_t g_port_ms;

/* 100 Hz tick: waits sleep in `wfi` between it and the UART's receive interrupts, so an idle
 * console or a NOR erase costs the emulator (and the chip's supply) almost nothing; timeouts
 * are counted in its 10 ms steps. */
#define TICK_MS 10u
void SysTick_Handler(void);
void SysTick_Handler(void) { g_port_ms += TICK_MS; }

static void port_idle(void) { __asm volatile("wfi"); }
static uint32_t port_ms(void) { return g_port_ms; }

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
    SYSTICK->RVR = bsp_hclk_hz() / (1000u / TICK_MS) - 1u;
    SYSTICK->CVR = 0;
    SYSTICK->CSR = SYSTICK_CSR_ENABLE | SYSTICK_CSR_TICKINT | SYSTICK_CSR_CLKSOURCE;
    int r = bsp_spi_init(MS_PORT_NOR_SPI, 25000000u, 0);
    if (!r)
        r = ms_nor_init(&g_port_nor, MS_PORT_NOR_SPI, MS_PORT_NOR_CS);
    g_port_nor.ms = port_ms;
    g_port_nor.ms_step = TICK_MS;
    g_port_nor.idle = port_idle;
    return r;
}

void ms_port_sleep_ms(uint32_t ms)
{
    uint32_t start = g_port_ms;
    while (g_port_ms - start < ms + TICK_MS)
        port_idle();
}

static int port_getc(void *ctx, uint32_t timeout_ms)
{
    (void)ctx;
    uint8_t c;
    uint32_t start = g_port_ms;
    while (bsp_uart_read(MS_PORT_CONSOLE, &c, 1, 0) != 1) {
        if (g_port_ms - start >= timeout_ms)
            return -1;
        port_idle();
    }
    return c;
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
    io->begin = 0;
    io->data = 0;
    io->ctx = 0;
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
