/*
 * Time-of-use metering (Table 3 thread 1): energy by rate (1 sharp, 2 peak, 3 flat, 4 valley)
 * and the step (ladder) tariff, from the metrology unit's energy read through the metering
 * service (00F00000, metersim's own: forward and reverse in mWh, the unit's clock and freeze
 * count). docs/meter_basic_app.md has the identifiers and the choices.
 *
 * Every 5 s of the meter's clock (so on every switch instant: day tables switch on whole
 * minutes) the module takes the energy metered since the last sample and books it to the rate
 * in effect then, and charges its money (rate price + step price) to the control module. The
 * records (energy by rate, the metrology total they stand on, the money used) go to the
 * EEPROM every minute, two copies. At start, the energy the unit metered since the stored
 * record (the management unit off, unplugged, reset) is booked by the unit's 15-minute
 * interval freezes (05F0FENN) to the rates of their quarters: nothing is lost, and each
 * quarter goes to its rates in proportion to the time each held (the power inside a quarter
 * is not known).
 */
#include <string.h>
#include "bapp.h"
#include "bsp_date.h"

#define SAMPLE_S 5u
#define SAVE_S 60u
#define RATES 4u
#define ZONES_MAX 14u
#define TABLES_MAX 8u
#define PERIODS_MAX 14u
#define HOLIDAYS_MAX 16u
#define STEPS_MAX 4u                        /* step values; STEPS_MAX + 1 step prices */

#define DI_PRECISE 0x00F00000u              /* metering: fwd mWh, rev mWh (6 BCD each), clock, count */
#define DI_FREEZE_PRECISE 0x05F0FE00u       /* metering: NN-th last interval freeze, precise */
#define DI_STEP_MODE 0x04A20010u            /* 00 monthly, 01 yearly consumption */
#define DI_PERIOD_USE 0x04A20011u           /* consumption of the step period, XXXXXX.XXXX kWh */
#define DI_MONEY_USED 0x04A20012u           /* money used since the start, XXXXXX.XXXX yuan */

struct tou_set {
    uint8_t nzones;
    uint8_t zone[ZONES_MAX][3];             /* start month, day, day table (binary) */
    uint8_t nperiods[TABLES_MAX];
    uint8_t period[TABLES_MAX][PERIODS_MAX][3];   /* start hour, minute, rate */
};

struct tou_params {                         /* BAPP_EE_TOU_TABLES */
    uint32_t magic;
    struct tou_set set[2];                  /* [0] in force, [1] the other (04020000..) */
    uint32_t zone_switch_s, day_switch_s;   /* 04000106 / 04000107: set 2 takes over; 0 none */
    uint8_t rest_word, rest_table;          /* 04000801 (bit d = 0: weekday d rests), 04000802 */
    uint8_t nholidays, step_mode;
    uint8_t holiday[HOLIDAYS_MAX][4];       /* YY MM DD table */
    uint32_t price[2][RATES];               /* 0405RR0n, 0.0001 yuan/kWh */
    uint8_t nsteps;
    uint32_t step_cWh[STEPS_MAX];           /* 0406000n, 0.01 kWh */
    uint32_t step_price[STEPS_MAX + 1u];    /* 0406010n, 0.0001 yuan/kWh */
    uint16_t crc;
};
#define PARAMS_MAGIC 0x50554F54u            /* "TOUP" */

struct tou_rec {                            /* BAPP_EE_TOU, copies at +0 and +0x80 */
    uint32_t magic, seq;
    uint64_t fwd_mWh[RATES], rev_mWh[RATES];
    uint64_t base_fwd_mWh, base_rev_mWh;    /* the metrology totals the rates stand on */
    uint32_t base_s;                        /* the meter's clock at that sample */
    uint32_t period_id;                     /* the step period (year * 100 + month, or year) */
    uint64_t period_mWh;                    /* consumption in the step period */
    uint64_t used_e10uY;                    /* money used, 1e-10 yuan (price x energy, exact) */
    uint16_t crc;
};
#define REC_MAGIC 0x4E454F54u               /* "TOEN" */
BAPP_REC_FITS(struct tou_rec, 0x80u);
static const bapp_rec_t k_rec = BAPP_REC(BAPP_EE_TOU, 0x80u, struct tou_rec, REC_MAGIC,
                                         "tou: energy record");

