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
 *
 * Framing (bsp_uart_set_framing, for Modbus RTU; on USART2/3 and the F4's UART5 by DMA
 * instead, see "Framing by DMA" below): a one-pulse timer restarts at each received byte (a CNT write); its compare marks the "broken" silence, its update (which stops it)
 * the end of the frame. Both interrupt, and the timer's handler, above the USART's in
 * priority, notes them in RAM: once the RXNE handler has restarted the count, any compare
 * or update before the restart has been noted (a pending timer interrupt is taken first,
 * one that comes during the handler preempts it), so a received byte costs SR, DR and the
 * CNT write, not a timer flag read as well (frames on the cabinet bus are 20 characters on
 * average; the compare costs one interrupt per frame). The handler flags the byte in a
 * parallel ring: first byte of a frame, or a byte after a silence that breaks its frame.
 * The reader splits the ring at those flags, so a frame is ended by the next one exactly
 * even when the reading thread wakes late; the timer's update interrupt wakes it to end the
 * last frame of a burst. The timer keeps counting while the core sleeps (unlike the DWT
 * cycle counter).
 *
 * Who is woken, and when (a wake-up costs a context switch and a tick reading in the thread,
 * and every byte of an RS-485 bus reaches every node on it, most of them for another node):
 * - a thread blocked for any byte (bsp_uart_read) sleeps only on an empty RX ring and is
 *   counted in rx_wait_byte: while that count is non-zero every byte wakes, i.e. the byte
 *   that makes the ring non-empty;
 * - a thread waiting for a frame (bsp_uart_read_frame, counted in rx_wait_frame), whether it
 *   holds part of one or nothing yet, is woken by the silence timer's update (end of the
 *   frame) and by the ring reaching half full, so it empties the ring long before a byte
 *   could be dropped; the bytes in between only go into the ring, flagged, and the reader
 *   splits them by their flags when it runs: one wake-up per frame, not one more for its
 *   first byte. The update's handler runs before any byte after it is flagged RXF_START,
 *   so that byte need not wake anyone. A guard timeout while holding part of a frame (half a
 *   ring of characters + start_us + 2 ms: no legitimate sleep within a frame is longer)
 *   still bounds the wait should a wake-up ever be missed; a first byte that comes late in
 *   the caller's timeout is seen when the timeout wakes the thread, which then waits for
 *   the end of that frame;
 * - select()/poll() on the tty: readiness changes only when the RX ring becomes non-empty
 *   (POLLIN) or the TX ring stops being full (POLLOUT), and only then is the IO system told
 *   (ms_io_poll_notify re-polls every thread in select);
 * - transmit: a writer blocks only on a full TX ring and is woken when half of it is free
 *   (it then refills it in one go, instead of one byte per TXE interrupt); bsp_uart_drain is
 *   woken at TC, the end of the burst.
 * A thread that blocks bumps its counter with interrupts locked and blocks atomically, so no
 * wake-up it needs can fall between its last look at the ring and its sleep.
 */
#include <string.h>
#include "bsp_priv.h"
#include "ms_rtos.h"

#pragma weak ms_io_device_register

/* DMA (framing by DMA, or the DMA mode of bsp_uart_dma): the F1's channel DMA (RM0008 §13)
 * and the F4's stream DMA (RM0430 §9), both DMA1; see "Framing by DMA" below. */
#define UART_DMA 1

#if defined(STM32F103xB)
#define UART_SLOTS 2
#define RX_SIZE 128u
#define TX_SIZE 128u
#else
#define UART_SLOTS 4
#define RX_SIZE 256u
#define TX_SIZE 256u
#endif

#if UART_DMA
/* The two DMA controllers as this driver uses them: a circular receive channel over rx[] with
 * half and complete interrupts, and a normal send channel with its complete interrupt. A
 * channel is numbered from 1: the F1's channel x (RM0008 Table 78), the F4's stream x - 1
 * (RM0430 Table 30, the request channels in rx_sel/tx_sel). 0: the USART has no DMA here. */
#if defined(SOC_FAMILY_STM32F1)
typedef dma_ch_t dma_chan_t;
#define CH_CTRL CCR
#define CH_COUNT CNDTR
#define CH_PER CPAR
#define CH_MEM CMAR
#define CH_EN DMA_CCR_EN
#define CH_TCIF DMA_ISR_TCIF
#define CH_TEIF DMA_ISR_TEIF
#define CH_RX_MODE (DMA_CCR_MINC | DMA_CCR_CIRC | DMA_CCR_HTIE | DMA_CCR_TCIE | DMA_CCR_EN)
#define CH_TX_MODE (DMA_CCR_DIR | DMA_CCR_MINC | DMA_CCR_TCIE | DMA_CCR_EN)
static const uint8_t k_dma_ch[4][3] = {{0, 0, 0}, {0, 0, 0}, {6, 7, 0}, {3, 2, 0}};   /* RX, TX, - */
#define DMA_EN_CLOCK() (RCC->AHBENR |= RCC_AHBENR_DMA1EN)
static inline dma_chan_t *dma_chan(unsigned k) { return &DMA1->CH[k - 1u]; }
static inline int dma_irqn(unsigned k) { return DMA1_Channel1_IRQn + (int)k - 1; }
/* The channel's flags (TCIF, HTIF, TEIF), cleared */
static inline uint32_t dma_flags_take(unsigned k)
{
    uint32_t f = (DMA1->ISR >> DMA_ISR_SHIFT(k)) & 0xFu;
    DMA1->IFCR = 0xFu << DMA_ISR_SHIFT(k);
    return f;
}
#else
typedef dma_stream_t dma_chan_t;
#define CH_CTRL CR
#define CH_COUNT NDTR
#define CH_PER PAR
#define CH_MEM M0AR
#define CH_EN DMA_SCR_EN
#define CH_TCIF DMA_SISR_TCIF
#define CH_TEIF DMA_SISR_TEIF
#define CH_RX_MODE (DMA_SCR_MINC | DMA_SCR_CIRC | DMA_SCR_HTIE | DMA_SCR_TCIE | DMA_SCR_EN)
#define CH_TX_MODE (DMA_SCR_DIR_M2P | DMA_SCR_MINC | DMA_SCR_TCIE | DMA_SCR_EN)
/* RX stream + 1, TX stream + 1, RX channel, TX channel (RM0430 Table 30, the F413's DMA1):
 * USART2 S5 C4 / S6 C4, USART3 S1 C4 / S3 C4, UART5 S0 C4 / S7 C8 (the F413 moved UART5_TX
 * to channel 8; RM0090's F405 has it on channel 4) */
