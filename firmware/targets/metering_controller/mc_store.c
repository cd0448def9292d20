/* EEPROM records of the metering controller (see mc_store.h and
 * docs/firmware_metering_controller.md for the byte layout). */
#include "mc_store.h"
#include <string.h>
#include "mc_crc.h"

static void p16(uint8_t *b, uint16_t v) { b[0] = (uint8_t)v; b[1] = (uint8_t)(v >> 8); }
static void p32(uint8_t *b, uint32_t v) { p16(b, (uint16_t)v); p16(b + 2, (uint16_t)(v >> 16)); }
static uint16_t g16(const uint8_t *b) { return (uint16_t)(b[0] | (b[1] << 8)); }
static uint32_t g32(const uint8_t *b) { return g16(b) | ((uint32_t)g16(b + 2) << 16); }

static int seal(uint8_t *b, unsigned len)          /* len = bytes before the CRC */
{
    p16(b + len, mc_crc16(b, len));
    return (int)len + 2;
}
static int sealed(const uint8_t *b, unsigned len) { return g16(b + len) == mc_crc16(b, len); }

void mc_dev_default(struct mc_dev_settings *d)
{
    memset(d, 0, sizeof *d);
    d->addr = 1;
    d->baud_code = 2;                                  /* 9600 */
    d->tariff.flat_price = 60;                         /* 0.60 per kWh */
    d->tariff.mode = 0;
    d->tariff.tou_price[0] = 100;
    d->tariff.tou_price[1] = 80;
    d->tariff.tou_price[2] = 60;
    d->tariff.tou_price[3] = 30;
    for (unsigned i = 0; i < MC_TOU_PERIODS; i++) {
        d->tariff.period_start[i] = MC_NO_MINUTE;
        d->tariff.period_idx[i] = 0;
    }
}

/* ---- header ---- */
int mc_enc_header(uint8_t *b, unsigned rooms)
{
    memset(b, 0, 12);
    p32(b, MC_EE_MAGIC);
    p16(b + 4, MC_EE_VERSION);
    b[6] = (uint8_t)rooms;
    return seal(b, 12);
}

int mc_dec_header(const uint8_t *b, unsigned *rooms)
{
    if (g32(b) != MC_EE_MAGIC || g16(b + 4) != MC_EE_VERSION || !sealed(b, 12))
        return -1;
    if (rooms)
        *rooms = b[6];
    return 14;
}

/* ---- device settings ---- */
int mc_enc_dev(uint8_t *b, uint32_t seq, const struct mc_dev_settings *d)
{
    p32(b, seq);
    b[4] = d->addr;
    b[5] = d->baud_code;
    p16(b + 6, d->tariff.flat_price);
    p16(b + 8, d->tariff.mode);
    for (unsigned i = 0; i < 4; i++)
        p16(b + 10 + 2 * i, d->tariff.tou_price[i]);
    for (unsigned i = 0; i < MC_TOU_PERIODS; i++) {
        p16(b + 18 + 4 * i, d->tariff.period_start[i]);
        p16(b + 20 + 4 * i, d->tariff.period_idx[i]);
    }
    return seal(b, 50);
}

int mc_dec_dev(const uint8_t *b, uint32_t *seq, struct mc_dev_settings *d)
{
    if (!sealed(b, 50))
        return -1;
    *seq = g32(b);
    d->addr = b[4];
    d->baud_code = b[5];
    d->tariff.flat_price = g16(b + 6);
    d->tariff.mode = g16(b + 8);
    for (unsigned i = 0; i < 4; i++)
        d->tariff.tou_price[i] = g16(b + 10 + 2 * i);
    for (unsigned i = 0; i < MC_TOU_PERIODS; i++) {
        d->tariff.period_start[i] = g16(b + 18 + 4 * i);
        d->tariff.period_idx[i] = g16(b + 20 + 4 * i);
    }
    return 52;
}

/* ---- access record: seq, key, scope ---- */
int mc_enc_access(uint8_t *b, uint32_t seq, const struct mc_access *x)
{
    p32(b, seq);
    p32(b + 4, x->key);
    b[8] = x->scope;
    b[9] = 0;
    return seal(b, 10);
}

