/* W5500 driver: see w5500.h. */
#include "w5500.h"
#include "ms_rtos.h"

#define BSB_SREG(s) ((uint8_t)((4 * (s) + 1) << 3))
#define BSB_TX(s) ((uint8_t)((4 * (s) + 2) << 3))
#define BSB_RX(s) ((uint8_t)((4 * (s) + 3) << 3))
#define RWB_WRITE 0x04u
#define SN_MR 0x00
#define SN_CR 0x01
#define SN_IR 0x02
#define SN_IMR 0x2C
#define SIMR 0x0018
#define SN_SR 0x03
#define SN_PORT 0x04
#define SN_DIPR 0x0C
#define SN_DPORT 0x10
#define SN_TXBUF 0x1F
#define SN_TX_FSR 0x20
#define SN_TX_WR 0x24
#define SN_RX_RSR 0x26
#define SN_RX_RD 0x28
#define IR_DISCON 0x02u
#define IR_TIMEOUT 0x08u
#define IR_SENDOK 0x10u

static void xfer(w5500_t *d, uint16_t addr, uint8_t ctrl, uint8_t *buf, unsigned n, int wr)
{
    uint8_t hdr[3] = {(uint8_t)(addr >> 8), (uint8_t)addr, (uint8_t)(ctrl | (wr ? RWB_WRITE : 0))};
    bsp_pin_write(d->cs, 0);
    bsp_spi_write(d->spi, hdr, 3);
    if (wr)
        bsp_spi_write(d->spi, buf, n);
    else
        bsp_spi_xfer(d->spi, 0, buf, n);
    bsp_pin_write(d->cs, 1);
}

static uint8_t rd8(w5500_t *d, uint16_t a, uint8_t bsb) { uint8_t v; xfer(d, a, bsb, &v, 1, 0); return v; }
static void wr8(w5500_t *d, uint16_t a, uint8_t bsb, uint8_t v) { xfer(d, a, bsb, &v, 1, 1); }

static uint16_t rd16(w5500_t *d, uint16_t a, uint8_t bsb)
{
    uint8_t b[2];
    xfer(d, a, bsb, b, 2, 0);
    return (uint16_t)(b[0] << 8 | b[1]);
}

static void wr16(w5500_t *d, uint16_t a, uint8_t bsb, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    xfer(d, a, bsb, b, 2, 1);
}

/* FSR / RSR change while they are read: take a value two reads agree on (data sheet §4.2) */
static uint16_t rd16_stable(w5500_t *d, uint16_t a, uint8_t bsb)
{
    uint16_t v = rd16(d, a, bsb), w;
    while ((w = rd16(d, a, bsb)) != v)
        v = w;
    return v;
}

static void command(w5500_t *d, int s, uint8_t c)
{
    wr8(d, SN_CR, BSB_SREG(s), c);
    for (unsigned i = 0; i < 1000u && rd8(d, SN_CR, BSB_SREG(s)); i++)
        ;
}

int w5500_init(w5500_t *d, const uint8_t mac[6], const uint8_t ip[4], const uint8_t mask[4],
               const uint8_t gw[4])
{
    bsp_pin_write(d->cs, 1);
    bsp_pin_config(d->cs, BSP_PIN_OUTPUT, 0);
    if (d->rst != BSP_PIN_NONE) {
        bsp_pin_config(d->rst, BSP_PIN_OUTPUT, 0);
        bsp_pin_write(d->rst, 0);
        bsp_delay_us(500);                     /* RSTn low >= 500 us */
        bsp_pin_write(d->rst, 1);
        ms_thread_sleep_ms(2);                 /* PLL lock after reset <= 1 ms */
    } else {
        wr8(d, 0x0000, 0, 0x80);
    }
    if (rd8(d, 0x0039, 0) != 0x04)
        return MS_ERR_NODEV;
    uint8_t b[18];
    for (int i = 0; i < 4; i++) {
        b[i] = gw[i];
        b[4 + i] = mask[i];
        b[14 + i] = ip[i];
    }
    for (int i = 0; i < 6; i++)
        b[8 + i] = mac[i];
    xfer(d, 0x0001, 0, b, sizeof b, 1);        /* GAR SUBR SHAR SIPR in one burst */
    return 0;
}

