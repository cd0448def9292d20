#include "iso7816.h"
#include "bsp_priv.h"

#define MAX_REPEATS 3u
#define GUARD_ETU 2u           /* 12 etu per character: 11.5 on the wire + guard time */

static usart_regs_t *regs_of(int n)
{
    switch (n) {
    case 1: return USART1;
    case 2: return USART2;
    case 3: return USART3;
#if defined(SOC_FAMILY_STM32F4)
    case 6: return USART6;
#endif
    default: return 0;
    }
}

int iso7816_init(iso7816_t *sc, int usart, bsp_pin_t io, bsp_pin_t ck, bsp_pin_t rst,
                 uint32_t max_ck_hz)
{
    usart_regs_t *r;
    int irqn;
    uint32_t pclk;
    if (!sc || !max_ck_hz || !regs_of(usart))
        return BSP_ERR_INVAL;
    int e = bsp_fam_uart(usart, &r, &irqn, &pclk);   /* bus clock, default pins */
    if (e < 0)
        return e;
    unsigned af = usart == 6 ? 8u : 7u;
    sc->usart = usart;
    sc->rst = rst;
    sc->ck = ck;
    sc->atr_len = 0;
    sc->repeats = sc->parity_errors = 0;
    bsp_pin_write(rst, 0);
    bsp_pin_config(rst, BSP_PIN_OUTPUT, 0);
    bsp_fam_pin_od_af(io, af);                       /* I/O: open drain (RM0430 §26.3.11) */
    bsp_pin_config(ck, BSP_PIN_AF, af);
    /* CK = PCLK / (2 x PSC) <= max_ck_hz; baud = CK / 372, so BRR = 372 x 2 x PSC. */
    uint32_t psc = (pclk + 2u * max_ck_hz - 1u) / (2u * max_ck_hz);
    if (psc < 1u)
        psc = 1u;
    if (psc > 31u)
        return BSP_ERR_INVAL;
    sc->ck_hz = pclk / (2u * psc);
    sc->etu_us = (372u * 1000000u + sc->ck_hz - 1u) / sc->ck_hz;
    r->CR1 = 0;
    r->GTPR = (GUARD_ETU << USART_GTPR_GT_POS) | (psc << USART_GTPR_PSC_POS);
    r->BRR = 372u * 2u * psc;
    r->CR2 = USART_CR2_CLKEN | (3u << USART_CR2_STOP_POS);        /* 1.5 stop bits */
    r->CR3 = USART_CR3_SCEN | USART_CR3_NACK;
    r->CR1 = USART_CR1_UE | USART_CR1_TE | USART_CR1_RE | USART_CR1_M | USART_CR1_PCE;
    return 0;
}

/* One character from the card within timeout_us; parity errors were NACKed: wait for the
 * repetition. Returns the byte or BSP_ERR_TIMEOUT. */
static int get_byte(iso7816_t *sc, uint32_t timeout_us)
{
    usart_regs_t *r = regs_of(sc->usart);
    for (;;) {
        if (bsp_wait_bits(&r->SR, USART_SR_RXNE, USART_SR_RXNE, timeout_us, 0))
            return BSP_ERR_TIMEOUT;
        uint32_t sr = r->SR;
        uint32_t v = r->DR & 0xFFu;
        if (!(sr & USART_SR_PE))
            return (int)v;
        sc->parity_errors++;
    }
}

/* Send one character, check the echo: FE means the card NACKed it, so send it again. */
static int put_byte(iso7816_t *sc, uint8_t b)
{
    usart_regs_t *r = regs_of(sc->usart);
    for (unsigned attempt = 0; attempt <= MAX_REPEATS; attempt++) {
        (void)r->SR;
        r->DR = b;
        if (bsp_wait_bits(&r->SR, USART_SR_TC, USART_SR_TC, 40u * sc->etu_us, 0))
            return BSP_ERR_TIMEOUT;
        if (bsp_wait_bits(&r->SR, USART_SR_RXNE, USART_SR_RXNE, 4u * sc->etu_us, 0))
            return BSP_ERR_IO;                       /* no echo: the line is stuck */
        uint32_t sr = r->SR;
        (void)r->DR;                                 /* our own character */
        if (!(sr & USART_SR_FE))
            return 0;
        sc->repeats++;
        bsp_delay_us(2u * sc->etu_us);               /* ISO 7816-3: >= 2 etu before repeating */
    }
    return BSP_ERR_IO;
}

int iso7816_reset(iso7816_t *sc)
{
    usart_regs_t *r = regs_of(sc->usart);
    bsp_pin_write(sc->rst, 0);
    bsp_delay_us(1000u);                             /* >= 400 clocks with RST low */
    while (r->SR & USART_SR_RXNE)
        (void)r->DR;
    bsp_pin_write(sc->rst, 1);
    sc->atr_len = 0;
    /* TS within 40 000 clocks; then characters at most 9600 etu apart (initial waiting time). */
    uint32_t wait_us = (uint32_t)(40000ull * 1000000u / sc->ck_hz) + 1000u;
    while (sc->atr_len < sizeof sc->atr) {
        int c = get_byte(sc, wait_us);
        if (c < 0)
            break;
        sc->atr[sc->atr_len++] = (uint8_t)c;
        wait_us = 20u * sc->etu_us;                  /* the ATR's characters come back to back */
    }
    return sc->atr_len ? (int)sc->atr_len : BSP_ERR_TIMEOUT;
}

int iso7816_t0_get(iso7816_t *sc, const uint8_t header[5], uint8_t *out)
{
    const uint32_t wwt_us = 9600u * sc->etu_us;      /* work waiting time, WI = 10 */
    for (unsigned i = 0; i < 5; i++) {
        int e = put_byte(sc, header[i]);
        if (e < 0)
            return e;
    }
    for (;;) {
        int pb = get_byte(sc, wwt_us);
        if (pb < 0)
            return pb;
        if (pb == 0x60)                              /* NULL: the card needs more time */
            continue;
        if (pb == header[1]) {                       /* ACK: all P3 data bytes follow */
            for (unsigned i = 0; i < header[4]; i++) {
                int c = get_byte(sc, wwt_us);
                if (c < 0)
                    return c;
                out[i] = (uint8_t)c;
            }
            continue;
        }
        if ((pb & 0xF0) == 0x60 || (pb & 0xF0) == 0x90) {
            int sw2 = get_byte(sc, wwt_us);
            if (sw2 < 0)
                return sw2;
            return (pb << 8) | sw2;
        }
        return BSP_ERR_IO;                           /* not a procedure byte */
    }
}

int esam_get_challenge(iso7816_t *sc, uint8_t *out, uint8_t len)
{
    const uint8_t header[5] = {0x00, 0x84, 0x00, 0x00, len};
    return iso7816_t0_get(sc, header, out);
}