int mc_dec_access(const uint8_t *b, uint32_t *seq, struct mc_access *x)
{
    if (!sealed(b, 10) || g32(b + 4) == 0 || b[8] > 1)
        return -1;
    *seq = g32(b);
    x->key = g32(b + 4);
    x->scope = b[8];
    return 12;
}

/* ---- room record ---- */
int mc_enc_room(uint8_t *b, uint32_t seq, unsigned room, const struct mc_room *r,
                const struct mc_room_cfg *c, const struct mc_cal *cal)
{
    memset(b, 0, MC_EE_ROOM_SIZE);
    p32(b, seq);
    b[4] = (uint8_t)room;
    b[5] = r->flags;
    b[6] = r->prot_reason;
    b[7] = r->reclose_left;
    p32(b + 8, r->credit_c);
    p16(b + 12, r->trips);
    b[14] = r->last_reason;
    b[15] = (uint8_t)c->malicious;
    p32(b + 16, c->alarm1_c);
    p32(b + 20, c->alarm2_c);
    p32(b + 24, c->overdraft_c);
    p32(b + 28, c->load_limit_W);
    p16(b + 32, c->overload_delay_s);
    p16(b + 34, c->oc_limit_cA);
    p16(b + 36, c->reclose_delay_s);
    p16(b + 38, c->reclose_attempts);
    p16(b + 40, c->sched_off);
    p16(b + 42, c->sched_on);
    p16(b + 44, (uint16_t)cal->wgain);
    p16(b + 46, (uint16_t)cal->apos);
    p16(b + 48, (uint16_t)cal->vrmsos);
    p16(b + 50, (uint16_t)cal->irmsos);
    p32(b + 52, cal->e_nWh);
    p16(b + 56, cal->v_scale);
    p16(b + 58, cal->i_scale);
    p16(b + 60, r->topup_token);       /* with the credit: one record, one A/B write */
    return seal(b, 62);
}

int mc_dec_room(const uint8_t *b, uint32_t *seq, unsigned room, struct mc_room *r,
                struct mc_room_cfg *c, struct mc_cal *cal)
{
    if (!sealed(b, 62) || b[4] != room)
        return -1;
    *seq = g32(b);
    r->flags = b[5];
    r->prot_reason = b[6];
    r->reclose_left = b[7];
    r->credit_c = g32(b + 8);
    r->trips = g16(b + 12);
    r->last_reason = b[14];
    c->malicious = b[15];
    c->alarm1_c = g32(b + 16);
    c->alarm2_c = g32(b + 20);
    c->overdraft_c = g32(b + 24);
    c->load_limit_W = g32(b + 28);
    c->overload_delay_s = g16(b + 32);
    c->oc_limit_cA = g16(b + 34);
    c->reclose_delay_s = g16(b + 36);
    c->reclose_attempts = g16(b + 38);
    c->sched_off = g16(b + 40);
    c->sched_on = g16(b + 42);
    cal->wgain = (int16_t)g16(b + 44);
    cal->apos = (int16_t)g16(b + 46);
    cal->vrmsos = (int16_t)g16(b + 48);
    cal->irmsos = (int16_t)g16(b + 50);
    cal->e_nWh = g32(b + 52);
    cal->v_scale = g16(b + 56);
    cal->i_scale = g16(b + 58);
    r->topup_token = g16(b + 60);      /* 0 in records written before top-up tokens */
    return 64;
}

/* ---- live totals and daily freezes ---- */
int mc_enc_live(uint8_t *b, const struct mc_live *l)
{
    p32(b, l->seq);
    b[4] = l->rooms;
    b[5] = l->reason;
    p16(b + 6, l->power_fails);
    p32(b + 8, l->time);
    p16(b + 12, l->year);
    b[14] = l->month;
    b[15] = l->day;
    for (unsigned i = 0; i < l->rooms; i++) {
        p32(b + 16 + 8 * i, l->energy_Wh[i]);
        p32(b + 20 + 8 * i, l->cost_c[i]);
    }
    unsigned len = MC_LIVE_LEN(l->rooms);
    seal(b, len - 2u);
    /* Extension after the record's own CRC (readers of the base layout never look there):
     * the rooms' sub-Wh remainders, sealed together with the record they belong to. */
    memcpy(b + len, l->rem_256, l->rooms);
    return seal(b, len + l->rooms);
}

