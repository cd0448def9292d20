/*
 * shell_demo: the metersim RTOS on the BSP. Clock to 72 MHz (STM32F103RB) or 100 MHz
 * (STM32F413RG) from the 8 MHz HSE, a banner with the clock and the reset cause on USART1
 * (115200 8N1, /dev/ttyS1), then the msh console shell on that tty and a heartbeat thread
 * blinking PA5 (the Nucleo-64 user LED) twice a second. The shell thread starts the RTC
 * (LSE) before its first prompt.
 */
#include "bsp.h"
#include "ms_rtos.h"
#include "shell.h"
#include "soc.h"

#if defined(STM32F103xB)
#define POOL_SIZE (6u * 1024u)
#define SHELL_STACK 1280u
#elif defined(STM32F103xE)
/* 48 KiB SRAM: the big kernel profile (8 KiB heap) plus a 24 KiB pool leaves room for the
 * stacks and the shell's buffers; 32 KiB overflowed the part by 1.5 KiB. */
#define POOL_SIZE (24u * 1024u)
#define SHELL_STACK 2048u
#else
#define POOL_SIZE (32u * 1024u)
#define SHELL_STACK 2048u
#endif
#if defined(__ARM_ARCH_7EM__)
#define CORE_NAME "Cortex-M4F"
#else
#define CORE_NAME "Cortex-M3"
#endif

#define LED BSP_PIN(0, 5)

static uint64_t g_pool[POOL_SIZE / 8u];
static volatile uint32_t g_beats;

void ms_kputc(char c) { bsp_console_putc(c); }

static void heartbeat(void *arg)
{
    (void)arg;
    bsp_pin_config(LED, BSP_PIN_OUTPUT, 0);
    for (;;) {
        bsp_pin_write(LED, (int)(g_beats & 1u));
        g_beats++;
        ms_thread_sleep_ms(250);
    }
}

static void shell_init(struct shell *sh)
{
    int r = bsp_rtc_init();
    if (r < 0)
        shell_printf(sh, "rtc: LSE did not start (%d)\n", r);
}

static const struct shell_cfg k_shell = {"/dev/ttyS1", 10, SHELL_STACK, 0, shell_init};

int main(void)
{
    int clk = bsp_clock_init();
    uint32_t cause = bsp_reset_cause();
    ms_rtos_init(bsp_hclk_hz(), g_pool, sizeof g_pool);
    static const struct bsp_uart_cfg console = {115200, 8, 'N', 1, BSP_PIN_NONE};
    if (bsp_uart_open(1, &console) < 0)
        ms_panic("cannot open USART1");
    bsp_console_select(1);
    ms_printk("\nmetersim shell_demo on %s (%s)\n", SOC_PART_NAME, CORE_NAME);
    ms_printk("clock: HCLK %u Hz, PCLK1 %u Hz, PCLK2 %u Hz%s\n", (unsigned)bsp_hclk_hz(),
              (unsigned)bsp_pclk1_hz(), (unsigned)bsp_pclk2_hz(),
              clk < 0 ? " (HSE/PLL failed: running on HSI)" : "");
    ms_printk("reset cause: %s (RCC_CSR 0x%08x)\n", bsp_reset_cause_name(cause), (unsigned)cause);
    if (ms_thread_create("heartbeat", heartbeat, 0, 512, 20, 0) < 0)
        ms_panic("cannot create the heartbeat thread");
    int sh = shell_start(&k_shell);
    if (sh < 0)
        ms_panic("cannot start the shell (%d)", sh);
    ms_rtos_start();
}