static struct tou_params P;
static struct tou_rec R;
static uint8_t g_have, g_dirty, g_step;
static uint32_t g_saved_s, g_fresh_s;
static uint32_t g_intervals;
static ms_tick_t g_edge_tick;               /* a tick at which the clock's second began */
static uint32_t g_edge_s;

static const struct tou_set k_factory_set = {
    1, {{1, 1, 1}},
    {4, 0, 0, 0, 0, 0, 0, 0},
    {{{0, 0, 4}, {8, 0, 3}, {10, 0, 2}, {18, 0, 1}}},   /* valley, flat, peak, sharp, ... */
};

/* ---- parameters ---- */

static void params_factory(void)
{
    memset(&P, 0, sizeof P);
    P.magic = PARAMS_MAGIC;
    P.set[0] = P.set[1] = k_factory_set;
    P.set[0].nperiods[0] = 5;
    P.set[0].period[0][4][0] = 21;          /* 21:00 flat again */
    P.set[0].period[0][4][2] = 3;
    P.rest_word = 0x7F;                     /* every weekday works */
    P.rest_table = 1;
    for (unsigned i = 0; i < RATES; i++)
        P.price[0][i] = P.price[1][i] = 5000u;     /* 0.5 yuan/kWh */
}

static void params_save(void)
{
    svc_rec_seal(&P, offsetof(struct tou_params, crc));
    if (bapp_eeprom(BAPP_EE_TOU_TABLES, &P, sizeof P, 1) < 0)
        ms_printk("tou: parameters not saved\n");
}

/* ---- time of use ---- */

static int ymd_before(unsigned m1, unsigned d1, unsigned m2, unsigned d2)
{
    return m1 < m2 || (m1 == m2 && d1 <= d2);
}

/* The day table in force on the date of t (1-based), holidays and rest days first. */
static unsigned day_table(uint32_t t)
{
    struct bsp_datetime dt;
    bsp_date_from_secs(t, &dt);
    for (unsigned i = 0; i < P.nholidays; i++)
        if (P.holiday[i][0] == dt.year % 100u && P.holiday[i][1] == dt.month &&
            P.holiday[i][2] == dt.day)
            return P.holiday[i][3];
    unsigned weekday = (t / 86400u + 6u) % 7u;      /* 2000-01-01 was a Saturday; 0 Sunday */
    if (!(P.rest_word >> weekday & 1u))
        return P.rest_table;
    const struct tou_set *s = &P.set[0];
    unsigned best = 0, found = 0;
    for (unsigned i = 0; i < s->nzones; i++)        /* the latest zone start not after today */
        if (ymd_before(s->zone[i][0], s->zone[i][1], dt.month, dt.day) &&
            (!found || ymd_before(s->zone[best][0], s->zone[best][1], s->zone[i][0], s->zone[i][1]))) {
            best = i;
            found = 1;
        }
    for (unsigned i = 0; !found && i < s->nzones; i++)  /* before the first: last year's last */
        if (i == 0 || ymd_before(s->zone[best][0], s->zone[best][1], s->zone[i][0], s->zone[i][1]))
            best = i;
    return s->nzones ? s->zone[best][2] : 1u;
}

static unsigned rate_at(uint32_t t)
{
    unsigned tab = day_table(t);
    const struct tou_set *s = &P.set[0];
    if (tab < 1u || tab > TABLES_MAX || !s->nperiods[tab - 1u])
        return 3u;                          /* no table: flat */
    unsigned n = s->nperiods[tab - 1u], minute = t % 86400u / 60u, best = n - 1u, found = 0;
    for (unsigned i = 0; i < n; i++) {
        unsigned start = s->period[tab - 1u][i][0] * 60u + s->period[tab - 1u][i][1];
        unsigned bs = s->period[tab - 1u][best][0] * 60u + s->period[tab - 1u][best][1];
        if (start <= minute && (!found || start >= bs)) {
            best = i;
            found = 1;
        }
    }
    if (!found)                             /* before the first start: yesterday's last */
        for (unsigned i = 0; i < n; i++)
            if (s->period[tab - 1u][i][0] * 60u + s->period[tab - 1u][i][1] >=
                s->period[tab - 1u][best][0] * 60u + s->period[tab - 1u][best][1])
                best = i;
    unsigned r = s->period[tab - 1u][best][2];
    return r >= 1u && r <= RATES ? r : 3u;
}

