/* DL/T645-2007 framing (see dlt645.h and reference §1.2). */
#include <string.h>
#include "dlt645.h"

/* Four bytes a step: every message on the virtual bus is a frame of up to 200 data bytes,
 * encoded once by its sender and decoded once by its receiver (and again at the bus). Words
 * are loaded and stored unaligned (the Cortex-M3 and M4 allow it), and the bytes in a word
 * are kept from carrying into each other. */
static uint32_t load32(const uint8_t *p)
{
    uint32_t w;
    memcpy(&w, p, 4);
    return w;
}

static void store32(uint8_t *p, uint32_t w) { memcpy(p, &w, 4); }

/* out[i] = in[i] + b modulo 256 for i < n: each byte's low 7 bits add without carrying out of
 * it, and its top bit is the two top bits and that carry exclusive-or'ed */
static void add_to_bytes(uint8_t *out, const uint8_t *in, unsigned n, uint8_t b)
{
    uint32_t k = 0x01010101u * b;
    const uint8_t *words_end = in + (n & ~3u), *end = in + n;
    for (; in < words_end; in += 4, out += 4) {
        uint32_t w = load32(in);
        store32(out, ((w & 0x7F7F7F7Fu) + (k & 0x7F7F7F7Fu)) ^ ((w ^ k) & 0x80808080u));
    }
    while (in < end)
        *out++ = (uint8_t)(*in++ + b);
}

/* The sum of p[0..n) modulo 256 (the frame's CS): the even and the odd bytes of each word go
 * into two 16-bit halves, which cannot overflow below 512 bytes (frames are 212 at most). */
static uint8_t sum_bytes(const uint8_t *p, unsigned n)
{
    uint32_t halves = 0;
    const uint8_t *words_end = p + (n & ~3u), *end = p + n;
    for (; p < words_end; p += 4) {
        uint32_t w = load32(p);
        halves += (w & 0x00FF00FFu) + (w >> 8 & 0x00FF00FFu);
    }
    uint32_t sum = halves + (halves >> 16);
    while (p < end)
        sum += *p++;
    return (uint8_t)sum;
}

unsigned dlt_encode(const dlt_frame_t *f, uint8_t *out)
{
    out[0] = DLT_START;
    memcpy(out + 1, f->addr, 6);
    out[7] = DLT_START;
    out[8] = f->ctrl;
    out[9] = f->len;
    add_to_bytes(out + 10, f->data, f->len, DLT_OFFSET);
    unsigned n = 10u + f->len;
    out[n] = sum_bytes(out, n);
    out[n + 1] = DLT_END;
    return n + 2u;
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
    if (sum_bytes(raw, 10u + len) != raw[10u + len])
        return DLT_ERR_CS;
    if (raw[11u + len] != DLT_END)
        return DLT_ERR_END;
    memcpy(f->addr, raw + 1, 6);
    f->ctrl = raw[8];
    f->len = (uint8_t)len;
    add_to_bytes(f->data, raw + 10, len, (uint8_t)(0x100u - DLT_OFFSET));
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
