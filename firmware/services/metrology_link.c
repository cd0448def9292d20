/* The link frame and the EEPROM records (metrology_link.h). */
#include <string.h>
#include "metrology_link.h"

void mt_put32(uint8_t *p, uint32_t v)
{
    for (unsigned i = 0; i < 4u; i++)
        p[i] = (uint8_t)(v >> (8u * i));
}

void mt_put64(uint8_t *p, uint64_t v)
{
    mt_put32(p, (uint32_t)v);
    mt_put32(p + 4, (uint32_t)(v >> 32));
}

uint32_t mt_get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint64_t mt_get64(const uint8_t *p) { return mt_get32(p) | (uint64_t)mt_get32(p + 4) << 32; }

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

/* Inlined here, where a frame is made or read and the totals go on it (every second or two
 * on both units): a call there would cost more instructions than the flash it saves. */
#define EVERY_FRAME __attribute__((always_inline)) inline

EVERY_FRAME void mt_crc_append(uint8_t *p, unsigned n) { put16(p + n, crc16_ccitt(p, n)); }

EVERY_FRAME int mt_crc_holds(const uint8_t *p, unsigned n)
{
    return get16(p + n) == crc16_ccitt(p, n);
}

unsigned mt_frame(uint8_t *out, uint8_t cmd, uint8_t seq, const uint8_t *payload, unsigned n)
{
    if (n > MT_PAYLOAD_MAX)
        n = MT_PAYLOAD_MAX;
    out[0] = MT_SYNC;
    out[1] = (uint8_t)(n + 2u);
    out[2] = cmd;
    out[3] = seq;
    if (n)
        memcpy(out + 4, payload, n);
    mt_crc_append(out + 1, n + 3u);
    return n + 6u;
}

int mt_rx_byte(struct mt_rx *rx, uint8_t b)
{
    if (rx->len == 0 && b != MT_SYNC)
        return 0;                               /* between frames: wait for the sync */
    rx->buf[rx->len++] = b;
    if (rx->len == 2 && (b < 2u || b > MT_PAYLOAD_MAX + 2u)) {
        rx->bad++;
        rx->len = 0;
        return 0;
    }
    if (rx->len < 2 || rx->len < rx->buf[1] + 4u)
        return 0;
    unsigned n = rx->buf[1] + 1u;               /* LEN..payload */
    if (!mt_crc_holds(rx->buf + 1, n)) {
        rx->bad++;
        /* re-synchronise at the next A5 inside what came */
        unsigned k = 1;
        while (k < rx->len && rx->buf[k] != MT_SYNC)
            k++;
        unsigned left = rx->len - k;
        memmove(rx->buf, rx->buf + k, left);
        rx->len = 0;
        for (unsigned i = 0; i < left; i++)
            if (mt_rx_byte(rx, rx->buf[i]))     /* cannot complete: shorter than a frame */
                return 1;
        return 0;
    }
    rx->len = 0;
    return 1;
}

/* STATUS and MEASURE carry the same fields in the same order, grouped as MEASURE's parts:
 * the readings (V, I, P, PF, f, flags: NOW's 16 bytes after its clock) and the totals
 * (TOTALS' 20 bytes); one writer and one reader of each group serves both answers. */
static void readings_put(uint8_t *p, const struct mt_status *s)
{
    put16(p, s->v_dV);
    mt_put32(p + 2, (uint32_t)s->i_mA);
    mt_put32(p + 6, (uint32_t)s->p_dW);
    put16(p + 10, (uint16_t)s->pf_m);
    put16(p + 12, s->f_cHz);
    put16(p + 14, s->flags);
}

static void readings_get(const uint8_t *p, struct mt_status *s)
{
    s->v_dV = get16(p);
    s->i_mA = (int32_t)mt_get32(p + 2);
    s->p_dW = (int32_t)mt_get32(p + 6);
    s->pf_m = (int16_t)get16(p + 10);
    s->f_cHz = get16(p + 12);
    s->flags = get16(p + 14);
}

static EVERY_FRAME void totals_put(uint8_t *p, const struct mt_status *s)
{
    mt_put64(p, s->fwd_mWh);
    mt_put64(p + 8, s->rev_mWh);
    mt_put32(p + 16, s->intervals);
}

