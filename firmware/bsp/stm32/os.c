/*
 * Waiting for the BSP: cycle-counted busy waits (DWT CYCCNT, ARMv7-M C1.8) and, when the
 * metersim RTOS is linked and running, sleeping on its wait queues instead of spinning.
 * The RTOS symbols are weak references, so BSP programs without the RTOS link as well.
 */
#include "bsp_priv.h"
#include "ms_driver.h"

#pragma weak ms_waitq_block
#pragma weak ms_waitq_wake_all
#pragma weak ms_thread_self
#pragma weak ms_thread_sleep
#pragma weak ms_tick_get
#pragma weak ms_ms_to_ticks
#pragma weak ms_io_poll_notify

void bsp_cycles_start(void)
{
    if (!(DWT_CTRL & DWT_CTRL_CYCCNTENA))
        dwt_cyccnt_start();
}

uint32_t bsp_cycles(void) { return DWT_CYCCNT; }

uint32_t bsp_irq_lock(void) { return ms_irq_lock(); }
void bsp_irq_unlock(uint32_t s) { ms_irq_unlock(s); }

int bsp_os_can_block(void)
{
    if (!ms_waitq_block || !ms_thread_self)
        return 0;
    if (cm_get_ipsr() != 0 || cm_get_primask() != 0)
        return 0;
    return ms_thread_self() > 0;
}

void bsp_os_pause(void)
{
    if (bsp_os_can_block())
        ms_thread_sleep(1);
}

int bsp_os_block(struct bsp_waitq *wq, uint32_t timeout_ms, uint32_t primask)
{
    ms_tick_t t = timeout_ms == 0xFFFFFFFFu ? MS_WAIT_FOREVER : ms_ms_to_ticks(timeout_ms);
    if (t == 0 && timeout_ms)
        t = 1;
    return ms_waitq_block((ms_waitq_t *)wq, t, primask);
}

void bsp_os_wake_waiters(struct bsp_waitq *wq)
{
    if (ms_waitq_wake_all && wq->head)
        ms_waitq_wake_all((ms_waitq_t *)wq, 0);
}

void bsp_os_poll_notify(void)
{
    if (ms_io_poll_notify)
        ms_io_poll_notify();
}

void bsp_os_wake(struct bsp_waitq *wq)
{
    bsp_os_wake_waiters(wq);
    bsp_os_poll_notify();
}

/* Short delays spin a two-instruction loop instead of reading DWT CYCCNT: no bus access per
 * iteration (cheaper on the chip's bus matrix, and far cheaper in an emulator, where every
 * register read is a host call). The loop's cycles per iteration (flash wait states, branch
 * refill) are measured once with CYCCNT, in 1/256 cycle units. */
static uint32_t g_loop_cycles_x256;

static void spin_loops(uint32_t n)
{
    if (n)
        __asm volatile("1: subs %0, %0, #1\n\tbne 1b" : "+r"(n) : : "cc");
}

static uint32_t loop_cycles_x256(void)
{
    if (!g_loop_cycles_x256) {
        bsp_cycles_start();
        uint32_t t0 = bsp_cycles();
        spin_loops(256);
        uint32_t c = bsp_cycles() - t0;
        g_loop_cycles_x256 = c ? c : 256u;
    }
    return g_loop_cycles_x256;
}

uint32_t bsp_spin_loops_for(uint32_t cycles)
{
    uint32_t x = loop_cycles_x256();
    return (uint32_t)(((uint64_t)cycles * 256u + x - 1u) / x);
}

void bsp_spin(uint32_t loops) { spin_loops(loops); }

void bsp_delay_us(uint32_t us)
{
    if (us <= 100u) {
        /* us x HCLK / 10^6 cycles in 32 bits (no 64-bit division in a 4 us wait): the whole
         * MHz times us, then the rest's share; at most 430 000 cycles */
        uint32_t hz = bsp_hclk_hz(), x = loop_cycles_x256();
        uint32_t cycles = us * (hz / 1000000u) + us * (hz % 1000000u) / 1000000u;
        spin_loops((cycles * 256u + x - 1u) / x);
        return;
    }
    bsp_cycles_start();
    uint32_t per_us = bsp_hclk_hz() / 1000000u;
    uint32_t start = bsp_cycles();
    while (us) {
        uint32_t chunk = us > 10000u ? 10000u : us;
        while (bsp_cycles() - start < chunk * per_us)
            ;
        start += chunk * per_us;
        us -= chunk;
    }
}

int bsp_wait_bits(volatile uint32_t *reg, uint32_t mask, uint32_t want, uint32_t timeout_us,
                  int sleepy)
{
    if ((*reg & mask) == want)
        return 0;
    if (sleepy && bsp_os_can_block() && ms_tick_get) {
        /* The cycle counter stops while the core sleeps: count ticks instead. */
        ms_tick_t start = ms_tick_get();
        ms_tick_t limit = ms_ms_to_ticks((timeout_us + 999u) / 1000u) + 1u;
        while ((*reg & mask) != want) {
            if (ms_tick_get() - start > limit)
                return (*reg & mask) == want ? 0 : BSP_ERR_TIMEOUT;
            ms_thread_sleep(1);
        }
        return 0;
    }
    bsp_cycles_start();
    uint32_t per_us = bsp_hclk_hz() / 1000000u;
    if (per_us == 0)
        per_us = 1;
    uint32_t start = bsp_cycles(), elapsed_us = 0;
    while ((*reg & mask) != want) {
        uint32_t d = (bsp_cycles() - start) / per_us;
        if (d) {
            elapsed_us += d;
            start += d * per_us;
        }
        if (elapsed_us >= timeout_us)
            return (*reg & mask) == want ? 0 : BSP_ERR_TIMEOUT;
    }
    return 0;
}

__attribute__((weak)) void bsp_note_node(const char *path) { (void)path; }
