/*
 * The management unit's RTOS image (linked at 0x08008000 behind its image header, started by
 * the bootloader, docs/meter_flash_layout.md): the metersim kernel with MPU isolation, the
 * BSP's console on USART1 (/dev/ttyS1), the loader starting the services and apps that
 * start.par lists from flashfs, each an unprivileged process in its own RAM window, and the
 * msh shell on the console (`ps` lists processes and their limits, `events` the kernel's
 * event log), and the app upgrade path (image/ms_upgrade.h): the W25Q NOR on SPI1 (/CS PA4)
 * holds the upgrade journal and slots, the shell's `upgrade <file>` receives a new image over
 * YMODEM, and the loader's start report confirms an app on trial or restarts into the
 * bootloader's rollback.
 */
#include "bsp.h"
#include "ms_image.h"
#include "ms_loader.h"
#include "ms_flashfs.h"
#include "ms_nor.h"
#include "ms_upgrade.h"
#include "ms_rtos.h"
#include "shell.h"

#define POOL_SIZE (32u * 1024u)

extern const ms_image_hdr_t ms_header;
static uint64_t g_pool[POOL_SIZE / 8u];

/* The processes' console output is dropped while an upgrade's YMODEM transfer runs: on the
 * same line it would reach the sender between its blocks as garbage replies. */
static volatile int g_console_muted;

void ms_kputc(char c)
{
    if (!g_console_muted)
        bsp_console_putc(c);
}

#define CONSOLE_TTY "/dev/ttyS1"
#define CONSOLE_UART 1
#define NOR_SPI 1
#define NOR_CS BSP_PIN(0, 4)

/* BUSY polls as 50 us busy waits (idle NULL): the loader's report runs before the scheduler
 * starts, where there is no tick to sleep on. */
static ms_nor_t g_nor;
static int g_nor_ok;
static int nor_read(void *ctx, uint32_t a, void *b, uint32_t n) { return ms_nor_read(ctx, a, b, n); }
static int nor_prog(void *ctx, uint32_t a, const void *b, uint32_t n)
{
    return ms_nor_program(ctx, a, b, n);
}
static int nor_erase(void *ctx, uint32_t a) { return ms_nor_erase_sector(ctx, a); }
static const ms_upg_nor_t g_upg = {nor_read, nor_prog, nor_erase, &g_nor};

static void version_str(uint32_t v, char out[16])
{
    ms_snprintf(out, 16, "%u.%u.%u", (unsigned)(v >> 16), (unsigned)(v >> 8 & 0xFFu),
                (unsigned)(v & 0xFFu));
}

/* The loader's start report: an app on trial after an upgrade (journal TRYING) is confirmed
 * when it started as a process, rejected when the loader refused it; the bootloader rolls a
 * rejected one back on the restart. */
void ms_loader_started(const char *name, uint32_t image_addr, int ok)
{
    if (!g_nor_ok)
        return;
    if (ms_upg_report_start(&g_upg, image_addr, ok) != 1)
        return;
    if (!ok) {
        ms_printk("rtos: upgrade of %s rejected: restarting to roll back\n", name);
        bsp_delay_us(200);      /* polled output: the last character out of the shift register */
        bsp_reboot();
    }
    char v[16];
    version_str(((const ms_image_hdr_t *)(uintptr_t)image_addr)->version, v);
    ms_printk("rtos: upgrade of %s to %s confirmed\n", name, v);
}

/* ---- `upgrade <file>`: YMODEM on the console UART, in the shell's thread ---- */

static int uart_getc(void *ctx, uint32_t timeout_ms)
{
    (void)ctx;
    uint8_t c;
    return bsp_uart_read(CONSOLE_UART, &c, 1, timeout_ms) == 1 ? c : -1;
}

static void uart_write(void *ctx, const uint8_t *buf, uint32_t len)
{
    (void)ctx;
    bsp_uart_write(CONSOLE_UART, buf, len, 0xFFFFFFFFu);
}

static void cmd_upgrade(struct shell *sh, int argc, char **argv)
{
    if (argc != 2) {
        shell_printf(sh, "usage: upgrade <flashfs file>\n");
        return;
    }
    const char *file = argv[1];
    const void *data;
    uint32_t size;
    if (!g_nor_ok) {
        shell_printf(sh, "upgrade: no NOR flash\n");
        return;
    }
    if (ms_flashfs_find(file, &data, &size)) {
        shell_printf(sh, "upgrade: no file %s in flashfs\n", file);
        return;
    }
    shell_printf(sh, "upgrade: send the image of %s with YMODEM\n", file);
    ms_ymodem_io_t io = {uart_getc, uart_write, 0, 0, 0, 30};
    char name[MS_YMODEM_NAME_MAX];
    uint32_t got;
    int nor_error;
    g_console_muted = 1;
    int r = ms_upg_receive(&g_upg, &io, file, (uint32_t)(uintptr_t)data, size, name, &got,
                           &nor_error);
    ms_thread_sleep_ms(20);     /* the sender's last bytes, before the console talks again */
    uint8_t c;
    while (bsp_uart_read(CONSOLE_UART, &c, 1, 0) == 1)
        ;
    g_console_muted = 0;
    if (r < 0) {
        shell_printf(sh, "\nupgrade: YMODEM %s (%d)\n", ms_ymodem_result_name(r), nor_error);
        return;
    }
    shell_printf(sh, "\nupgrade: received %s, %u bytes\n", name, (unsigned)got);
    if (r) {
        shell_printf(sh, "upgrade: image refused: %s\n", r >= MS_UPG_RX_REFUSED_BASE ?
                     ms_image_check_name(r - MS_UPG_RX_REFUSED_BASE) : "NOR error");
        return;
    }
    shell_printf(sh, "upgrade: %s staged, restarting\n", file);
    bsp_uart_drain(CONSOLE_UART, 100);   /* the line out of the UART before the reset */
    bsp_reboot();
}

static const struct shell_cmd k_cmds[] = {
    {"upgrade", "upgrade <file>: receive a new image of a flashfs app over YMODEM", cmd_upgrade},
    {0, 0, 0},
};
static const struct shell_cfg k_shell = {CONSOLE_TTY, 10, 2048, k_cmds, 0};

int main(void)
{
    bsp_clock_init();
    ms_rtos_init(bsp_hclk_hz(), g_pool, sizeof g_pool);
    static const struct bsp_uart_cfg console = {115200, 8, 'N', 1, BSP_PIN_NONE};
    if (bsp_uart_open(CONSOLE_UART, &console) < 0)
        ms_panic("cannot open USART1");
    bsp_console_select(CONSOLE_UART);
    const volatile ms_image_hdr_t *h = &ms_header;
    ms_printk("\nrtos: %s %u.%u.%u, process isolation %s\n", (const char *)h->name,
              (unsigned)(h->version >> 16), (unsigned)(h->version >> 8 & 0xFFu),
              (unsigned)(h->version & 0xFFu), ms_isolation_enabled() ? "on (MPU)" : "off (no MPU)");
    int nor = bsp_spi_init(NOR_SPI, 25000000u, 0);
    if (!nor)
        nor = ms_nor_init(&g_nor, NOR_SPI, NOR_CS);
    g_nor_ok = nor == 0;
    if (!g_nor_ok)
        ms_printk("rtos: no NOR flash (%d): no upgrades\n", nor);
    int n = ms_loader_start();
    ms_printk("rtos: %d process%s started\n", n < 0 ? 0 : n, n == 1 ? "" : "es");
    int sh = shell_start(&k_shell);
    if (sh < 0)
        ms_panic("cannot start the shell (%d)", sh);
    ms_rtos_start();
}