uint8_t mc_rem_to_256(uint64_t rem_nWh)
{
    uint64_t v = (rem_nWh * 256u + 500000000u) / 1000000000u;
    return (uint8_t)(v > 255u ? 255u : v);
}

uint64_t mc_rem_from_256(uint8_t v) { return (uint64_t)v * 3906250u; }   /* 1e9 / 256 */

int mc_dec_live(const uint8_t *b, unsigned maxlen, struct mc_live *l)
{
    unsigned n = b[4];
    if (n == 0 || n > MC_MAX_ROOMS || MC_LIVE_LEN(n) > maxlen || !sealed(b, MC_LIVE_LEN(n) - 2u))
        return -1;
    l->seq = g32(b);
    l->rooms = (uint8_t)n;
    l->reason = b[5];
    l->power_fails = g16(b + 6);
    l->time = g32(b + 8);
    l->year = g16(b + 12);
    l->month = b[14];
    l->day = b[15];
    for (unsigned i = 0; i < n; i++) {
        l->energy_Wh[i] = g32(b + 16 + 8 * i);
        l->cost_c[i] = g32(b + 20 + 8 * i);
    }
    l->has_rem = MC_LIVE_EXT_LEN(n) <= maxlen && sealed(b, MC_LIVE_EXT_LEN(n) - 2u);
    for (unsigned i = 0; i < n; i++)
        l->rem_256[i] = l->has_rem ? b[MC_LIVE_LEN(n) + i] : 0u;
    return (int)MC_LIVE_LEN(n);
}

int mc_enc_freeze(uint8_t *b, const struct mc_freeze *f)
{
    p32(b, f->seq);
    b[4] = f->rooms;
    b[5] = 0;
    p16(b + 6, f->year);
    b[8] = f->month;
    b[9] = f->day;
    p16(b + 10, 0);
    for (unsigned i = 0; i < f->rooms; i++) {
        p32(b + 12 + 8 * i, f->energy_Wh[i]);
        p32(b + 16 + 8 * i, f->cost_c[i]);
    }
    return seal(b, MC_DAY_LEN(f->rooms) - 2u);
}

int mc_dec_freeze(const uint8_t *b, unsigned maxlen, struct mc_freeze *f)
{
    unsigned n = b[4];
    if (n == 0 || n > MC_MAX_ROOMS || MC_DAY_LEN(n) > maxlen || !sealed(b, MC_DAY_LEN(n) - 2u))
        return -1;
    f->seq = g32(b);
    f->rooms = (uint8_t)n;
    f->year = g16(b + 6);
    f->month = b[8];
    f->day = b[9];
    for (unsigned i = 0; i < n; i++) {
        f->energy_Wh[i] = g32(b + 12 + 8 * i);
        f->cost_c[i] = g32(b + 16 + 8 * i);
    }
    return (int)MC_DAY_LEN(n);
}

int mc_enc_event(uint8_t *b, const struct mc_event_rec *e)
{
    p32(b, e->seq);
    p32(b + 4, e->time);
    p32(b + 8, (uint32_t)e->value);
    b[12] = e->type;
    b[13] = e->room;
    return seal(b, 14);
}

int mc_dec_event(const uint8_t *b, struct mc_event_rec *e)
{
    if (!sealed(b, 14) || b[12] == 0 || b[12] == 0xFF)
        return -1;
    e->seq = g32(b);
    e->time = g32(b + 4);
    e->value = (int32_t)g32(b + 8);
    e->type = b[12];
    e->room = b[13];
    return 16;
}

/* ---- A/B pairs ---- */
static int newer(uint32_t a, uint32_t b) { return (int32_t)(a - b) > 0; }

