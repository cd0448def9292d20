/* DL/T645-2007 framing (see dlt645.h and reference §1.2). */
#include <string.h>
#include "dlt645.h"

unsigned dlt_encode(const dlt_frame_t *f, uint8_t *out)
{
    unsigned n = 0;
    out[n++] = DLT_START;
    memcpy(out + n, f->addr, 6);
    n += 6;
    out[n++] = DLT_START;
    out[n++] = f->ctrl;
    out[n++] = f->len;
    for (unsigned i = 0; i < f->len; i++)
        out[n++] = (uint8_t)(f->data[i] + DLT_OFFSET);
    uint8_t cs = 0;
    for (unsigned i = 0; i < n; i++)
        cs = (uint8_t)(cs + out[i]);
    out[n++] = cs;
    out[n++] = DLT_END;
    return n;
}

int dlt_decode(const uint8_t *raw, unsigned n, dlt_frame_t *f)
{
    if (n < 12u)
        return DLT_ERR_SHORT;
    if (raw[0] != DLT_START || raw[7] != DLT_START)
        return DLT_ERR_START;
    unsigned len = raw[9];
    if (len > DLT_MAX_DATA || n != 12u + len)
        return DLT_ERR_LEN;
    uint8_t cs = 0;
    for (unsigned i = 0; i < 10u + len; i++)
        cs = (uint8_t)(cs + raw[i]);
    if (cs != raw[10u + len])
        return DLT_ERR_CS;
    if (raw[11u + len] != DLT_END)
        return DLT_ERR_END;
    memcpy(f->addr, raw + 1, 6);
    f->ctrl = raw[8];
    f->len = (uint8_t)len;
    for (unsigned i = 0; i < len; i++)
        f->data[i] = (uint8_t)(raw[10u + i] - DLT_OFFSET);
    return DLT_OK;
}

void dlt_rx_reset(dlt_rx_t *rx) { rx->n = 0; }

unsigned dlt_rx_put(dlt_rx_t *rx, const uint8_t *bytes, unsigned n)
{
    unsigned room = (unsigned)sizeof rx->buf - rx->n;
    if (n > room)
        n = room;
    memcpy(rx->buf + rx->n, bytes, n);
    rx->n += n;
    return n;
}

static void drop(dlt_rx_t *rx, unsigned k)
{
    memmove(rx->buf, rx->buf + k, rx->n - k);
    rx->n -= k;
}

/* Offset of a complete valid frame after the first byte, 0 when there is none. */
static unsigned later_frame(const dlt_rx_t *rx, dlt_frame_t *f)
{
    for (unsigned k = 1; k + 12u <= rx->n; k++) {
        const uint8_t *b = rx->buf + k;
        if (b[0] == DLT_START && b[7] == DLT_START && k + 12u + b[9] <= rx->n &&
            dlt_decode(b, 12u + b[9], f) == DLT_OK)
            return k;
    }
    return 0;
}

int dlt_rx_take(dlt_rx_t *rx, dlt_frame_t *f)
{
    while (rx->n) {
        if (rx->buf[0] != DLT_START) {
            rx->discarded += rx->buf[0] != DLT_PREAMBLE;   /* wake-up bytes are not garbage */
            drop(rx, 1);
            continue;
        }
        if (rx->n >= 8u && rx->buf[7] != DLT_START) {
            rx->bad++;
            drop(rx, 1);
            continue;
        }
        if (rx->n >= 10u && rx->buf[9] > DLT_MAX_DATA) {
            rx->bad++;
            drop(rx, 1);
            continue;
        }
        if (rx->n < 10u || rx->n < 12u + rx->buf[9]) {
            /* waiting for the rest of a candidate: a whole valid frame behind it wins (the
             * candidate was a false start, e.g. the head of a frame cut short) */
            unsigned k = later_frame(rx, f);
            if (!k)
                return 0;
            rx->bad++;
            drop(rx, k);
            continue;
        }
        unsigned len = 12u + rx->buf[9];
        if (dlt_decode(rx->buf, len, f) != DLT_OK) {
            rx->bad++;
            drop(rx, 1);
            continue;
        }
        drop(rx, len);
        return 1;
    }
    return 0;
}

void dlt_bcd_put(uint8_t *out, unsigned bytes, uint32_t value)
{
    for (unsigned i = 0; i < bytes; i++) {
        out[i] = (uint8_t)(value % 10u | (value / 10u % 10u) << 4);
        value /= 100u;
    }
}

int dlt_bcd_get(const uint8_t *in, unsigned bytes, uint32_t *value)
{
    uint32_t v = 0;
    for (unsigned i = bytes; i-- > 0;) {
        unsigned hi = in[i] >> 4, lo = in[i] & 0xFu;
        if (hi > 9u || lo > 9u)
            return -1;
        v = v * 100u + hi * 10u + lo;
    }
    *value = v;
    return 0;
}

void dlt_reply(dlt_frame_t *r, const dlt_frame_t *q, const uint8_t *data, unsigned len)
{
    memcpy(r->addr, q->addr, 6);
    r->ctrl = (uint8_t)(DLT_FN(q->ctrl) | DLT_REPLY);
    if (len > DLT_MAX_DATA)
        len = DLT_MAX_DATA;
    r->len = (uint8_t)len;
    if (len && data != r->data)
        memmove(r->data, data, len);
}

void dlt_abnormal(dlt_frame_t *r, const dlt_frame_t *q, uint8_t serr)
{
    memcpy(r->addr, q->addr, 6);
    r->ctrl = (uint8_t)(DLT_FN(q->ctrl) | DLT_REPLY | DLT_ABNORMAL);
    r->len = 1;
    r->data[0] = serr;
}