/* 04000106 / 04000107: at the switch instant the other set's tables come into force. */
static void switch_sets(uint32_t now)
{
    int changed = 0;
    if (P.zone_switch_s && now >= P.zone_switch_s) {
        uint8_t n = P.set[0].nzones, z[ZONES_MAX][3];
        memcpy(z, P.set[0].zone, sizeof z);
        P.set[0].nzones = P.set[1].nzones;
        memcpy(P.set[0].zone, P.set[1].zone, sizeof z);
        P.set[1].nzones = n;
        memcpy(P.set[1].zone, z, sizeof z);
        P.zone_switch_s = 0;
        changed = 1;
        ms_printk("tou: zone tables switched to the other set\n");
    }
    if (P.day_switch_s && now >= P.day_switch_s) {
        struct tou_set t = P.set[0];
        memcpy(P.set[0].nperiods, P.set[1].nperiods, sizeof t.nperiods);
        memcpy(P.set[0].period, P.set[1].period, sizeof t.period);
        memcpy(P.set[1].nperiods, t.nperiods, sizeof t.nperiods);
        memcpy(P.set[1].period, t.period, sizeof t.period);
        P.day_switch_s = 0;
        changed = 1;
        ms_printk("tou: day tables switched to the other set\n");
    }
    if (changed)
        params_save();
}

/* ---- step tariff and money ---- */

static uint32_t period_of(uint32_t t)
{
    struct bsp_datetime dt;
    bsp_date_from_secs(t, &dt);
    return P.step_mode ? dt.year : dt.year * 100u + dt.month;
}

static unsigned step_of(uint64_t mWh)
{
    unsigned k = 0;
    while (k < P.nsteps && k < STEPS_MAX && mWh >= (uint64_t)P.step_cWh[k] * 10000u)
        k++;
    return k;                               /* 0: the first step */
}

static uint32_t price_now(unsigned rate)
{
    return P.price[0][rate - 1u] + (P.nsteps ? P.step_price[step_of(R.period_mWh)] : 0u);
}

static void log_time(uint32_t t)
{
    struct bsp_datetime dt;
    bsp_date_from_secs(t, &dt);
    ms_printk("%04u-%02u-%02u %02u:%02u:%02u", dt.year, dt.month, dt.day, dt.hour, dt.min, dt.sec);
}

/* e mWh forward at `rate`, metered up to t: energy, step consumption and money, the step
 * crossing inside it priced on each side. */
static void book(unsigned rate, uint64_t e, uint64_t rev, uint32_t t)
{
    R.fwd_mWh[rate - 1u] += e;
    R.rev_mWh[rate - 1u] += rev;
    uint32_t pid = period_of(t);
    if (pid != R.period_id) {
        R.period_id = pid;
        R.period_mWh = 0;
    }
    while (e) {
        unsigned k = step_of(R.period_mWh);
        uint64_t part = e;
        if (P.nsteps && k < P.nsteps) {
            uint64_t to_next = (uint64_t)P.step_cWh[k] * 10000u - R.period_mWh;
            if (part > to_next)
                part = to_next;
        }
        R.used_e10uY += part * price_now(rate);   /* mWh x 0.0001 yuan/kWh = 1e-10 yuan */
        R.period_mWh += part;
        e -= part;
        unsigned now_k = step_of(R.period_mWh);
        if (now_k != k) {
            g_step = (uint8_t)now_k;
            ms_printk("tou: step %u from ", now_k + 1u);
            log_time(t);
            ms_printk(", consumption %u.%04u kWh\n", (unsigned)(R.period_mWh / 1000000u),
                      (unsigned)(R.period_mWh / 100u % 10000u));
        }
    }
    g_dirty = 1;
}

static void charge(void)
{
    uint8_t v[8];
    uint64_t used_uY = R.used_e10uY / 10000u;
    memcpy(v, &used_uY, 8);
    bapp_set(BAPP_DI_CHARGE, v, 8);
}

/* ---- records ---- */

static void rec_save(void)
{
    bapp_rec_save(&k_rec, &R);
    g_dirty = 0;
}

static int rec_load(void) { return bapp_rec_load(&k_rec, &R); }

/* ---- the metrology unit's energy ---- */

static uint64_t bcd_u64(const uint8_t *p, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = bytes; i-- > 0;)
        v = v * 100u + bapp_bcd2(p[i]);
    return v;
}