int mc_ab_load_dev(const struct mc_ee *ee, struct mc_dev_settings *d, uint32_t *seq)
{
    uint8_t b[64];
    struct mc_dev_settings t;
    uint32_t s;
    int which = 0;
    for (int k = 0; k < 2; k++) {
        if (ee->read(ee->ctx, k ? MC_EE_DEV_B : MC_EE_DEV_A, b, 52) < 0)
            return -1;
        if (mc_dec_dev(b, &s, &t) > 0 && (!which || newer(s, *seq))) {
            *d = t;
            *seq = s;
            which = k + 1;
        }
    }
    return which;
}

int mc_ab_store_dev(const struct mc_ee *ee, const struct mc_dev_settings *d, uint32_t *seq)
{
    uint8_t b[64];
    uint32_t s = *seq + 1u;
    int len = mc_enc_dev(b, s, d);
    /* odd sequence numbers live in A, even ones in B: the other copy stays intact */
    if (ee->write(ee->ctx, (s & 1u) ? MC_EE_DEV_A : MC_EE_DEV_B, b, (uint32_t)len) < 0)
        return -1;
    *seq = s;
    return 0;
}

int mc_ab_load_access(const struct mc_ee *ee, struct mc_access *x, uint32_t *seq)
{
    uint8_t b[12];
    struct mc_access t;
    uint32_t s;
    int which = 0;
    for (int k = 0; k < 2; k++) {
        if (ee->read(ee->ctx, k ? MC_EE_ACCESS_B : MC_EE_ACCESS_A, b, 12) < 0)
            return -1;
        if (mc_dec_access(b, &s, &t) > 0 && (!which || newer(s, *seq))) {
            *x = t;
            *seq = s;
            which = k + 1;
        }
    }
    return which;
}

int mc_ab_store_access(const struct mc_ee *ee, const struct mc_access *x, uint32_t *seq)
{
    uint8_t b[12];
    uint32_t s = *seq + 1u;
    int len = mc_enc_access(b, s, x);
    if (ee->write(ee->ctx, (s & 1u) ? MC_EE_ACCESS_A : MC_EE_ACCESS_B, b, (uint32_t)len) < 0)
        return -1;
    *seq = s;
    return 0;
}

int mc_ab_load_room(const struct mc_ee *ee, unsigned room, struct mc_room *r,
                    struct mc_room_cfg *c, struct mc_cal *cal, uint32_t *seq)
{
    uint8_t b[MC_EE_ROOM_SIZE];
    struct mc_room tr = *r;
    struct mc_room_cfg tc;
    struct mc_cal tcal;
    uint32_t s;
    int which = 0;
    for (int k = 0; k < 2; k++) {
        uint32_t a = MC_EE_ROOM_BASE + MC_EE_ROOM_STRIDE * room + (k ? MC_EE_ROOM_SIZE : 0u);
        if (ee->read(ee->ctx, a, b, sizeof b) < 0)
            return -1;
        if (mc_dec_room(b, &s, room, &tr, &tc, &tcal) > 0 && (!which || newer(s, *seq))) {
            *r = tr;
            *c = tc;
            *cal = tcal;
            *seq = s;
            which = k + 1;
        }
    }
    return which;
}

int mc_ab_store_room(const struct mc_ee *ee, unsigned room, const struct mc_room *r,
                     const struct mc_room_cfg *c, const struct mc_cal *cal, uint32_t *seq)
{
    uint8_t b[MC_EE_ROOM_SIZE];
    uint32_t s = *seq + 1u;
    mc_enc_room(b, s, room, r, c, cal);
    uint32_t a = MC_EE_ROOM_BASE + MC_EE_ROOM_STRIDE * room + ((s & 1u) ? 0u : MC_EE_ROOM_SIZE);
    if (ee->write(ee->ctx, a, b, sizeof b) < 0)
        return -1;
    *seq = s;
    return 0;
}

/* ---- rings ----
 * Sequence numbers start at 1 in slot 0 and every append goes to the next slot, so record
 * seq always sits in slot (seq - 1) % slots. The slots of the current lap, 0..newest, hold
 * s0, s0 + 1, ... (s0 = the number in slot 0); the slots after the newest hold the previous
 * lap or are erased. So the newest is found by a binary search over the 4-byte sequence
 * fields (log2(slots) + 2 small reads instead of one per slot: the boot reads a few dozen
 * bytes over I2C instead of the 384 event slots). Only when slot 0 itself is unreadable (a
 * write into it torn by a power cut) does the scan fall back to reading every slot. The
 * newest's CRC is then checked; a torn newest record falls back to the one before, and the
 * next append overwrites the torn slot. */