static const uint8_t k_dma_ch[6][4] = {{0, 0, 0, 0}, {0, 0, 0, 0}, {6, 7, 4, 4}, {2, 4, 4, 4},
                                       {0, 0, 0, 0}, {1, 8, 4, 8}};
#define DMA_EN_CLOCK() (RCC->AHB1ENR |= RCC_AHB1ENR_DMA1EN)
static inline dma_chan_t *dma_chan(unsigned k) { return &DMA1->S[k - 1u]; }
static inline int dma_irqn(unsigned k) { return k < 8u ? DMA1_Stream0_IRQn + (int)k - 1 : DMA1_Stream7_IRQn; }
static inline uint32_t dma_flags_take(unsigned k)
{
    unsigned x = k - 1u, at = DMA_SISR_SHIFT(x);
    uint32_t f = (DMA1->ISR[x >> 2] >> at) & DMA_SISR_ALL;
    DMA1->IFCR[x >> 2] = DMA_SISR_ALL << at;
    return f;
}
#endif
#define DMA_PORTS (sizeof k_dma_ch / sizeof k_dma_ch[0])
/* Port n's DMA channels (RX, TX) and request channel, or 0 */
static inline const uint8_t *dma_port(int n)
{
    return (unsigned)n < DMA_PORTS && k_dma_ch[n][0] ? k_dma_ch[n] : 0;
}
#endif

struct uart {
    usart_regs_t *r;
    int n, irqn;
    bsp_pin_t de;
    volatile uint16_t rx_head, rx_tail, tx_head, tx_tail;
    volatile uint8_t tx_active;
    uint8_t rx[RX_SIZE];
    uint8_t tx[TX_SIZE];
    struct bsp_waitq rx_wq, tx_wq;
    volatile uint32_t overruns, dropped, rx_errors;
    uint32_t cr1;                       /* what CR1 holds: only this driver writes it */
    uint32_t char_us;                   /* one character on the wire */
    tim_regs_t *ftim;               /* framing: the silence timer (NULL = off) */
    uint32_t start_us;                  /* framing: RXNE to RXNE across a frame's end */
    volatile uint8_t rx_idle;           /* the line went quiet: the next byte starts a frame */
    volatile uint8_t rx_broken;         /* the silence since the last byte breaks its frame */
    uint8_t rx_carry;                   /* flags of a dropped byte, passed to the next one */
    volatile uint8_t rx_wait_byte;      /* threads blocked until any byte is in the ring */
    volatile uint8_t rx_wait_frame;     /* threads blocked until a frame ends */
    uint8_t rxf[RX_SIZE];               /* per received byte: RXF_* */
    char path[12];
#if UART_DMA
    /* DMA mode (framing on, see "Framing by DMA"); rxc = 0: interrupt mode */
    dma_chan_t *rxc, *txc;              /* the receive (circular over rx[]) and send channels */
    uint8_t rx_ch, tx_ch;               /* their numbers, from 1 (F1 channel, F4 stream + 1) */
    uint16_t rx_dma_pos;                /* the receive channel's index in rx[] at the last sync */
    uint16_t rx_mark;                   /* rx_head when the silence timer started */
    uint16_t rx_ended;                  /* rx_head at the last end of frame */
    uint16_t tx_run, tx_run_done;       /* the send channel's run, and how much of it is in tx_tail */
    uint32_t idle_us;                   /* from a byte's RXNE to the IDLE after it */
#if defined(SOC_FAMILY_STM32F4)
    uint8_t rx_sel, tx_sel;             /* the request channels (SxCR's CHSEL) of RX and TX */
#define DMA_RX_SEL(u) DMA_SCR_CHSEL((u)->rx_sel)
#define DMA_TX_SEL(u) DMA_SCR_CHSEL((u)->tx_sel)
#else
#define DMA_RX_SEL(u) 0u
#define DMA_TX_SEL(u) 0u
#endif
#endif
};

#define RXF_START 1u
#define RXF_BROKEN 2u
#define RXF_LOST 4u

static struct uart g_uarts[UART_SLOTS];
static int g_console = -1;
/* The slot opened for each USART number: every interrupt and every read or write looks its
 * port up, so by index, inlined, not by a call that walks the slots. A slot keeps its number
 * once opened (a reopen finds the same slot); while a reopen is under way it is not found. */
#if defined(SOC_FAMILY_STM32F1)
#define UART_NUMBERS 4                  /* USART1..3 (bsp_fam_uart) */
#else
#define UART_NUMBERS 8                  /* up to USART6 on the F4 */
#endif
static uint8_t g_slot_of[UART_NUMBERS]; /* port n's slot + 1; 0: not open (bytes: RAM is tight
                                         * on the F103RB) */

static inline __attribute__((always_inline)) struct uart *find(int n)
{
    unsigned k = (unsigned)n < UART_NUMBERS ? g_slot_of[n] : 0u;
    struct uart *u = k ? &g_uarts[k - 1u] : 0;
    return u && u->r ? u : 0;
}

static unsigned rx_count(const struct uart *u) { return (uint16_t)(u->rx_head - u->rx_tail); }
static unsigned tx_count(const struct uart *u) { return (uint16_t)(u->tx_head - u->tx_tail); }

/* n bytes into or out of a ring of `size` (a power of two) from index `at`, in at most two
 * copies (up to the ring's end, then from its start), not a byte and an index update at a
 * time: a frame goes into or out of a ring in one go. */
static void ring_put(uint8_t *ring, unsigned size, uint16_t at, const uint8_t *src, unsigned n)
{
    unsigned i = at % size, first = size - i < n ? size - i : n;
    memcpy(ring + i, src, first);
    memcpy(ring, src + first, n - first);
}