static EVERY_FRAME void totals_get(const uint8_t *p, struct mt_status *s)
{
    s->fwd_mWh = mt_get64(p);
    s->rev_mWh = mt_get64(p + 8);
    s->intervals = mt_get32(p + 16);
}

void mt_status_put(uint8_t *p, const struct mt_status *s)
{
    mt_put32(p, s->clock_s);
    totals_put(p + 4, s);
    readings_put(p + 4 + MT_PART_TOTALS_BYTES, s);
}

void mt_status_get(const uint8_t *p, struct mt_status *s)
{
    s->clock_s = mt_get32(p);
    totals_get(p + 4, s);
    readings_get(p + 4 + MT_PART_TOTALS_BYTES, s);
}

unsigned mt_measure_put(uint8_t *p, const struct mt_measure *m, const struct mt_status *s)
{
    unsigned n = MT_MEASURE_HEAD_BYTES;
    p[0] = m->parts;
    put16(p + 1, m->gen);
    put16(p + 3, m->hold_ms);
    if (m->parts & MT_PART_NOW) {
        mt_put32(p + n, s->clock_s);
        readings_put(p + n + 4, s);
        n += MT_PART_NOW_BYTES;
    } else if (m->parts & MT_PART_POWER) {
        mt_put32(p + n, (uint32_t)s->p_dW);
        n += MT_PART_POWER_BYTES;
    }
    if (m->parts & MT_PART_TOTALS) {
        totals_put(p + n, s);
        n += MT_PART_TOTALS_BYTES;
    }
    return n;
}

int mt_measure_get(const uint8_t *p, unsigned n, struct mt_measure *m, struct mt_status *s)
{
    if (n < MT_MEASURE_HEAD_BYTES)
        return -1;
    uint8_t parts = p[0];
    if (parts & MT_PART_NOW)
        parts &= (uint8_t)~MT_PART_POWER;       /* NOW holds P */
    unsigned want = MT_MEASURE_HEAD_BYTES + (parts & MT_PART_NOW ? MT_PART_NOW_BYTES : 0u) +
                    (parts & MT_PART_POWER ? MT_PART_POWER_BYTES : 0u) +
                    (parts & MT_PART_TOTALS ? MT_PART_TOTALS_BYTES : 0u);
    if (n != want || (parts & ~(MT_PART_NOW | MT_PART_POWER | MT_PART_TOTALS)))
        return -1;
    m->parts = parts;
    m->gen = get16(p + 1);
    m->hold_ms = get16(p + 3);
    p += MT_MEASURE_HEAD_BYTES;
    if (parts & MT_PART_NOW) {
        s->clock_s = mt_get32(p);
        readings_get(p + 4, s);
        p += MT_PART_NOW_BYTES;
    } else if (parts & MT_PART_POWER) {
        s->p_dW = (int32_t)mt_get32(p);
        p += MT_PART_POWER_BYTES;
    }
    if (parts & MT_PART_TOTALS)
        totals_get(p, s);
    return 0;
}

void mt_interval_put(uint8_t *p, const struct mt_interval *r)
{
    mt_put32(p, r->number);
    mt_put32(p + 4, r->time_s);
    mt_put64(p + 8, r->fwd_mWh);
    mt_put64(p + 16, r->rev_mWh);
}

void mt_interval_get(const uint8_t *p, struct mt_interval *r)
{
    r->number = mt_get32(p);
    r->time_s = mt_get32(p + 4);
    r->fwd_mWh = mt_get64(p + 8);
    r->rev_mWh = mt_get64(p + 16);
}

void mt_energy_put(uint8_t *p, const struct mt_energy *e)
{
    memcpy(p, "MTEN", 4);
    mt_put32(p + 4, e->seq);
    mt_put64(p + 8, e->fwd_mWh);
    mt_put64(p + 16, e->rev_mWh);
    mt_put32(p + 24, e->intervals);
    mt_crc_append(p, 28);
}

int mt_energy_get(const uint8_t *p, struct mt_energy *e)
{
    if (memcmp(p, "MTEN", 4) != 0 || !mt_crc_holds(p, 28))
        return -1;
    e->seq = mt_get32(p + 4);
    e->fwd_mWh = mt_get64(p + 8);
    e->rev_mWh = mt_get64(p + 16);
    e->intervals = mt_get32(p + 24);
    return 0;
}