/* forward, reverse mWh; the unit's freeze count. 0 or < 0. */
static int precise(uint64_t *fwd, uint64_t *rev)
{
    uint8_t d[22];
    int n = bapp_get(DI_PRECISE, d, sizeof d);
    if (n != 22)
        return n < 0 ? n : MS_ERR_IO;
    *fwd = bcd_u64(d, 6);
    *rev = bcd_u64(d + 6, 6);
    g_intervals = (uint32_t)bcd_u64(d + 18, 4);
    return 0;
}

static uint32_t secs_of_bcd5(const uint8_t *p)          /* mm hh DD MM YY */
{
    struct bsp_datetime dt = {(uint16_t)(2000u + bapp_bcd2(p[4])), (uint8_t)bapp_bcd2(p[3]),
                              (uint8_t)bapp_bcd2(p[2]), (uint8_t)bapp_bcd2(p[1]),
                              (uint8_t)bapp_bcd2(p[0]), 0};
    return bsp_date_valid(&dt) ? bsp_date_to_secs(&dt) : 0;
}

/* Book [from, to) with energy e (and rev) to the rates of that time, in proportion to the
 * minutes each held (switches fall on whole minutes). */
static void book_span(uint32_t from, uint32_t to, uint64_t e, uint64_t rev)
{
    if (to <= from) {
        book(rate_at(from), e, rev, to);
        return;
    }
    uint64_t done = 0, done_rev = 0;
    uint32_t t = from;
    while (t < to) {
        unsigned rate = rate_at(t);
        uint32_t u = t;
        while (u < to && rate_at(u) == rate)
            u = (u / 60u + 1u) * 60u < to ? (u / 60u + 1u) * 60u : to;
        uint64_t share = e * (u - from) / (to - from) - done;
        uint64_t share_rev = rev * (u - from) / (to - from) - done_rev;
        book(rate, share, share_rev, u);
        done += share;
        done_rev += share_rev;
        t = u;
    }
}

/* The energy metered while this module was away (R.base_* .. now), booked by the unit's
 * interval freezes. */
static void resync(uint64_t fwd, uint64_t rev, uint32_t now)
{
    struct { uint32_t t; uint64_t f, r; } pts[16];
    unsigned n = 0;
    for (unsigned nn = 1; nn <= g_intervals && nn <= 255u && n < 16u; nn++) {
        uint8_t d[17];
        if (bapp_get(DI_FREEZE_PRECISE | nn, d, sizeof d) != 17)
            break;
        uint32_t t = secs_of_bcd5(d);
        if (t <= R.base_s)
            break;
        pts[n].t = t;
        pts[n].f = bcd_u64(d + 5, 6);
        pts[n].r = bcd_u64(d + 11, 6);
        n++;
    }
    /* oldest first: base -> freezes -> now; anything inconsistent goes to the span's end */
    uint32_t t = R.base_s;
    uint64_t f = R.base_fwd_mWh, r = R.base_rev_mWh;
    unsigned used = 0;
    while (n--) {
        if (pts[n].f < f || pts[n].f > fwd || pts[n].r < r || pts[n].r > rev || pts[n].t > now)
            continue;
        book_span(t, pts[n].t, pts[n].f - f, pts[n].r - r);
        t = pts[n].t;
        f = pts[n].f;
        r = pts[n].r;
        used++;
    }
    book_span(t, now, fwd - f, rev - r);
    ms_printk("tou: re-synchronised, %u.%03u kWh metered meanwhile, %u interval freezes used\n",
              (unsigned)((fwd - R.base_fwd_mWh) / 1000000u),
              (unsigned)((fwd - R.base_fwd_mWh) / 1000u % 1000u), used);
}