static void ring_get(uint8_t *dst, const uint8_t *ring, unsigned size, uint16_t at, unsigned n)
{
    unsigned i = at % size, first = size - i < n ? size - i : n;
    memcpy(dst, ring + i, first);
    memcpy(dst + first, ring, n - first);
}

/* Has the line been silent long enough to end the frame? (framing on, interrupts locked.)
 * A thread that can block trusts rx_idle alone: the timer's handler runs above any thread,
 * and one held back by this thread's lock runs as soon as the thread blocks, counted in
 * rx_wait_frame by then, so it wakes the thread. Without blocking (interrupts masked by the
 * caller, say) the update flag is read: the one-pulse timer stops (CEN = 0) only at its
 * update, which sets UIF, and UIF is cleared only by that handler, which sets rx_idle. */
static int frame_over(struct uart *u, int can_block)
{
#if UART_DMA
    if (u->rxc)                                 /* no byte since the frame's end (t3.5) */
        return u->rx_head == u->rx_ended;
#endif
    if (u->rx_idle || (!can_block && (u->ftim->SR & TIM_SR_UIF))) {
        u->rx_idle = 1;
        return 1;
    }
    return 0;
}

#if UART_DMA
/* ---- Framing by DMA; DMA mode ----
 * With framing on, USART2 and USART3 (and UART5 on the F4) receive into rx[] by a circular
 * DMA channel (F4: stream) and send from tx[] by another (RM0008 §27.3.13, Table 78; RM0430
 * §26.3.13, Table 30): no interrupt per character. bsp_uart_dma() turns the same on without
 * framing (the metrology link): then the IDLE interrupt alone ends a burst for the readers
 * (it syncs the ring, wakes a byte reader, tells select()), and HT/TC keep the ring from
 * lapping unseen. The ring's head is where
 * the receive channel has written to (rx_sync, from CNDTR; the channel's half and complete
 * interrupts keep it from lapping unseen, and wake a frame reader once half the ring is
 * full). The silences are timed as without DMA, from each byte's RXNE, but the timer starts
 * only once the line is idle: the IDLE interrupt (one character of mark after the last byte)
 * starts it with its count preset to the time from that byte's RXNE to the IDLE (idle_us),
 * so its compare (t1.5) and update (t3.5) fall where they would have. At the compare, a byte
 * since the IDLE means a short pause inside the frame (the timer stops; the next IDLE starts
 * it again); none means that a byte before the update breaks the frame (rx_broken). At the
 * update, bytes since the IDLE are flagged RXF_BROKEN at the first of them; none ends the
 * frame: the next byte is flagged RXF_START and the frame reader is woken. A frame costs the
 * IDLE, the compare and the update interrupts, against one interrupt per byte without DMA.
 * Sending: a run of the TX ring goes out by the send channel (its transfer-complete interrupt
 * starts the next run: a ring that wraps, or bytes written meanwhile); TC (TCIE), at the last
 * stop bit, ends the burst and releases DE. Receive errors (FE, NE, ORE; PE) interrupt
 * through EIE / PEIE and flag the byte RXF_LOST. */


/* Move rx_head to where the receive channel has written (any context: locks itself). */
static void rx_sync(struct uart *u)
{
    uint32_t s = bsp_irq_lock();
    uint16_t pos = (uint16_t)((RX_SIZE - u->rxc->CH_COUNT) % RX_SIZE);
    u->rx_head = (uint16_t)(u->rx_head + (uint16_t)((pos - u->rx_dma_pos + RX_SIZE) % RX_SIZE));
    u->rx_dma_pos = pos;
    if (rx_count(u) > RX_SIZE) {                /* the channel lapped the reader: lost bytes */
        u->dropped += rx_count(u) - RX_SIZE;
        u->rx_tail = (uint16_t)(u->rx_head - RX_SIZE);
        u->rxf[u->rx_tail % RX_SIZE] |= RXF_LOST;
    }
    bsp_irq_unlock(s);
}

/* A channel off (the F4 stream stops at the end of its current transfer: EN reads 0 then),
 * its flags cleared (stopping an F4 stream sets TCIF, RM0430 §9.3.17) */
static void dma_off(dma_chan_t *c, unsigned k)
{
    c->CH_CTRL = 0;
    while (c->CH_CTRL & CH_EN)
        ;
    (void)dma_flags_take(k);
}

/* Account what the send channel has taken from the ring into tx_tail; the channel is off
 * once its run is done, or at once with `halt` (off first: no transfer after the count). */
static void tx_account(struct uart *u, int halt)
{
    dma_chan_t *c = u->txc;
    if (!u->tx_run)
        return;
    if (halt)
        dma_off(c, u->tx_ch);
    uint16_t done = (uint16_t)(u->tx_run - c->CH_COUNT);
    u->tx_tail = (uint16_t)(u->tx_tail + (uint16_t)(done - u->tx_run_done));
    u->tx_run_done = done;
    if (done == u->tx_run || halt) {
        c->CH_CTRL = 0;                         /* (the F4 stream has stopped by itself) */
        u->tx_run = 0;
    }
}

/* Account the send channel, and start its next run if it is idle and the ring holds more
 * (interrupts locked, or in a handler of this port). */
static void tx_sync(struct uart *u)
{
    tx_account(u, 0);
    unsigned n = tx_count(u), i = u->tx_tail % TX_SIZE;
    if (u->tx_run || !n)
        return;
    if (n > TX_SIZE - i)
        n = TX_SIZE - i;                        /* up to the ring's end; the rest next run */
    dma_chan_t *c = u->txc;
    c->CH_MEM = (uint32_t)(uintptr_t)&u->tx[i];
    c->CH_COUNT = n;
    u->tx_run = (uint16_t)n;
    u->tx_run_done = 0;
#if defined(SOC_FAMILY_STM32F4)
    (void)dma_flags_take(u->tx_ch);             /* cleared before a stream is enabled (§9.3.17) */
#endif
    c->CH_CTRL = CH_TX_MODE | DMA_TX_SEL(u);
}