static uint32_t g32ee(const struct mc_ee *ee, uint32_t addr, int *err)
{
    uint8_t b[4];
    if (ee->read(ee->ctx, addr, b, 4) < 0) {
        *err = 1;
        return 0;
    }
    return g32(b);
}

typedef int (*ring_check_fn)(const struct mc_ee *ee, uint32_t addr, uint32_t seq, void *out);

/* a sequence number that can sit in slot k */
static int plausible(uint32_t s, unsigned k, unsigned slots)
{
    return s != 0xFFFFFFFFu && s != 0 && (s - 1u) % slots == k;
}

/* highest sequence number in the ring (0: none), or -1 on a read error */
static int ring_highest(const struct mc_ee *ee, uint32_t base, uint32_t stride, unsigned slots,
                        uint32_t *best)
{
    int err = 0;
    uint32_t s0 = g32ee(ee, base, &err);
    *best = 0;
    if (plausible(s0, 0, slots)) {
        unsigned lo = 0, hi = slots - 1u;            /* last k with seq(k) == s0 + k */
        while (lo < hi && !err) {
            unsigned mid = (lo + hi + 1u) / 2u;
            if (g32ee(ee, base + mid * stride, &err) == s0 + mid)
                lo = mid;
            else
                hi = mid - 1u;
        }
        *best = s0 + lo;
        return err ? -1 : 0;
    }
    /* Slot 0 erased and the last slot too: lap 0 never got past the end, so nothing was
     * ever written after slot 0 (a torn first write there leaves the rest erased). */
    if (s0 == 0xFFFFFFFFu && g32ee(ee, base + (slots - 1u) * stride, &err) == 0xFFFFFFFFu)
        return err ? -1 : 0;
    for (unsigned k = 0; k < slots && !err; k++) {
        uint32_t s = g32ee(ee, base + k * stride, &err);
        if (plausible(s, k, slots) && s > *best)
            *best = s;
    }
    return err ? -1 : 0;
}

static int ring_scan(const struct mc_ee *ee, struct mc_ring *ring, uint32_t base, uint32_t stride,
                     unsigned slots, ring_check_fn check, void *out)
{
    uint32_t best = 0;
    ring->newest = 0xFFFFu;
    ring->valid = 0;
    ring->seq = 0;
    if (ring_highest(ee, base, stride, slots, &best) < 0)
        return -1;
    /* walk down from the highest until a record checks (at most two steps in practice) */
    for (unsigned tries = 0; best && tries < slots; tries++, best--) {
        unsigned k = (best - 1u) % slots;
        if (check(ee, base + k * stride, best, out) == 0) {
            ring->newest = (uint16_t)k;
            ring->seq = best;
            ring->valid = (uint16_t)(best < slots ? best : slots);
            return 1;
        }
    }
    /* Nothing checked: a write torn by a power cut can leave a plausible but made-up sequence
     * number (bits of the old and new bytes), far above the real ones, and the walk above never
     * reaches them. Then every slot is checked and the highest valid record wins (seen in the
     * power-cut campaign: a cut in the save's write cycle as the ring wrapped lost all totals). */
    uint32_t found = 0;
    unsigned found_k = 0;
    for (unsigned k = 0; k < slots; k++) {
        int err = 0;
        uint32_t s = g32ee(ee, base + k * stride, &err);
        if (err)
            return -1;
        if (plausible(s, k, slots) && s > found && check(ee, base + k * stride, s, 0) == 0) {
            found = s;
            found_k = k;
        }
    }
    if (!found)
        return 0;
    check(ee, base + found_k * stride, found, out);     /* decode the winner into `out` */
    ring->newest = (uint16_t)found_k;
    ring->seq = found;
    ring->valid = (uint16_t)(found < slots ? found : slots);
    return 1;
}

