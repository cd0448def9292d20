/*
 * USART driver (v1 IP, RM0008 §27 / RM0430 §26): interrupt-driven receive ring and transmit
 * ring, blocking reads/writes with timeouts on RTOS wait queues, RS-485 driver-enable, and a
 * /dev/ttyS<n> node in the RTOS IO system.
 *
 * Interrupts: RXNE (with ORE: RXNEIE covers both, §27.4) moves DR into the RX ring; TXE feeds
 * the next byte from the TX ring; when the ring is empty TXEIE is swapped for TCIE, and TC
 * (set at the end of the last stop bit, §27.3.2) releases the RS-485 DE pin and marks the
 * transmitter idle. TC is cleared by software (write 0, §27.6.1) when a new burst starts.
 * Without a running RTOS thread (start-up, interrupt handlers, interrupts masked) writes are
 * polled so console output before the scheduler starts and in panics still appears.
 */
#include <string.h>
#include "bsp_priv.h"
#include "ms_rtos.h"

#pragma weak ms_io_device_register

#if defined(STM32F103xB)
#define UART_SLOTS 2
#define RX_SIZE 128u
#define TX_SIZE 128u
#else
#define UART_SLOTS 4
#define RX_SIZE 256u
#define TX_SIZE 256u
#endif

struct uart {
    bsp_usart_regs_t *r;
    int n, irqn;
    bsp_pin_t de;
    volatile uint16_t rx_head, rx_tail, tx_head, tx_tail;
    volatile uint8_t tx_active;
    uint8_t rx[RX_SIZE];
    uint8_t tx[TX_SIZE];
    struct bsp_waitq rx_wq, tx_wq;
    volatile uint32_t overruns, dropped, rx_errors;
    char path[12];
};

static struct uart g_uarts[UART_SLOTS];
static int g_console = -1;

static struct uart *find(int n)
{
    for (int i = 0; i < UART_SLOTS; i++)
        if (g_uarts[i].r && g_uarts[i].n == n)
            return &g_uarts[i];
    return 0;
}

static unsigned rx_count(const struct uart *u) { return (uint16_t)(u->rx_head - u->rx_tail); }
static unsigned tx_count(const struct uart *u) { return (uint16_t)(u->tx_head - u->tx_tail); }

/* ---- interrupt handler ---- */
static void uart_isr(struct uart *u)
{
    bsp_usart_regs_t *r = u->r;
    uint32_t sr = r->SR;
    int wake_rx = 0, wake_tx = 0;
    if (sr & (BSP_USART_SR_RXNE | BSP_USART_SR_ORE)) {
        uint8_t b = (uint8_t)r->DR;             /* SR then DR: clears RXNE, ORE, FE, NF, PE */
        if (sr & BSP_USART_SR_ORE)
            u->overruns++;
        if (sr & (BSP_USART_SR_FE | BSP_USART_SR_NF | BSP_USART_SR_PE))
            u->rx_errors++;
        if (rx_count(u) < RX_SIZE) {
            u->rx[u->rx_head % RX_SIZE] = b;
            u->rx_head++;
        } else {
            u->dropped++;
        }
        wake_rx = 1;
    }
    uint32_t cr1 = r->CR1;
    if ((cr1 & BSP_USART_CR1_TXEIE) && (r->SR & BSP_USART_SR_TXE)) {
        if (tx_count(u)) {
            r->DR = u->tx[u->tx_tail % TX_SIZE];
            u->tx_tail++;
            wake_tx = 1;
        }
        if (!tx_count(u))
            r->CR1 = (cr1 & ~BSP_USART_CR1_TXEIE) | BSP_USART_CR1_TCIE;
        cr1 = r->CR1;
    }
    if ((cr1 & BSP_USART_CR1_TCIE) && (r->SR & BSP_USART_SR_TC)) {
        r->CR1 = cr1 & ~BSP_USART_CR1_TCIE;
        if (!tx_count(u)) {
            if (u->de != BSP_PIN_NONE)
                bsp_pin_write(u->de, 0);       /* after the last stop bit */
            u->tx_active = 0;
            wake_tx = 1;
        } else {
            r->CR1 |= BSP_USART_CR1_TXEIE;
        }
    }
    if (wake_rx)
        bsp_os_wake(&u->rx_wq);
    if (wake_tx)
        bsp_os_wake(&u->tx_wq);
}