/* The USART's interrupt in DMA mode: IDLE (start the silence timer), receive errors, TC. */
static void uart_isr_dma(struct uart *u)
{
    usart_regs_t *r = u->r;
    uint32_t sr = r->SR;
    int wake_rx = 0, wake_tx = 0;
    if (sr & (USART_SR_IDLE | USART_SR_FE | USART_SR_NE | USART_SR_ORE | USART_SR_PE)) {
        (void)r->DR;                            /* SR then DR: clears them (the data is the DMA's) */
        rx_sync(u);
        if (sr & (USART_SR_FE | USART_SR_NE | USART_SR_ORE | USART_SR_PE)) {
            if (sr & USART_SR_ORE)
                u->overruns++;
            else
                u->rx_errors++;
            /* the byte that has the error, if still unread; else the next one, same frame */
            u->rxf[(uint16_t)(u->rx_head - (rx_count(u) ? 1u : 0u)) % RX_SIZE] |= RXF_LOST;
        }
        if (sr & USART_SR_IDLE) {
            tim_regs_t *t = u->ftim;
            if (t) {                            /* framing: time the silence */
                if (u->rx_broken && u->rx_head != u->rx_mark)
                    u->rxf[u->rx_mark % RX_SIZE] |= RXF_BROKEN;   /* came after t1.5 */
                t->CR1 = 0;
                t->SR = 0;
                t->CNT = u->idle_us;            /* the silence counts from the last RXNE */
                u->rx_mark = u->rx_head;
                u->rx_broken = 0;
                t->CR1 = TIM_CR1_URS | TIM_CR1_OPM | TIM_CR1_CEN;
            }
            if (u->rx_wait_byte && rx_count(u))
                wake_rx = 1;                    /* a byte reader: at the end of each burst */
            if (rx_count(u))
                bsp_os_poll_notify();
        }
    }
    uint32_t cr1 = u->cr1;
    if ((cr1 & USART_CR1_TCIE) && (sr & USART_SR_TC)) {
        tx_sync(u);
        if (!u->tx_run) {                       /* the last stop bit of the burst */
            r->CR1 = u->cr1 = cr1 & ~USART_CR1_TCIE;
            if (u->de != BSP_PIN_NONE)
                bsp_pin_write(u->de, 0);
            u->tx_active = 0;
            wake_tx = 1;
        } else {
            r->SR = ~USART_SR_TC;               /* a late run: TC again at its end */
        }
    }
    if (wake_rx)
        bsp_os_wake_waiters(&u->rx_wq);
    if (wake_tx)
        bsp_os_wake_waiters(&u->tx_wq);
}

/* The silence timer in DMA mode (header of this section). */
static void frame_timer_dma(struct uart *u, uint32_t sr)
{
    tim_regs_t *t = u->ftim;
    rx_sync(u);
    if (u->rx_head != u->rx_mark) {             /* bytes after the silence began */
        if (u->rx_broken || (sr & TIM_SR_UIF))
            u->rxf[u->rx_mark % RX_SIZE] |= RXF_BROKEN;
        u->rx_broken = 0;
        t->CR1 = 0;                             /* the next IDLE starts it again */
        return;
    }
    if (!(sr & TIM_SR_UIF)) {
        u->rx_broken = 1;                       /* t1.5 passed: a byte now breaks the frame */
        return;
    }
    u->rx_broken = 0;
    u->rx_ended = u->rx_head;                   /* t3.5: the frame is over */
    u->rxf[u->rx_head % RX_SIZE] |= RXF_START;
    if (u->rx_wait_frame)
        bsp_os_wake_waiters(&u->rx_wq);
}

static void dma_isr(unsigned ch)
{
    uint32_t f = dma_flags_take(ch);
    for (int i = 0; i < UART_SLOTS; i++) {
        struct uart *u = &g_uarts[i];
        if (!u->r || !u->rxc)
            continue;
        if (ch == u->rx_ch) {                   /* half or whole ring written */
            rx_sync(u);
            if ((u->rx_wait_frame && rx_count(u) >= RX_SIZE / 2u) || (u->rx_wait_byte && rx_count(u)))
                bsp_os_wake_waiters(&u->rx_wq);
        } else if (ch == u->tx_ch && (f & (CH_TCIF | CH_TEIF))) {
            unsigned had = tx_count(u);
            tx_sync(u);                         /* the run's bytes are in DR: the next run */
            if (tx_count(u) < had && u->tx_wq.head)
                bsp_os_wake_waiters(&u->tx_wq); /* room for a blocked writer */
            if (had == TX_SIZE)
                bsp_os_poll_notify();           /* writable again */
        }
    }
}

#define DMA_HANDLER(name, k)                    \
    void name##_IRQHandler(void);               \
    void name##_IRQHandler(void) { dma_isr(k); }
#if defined(SOC_FAMILY_STM32F1)
/* USART2 and USART3 only: USART1's channels 4 and 5 are SPI2's too (RM0008 Table 78), which
 * the query manager's TFT uses; a USART1 with framing stays with an interrupt per byte. */
DMA_HANDLER(DMA1_Channel2, 2)
DMA_HANDLER(DMA1_Channel3, 3)
DMA_HANDLER(DMA1_Channel6, 6)
DMA_HANDLER(DMA1_Channel7, 7)
#else
/* USART2, USART3 and UART5 (USART1 and USART6 are on DMA2: not used) */
DMA_HANDLER(DMA1_Stream0, 1)
DMA_HANDLER(DMA1_Stream1, 2)
DMA_HANDLER(DMA1_Stream3, 4)
DMA_HANDLER(DMA1_Stream5, 6)
DMA_HANDLER(DMA1_Stream6, 7)
DMA_HANDLER(DMA1_Stream7, 8)
#endif

/* Framing on: receive and send by DMA from now (interrupts locked by the caller). Bytes
 * still unread are dropped: the channel fills the ring from its start. */
