/*
 * The management unit's RTOS image (linked at 0x08008000 behind its image header, started by
 * the bootloader, docs/meter_flash_layout.md): the metersim kernel with MPU isolation, the
 * BSP's console on USART1 (/dev/ttyS1), the loader starting the services and apps that
 * start.par lists from flashfs, each an unprivileged process in its own RAM window, and the
 * msh shell on the console (`ps` lists processes and their limits, `events` the kernel's
 * event log).
 */
#include "bsp.h"
#include "ms_image.h"
#include "ms_loader.h"
#include "ms_rtos.h"
#include "shell.h"

#define POOL_SIZE (32u * 1024u)

extern const ms_image_hdr_t ms_header;
static uint64_t g_pool[POOL_SIZE / 8u];

void ms_kputc(char c) { bsp_console_putc(c); }

static const struct shell_cfg k_shell = {"/dev/ttyS1", 10, 2048, 0, 0};

int main(void)
{
    bsp_clock_init();
    ms_rtos_init(bsp_hclk_hz(), g_pool, sizeof g_pool);
    static const struct bsp_uart_cfg console = {115200, 8, 'N', 1, BSP_PIN_NONE};
    if (bsp_uart_open(1, &console) < 0)
        ms_panic("cannot open USART1");
    bsp_console_select(1);
    const volatile ms_image_hdr_t *h = &ms_header;
    ms_printk("\nrtos: %s %u.%u.%u, process isolation %s\n", (const char *)h->name,
              (unsigned)(h->version >> 16), (unsigned)(h->version >> 8 & 0xFFu),
              (unsigned)(h->version & 0xFFu), ms_isolation_enabled() ? "on (MPU)" : "off (no MPU)");
    int n = ms_loader_start();
    ms_printk("rtos: %d process%s started\n", n < 0 ? 0 : n, n == 1 ? "" : "es");
    int sh = shell_start(&k_shell);
    if (sh < 0)
        ms_panic("cannot start the shell (%d)", sh);
    ms_rtos_start();
}