#define UART_HANDLER(name, num)                 \
    void name##_IRQHandler(void);               \
    void name##_IRQHandler(void)                \
    {                                           \
        struct uart *u = find(num);             \
        if (u)                                  \
            uart_isr(u);                        \
        else                                    \
            nvic_disable(name##_IRQn);          \
    }
UART_HANDLER(USART1, 1)
UART_HANDLER(USART2, 2)
UART_HANDLER(USART3, 3)
#if defined(SOC_FAMILY_STM32F4)
UART_HANDLER(USART6, 6)
#endif

/* ---- IO system node ---- */
static int tty_open(void *ctx, ms_file_t *f, int flags) { (void)ctx; (void)f; (void)flags; return 0; }
static int tty_close(void *ctx, ms_file_t *f) { (void)ctx; (void)f; return 0; }
static int tty_read(void *ctx, ms_file_t *f, void *buf, size_t len)
{
    struct uart *u = ctx;
    int nb = f->flags & O_NONBLOCK;
    int r = bsp_uart_read(u->n, buf, (unsigned)len, nb ? 0u : 0xFFFFFFFFu);
    return (r == 0 && nb && len) ? MS_ERR_AGAIN : r;
}
static int tty_write(void *ctx, ms_file_t *f, const void *buf, size_t len)
{
    struct uart *u = ctx;
    return bsp_uart_write(u->n, buf, (unsigned)len, (f->flags & O_NONBLOCK) ? 0u : 0xFFFFFFFFu);
}
static int tty_ioctl(void *ctx, ms_file_t *f, int cmd, void *arg)
{
    struct uart *u = ctx;
    (void)f;
    if (cmd == MS_IOCTL_FIONREAD && arg) {
        *(int *)arg = (int)rx_count(u);
        return 0;
    }
    return MS_ERR_INVAL;
}
static int tty_poll(void *ctx, ms_file_t *f, int events)
{
    struct uart *u = ctx;
    (void)f;
    int ready = 0;
    if (rx_count(u))
        ready |= MS_POLLIN;
    if (tx_count(u) < TX_SIZE)
        ready |= MS_POLLOUT;
    return ready & (events | MS_POLLERR | MS_POLLHUP);
}
static const ms_io_dev_ops_t g_tty_ops = {tty_open, tty_close, tty_read, tty_write, tty_ioctl, tty_poll};

/* ---- API ---- */
int bsp_uart_open(int n, const struct bsp_uart_cfg *cfg)
{
    if (!cfg || !cfg->baud)
        return BSP_ERR_INVAL;
    uint32_t cr1 = BSP_USART_CR1_UE | BSP_USART_CR1_TE | BSP_USART_CR1_RE | BSP_USART_CR1_RXNEIE;
    char par = cfg->parity;
    if (par == 'E' || par == 'e' || par == 'O' || par == 'o') {
        cr1 |= BSP_USART_CR1_PCE | ((par == 'O' || par == 'o') ? BSP_USART_CR1_PS : 0u);
        if (cfg->data_bits == 8)
            cr1 |= BSP_USART_CR1_M;            /* 8 data + parity = 9-bit word */
        else if (cfg->data_bits != 7)
            return BSP_ERR_INVAL;
    } else if (par == 'N' || par == 'n' || par == 0) {
        if (cfg->data_bits == 9)
            cr1 |= BSP_USART_CR1_M;
        else if (cfg->data_bits != 8)
            return BSP_ERR_INVAL;
    } else {
        return BSP_ERR_INVAL;
    }
    uint32_t stop;
    switch (cfg->stop_bits) {
    case 1: stop = 0; break;
    case 2: stop = 2; break;
    default: return BSP_ERR_INVAL;
    }
    struct uart *u = find(n);
    if (!u) {
        for (int i = 0; i < UART_SLOTS && !u; i++)
            if (!g_uarts[i].r)
                u = &g_uarts[i];
        if (!u)
            return BSP_ERR_NOMEM;
    }
    bsp_usart_regs_t *r;
    int irqn;
    uint32_t pclk;
    int err = bsp_fam_uart(n, &r, &irqn, &pclk);
    if (err)
        return err;
    nvic_disable(irqn);
    r->CR1 = 0;
    memset(u, 0, sizeof *u);
    u->n = n;
    u->irqn = irqn;
    u->de = cfg->rs485_de;
    if (u->de != BSP_PIN_NONE) {
        bsp_pin_write(u->de, 0);
        bsp_pin_config(u->de, BSP_PIN_OUTPUT, 0);
    }
    r->BRR = (pclk + cfg->baud / 2u) / cfg->baud;   /* OVER16: USARTDIV x 16 */
    r->CR2 = stop << BSP_USART_CR2_STOP_POS;
    r->CR3 = 0;
    (void)r->SR;
    (void)r->DR;
    u->r = r;
    r->CR1 = cr1;
    nvic_set_priority(irqn, BSP_IRQ_PRIO_UART);
    nvic_clear_pending(irqn);
    nvic_enable(irqn);
    u->path[0] = 0;
    if (ms_io_device_register) {
        static const char pre[] = "/dev/ttyS";
        memcpy(u->path, pre, sizeof pre - 1);
        unsigned i = sizeof pre - 1;
        if (n >= 10)
            u->path[i++] = (char)('0' + n / 10);
        u->path[i++] = (char)('0' + n % 10);
        u->path[i] = 0;
        int rr = ms_io_device_register(u->path, &g_tty_ops, u);
        if (rr == 0)
            bsp_note_node(u->path);
        else if (rr != MS_ERR_EXIST)
            return rr;
    }
    return 0;
}

/* Polled transmit (no thread to sleep): drain the ring, then send buf directly. */
static void write_polled(struct uart *u, const uint8_t *p, unsigned len)
{
    bsp_usart_regs_t *r = u->r;
    uint32_t s = bsp_irq_lock();
    r->CR1 &= ~(BSP_USART_CR1_TXEIE | BSP_USART_CR1_TCIE);
    if (u->de != BSP_PIN_NONE)
        bsp_pin_write(u->de, 1);
    while (tx_count(u)) {
        bsp_wait_bits(&r->SR, BSP_USART_SR_TXE, BSP_USART_SR_TXE, 10000u, 0);
        r->DR = u->tx[u->tx_tail % TX_SIZE];
        u->tx_tail++;
    }
    for (unsigned i = 0; i < len; i++) {
        bsp_wait_bits(&r->SR, BSP_USART_SR_TXE, BSP_USART_SR_TXE, 10000u, 0);
        r->DR = p[i];
    }
    if (u->de != BSP_PIN_NONE) {
        bsp_wait_bits(&r->SR, BSP_USART_SR_TC, BSP_USART_SR_TC, 10000u, 0);
        bsp_pin_write(u->de, 0);
    }
    u->tx_active = 0;
    bsp_irq_unlock(s);
}

int bsp_uart_write(int n, const void *buf, unsigned len, uint32_t timeout_ms)
{
    struct uart *u = find(n);
    if (!u)
        return BSP_ERR_NODEV;
    const uint8_t *p = buf;
    if (!bsp_os_can_block()) {
        write_polled(u, p, len);
        return (int)len;
    }
    unsigned done = 0;
    uint32_t start = ms_tick_get();
    while (done < len) {
        uint32_t s = bsp_irq_lock();
        if (!u->tx_active) {
            if (u->de != BSP_PIN_NONE)
                bsp_pin_write(u->de, 1);       /* driver on before the start bit */
            u->r->SR = ~BSP_USART_SR_TC;       /* rc_w0: a fresh TC marks this burst's end */
            u->tx_active = 1;
        }
        while (done < len && tx_count(u) < TX_SIZE) {
            u->tx[u->tx_head % TX_SIZE] = p[done++];
            u->tx_head++;
        }
        u->r->CR1 |= BSP_USART_CR1_TXEIE;
        if (done == len) {
            bsp_irq_unlock(s);
            break;
        }
        uint32_t waited = (ms_tick_get() - start) * 1000u / MS_TICK_HZ;
        if (timeout_ms != 0xFFFFFFFFu && waited >= timeout_ms) {
            bsp_irq_unlock(s);
            break;
        }
        int r = bsp_os_block(&u->tx_wq, timeout_ms == 0xFFFFFFFFu ? timeout_ms : timeout_ms - waited, s);
        if (r < 0 && r != MS_ERR_TIMEOUT)
            return done ? (int)done : r;
    }
    return (int)done;
}

int bsp_uart_drain(int n, uint32_t timeout_ms)
{
    struct uart *u = find(n);
    if (!u)
        return BSP_ERR_NODEV;
    if (!bsp_os_can_block()) {
        bsp_cycles_start();
        uint32_t per_ms = bsp_hclk_hz() / 1000u, t0 = bsp_cycles(), ms = 0;
        while (u->tx_active) {
            if (bsp_cycles() - t0 >= per_ms) {
                t0 += per_ms;
                if (++ms >= timeout_ms)
                    return BSP_ERR_TIMEOUT;
            }
        }
        return 0;
    }
    uint32_t s = bsp_irq_lock();
    while (u->tx_active) {
        int r = bsp_os_block(&u->tx_wq, timeout_ms, s);
        if (r == MS_ERR_TIMEOUT)
            return BSP_ERR_TIMEOUT;
        s = bsp_irq_lock();
    }
    bsp_irq_unlock(s);
    return 0;
}

int bsp_uart_read(int n, void *buf, unsigned len, uint32_t timeout_ms)
{
    struct uart *u = find(n);
    if (!u)
        return BSP_ERR_NODEV;
    if (!len)
        return 0;
    int can_block = bsp_os_can_block();       /* before masking interrupts */
    uint32_t s = bsp_irq_lock();
    if (!rx_count(u) && timeout_ms) {
        if (can_block) {
            uint32_t start = ms_tick_get();
            while (!rx_count(u)) {
                uint32_t waited = (ms_tick_get() - start) * 1000u / MS_TICK_HZ;
                if (timeout_ms != 0xFFFFFFFFu && waited >= timeout_ms)
                    break;
                int r = bsp_os_block(&u->rx_wq, timeout_ms == 0xFFFFFFFFu ? timeout_ms : timeout_ms - waited, s);
                s = bsp_irq_lock();
                if (r < 0 && r != MS_ERR_TIMEOUT) {
                    bsp_irq_unlock(s);
                    return r;
                }
            }
        } else {
            bsp_irq_unlock(s);
            bsp_cycles_start();
            uint32_t per_ms = bsp_hclk_hz() / 1000u, t0 = bsp_cycles(), ms = 0;
            while (!rx_count(u) && (timeout_ms == 0xFFFFFFFFu || ms < timeout_ms)) {
                if (bsp_cycles() - t0 >= per_ms) {
                    t0 += per_ms;
                    ms++;
                }
            }
            s = bsp_irq_lock();
        }
    }
    unsigned got = 0;
    uint8_t *p = buf;
    while (got < len && rx_count(u)) {
        p[got++] = u->rx[u->rx_tail % RX_SIZE];
        u->rx_tail++;
    }
    bsp_irq_unlock(s);
    return (int)got;
}

int bsp_uart_stats(int n, uint32_t *overruns, uint32_t *dropped, uint32_t *errors)
{
    struct uart *u = find(n);
    if (!u)
        return BSP_ERR_NODEV;
    if (overruns)
        *overruns = u->overruns;
    if (dropped)
        *dropped = u->dropped;
    if (errors)
        *errors = u->rx_errors;
    return 0;
}

void bsp_console_select(int n) { g_console = n; }

void bsp_console_putc(char c)
{
    if (g_console < 0)
        return;
    if (c == '\n')
        bsp_console_putc('\r');
    struct uart *u = find(g_console);
    if (!u)
        return;
    if (bsp_os_can_block())
        bsp_uart_write(g_console, &c, 1, 0xFFFFFFFFu);
    else
        write_polled(u, (const uint8_t *)&c, 1);
}