/* One sample: the energy since the last one, booked to the rate that was in force. */
static int sample(void)
{
    uint64_t fwd, rev;
    uint32_t now = bapp_clock();
    if (precise(&fwd, &rev) < 0)
        return -1;
    g_fresh_s = now;
    if (!g_have) {
        g_have = 1;
        if (R.magic != REC_MAGIC) {         /* a new meter: the rates start here */
            memset(&R, 0, sizeof R);
            R.magic = REC_MAGIC;
            R.base_fwd_mWh = fwd;
            R.base_rev_mWh = rev;
            R.base_s = now;
            R.period_id = period_of(now);
            ms_printk("tou: metering by rate from forward %u.%03u kWh\n",
                      (unsigned)(fwd / 1000000u), (unsigned)(fwd / 1000u % 1000u));
            rec_save();
            charge();
            return 0;
        }
        if (fwd >= R.base_fwd_mWh && rev >= R.base_rev_mWh) {
            if (now > R.base_s)
                resync(fwd, rev, now);
            else                            /* the clock went back meanwhile: by now */
                book(rate_at(now), fwd - R.base_fwd_mWh, rev - R.base_rev_mWh, now);
        }
    } else if (fwd >= R.base_fwd_mWh && rev >= R.base_rev_mWh) {
        switch_sets(R.base_s);
        book(rate_at(R.base_s), fwd - R.base_fwd_mWh, rev - R.base_rev_mWh, now);
    }
    if (fwd < R.base_fwd_mWh || rev < R.base_rev_mWh) {
        /* the unit's energy went back: a meter clear (1AH) cleared it, so the rates go too */
        memset(R.fwd_mWh, 0, sizeof R.fwd_mWh);
        memset(R.rev_mWh, 0, sizeof R.rev_mWh);
        R.period_mWh = 0;
        g_dirty = 1;
        g_saved_s = 0;                      /* saved at once */
        ms_printk("tou: the metrology unit was cleared: energy by rate cleared\n");
    }
    R.base_fwd_mWh = fwd;
    R.base_rev_mWh = rev;
    R.base_s = now;
    switch_sets(now);
    if (g_dirty && now - g_saved_s >= SAVE_S) {
        rec_save();
        g_saved_s = now;
    }
    charge();
    return 0;
}

/* ---- the module ---- */

static int is_table(uint32_t di)            /* 0401000n / 0402000n, n = 0 the zones */
{
    return (di & 0xFFF0FFF0u) == 0x04000000u && ((di >> 16 & 0xFu) == 1u || (di >> 16 & 0xFu) == 2u) &&
           (di & 0xFFFFu) <= TABLES_MAX;
}

static int owns(const dlt_frame_t *q)
{
    unsigned fn = DLT_FN(q->ctrl);
    if ((fn != DLT_READ && fn != DLT_WRITE) || q->len < 4u)
        return 0;
    uint32_t di = dlt_di(q->data);
    unsigned type = di >> 16, rr = di >> 8 & 0xFFu;
    if ((type <= 0x0002u || type == 0x00E1u) && (di & 0xFFu) == 0 &&
        ((rr >= 1u && rr <= RATES) || rr == 0xFFu || (type == 0x00E1u && rr == 0)))
        return fn == DLT_READ;              /* energy by rate */
    switch (di) {
    case 0x0280000Bu: case 0x02800020u: case 0x02800021u: case DI_PERIOD_USE: case DI_MONEY_USED:
        return fn == DLT_READ;
    case 0x04000106u: case 0x04000107u: case 0x04000201u: case 0x04000202u: case 0x04000203u:
    case 0x04000204u: case 0x04000205u: case 0x04000207u: case 0x04000801u: case 0x04000802u:
    case DI_STEP_MODE:
        return 1;
    default:
        break;
    }
    if (is_table(di))
        return 1;                           /* 0401000n / 0402000n tables */
    if ((di & 0xFFFFFF00u) == 0x04030000u && (di & 0xFFu) >= 1u && (di & 0xFFu) <= HOLIDAYS_MAX)
        return 1;
    if ((di & 0xFFFFFF00u) == 0x04050100u || (di & 0xFFFFFF00u) == 0x04050200u)
        return (di & 0xFFu) >= 1u && (di & 0xFFu) <= RATES;
    if ((di & 0xFFFFFF00u) == 0x04060000u)
        return (di & 0xFFu) >= 1u && (di & 0xFFu) <= STEPS_MAX;
    if ((di & 0xFFFFFF00u) == 0x04060100u)
        return (di & 0xFFu) >= 1u && (di & 0xFFu) <= STEPS_MAX + 1u;
    return 0;
}

static void put_time5(uint8_t *out, uint32_t s)
{
    struct bsp_datetime dt;
    bsp_date_from_secs(s, &dt);
    uint8_t v[5] = {dt.min, dt.hour, dt.day, dt.month, (uint8_t)(dt.year % 100u)};
    for (unsigned i = 0; i < 5u; i++)
        dlt_bcd_put(out + i, 1, v[i]);
    if (!s)
        memset(out, 0, 5);
}