static void dma_start(struct uart *u)
{
    usart_regs_t *r = u->r;
    const uint8_t *port = dma_port(u->n);
    unsigned rx = port[0], tx = port[1];
    DMA_EN_CLOCK();
    u->rxc = dma_chan(rx);
    u->txc = dma_chan(tx);
    u->rx_ch = (uint8_t)rx;
    u->tx_ch = (uint8_t)tx;
#if defined(SOC_FAMILY_STM32F4)
    u->rx_sel = port[2];
    u->tx_sel = port[3];
#endif
    r->CR1 = u->cr1 &= ~(USART_CR1_RXNEIE | USART_CR1_TXEIE);
    dma_off(u->rxc, rx);
    dma_off(u->txc, tx);
    u->rx_head = u->rx_tail = 0;
    u->rx_dma_pos = u->rx_mark = u->rx_ended = 0;
    memset(u->rxf, 0, sizeof u->rxf);
    u->rxf[0] = RXF_START;
    u->rxc->CH_PER = (uint32_t)(uintptr_t)&r->DR;
    u->rxc->CH_MEM = (uint32_t)(uintptr_t)u->rx;
    u->rxc->CH_COUNT = RX_SIZE;
    u->rxc->CH_CTRL = CH_RX_MODE | DMA_RX_SEL(u);
    u->txc->CH_PER = (uint32_t)(uintptr_t)&r->DR;
    u->tx_run = u->tx_run_done = 0;
    (void)r->SR;
    (void)r->DR;                                /* a byte from before: not the channel's */
    r->CR3 = USART_CR3_DMAR | USART_CR3_DMAT | USART_CR3_EIE;
    uint32_t cr1 = u->cr1 | USART_CR1_IDLEIE | USART_CR1_PEIE;
    if (u->tx_active)
        cr1 |= USART_CR1_TCIE;                  /* a burst under way goes on by DMA */
    r->CR1 = u->cr1 = cr1;
    tx_sync(u);
    for (unsigned i = 0; i < 2; i++) {
        int irqn = dma_irqn(i ? tx : rx);
        nvic_set_priority(irqn, BSP_IRQ_PRIO_UART);
        nvic_clear_pending(irqn);
        nvic_enable(irqn);
    }
}

/* Framing off: back to the interrupt per character (interrupts locked by the caller). */
static void dma_stop(struct uart *u)
{
    usart_regs_t *r = u->r;
    tx_account(u, 1);                           /* what it has not sent goes by interrupt */
    rx_sync(u);
    dma_off(u->rxc, u->rx_ch);
    dma_off(u->txc, u->tx_ch);
    u->rxc = u->txc = 0;
    r->CR3 = 0;
    uint32_t cr1 = (u->cr1 & ~(USART_CR1_IDLEIE | USART_CR1_PEIE)) | USART_CR1_RXNEIE;
    if (u->tx_active)
        cr1 = (cr1 & ~USART_CR1_TCIE) | USART_CR1_TXEIE;
    r->CR1 = u->cr1 = cr1;
}
#endif

/* Bytes in the ring; in DMA mode as far as the receive channel has written them. */
static unsigned rx_avail(struct uart *u)
{
#if UART_DMA
    if (u->rxc)
        rx_sync(u);
#endif
    return rx_count(u);
}

/* ---- interrupt handler ---- */
static void uart_isr(struct uart *u)
{
    usart_regs_t *r = u->r;
    uint32_t sr = r->SR;
    int wake_rx = 0, wake_tx = 0, poll = 0;
    if (sr & (USART_SR_RXNE | USART_SR_ORE)) {
        uint8_t b = (uint8_t)r->DR;             /* SR then DR: clears RXNE, ORE, FE, NF, PE */
        uint8_t f = u->rx_carry;
        if (sr & USART_SR_ORE) {
            u->overruns++;
            f |= RXF_LOST;                      /* a byte before this one was lost */
        }
        if (sr & (USART_SR_FE | USART_SR_NE | USART_SR_PE)) {
            u->rx_errors++;
            f |= RXF_LOST;                      /* this byte is not what was sent */
        }
        tim_regs_t *t = u->ftim;
        if (t) {
            /* Restart the silence count: within a frame the timer is running and a CNT
             * write alone restarts it (no update or compare can come for CCR1 counts after
             * it). By the next instruction the timer's handler has noted every compare and
             * update before the write (header comment): rx_broken and rx_idle are those of
             * the silence before this byte. An update (end of frame) stopped the timer,
             * which then needs CEN again (it stopped at 0). */
            t->CNT = 0;
            if (u->rx_idle) {
                f |= RXF_START;
                t->CR1 = TIM_CR1_URS | TIM_CR1_OPM | TIM_CR1_CEN;
            } else if (u->rx_broken) {
                f |= RXF_BROKEN;
            }
            u->rx_idle = 0;
            u->rx_broken = 0;
        }
        unsigned had = rx_count(u);
        if (had < RX_SIZE) {
            u->rx[u->rx_head % RX_SIZE] = b;
            u->rxf[u->rx_head % RX_SIZE] = f;
            u->rx_head++;
            u->rx_carry = 0;
        } else {
            u->dropped++;
            u->rx_carry = (uint8_t)(f | RXF_LOST);
        }
        if (!had)
            poll = 1;                           /* the tty became readable */
        /* the wake rule (header comment): any byte for a byte waiter; a half-full ring for
         * a frame waiter */
        if (u->rx_wait_byte || (u->rx_wait_frame && had + 1u >= RX_SIZE / 2u))
            wake_rx = 1;
    }
    /* TXEIE and TCIE are only ever set while tx_active (bsp_uart_write sets it first; TC and
     * write_polled clear both before clearing it). CR1 is this driver's own (u->cr1), and the
     * SR read above serves the transmitter too: TXE does not clear by itself, TC cannot be
     * set after a DR write in this handler, and a flag set since raises the (level)
     * interrupt again. So a transmitted byte costs SR and DR; only after a DR read here (a
     * received byte in the same call) is SR read again, as SR then DR is also what clears
     * a stale TC (an underrun) when the next byte is written. */
    uint32_t cr1 = u->cr1;
    int wrote = 0;
    if ((cr1 & USART_CR1_TXEIE) && (sr & (USART_SR_RXNE | USART_SR_ORE)))
        sr = r->SR;
    if ((cr1 & USART_CR1_TXEIE) && (sr & USART_SR_TXE)) {
        unsigned had = tx_count(u);
        if (had) {
            r->DR = u->tx[u->tx_tail % TX_SIZE];
            u->tx_tail++;
            wrote = 1;
            if (had == TX_SIZE)
                poll = 1;                       /* writable again */
            if (had == TX_SIZE / 2u + 1u)
                wake_tx = 1;                    /* half free: room for a blocked writer */
        }
        if (!tx_count(u))
            r->CR1 = u->cr1 = cr1 = (cr1 & ~USART_CR1_TXEIE) | USART_CR1_TCIE;
    }
    if (!wrote && (cr1 & USART_CR1_TCIE) && (sr & USART_SR_TC)) {
        if (!tx_count(u)) {
            r->CR1 = u->cr1 = cr1 & ~USART_CR1_TCIE;
            if (u->de != BSP_PIN_NONE)
                bsp_pin_write(u->de, 0);       /* after the last stop bit */
            u->tx_active = 0;
            wake_tx = 1;
        } else {
            r->CR1 = u->cr1 = (cr1 & ~USART_CR1_TCIE) | USART_CR1_TXEIE;
        }
    }
    if (wake_rx)
        bsp_os_wake_waiters(&u->rx_wq);
    if (wake_tx)
        bsp_os_wake_waiters(&u->tx_wq);
    if (poll)
        bsp_os_poll_notify();
}