/* Read a record whose length depends on its room count (byte 4): the head first, then the
 * rest, so a 4-room record costs 56 bytes on the bus, not the 32-room maximum. */
static int read_rooms_record(const struct mc_ee *ee, uint32_t addr, uint8_t *b, unsigned max,
                             unsigned fixed, unsigned per_room)
{
    if (ee->read(ee->ctx, addr, b, 16) < 0)
        return -1;
    unsigned n = b[4], len = fixed + per_room * n;
    if (n == 0 || n > MC_MAX_ROOMS || len > max)
        return 0;                                    /* not a record: the decoder says no */
    return ee->read(ee->ctx, addr + 16u, b + 16, len - 16u) < 0 ? -1 : 0;
}

static void ring_advance(struct mc_ring *ring, unsigned slots, uint32_t *seq, unsigned *slot)
{
    *seq = ring->newest == 0xFFFFu ? 1u : ring->seq + 1u;
    *slot = (*seq - 1u) % slots;
}

static void ring_written(struct mc_ring *ring, unsigned slots, unsigned slot, uint32_t seq)
{
    ring->newest = (uint16_t)slot;
    ring->seq = seq;
    ring->valid = (uint16_t)(seq < slots ? seq : slots);
}

static int live_check(const struct mc_ee *ee, uint32_t addr, uint32_t seq, void *out)
{
    uint8_t b[MC_LIVE_EXT_LEN(MC_MAX_ROOMS)];
    memset(b, 0xFF, sizeof b);
    if (read_rooms_record(ee, addr, b, sizeof b, MC_LIVE_EXT_LEN(0), 9u) < 0 || g32(b) != seq)
        return -1;
    unsigned n = b[4];                  /* checked by read_rooms_record when it read the rest */
    if (n == 0 || n > MC_MAX_ROOMS || !sealed(b, MC_LIVE_LEN(n) - 2u))
        return -1;
    if (out)                            /* decoded straight into the caller's record */
        mc_dec_live(b, sizeof b, out);
    return 0;
}

int mc_live_scan(const struct mc_ee *ee, struct mc_ring *ring, struct mc_live *newest)
{
    return ring_scan(ee, ring, MC_EE_LIVE_BASE, MC_EE_LIVE_STRIDE, MC_EE_LIVE_SLOTS, live_check,
                     newest);
}

int mc_live_append(const struct mc_ee *ee, struct mc_ring *ring, struct mc_live *l)
{
    uint8_t b[MC_LIVE_EXT_LEN(MC_MAX_ROOMS)];
    unsigned slot;
    ring_advance(ring, MC_EE_LIVE_SLOTS, &l->seq, &slot);
    int len = mc_enc_live(b, l);
    if (ee->write(ee->ctx, MC_EE_LIVE_BASE + slot * MC_EE_LIVE_STRIDE, b, (uint32_t)len) < 0)
        return -1;
    ring_written(ring, MC_EE_LIVE_SLOTS, slot, l->seq);
    return 0;
}

static int day_check(const struct mc_ee *ee, uint32_t addr, uint32_t seq, void *out)
{
    uint8_t b[MC_DAY_LEN(MC_MAX_ROOMS)];
    struct mc_freeze f;
    (void)out;
    memset(b, 0xFF, sizeof b);
    if (read_rooms_record(ee, addr, b, sizeof b, MC_DAY_LEN(0), 8u) < 0 ||
        mc_dec_freeze(b, sizeof b, &f) < 0 || f.seq != seq)
        return -1;
    return 0;
}

int mc_day_scan(const struct mc_ee *ee, struct mc_ring *ring)
{
    return ring_scan(ee, ring, MC_EE_DAY_BASE, MC_EE_DAY_STRIDE, MC_EE_DAY_SLOTS, day_check, 0);
}