/* The value of a read into v; its length, or -1. */
static int read_value(uint32_t di, uint8_t *v)
{
    unsigned type = di >> 16, rr = di >> 8 & 0xFFu;
    if (type <= 0x0002u || type == 0x00E1u) {
        int precise_kWh = type == 0x00E1u;          /* 00E1: forward, XXXXXX.XXXXXX kWh */
        unsigned first = rr == 0xFFu ? 0u : rr, last = rr == 0xFFu ? RATES : rr, n = 0;
        for (unsigned k = first; k <= last; k++) {
            uint64_t e = 0;
            if (k == 0u) {                  /* the total: the metrology unit's, as sampled */
                e = (type == 0x0002u ? 0u : R.base_fwd_mWh) +
                    (type == 0x0000u || type == 0x0002u ? R.base_rev_mWh : 0u);
            }
            for (unsigned i = 0; k != 0u && i < RATES; i++)
                if (k == 0u || k == i + 1u)
                    e += (type == 0x0002u ? 0u : R.fwd_mWh[i]) +
                         (type == 0x0000u || type == 0x0002u ? R.rev_mWh[i] : 0u);
            if (precise_kWh) {                      /* XXXXXX.XXXXXX kWh: mWh */
                dlt_bcd_put(v + n, 3, (uint32_t)(e % 1000000u));
                dlt_bcd_put(v + n + 3, 3, (uint32_t)(e / 1000000u % 1000000u));
                n += 6;
            } else {
                dlt_bcd_put(v + n, 4, (uint32_t)(e / 10000u % 100000000u));
                n += 4;
            }
        }
        return (int)n;
    }
    const struct tou_set *s0 = &P.set[0];
    uint32_t now = bapp_clock();
    switch (di) {
    case 0x0280000Bu: dlt_bcd_put(v, 4, P.nsteps ? P.step_price[step_of(R.period_mWh)] : 0u); return 4;
    case 0x02800020u: dlt_bcd_put(v, 4, price_now(rate_at(now))); return 4;
    case 0x02800021u: dlt_bcd_put(v, 4, P.price[0][rate_at(now) - 1u]); return 4;
    case DI_PERIOD_USE: {
        uint64_t x = R.period_mWh / 100u;
        dlt_bcd_put(v, 4, (uint32_t)(x % 100000000u));
        dlt_bcd_put(v + 4, 1, (uint32_t)(x / 100000000u % 100u));
        return 5;
    }
    case DI_MONEY_USED: {
        uint64_t x = R.used_e10uY / 1000000u;    /* 0.0001 yuan */
        dlt_bcd_put(v, 4, (uint32_t)(x % 100000000u));
        dlt_bcd_put(v + 4, 1, (uint32_t)(x / 100000000u % 100u));
        return 5;
    }
    case 0x04000106u: put_time5(v, P.zone_switch_s); return 5;
    case 0x04000107u: put_time5(v, P.day_switch_s); return 5;
    case 0x04000201u: dlt_bcd_put(v, 1, s0->nzones); return 1;
    case 0x04000202u: dlt_bcd_put(v, 1, TABLES_MAX); return 1;
    case 0x04000203u: {
        unsigned m = 0;
        for (unsigned i = 0; i < TABLES_MAX; i++)
            m = s0->nperiods[i] > m ? s0->nperiods[i] : m;
        dlt_bcd_put(v, 1, m);
        return 1;
    }
    case 0x04000204u: dlt_bcd_put(v, 1, RATES); return 1;
    case 0x04000205u: dlt_bcd_put(v, 2, P.nholidays); return 2;
    case 0x04000207u: dlt_bcd_put(v, 1, P.nsteps); return 1;
    case 0x04000801u: v[0] = P.rest_word; return 1;
    case 0x04000802u: dlt_bcd_put(v, 1, P.rest_table); return 1;
    case DI_STEP_MODE: v[0] = P.step_mode; return 1;
    default: break;
    }
    unsigned low = di & 0xFFu;
    if (is_table(di)) {        /* 040s000n: set s, zones (0) or table n */
        const struct tou_set *s = &P.set[(di >> 16 & 0xFu) - 1u];
        unsigned idx = di & 0xFFFFu;
        unsigned n = idx ? s->nperiods[idx - 1u] : s->nzones;
        const uint8_t(*rows)[3] = idx ? s->period[idx - 1u] : s->zone;
        for (unsigned i = 0; i < n; i++) {          /* NN first on the wire: NN hh mm / NN DD MM */
            dlt_bcd_put(v + 3 * i, 1, rows[i][2]);
            dlt_bcd_put(v + 3 * i + 1, 1, rows[i][1]);
            dlt_bcd_put(v + 3 * i + 2, 1, rows[i][0]);
        }
        return (int)(3u * n);
    }
    if ((di & 0xFFFFFF00u) == 0x04030000u) {
        if (low > P.nholidays)
            return -1;
        const uint8_t *h = P.holiday[low - 1u];
        uint8_t w[4] = {h[3], h[2], h[1], h[0]};   /* NN DD MM YY */
        for (unsigned i = 0; i < 4u; i++)
            dlt_bcd_put(v + i, 1, w[i]);
        return 4;
    }
    if ((di & 0xFFFFFF00u) == 0x04050100u || (di & 0xFFFFFF00u) == 0x04050200u) {
        dlt_bcd_put(v, 4, P.price[(di >> 8 & 0xFu) - 1u][low - 1u]);
        return 4;
    }
    if ((di & 0xFFFFFF00u) == 0x04060000u) {
        dlt_bcd_put(v, 4, P.step_cWh[low - 1u]);
        return 4;
    }
    dlt_bcd_put(v, 4, P.step_price[low - 1u]);     /* 0406010n */
    return 4;
}