#if UART_DMA
#define UART_ISR(u) ((u)->rxc ? uart_isr_dma(u) : uart_isr(u))
#else
#define UART_ISR(u) uart_isr(u)
#endif
#define UART_HANDLER(name, num)                 \
    void name##_IRQHandler(void);               \
    void name##_IRQHandler(void)                \
    {                                           \
        struct uart *u = find(num);             \
        if (u)                                  \
            UART_ISR(u);                        \
        else                                    \
            nvic_disable(name##_IRQn);          \
    }
UART_HANDLER(USART1, 1)
UART_HANDLER(USART2, 2)
UART_HANDLER(USART3, 3)
#if defined(SOC_FAMILY_STM32F4)
UART_HANDLER(USART6, 6)
UART_HANDLER(UART5, 5)
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
        *(int *)arg = (int)rx_avail(u);
        return 0;
    }
    if (cmd == BSP_IOCTL_UART_BAUD && arg) {   /* same format, new rate, after TX drained */
        uint32_t cr1 = u->cr1, stop = (u->r->CR2 >> USART_CR2_STOP_POS) & 3u;
        struct bsp_uart_cfg cfg = {*(const uint32_t *)arg, 8, 'N', stop == 2u ? 2 : 1, u->de};
        if (cr1 & USART_CR1_PCE) {
            cfg.parity = (cr1 & USART_CR1_PS) ? 'O' : 'E';
            cfg.data_bits = (cr1 & USART_CR1_M) ? 8 : 7;
        }
        bsp_uart_drain(u->n, 2000);
        return bsp_uart_open(u->n, &cfg);
    }
    return MS_ERR_INVAL;
}
static int tty_poll(void *ctx, ms_file_t *f, int events)
{
    struct uart *u = ctx;
    (void)f;
    int ready = 0;
    if (rx_avail(u))
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
    uint32_t cr1 = USART_CR1_UE | USART_CR1_TE | USART_CR1_RE | USART_CR1_RXNEIE;
    char par = cfg->parity;
    if (par == 'E' || par == 'e' || par == 'O' || par == 'o') {
        cr1 |= USART_CR1_PCE | ((par == 'O' || par == 'o') ? USART_CR1_PS : 0u);
        if (cfg->data_bits == 8)
            cr1 |= USART_CR1_M;            /* 8 data + parity = 9-bit word */
        else if (cfg->data_bits != 7)
            return BSP_ERR_INVAL;
    } else if (par == 'N' || par == 'n' || par == 0) {
        if (cfg->data_bits == 9)
            cr1 |= USART_CR1_M;
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
    usart_regs_t *r;
    int irqn;
    uint32_t pclk;
    int err = bsp_fam_uart(n, &r, &irqn, &pclk);
    if (err)
        return err;
    nvic_disable(irqn);
    r->CR1 = 0;
#if UART_DMA
    if (u->rxc) {                           /* DMA mode off: its channels stop */
        dma_off(u->rxc, u->rx_ch);
        dma_off(u->txc, u->tx_ch);
    }
#endif
    if (u->ftim) {                          /* framing off: stop the silence timer */
        u->ftim->DIER = 0;
        u->ftim->CR1 = 0;
    }
    /* a reopen (new baud rate) keeps the threads blocked on the port and their counts, so
     * they are still woken, and counted right when they leave */
    struct bsp_waitq rx_wq = u->rx_wq, tx_wq = u->tx_wq;
    uint8_t wait_byte = u->rx_wait_byte, wait_frame = u->rx_wait_frame;
    memset(u, 0, sizeof *u);
    u->rx_wq = rx_wq;
    u->tx_wq = tx_wq;
    u->rx_wait_byte = wait_byte;
    u->rx_wait_frame = wait_frame;
    u->n = n;
    u->irqn = irqn;
    u->de = cfg->rs485_de;
    if (u->de != BSP_PIN_NONE) {
        bsp_pin_write(u->de, 0);
        bsp_pin_config(u->de, BSP_PIN_OUTPUT, 0);
    }
    r->BRR = (pclk + cfg->baud / 2u) / cfg->baud;   /* OVER16: USARTDIV x 16 */
    {
        uint32_t bits = 1u + cfg->data_bits + (cr1 & USART_CR1_PCE ? 1u : 0u) + cfg->stop_bits;
        u->char_us = (bits * 1000000u + cfg->baud - 1u) / cfg->baud;
#if UART_DMA
        /* RXNE at the middle of the first stop bit, IDLE a whole frame after the stop bits */
        uint32_t half_bits = 2u * (bits - cfg->stop_bits) + 4u * cfg->stop_bits - 1u;
        u->idle_us = (uint32_t)((uint64_t)half_bits * 1000000u / (2u * cfg->baud));
#endif
    }
    r->CR2 = stop << USART_CR2_STOP_POS;
    r->CR3 = 0;
    (void)r->SR;
    (void)r->DR;
    u->r = r;
    g_slot_of[n] = (uint8_t)(u - g_uarts + 1);   /* n < UART_NUMBERS: bsp_fam_uart knows it */
    r->CR1 = u->cr1 = cr1;
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
    usart_regs_t *r = u->r;
    uint32_t s = bsp_irq_lock();
#if UART_DMA
    if (u->rxc)
        tx_account(u, 1);                   /* what the channel has not sent goes below */
#endif
    r->CR1 = u->cr1 &= ~(USART_CR1_TXEIE | USART_CR1_TCIE);
    if (u->de != BSP_PIN_NONE)
        bsp_pin_write(u->de, 1);
    while (tx_count(u)) {
        bsp_wait_bits(&r->SR, USART_SR_TXE, USART_SR_TXE, 10000u, 0);
        r->DR = u->tx[u->tx_tail % TX_SIZE];
        u->tx_tail++;
    }
    for (unsigned i = 0; i < len; i++) {
        bsp_wait_bits(&r->SR, USART_SR_TXE, USART_SR_TXE, 10000u, 0);
        r->DR = p[i];
    }
    if (u->de != BSP_PIN_NONE) {
        bsp_wait_bits(&r->SR, USART_SR_TC, USART_SR_TC, 10000u, 0);
        bsp_pin_write(u->de, 0);
    }
    u->tx_active = 0;
    bsp_irq_unlock(s);
    if (u->tx_wq.head)
        bsp_os_wake(&u->tx_wq);   /* a writer waiting for ring space: the ring is empty now */
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
    uint32_t start = 0;                 /* the tick when the ring first was full: most
                                         * writes fit, and read no SysTick */
    int timing = 0;
    while (done < len) {
        uint32_t s = bsp_irq_lock();
        if (!u->tx_active) {
            if (u->de != BSP_PIN_NONE)
                bsp_pin_write(u->de, 1);       /* driver on before the start bit */
            u->r->SR = ~USART_SR_TC;       /* rc_w0: a fresh TC marks this burst's end */
            u->tx_active = 1;
        }
        unsigned room = TX_SIZE - tx_count(u), k = len - done < room ? len - done : room;
        ring_put(u->tx, TX_SIZE, u->tx_head, p + done, k);
        u->tx_head = (uint16_t)(u->tx_head + k);
        done += k;
#if UART_DMA
        if (u->rxc) {                           /* by DMA; TC ends the burst */
            if (!(u->cr1 & USART_CR1_TCIE))
                u->r->CR1 = u->cr1 |= USART_CR1_TCIE;
            tx_sync(u);
        } else
#endif
        if (!(u->cr1 & USART_CR1_TXEIE))
            u->r->CR1 = u->cr1 |= USART_CR1_TXEIE;
        if (done == len) {
            bsp_irq_unlock(s);
            break;
        }
        uint32_t waited = 0;
        if (timeout_ms != 0xFFFFFFFFu) {
            if (!timing) {
                start = ms_tick_get();
                timing = 1;
            } else {
                waited = (ms_tick_get() - start) * 1000u / MS_TICK_HZ;
            }
            if (waited >= timeout_ms) {
                bsp_irq_unlock(s);
                break;
            }
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

/* Wait (interrupts locked by *s on entry and on return) until a byte is in the ring or
 * timeout_ms passed (0xFFFFFFFF: forever). 0, or an RTOS error. */
static int wait_rx(struct uart *u, uint32_t timeout_ms, int can_block, uint32_t *s)
{
    if (rx_count(u) || !timeout_ms)
        return 0;
    if (can_block) {
        uint32_t start = ms_tick_get();
        while (!rx_count(u)) {
            uint32_t waited = (ms_tick_get() - start) * 1000u / MS_TICK_HZ;
            if (timeout_ms != 0xFFFFFFFFu && waited >= timeout_ms)
                break;
            u->rx_wait_byte++;
            int r = bsp_os_block(&u->rx_wq, timeout_ms == 0xFFFFFFFFu ? timeout_ms : timeout_ms - waited, *s);
            *s = bsp_irq_lock();
            u->rx_wait_byte--;
            if (r < 0 && r != MS_ERR_TIMEOUT)
                return r;
        }
        return 0;
    }
    bsp_irq_unlock(*s);
    bsp_cycles_start();
    uint32_t per_ms = bsp_hclk_hz() / 1000u, t0 = bsp_cycles(), ms = 0;
    while (!rx_count(u) && (timeout_ms == 0xFFFFFFFFu || ms < timeout_ms)) {
        if (bsp_cycles() - t0 >= per_ms) {
            t0 += per_ms;
            ms++;
        }
    }
    *s = bsp_irq_lock();
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
#if UART_DMA
    if (u->rxc)
        rx_sync(u);                             /* the ISRs keep the head between bursts */
#endif
    int r = wait_rx(u, timeout_ms, can_block, &s);
    if (r < 0) {
        bsp_irq_unlock(s);
        return r;
    }
#if UART_DMA
    if (u->rxc) {
        unsigned got = 0;
        uint8_t *p = buf;
        rx_sync(u);
        while (got < len && rx_count(u)) {
            u->rxf[u->rx_tail % RX_SIZE] = 0;   /* flags are set ahead of the bytes: cleared here */
            p[got++] = u->rx[u->rx_tail % RX_SIZE];
            u->rx_tail++;
        }
        bsp_irq_unlock(s);
        return (int)got;
    }
#endif
    unsigned got = rx_count(u) < len ? rx_count(u) : len;
    ring_get(buf, u->rx, RX_SIZE, u->rx_tail, got);
    u->rx_tail = (uint16_t)(u->rx_tail + got);
    bsp_irq_unlock(s);
    return (int)got;
}

uint32_t bsp_uart_char_us(int n)
{
    struct uart *u = find(n);
    return u ? u->char_us : 0u;
}

/* The silence timer's compare (broken silence) and update (end of frame: the one-pulse timer
 * stopped), noted for the RXNE handler (header comment); the update also wakes the threads
 * waiting for a frame. */
static void frame_timer_isr(void *arg)
{
    struct uart *u = arg;
    tim_regs_t *t = u->ftim;
    if (!t)
        return;
    uint32_t sr = t->SR & (TIM_SR_UIF | TIM_SR_CC1IF);
    if (!sr)
        return;
    t->SR = ~sr;                            /* rc_w0: clears what was seen, nothing else */
#if UART_DMA
    if (u->rxc) {
        frame_timer_dma(u, sr);
        return;
    }
#endif
    if (sr & TIM_SR_CC1IF)
        u->rx_broken = 1;
    if (!(sr & TIM_SR_UIF))
        return;
    u->rx_idle = 1;
    if (u->rx_wait_frame)
        bsp_os_wake_waiters(&u->rx_wq);
}

int bsp_uart_set_framing(int n, int tim, uint32_t broken_silence_us, uint32_t end_silence_us)
{
    struct uart *u = find(n);
    if (!u)
        return BSP_ERR_NODEV;
    if (!end_silence_us) {
        uint32_t s = bsp_irq_lock();
#if UART_DMA
        if (u->rxc)
            dma_stop(u);
#endif
        if (u->ftim) {
            u->ftim->DIER = 0;
            u->ftim->CR1 = 0;
        }
        u->ftim = 0;
        bsp_irq_unlock(s);
        return 0;
    }
    /* from one byte's RXNE to the next is one character more than the silence between */
    uint32_t start_us = end_silence_us + u->char_us, broken_us = broken_silence_us + u->char_us;
    if (broken_silence_us >= end_silence_us || start_us > 0x10000u)
        return BSP_ERR_INVAL;
    tim_regs_t *t;
    int e = bsp_tim_claim(tim, frame_timer_isr, u, BSP_IRQ_PRIO_FRAME_TIM, &t);
    if (e)
        return e;
    uint32_t s = bsp_irq_lock();
    t->ARR = start_us - 1u;                 /* update (and stop) start_us after the restart */
    t->CCR1 = broken_us;                    /* CC1IF once broken_us have passed */
    t->SR = 0;
    t->DIER = TIM_DIER_UIE | TIM_DIER_CC1IE;
    u->ftim = t;
    u->start_us = start_us;
    u->rx_idle = 1;
    u->rx_broken = 0;
#if UART_DMA
    if (!u->rxc && dma_port(u->n))
        dma_start(u);
    else if (u->rxc)
        t->CR1 = 0;                         /* new thresholds: from the next IDLE */
#endif
    bsp_irq_unlock(s);
    return 0;
}

int bsp_uart_dma(int n)
{
    struct uart *u = find(n);
    if (!u)
        return BSP_ERR_NODEV;
    if (!dma_port(n))
        return BSP_ERR_INVAL;
    uint32_t s = bsp_irq_lock();
    if (!u->rxc)
        dma_start(u);
    bsp_irq_unlock(s);
    return 0;
}

int bsp_uart_read_frame(int n, void *buf, unsigned len, uint32_t timeout_ms, unsigned *flags)
{
    struct uart *u = find(n);
    unsigned fl = 0, got = 0;
    if (flags)
        *flags = 0;
    if (!u)
        return BSP_ERR_NODEV;
    if (!u->ftim)
        return BSP_ERR_INVAL;
    int can_block = bsp_os_can_block();
    uint8_t *p = buf;
    uint32_t s = bsp_irq_lock();
    int r = 0;
    /* Without a thread to block, spin for a first byte (wait_rx), then as below. */
    if (!can_block)
        r = wait_rx(u, timeout_ms, 0, &s);
    /* Guard against a missed wake-up: a thread holding part of a frame is woken at least
     * every half ring of characters (the half-full rule) and start_us after the last byte
     * (the timer's update); if neither came in that time plus 2 ms, look anyway. (Guarding
     * at start_us alone would wake it several times within every long frame.) */
    uint32_t guard_ms = (u->char_us * (RX_SIZE / 2u) + u->start_us) / 1000u + 2u;
    uint32_t start = can_block && timeout_ms && timeout_ms != 0xFFFFFFFFu ? ms_tick_get() : 0u;
    while (r >= 0) {
#if UART_DMA
        if (u->rxc)
            rx_sync(u);
#endif
        while (rx_count(u)) {
            unsigned i = u->rx_tail % RX_SIZE;
            uint8_t f = u->rxf[i];
            if (got && (f & RXF_START))
                goto done;                      /* the next frame begins here */
#if UART_DMA
            u->rxf[i] = 0;                      /* DMA mode: flags are set ahead, cleared here */
#endif
            if (got && (f & RXF_BROKEN))
                fl |= BSP_UART_FRAME_BROKEN;
            if (f & RXF_LOST)
                fl |= BSP_UART_FRAME_LOST;
            if (got < len)
                p[got] = u->rx[i];
            else
                fl |= BSP_UART_FRAME_OVERFLOW;
            got++;
            u->rx_tail++;
        }
        if (got && frame_over(u, can_block))
            break;                              /* silent: complete */
        uint32_t wait_ms = guard_ms;
        if (!got) {                             /* no first byte yet: the caller's timeout */
            if (!can_block || !timeout_ms)
                break;
            wait_ms = timeout_ms;
            if (timeout_ms != 0xFFFFFFFFu) {
                uint32_t waited = (ms_tick_get() - start) * 1000u / MS_TICK_HZ;
                if (waited >= timeout_ms)
                    break;
                wait_ms = timeout_ms - waited;
            }
        }
        if (can_block) {
            u->rx_wait_frame++;
            r = bsp_os_block(&u->rx_wq, wait_ms, s);    /* the frame's end (header comment) */
            s = bsp_irq_lock();
            u->rx_wait_frame--;
            if (r == MS_ERR_TIMEOUT)
                r = 0;
        } else {
            bsp_irq_unlock(s);
            s = bsp_irq_lock();                 /* let the handlers run, then look again */
        }
    }
done:
    bsp_irq_unlock(s);
    if (r < 0 && !got)
        return r;
    if (flags)
        *flags = fl;
    return (int)(got < len ? got : len);
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