int w5500_link_up(w5500_t *d) { return rd8(d, 0x002E, 0) & 1; }

int w5500_status(w5500_t *d, int s) { return rd8(d, SN_SR, BSB_SREG(s)); }

int w5500_irq(w5500_t *d, int s, uint8_t clear)
{
    uint8_t ir = rd8(d, SN_IR, BSB_SREG(s));
    if (ir & clear)
        wr8(d, SN_IR, BSB_SREG(s), ir & clear);
    return ir;
}

void w5500_irq_enable(w5500_t *d, int s, uint8_t mask)
{
    wr8(d, SN_IMR, BSB_SREG(s), mask);
    wr8(d, SIMR, 0, (uint8_t)(rd8(d, SIMR, 0) | (1u << s)));
}

void w5500_close(w5500_t *d, int s)
{
    command(d, s, 0x10);
    wr8(d, SN_IR, BSB_SREG(s), 0xFF);
}

void w5500_discon(w5500_t *d, int s) { command(d, s, 0x08); }

int w5500_tcp_connect(w5500_t *d, int s, const uint8_t ip[4], uint16_t port, uint16_t sport)
{
    w5500_close(d, s);
    wr8(d, SN_MR, BSB_SREG(s), 0x01);          /* TCP */
    wr16(d, SN_PORT, BSB_SREG(s), sport);
    command(d, s, 0x01);                       /* OPEN */
    if (w5500_status(d, s) != W5500_SOCK_INIT)
        return MS_ERR_IO;
    uint8_t dip[4] = {ip[0], ip[1], ip[2], ip[3]};
    xfer(d, SN_DIPR, BSB_SREG(s), dip, 4, 1);
    wr16(d, SN_DPORT, BSB_SREG(s), port);
    command(d, s, 0x04);                       /* CONNECT */
    return 0;
}

int w5500_send(w5500_t *d, int s, const void *buf, unsigned len, uint32_t timeout_ms)
{
    if (rd16_stable(d, SN_TX_FSR, BSB_SREG(s)) < len)
        return MS_ERR_NOMEM;
    uint16_t wr = rd16(d, SN_TX_WR, BSB_SREG(s));
    uint8_t tmp[64];
    const uint8_t *p = buf;
    for (unsigned off = 0; off < len;) {       /* the pointer's offset wraps in the buffer */
        unsigned n = len - off > sizeof tmp ? sizeof tmp : len - off;
        for (unsigned i = 0; i < n; i++)
            tmp[i] = p[off + i];
        xfer(d, (uint16_t)(wr + off), BSB_TX(s), tmp, n, 1);
        off += n;
    }
    wr16(d, SN_TX_WR, BSB_SREG(s), (uint16_t)(wr + len));
    command(d, s, 0x20);                       /* SEND */
    for (uint32_t t = 0;; t++) {
        uint8_t ir = (uint8_t)w5500_irq(d, s, IR_SENDOK);
        if (ir & IR_SENDOK)
            return (int)len;
        if (ir & IR_TIMEOUT || w5500_status(d, s) == W5500_SOCK_CLOSED)
            return MS_ERR_IO;
        if (t >= timeout_ms)
            return MS_ERR_TIMEOUT;
        ms_thread_sleep_ms(1);
    }
}

int w5500_recv(w5500_t *d, int s, void *buf, unsigned max)
{
    unsigned n = rd16_stable(d, SN_RX_RSR, BSB_SREG(s));
    if (!n)
        return 0;
    if (n > max)
        n = max;
    uint16_t rd = rd16(d, SN_RX_RD, BSB_SREG(s));
    xfer(d, rd, BSB_RX(s), buf, n, 0);
    wr16(d, SN_RX_RD, BSB_SREG(s), (uint16_t)(rd + n));
    command(d, s, 0x40);                       /* RECV */
    return (int)n;
}