static uint32_t secs_of_bcd5_now(const uint8_t *p)
{
    static const uint8_t zero[5];
    return memcmp(p, zero, 5) ? secs_of_bcd5(p) : 0u;
}

/* A write's value v (n bytes); 0 or -1 (refused: SERR 01). */
static int write_value(uint32_t di, const uint8_t *v, unsigned n)
{
    uint32_t x = 0;
    unsigned low = di & 0xFFu;
    if (!n || (n <= 4u && dlt_bcd_get(v, n, &x) < 0 && di != 0x04000801u))
        return -1;
    for (unsigned i = 0; n > 4u && i < n; i++)
        if ((v[i] & 0xFu) > 9u || v[i] >> 4 > 9u)
            return -1;                      /* tables: BCD throughout */
    switch (di) {
    case 0x04000106u: case 0x04000107u:
        if (n != 5u || (x && !secs_of_bcd5(v)))
            return -1;
        *(di == 0x04000106u ? &P.zone_switch_s : &P.day_switch_s) = secs_of_bcd5_now(v);
        return 0;
    case 0x04000801u: if (n != 1u) return -1; P.rest_word = v[0] & 0x7Fu; return 0;
    case 0x04000802u:
        if (n != 1u || x < 1u || x > TABLES_MAX) return -1;
        P.rest_table = (uint8_t)x;
        return 0;
    case 0x04000205u: if (n != 2u || x > HOLIDAYS_MAX) return -1; P.nholidays = (uint8_t)x; return 0;
    case 0x04000207u: if (n != 1u || x > STEPS_MAX) return -1; P.nsteps = (uint8_t)x; return 0;
    case DI_STEP_MODE: if (n != 1u || v[0] > 1u) return -1; P.step_mode = v[0]; return 0;
    default: break;
    }
    if (is_table(di)) {
        unsigned idx = di & 0xFFFFu, rows = n / 3u;
        struct tou_set *s = &P.set[(di >> 16 & 0xFu) - 1u];
        if (n % 3u || !rows || rows > (idx ? PERIODS_MAX : ZONES_MAX))
            return -1;
        uint8_t (*dst)[3] = idx ? s->period[idx - 1u] : s->zone;
        for (unsigned i = 0; i < rows; i++) {
            unsigned nn = bapp_bcd2(v[3 * i]), b = bapp_bcd2(v[3 * i + 1]), a = bapp_bcd2(v[3 * i + 2]);
            if (idx ? (a > 23u || b > 59u || nn < 1u || nn > RATES)
                    : (a < 1u || a > 12u || b < 1u || b > 31u || nn < 1u || nn > TABLES_MAX))
                return -1;
        }
        for (unsigned i = 0; i < rows; i++) {
            dst[i][0] = (uint8_t)bapp_bcd2(v[3 * i + 2]);
            dst[i][1] = (uint8_t)bapp_bcd2(v[3 * i + 1]);
            dst[i][2] = (uint8_t)bapp_bcd2(v[3 * i]);
        }
        *(idx ? &s->nperiods[idx - 1u] : &s->nzones) = (uint8_t)rows;
        return 0;
    }
    if ((di & 0xFFFFFF00u) == 0x04030000u) {        /* NN DD MM YY */
        if (n != 4u)
            return -1;
        P.holiday[low - 1u][0] = (uint8_t)bapp_bcd2(v[3]);
        P.holiday[low - 1u][1] = (uint8_t)bapp_bcd2(v[2]);
        P.holiday[low - 1u][2] = (uint8_t)bapp_bcd2(v[1]);
        P.holiday[low - 1u][3] = (uint8_t)bapp_bcd2(v[0]);
        if (P.nholidays < low)
            P.nholidays = (uint8_t)low;
        return 0;
    }
    if (n != 4u)
        return -1;
    if ((di & 0xFFFFFF00u) == 0x04050100u || (di & 0xFFFFFF00u) == 0x04050200u)
        P.price[(di >> 8 & 0xFu) - 1u][low - 1u] = x;
    else if ((di & 0xFFFFFF00u) == 0x04060000u)
        P.step_cWh[low - 1u] = x;
    else
        P.step_price[low - 1u] = x;
    return 0;
}