int mc_day_append(const struct mc_ee *ee, struct mc_ring *ring, struct mc_freeze *f)
{
    uint8_t b[MC_DAY_LEN(MC_MAX_ROOMS)];
    unsigned slot;
    ring_advance(ring, MC_EE_DAY_SLOTS, &f->seq, &slot);
    int len = mc_enc_freeze(b, f);
    if (ee->write(ee->ctx, MC_EE_DAY_BASE + slot * MC_EE_DAY_STRIDE, b, (uint32_t)len) < 0)
        return -1;
    ring_written(ring, MC_EE_DAY_SLOTS, slot, f->seq);
    return 0;
}

int mc_day_get(const struct mc_ee *ee, const struct mc_ring *ring, unsigned k, struct mc_freeze *f)
{
    uint8_t b[MC_DAY_LEN(MC_MAX_ROOMS)];
    if (ring->newest == 0xFFFFu || k >= MC_EE_DAY_SLOTS || k >= ring->seq)
        return -1;
    uint32_t seq = ring->seq - k;
    unsigned slot = (seq - 1u) % MC_EE_DAY_SLOTS;
    if (ee->read(ee->ctx, MC_EE_DAY_BASE + slot * MC_EE_DAY_STRIDE, b, sizeof b) < 0)
        return -1;
    if (mc_dec_freeze(b, sizeof b, f) < 0 || f->seq != seq)
        return -1;
    return 0;
}

static int event_check(const struct mc_ee *ee, uint32_t addr, uint32_t seq, void *out)
{
    uint8_t b[MC_EE_EVENT_SIZE];
    struct mc_event_rec e;
    (void)out;
    if (ee->read(ee->ctx, addr, b, sizeof b) < 0 || mc_dec_event(b, &e) < 0 || e.seq != seq)
        return -1;
    return 0;
}

int mc_event_scan(const struct mc_ee *ee, struct mc_ring *ring)
{
    return ring_scan(ee, ring, MC_EE_EVENT_BASE, MC_EE_EVENT_SIZE, MC_EE_EVENT_SLOTS, event_check, 0);
}

int mc_event_append(const struct mc_ee *ee, struct mc_ring *ring, struct mc_event_rec *e)
{
    uint8_t b[MC_EE_EVENT_SIZE];
    unsigned slot;
    ring_advance(ring, MC_EE_EVENT_SLOTS, &e->seq, &slot);
    mc_enc_event(b, e);
    if (ee->write(ee->ctx, MC_EE_EVENT_BASE + slot * MC_EE_EVENT_SIZE, b, sizeof b) < 0)
        return -1;
    ring_written(ring, MC_EE_EVENT_SLOTS, slot, e->seq);
    return 0;
}

int mc_event_get(const struct mc_ee *ee, const struct mc_ring *ring, unsigned k, struct mc_event_rec *e)
{
    uint8_t b[MC_EE_EVENT_SIZE];
    if (ring->newest == 0xFFFFu || k >= ring->valid)
        return -1;
    uint32_t seq = ring->seq - k;
    unsigned slot = (seq - 1u) % MC_EE_EVENT_SLOTS;
    if (ee->read(ee->ctx, MC_EE_EVENT_BASE + slot * MC_EE_EVENT_SIZE, b, sizeof b) < 0)
        return -1;
    if (mc_dec_event(b, e) < 0 || e->seq != seq)
        return -1;
    return 0;
}

/* ---- open / format ---- */
int mc_store_open(const struct mc_ee *ee, unsigned rooms)
{
    uint8_t b[MC_EE_PAGE];
    if (ee->read(ee->ctx, MC_EE_HEADER, b, 14) < 0)
        return -1;
    if (mc_dec_header(b, 0) > 0)
        return MC_STORE_OK;
    int blank = 1;
    for (unsigned i = 0; i < 14; i++)
        blank &= b[i] == 0xFF;
    if (!blank) {                       /* someone else's data: erase before use */
        memset(b, 0xFF, sizeof b);
        for (uint32_t a = 0; a < MC_EE_SIZE; a += MC_EE_PAGE)
            if (ee->write(ee->ctx, a, b, MC_EE_PAGE) < 0)
                return -1;
    }
    int len = mc_enc_header(b, rooms);
    if (ee->write(ee->ctx, MC_EE_HEADER, b, (uint32_t)len) < 0)
        return -1;
    return MC_STORE_FORMATTED;
}
