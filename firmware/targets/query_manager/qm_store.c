/* The readings ring in the EEPROM: see qm_store.h. */
#include <string.h>
#include "mc_crc.h"
#include "qm_store.h"

#define MAGIC 0x474C4D51u               /* "QMLG" */
#define HDR_LEN 18u                     /* magic gen first next crc16 */

static at24c_t *g_ee;
static uint32_t g_first = 1, g_next = 1, g_gen;

/* The newest readings also stay in RAM: the net thread sends each snapshot right after it is
 * appended, and reading a record back costs a millisecond of I2C at 400 kHz (41 bytes and the
 * address). Older ones (a backlog after an outage or a reset) are read from the EEPROM. A 40-room
 * snapshot fits; seq 0 marks an empty place (numbers start at 1). */
#define CACHE_RECS 48u
static struct qm_rec g_cache[CACHE_RECS];

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}
static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static uint32_t get32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

static uint32_t rec_addr(uint32_t seq) { return QM_STORE_BASE + (seq % QM_STORE_CAP) * QM_STORE_REC_BYTES; }

static void encode(const struct qm_rec *r, uint8_t *b)
{
    put32(b, r->seq);
    put32(b + 4, r->secs);
    put32(b + 8, r->energy_wh);
    put32(b + 12, r->cost);
    put32(b + 16, r->balance);
    put32(b + 20, r->power);
    put16(b + 24, r->voltage);
    put16(b + 26, r->current);
    put16(b + 28, r->pf);
    put16(b + 30, r->freq);
    put16(b + 32, r->trips);
    b[34] = r->addr;
    b[35] = r->room;
    b[36] = r->status;
    b[37] = r->reason;
    b[38] = r->age_s;
    put16(b + 39, mc_crc16(b, 39));
}

static int decode(const uint8_t *b, struct qm_rec *r)
{
    if (get16(b + 39) != mc_crc16(b, 39))
        return MS_ERR_IO;
    r->seq = get32(b);
    r->secs = get32(b + 4);
    r->energy_wh = get32(b + 8);
    r->cost = get32(b + 12);
    r->balance = get32(b + 16);
    r->power = get32(b + 20);
    r->voltage = get16(b + 24);
    r->current = get16(b + 26);
    r->pf = get16(b + 28);
    r->freq = get16(b + 30);
    r->trips = get16(b + 32);
    r->addr = b[34];
    r->room = b[35];
    r->status = b[36];
    r->reason = b[37];
    r->age_s = b[38];
    return 0;
}

int qm_store_read(uint32_t seq, struct qm_rec *r)
{
    uint8_t b[QM_STORE_REC_BYTES];
    if (!g_ee)
        return MS_ERR_NODEV;
    const struct qm_rec *c = &g_cache[seq % CACHE_RECS];
    if (seq != 0 && c->seq == seq) {
        *r = *c;
        return 0;
    }
    int e = at24c_read(g_ee, rec_addr(seq), b, sizeof b);
    if (e < 0)
        return e;
    if (decode(b, r) != 0 || r->seq != seq)
        return MS_ERR_IO;
    return 0;
}

/* Header copy gen % 2, so the other copy stays whole while this one is written. */
int qm_store_commit(void)
{
    uint8_t h[HDR_LEN];
    if (!g_ee)
        return MS_ERR_NODEV;
    g_gen++;
    put32(h, MAGIC);
    put32(h + 4, g_gen);
    put32(h + 8, g_first);
    put32(h + 12, g_next);
    put16(h + 16, mc_crc16(h, 16));
    int e = at24c_write(g_ee, (g_gen % 2u) * QM_STORE_HDR_BYTES, h, sizeof h);
    return e < 0 ? e : 0;
}

int qm_store_init(at24c_t *ee)
{
    g_ee = ee;
    int found = 0;
    for (unsigned c = 0; c < 2; c++) {
        uint8_t h[HDR_LEN];
        if (at24c_read(ee, c * QM_STORE_HDR_BYTES, h, sizeof h) < 0)
            return MS_ERR_IO;
        if (get32(h) != MAGIC || get16(h + 16) != mc_crc16(h, 16))
            continue;
        uint32_t gen = get32(h + 4), first = get32(h + 8), next = get32(h + 12);
        if (next - first > QM_STORE_CAP || first == 0)
            continue;
        if (!found || (int32_t)(gen - g_gen) > 0) {
            g_gen = gen;
            g_first = first;
            g_next = next;
            found = 1;
        }
    }
    if (!found) {                       /* a new EEPROM: an empty ring from 1 */
        g_gen = 0;
        g_first = g_next = 1;
        return qm_store_commit();
    }
    /* Records appended after the last header write: whole (CRC) and numbered next. */
    struct qm_rec r;
    uint32_t was = g_next;
    while (qm_store_read(g_next, &r) == 0) {
        g_next++;
        if (g_next - g_first > QM_STORE_CAP)
            g_first = g_next - QM_STORE_CAP;
    }
    return g_next != was ? qm_store_commit() : 0;
}

uint32_t qm_store_first(void) { return g_first; }
uint32_t qm_store_next(void) { return g_next; }

int qm_store_append(struct qm_rec *r)
{
    uint8_t b[QM_STORE_REC_BYTES];
    if (!g_ee)
        return MS_ERR_NODEV;
    int dropped = 0;
    if (g_next - g_first >= QM_STORE_CAP) {   /* full: the oldest goes */
        g_first++;
        dropped = 1;
    }
    r->seq = g_next;
    encode(r, b);
    int e = at24c_write(g_ee, rec_addr(r->seq), b, sizeof b);
    if (e < 0)
        return e;
    g_cache[r->seq % CACHE_RECS] = *r;
    g_next++;
    return dropped;
}

int qm_store_ack(uint32_t seq)
{
    if ((int32_t)(seq - g_first) < 0)
        return 0;                       /* nothing new */
    if ((int32_t)(seq - g_next) >= 0)
        seq = g_next - 1u;
    g_first = seq + 1u;
    return qm_store_commit();
}