static void serve(const dlt_frame_t *q, dlt_frame_t *r, uint8_t from)
{
    (void)from;
    uint32_t di = dlt_di(q->data);
    if (DLT_FN(q->ctrl) == DLT_READ) {
        uint8_t v[DLT_MAX_DATA - 4u];
        if (((di >> 24) == 0u || di == DI_PERIOD_USE || di == DI_MONEY_USED) &&
            g_fresh_s != bapp_clock())
            sample();                       /* energy as of now, not of the last sample */
        int n = read_value(di, v);
        if (n < 0)
            dlt_abnormal(r, q, DLT_SERR_NO_DATA);
        else
            bapp_reply_di(r, q, v, (unsigned)n);
        return;
    }
    /* 14H: DI, PA P0-P2, C0-C3, data */
    if (q->len < 12u || write_value(di, q->data + 12, q->len - 12u) < 0) {
        dlt_abnormal(r, q, DLT_SERR_OTHER);
        return;
    }
    params_save();
    ms_printk("tou: parameter %08x written\n", (unsigned)di);
    dlt_reply(r, q, 0, 0);
}

/* The clock's second edge: ticks per clock second are exact, so one edge gives them all. It
 * is found by looking at the clock every 10 ms for up to a second, between requests. */
static int find_edge(void)
{
    uint32_t s = bapp_clock();
    if (!g_edge_s || s == g_edge_s) {
        g_edge_s = s;
        g_edge_tick = 0;
        return 0;
    }
    g_edge_tick = ms_tick_get();
    g_edge_s = s;
    return 1;
}

static void init(void)
{
    if (bapp_eeprom(BAPP_EE_TOU_TABLES, &P, sizeof P, 0) < 0 ||
        !svc_rec_valid(&P, PARAMS_MAGIC, offsetof(struct tou_params, crc))) {
        params_factory();
        params_save();
        ms_printk("tou: factory time-of-use tables\n");
    }
    int copy = rec_load();
    if (copy >= 0)
        ms_printk("tou: energy by rate from EEPROM copy %c (seq %u)\n", 'A' + copy,
                  (unsigned)R.seq);
    g_saved_s = bapp_clock();
}

/* Sample on every SAMPLE_S boundary of the clock, 50 ms after it begins. */
static uint32_t tick(void)
{
    if (!g_edge_tick && !find_edge())
        return 10u;
    if (!g_have || bapp_clock() != g_fresh_s)
        if (sample() < 0 && !g_have)
            return 1000u;                   /* no metering service answer yet */
    uint32_t now = bapp_clock();
    if (now != g_edge_s + (ms_tick_get() - g_edge_tick) / MS_TICK_HZ) {
        g_edge_s = 0;                       /* the clock was set: find the edge again */
        g_edge_tick = 0;
        return 10u;
    }
    uint32_t next_s = (now / SAMPLE_S + 1u) * SAMPLE_S;
    ms_tick_t at = g_edge_tick + (next_s - g_edge_s) * MS_TICK_HZ + MS_TICK_HZ / 20u;
    int32_t left = (int32_t)(at - ms_tick_get());
    return left > 0 ? (uint32_t)left * 1000u / MS_TICK_HZ : 0u;
}

const bapp_module_t bapp_tou = {
    .name = "tou", .thread = BAPP_T_TOU, .prio = 11, .stack = 2048,
    .owns = owns, .init = init, .serve = serve, .tick = tick,
};
