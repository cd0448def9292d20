/*
 * Freezing (Table 3 thread 3): timed, instantaneous, daily, monthly (settlement) and hourly
 * freezes of the energy the time-of-use module keeps (forward and reverse, total and the four
 * rates, read with bapp_get), the power-down freeze, and supplementary freezing of the
 * instants missed while the meter was off. docs/meter_basic_app.md "Freezing".
 *
 * Storage: the app's second EEPROM window (bapp.h BAPP_EE_FREEZE_*). Every ring is kept
 * twice (copy A and copy B, each record with its number and a CRC): a cut while one copy is
 * written tears that copy only, and a read takes the other. An index (two alternating copies,
 * CRC, sequence number) counts the freezes made of each kind and holds the freeze settings.
 * Daily and monthly freezes are also backed up as files on the NOR's littlefs,
 * /nor/freeze/daily/NN and /nor/freeze/monthly/NN (NN the ring slot, the same 48-byte record):
 * written and closed after the EEPROM copies and before the index counts the freeze. littlefs
 * commits a file only at its close and keeps the old one until then, so a cut leaves the old
 * record or the new one, never a part (the atomicity a temporary name and a rename would
 * give, without a second commit). A read whose EEPROM copies are both bad takes the file.
 *
 * Once a minute, on the minute, the module takes the energy (the power-down freeze: a ring of
 * 16 records, so each EEPROM page is written every 16 minutes) and makes the freezes due in
 * that minute. At start the newest power-down freeze says when the management unit stopped:
 * the daily and monthly instants between then and now are frozen late (supplementary), with
 * the metrology unit's 15-minute interval freeze at that instant when it made one (it meters
 * on while the management unit is unplugged), else the energy at the power-down (a meter that
 * was wholly off metered nothing meanwhile; its energy now is what it had when it went off).
 */
#include <string.h>
#include "bapp.h"
#include "bsp_date.h"

#define K_TIMED 0u
#define K_INSTANT 1u
#define K_DAILY 2u
#define K_MONTHLY 3u
#define K_HOURLY 4u
#define KINDS 5u
#define RING_PD 16u                         /* power-down freezes */
#define IDX_MAGIC 0x5A52465Au               /* "ZFRZ" */
#define DI_PRECISE 0x00F00000u              /* metering: fwd, rev mWh, clock, interval count */
#define DI_INTERVAL 0x05F0FE00u             /* metering: NN-th last interval freeze, precise */
#define SUPPLY_MAX 16u                      /* interval freezes kept for missed instants */

struct energy { uint32_t fwd[5], rev[5]; }; /* 0.01 kWh: total, rates 1..4 */

struct frec {                               /* 48 bytes: timed, instant, daily, monthly, power-down */
    uint16_t n, crc;                        /* freeze number (low 16 bits), CRC of the rest */
    uint32_t t;                             /* the instant, s since 2000 */
    struct energy e;
};

struct hrec {                               /* 16 bytes: hourly */
    uint16_t n, crc;
    uint32_t t, fwd, rev;
};

struct fidx {                               /* BAPP_EE_FREEZE_IDX, copies at +0 and +0x40 */
    uint32_t magic, seq;
    uint32_t made[KINDS];
    uint8_t timed[4];                       /* 16H pattern mm hh DD MM (BCD, 99 = any) */
    uint8_t daily_hh, daily_mm;             /* 04001203 */
    uint8_t settle_dd, settle_hh;           /* 04000B01 */
    uint16_t crc;
};

BAPP_REC_FITS(struct fidx, 0x40u);
static const bapp_rec_t k_idx = BAPP_REC(BAPP_EE_FREEZE_IDX, 0x40u, struct fidx, IDX_MAGIC,
                                         "freeze: index");

static const struct { uint8_t kk; uint16_t depth, size, off; } K[KINDS] = {
    {0x00, 12, 48, 0}, {0x01, 3, 48, 576}, {0x06, 62, 48, 720}, {0xFF, 12, 48, 3696},
    {0x04, 254, 16, 4272},
};

static struct fidx X;
static const char *const k_names[KINDS] = {"timed", "instantaneous", "daily", "monthly", "hourly"};
static struct energy g_e;                   /* scratch: the energy being frozen */
static uint32_t g_last_min;                 /* the last minute whose freezes were made */
static uint32_t g_boot_s, g_pd_s;           /* start; the power-down freeze before it (0 none) */
static uint8_t g_ready, g_pd_known;
static struct energy g_pd_e;                /* energy of that power-down freeze */
static struct { uint32_t t; uint32_t fwd, rev; } g_iv[SUPPLY_MAX];   /* intervals on missed instants */
static unsigned g_niv;
static uint8_t g_unit_ran;                  /* the metrology unit froze after the power-down */
static uint16_t g_pd_n;                     /* number of the newest power-down freeze */

/* ---- storage ---- */

static uint16_t crc_of(const void *p, unsigned n)
{
    return crc16_ccitt((const uint8_t *)p + 4, n - 4u);      /* n, crc first */
}

static void idx_save(void) { bapp_rec_save(&k_idx, &X); }

static void idx_load(void)
{
    if (bapp_rec_load(&k_idx, &X) >= 0)
        return;
    memset(&X, 0, sizeof X);
    X.magic = IDX_MAGIC;
    memset(X.timed, 0x99, sizeof X.timed);  /* no timed freeze until 16H sets one ... */
    X.timed[0] = 0xAA;                      /* ... (AA: not a BCD pattern, never matches) */
    X.settle_dd = 1;                        /* settlement: the 1st, 00:00 */
}

static uint32_t slot_addr(unsigned kind, unsigned copy, uint32_t n)
{
    return (copy ? BAPP_EE_FREEZE_B : BAPP_EE_FREEZE_A) + K[kind].off +
           ((n - 1u) % K[kind].depth) * K[kind].size;
}

/* The nn-th last record of kind (1 = newest) into rec (K[kind].size bytes); 0 or -1. */
static int has_file(unsigned kind)
{
    return kind == K_DAILY || kind == K_MONTHLY;
}

/* The backup file of freeze number n of kind: /nor/freeze/<daily|monthly>/NN, NN its slot. */
static void file_path(char *p, unsigned kind, uint32_t n)
{
    static const char d[] = BAPP_FREEZE_DIR "/daily/", m[] = BAPP_FREEZE_DIR "/monthly/";
    const char *dir = kind == K_DAILY ? d : m;
    unsigned slot = (n - 1u) % K[kind].depth + 1u, i = 0;
    while (dir[i])
        p[i] = dir[i], i++;
    p[i++] = (char)('0' + slot / 10u);
    p[i++] = (char)('0' + slot % 10u);
    p[i] = 0;
}

/* The file system's directories, once at start (MS_ERR_EXIST after the first). */
static void files_init(void)
{
    static const char *const dirs[] = {BAPP_FREEZE_DIR, BAPP_FREEZE_DIR "/daily",
                                       BAPP_FREEZE_DIR "/monthly"};
    for (unsigned i = 0; i < 3u; i++) {
        int r = ms_io_mkdir(dirs[i], 0);
        if (r < 0 && r != MS_ERR_EXIST) {
            ms_printk("freeze: no %s (%d): freezes in EEPROM only\n", dirs[i], r);
            return;
        }
    }
}

static int rec_ok(const void *rec, unsigned kind, uint32_t n)
{
    const uint16_t *h = rec;
    return h[0] == (uint16_t)n && h[1] == crc_of(rec, K[kind].size);
}

/* The nn-th last record of kind (1 = newest) into rec (K[kind].size bytes): copy A, copy B,
 * then the NOR file (daily, monthly); 0 or -1. */
static int rec_get(unsigned kind, unsigned nn, void *rec)
{
    if (nn < 1u || nn > K[kind].depth || nn > X.made[kind])
        return -1;
    uint32_t n = X.made[kind] - nn + 1u;
    for (unsigned copy = 0; copy < 2u; copy++)
        if (bapp_eeprom(slot_addr(kind, copy, n), rec, K[kind].size, 0) == MS_OK && rec_ok(rec, kind, n))
            return 0;
    char path[32];
    if (!has_file(kind))
        return -1;
    file_path(path, kind, n);
    if (bapp_file(path, rec, K[kind].size, 0) == MS_OK && rec_ok(rec, kind, n)) {
        ms_printk("freeze: %s freeze %u from %s (both EEPROM copies bad)\n", k_names[kind],
                  (unsigned)n, path);
        return 0;
    }
    return -1;
}

static void log_time(uint32_t s)
{
    struct bsp_datetime dt;
    bsp_date_from_secs(s, &dt);
    ms_printk("%04u-%02u-%02u %02u:%02u", dt.year, dt.month, dt.day, dt.hour, dt.min);
}


/* Freeze e at instant t as the next record of kind; `why` is printed. */
static void freeze(unsigned kind, uint32_t t, const struct energy *e, const char *why)
{
    union { struct frec f; struct hrec h; } r;
    if (kind != K_INSTANT && X.made[kind] && rec_get(kind, 1, &r) == 0 && r.f.t == t)
        return;                             /* already made (a cut before the index moved on) */
    uint32_t n = X.made[kind] + 1u;
    memset(&r, 0, sizeof r);
    if (kind == K_HOURLY) {
        r.h.t = t;
        r.h.fwd = e->fwd[0];
        r.h.rev = e->rev[0];
    } else {
        r.f.t = t;
        r.f.e = *e;
    }
    r.f.n = (uint16_t)n;
    r.f.crc = crc_of(&r, K[kind].size);
    for (unsigned copy = 0; copy < 2u; copy++)
        if (bapp_eeprom(slot_addr(kind, copy, n), &r, K[kind].size, 1) < 0)
            ms_printk("freeze: copy %c of a %s freeze not written\n", 'A' + copy, k_names[kind]);
    if (has_file(kind)) {
        char path[32];
        file_path(path, kind, n);
        int e = bapp_file(path, &r, K[kind].size, 1);
        if (e == MS_OK)                     /* the campaign's record of closed files */
            ms_printk("freeze: file %s closed, freeze %u, crc %04x\n", path, (unsigned)n,
                      (unsigned)r.f.crc);
        else
            ms_printk("freeze: file %s not written (%d)\n", path, e);
    }
    X.made[kind] = n;
    idx_save();
    ms_printk("freeze: %s %s freeze ", why, k_names[kind]);
    log_time(t);
    ms_printk(", forward %u.%02u kWh\n", (unsigned)(e->fwd[0] / 100u), (unsigned)(e->fwd[0] % 100u));
}

/* ---- energy ---- */

static int energy_now(struct energy *e)
{
    uint8_t d[20];
    for (unsigned dir = 0; dir < 2u; dir++) {
        if (bapp_get(dir ? 0x0002FF00u : 0x0001FF00u, d, sizeof d) != 20)
            return -1;
        for (unsigned i = 0; i < 5u; i++)
            if (dlt_bcd_get(d + 4 * i, 4, dir ? &e->rev[i] : &e->fwd[i]) < 0)
                return -1;
    }
    return 0;
}

static uint64_t bcd_u64(const uint8_t *p, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = bytes; i-- > 0;)
        v = v * 100u + bapp_bcd2(p[i]);
    return v;
}

static uint32_t secs_of_bcd5(const uint8_t *p)          /* mm hh DD MM YY */
{
    struct bsp_datetime dt = {(uint16_t)(2000u + bapp_bcd2(p[4])), (uint8_t)bapp_bcd2(p[3]),
                              (uint8_t)bapp_bcd2(p[2]), (uint8_t)bapp_bcd2(p[1]),
                              (uint8_t)bapp_bcd2(p[0]), 0};
    return bsp_date_valid(&dt) ? bsp_date_to_secs(&dt) : 0;
}

/* ---- instants ---- */

static int is_daily(uint32_t t)
{
    return t % 60u == 0 && t % 86400u / 60u == X.daily_hh * 60u + X.daily_mm;
}

static int is_monthly(uint32_t t)
{
    struct bsp_datetime dt;
    if (t % 3600u)
        return 0;
    bsp_date_from_secs(t, &dt);
    return dt.day == X.settle_dd && dt.hour == X.settle_hh;
}

static int is_timed(uint32_t t)
{
    struct bsp_datetime dt;
    if (t % 60u || X.timed[0] == 0x99u || X.timed[0] == 0xAAu)
        return 0;
    bsp_date_from_secs(t, &dt);
    uint8_t v[4] = {dt.min, dt.hour, dt.day, dt.month};
    for (unsigned i = 0; i < 4u; i++)
        if (X.timed[i] != 0x99u && bapp_bcd2(X.timed[i]) != v[i])
            return 0;
    return 1;
}

/* The energy at missed instant t (supplementary freezing): the unit's interval freeze at t,
 * else the energy at the power-down. */
static void energy_missed(uint32_t t, struct energy *e)
{
    *e = g_unit_ran ? g_pd_e : g_e;         /* wholly off: what it has now it had then */
    for (unsigned i = 0; i < g_niv; i++)
        if (g_iv[i].t == t) {
            e->fwd[0] = g_iv[i].fwd;        /* the rates stay those of the power-down: which */
            e->rev[0] = g_iv[i].rev;        /* rate the energy since went to, the TOU books */
        }
}

/* The freezes of minute-instants (from, to] (in minutes): every daily and monthly instant in a
 * gap (the meter was off, or the clock moved on: then with the energy now), the hourly and
 * timed ones of `to` only. */
static void freezes_due(uint32_t from, uint32_t to, int after_power_down)
{
    uint32_t first = to - from > 62u * 1440u ? to - 62u * 1440u : from;   /* at most a depth */
    struct energy e;
    for (uint32_t m = first + 1u; m <= to; m++) {
        uint32_t t = m * 60u;
        int missed = m != to || after_power_down;
        if (m != to && !is_daily(t) && !is_monthly(t))
            continue;
        if (after_power_down)
            energy_missed(t, &e);
        else
            e = g_e;
        const char *why = missed ? "supplementary" : "the";
        if (is_daily(t))
            freeze(K_DAILY, t, &e, why);
        if (is_monthly(t))
            freeze(K_MONTHLY, t, &e, why);
        if (!missed && t % 3600u == 0)
            freeze(K_HOURLY, t, &e, why);
        if (!missed && is_timed(t))
            freeze(K_TIMED, t, &e, why);
    }
}

/* The power-down freeze: the energy at the minute, newest of a ring (its number's low bits
 * are its slot). */
static void pd_save(uint32_t t)
{
    struct frec r;
    memset(&r, 0, sizeof r);
    r.n = ++g_pd_n;
    r.t = t;
    r.e = g_e;
    r.crc = crc_of(&r, sizeof r);
    if (bapp_eeprom(BAPP_EE_POWERDOWN + (g_pd_n % RING_PD) * sizeof r, &r, sizeof r, 1) < 0)
        ms_printk("freeze: power-down freeze not written\n");
}

/* The newest valid power-down freeze: the slots' numbers first (8 bytes each: EEPROM reads
 * are slow), then the whole record of the newest, the next newest if its CRC fails. */
static void pd_load(void)
{
    struct frec r;
    uint16_t n[RING_PD];
    uint32_t tried = 0;
    g_pd_known = 0;
    for (unsigned k = 0; k < RING_PD; k++)
        if (bapp_eeprom(BAPP_EE_POWERDOWN + k * sizeof r, &r, 8, 0) < 0 || !r.t ||
            r.t == 0xFFFFFFFFu || r.n % RING_PD != k)
            tried |= 1u << k;
        else
            n[k] = r.n;
    for (;;) {
        int best = -1;
        for (unsigned k = 0; k < RING_PD; k++)
            if (!(tried >> k & 1u) && (best < 0 || (int16_t)(n[k] - n[best]) > 0))
                best = (int)k;
        if (best < 0)
            return;
        tried |= 1u << best;
        if (bapp_eeprom(BAPP_EE_POWERDOWN + (unsigned)best * sizeof r, &r, sizeof r, 0) == MS_OK &&
            r.crc == crc_of(&r, sizeof r)) {
            g_pd_known = 1;
            g_pd_n = r.n;
            g_pd_s = r.t;
            g_pd_e = r.e;
            return;
        }
    }
}

/* The metrology unit's interval freezes made since the power-down: the ones on daily or
 * monthly instants are kept for supplementary freezing. */
static int intervals_since(uint32_t since)
{
    uint8_t d[22];
    if (bapp_get(DI_PRECISE, d, sizeof d) != 22)
        return -1;
    uint32_t count = (uint32_t)bcd_u64(d + 18, 4);
    g_niv = 0;
    g_unit_ran = 0;
    for (unsigned nn = 1; nn <= count && nn <= 255u; nn++) {
        if (bapp_get(DI_INTERVAL | nn, d, 17) != 17)
            break;
        uint32_t t = secs_of_bcd5(d);
        if (t <= since)
            break;
        g_unit_ran = 1;
        if ((is_daily(t) || is_monthly(t)) && g_niv < SUPPLY_MAX) {
            g_iv[g_niv].t = t;
            g_iv[g_niv].fwd = (uint32_t)(bcd_u64(d + 5, 6) / 10000u);
            g_iv[g_niv].rev = (uint32_t)(bcd_u64(d + 11, 6) / 10000u);
            g_niv++;
        }
    }
    return 0;
}

/* After a start: the instants missed since the last power-down freeze. */
static int power_up(void)
{
    if (energy_now(&g_e) < 0)
        return -1;                          /* the time-of-use module is not up yet */
    uint32_t now = bapp_clock();
    if (g_pd_known && now / 60u > g_pd_s / 60u) {
        if (intervals_since(g_pd_s) < 0)
            return -1;
        ms_printk("freeze: up after a power-down at ");
        log_time(g_pd_s);
        ms_printk(", %u interval freezes of the metrology unit since\n", g_unit_ran ? g_niv : 0u);
        freezes_due(g_pd_s / 60u, now / 60u, 1);
    }
    g_last_min = now / 60u;
    pd_save(now / 60u * 60u);
    g_ready = 1;
    ms_printk("freeze: running at ");
    log_time(now);
    ms_printk(", forward %u.%02u kWh\n", (unsigned)(g_e.fwd[0] / 100u), (unsigned)(g_e.fwd[0] % 100u));
    return 0;
}

/* ---- the module ---- */

static int owns(const dlt_frame_t *q)
{
    unsigned fn = DLT_FN(q->ctrl);
    if (fn == DLT_FREEZE)
        return 1;
    if ((fn != DLT_READ && fn != DLT_WRITE) || q->len < 4u)
        return 0;
    uint32_t di = dlt_di(q->data);
    if (di == 0x04001203u || di == 0x04000B01u)
        return 1;
    if (fn != DLT_READ)
        return 0;
    if (di == BAPP_DI_POWER_DOWN)
        return 1;
    unsigned type = di >> 16, rr = di >> 8 & 0xFFu, ss = di & 0xFFu;
    if (type <= 2u && ss >= 1u && ss <= 12u && (rr <= 4u || rr == 0xFFu))
        return 1;                           /* energy at the last ss-th settlement */
    if (di >> 24 == 0x05u) {
        unsigned kk = di >> 16 & 0xFFu, ii = di >> 8 & 0xFFu;
        return (kk == 0x00u || kk == 0x01u || kk == 0x04u || kk == 0x06u) &&
               (ii <= 2u || ii == 0xFFu) && ss >= 1u;
    }
    return 0;
}

static unsigned put_energy(uint8_t *v, const uint32_t *x, unsigned rr)
{
    if (rr == 0xFFu) {
        for (unsigned i = 0; i < 5u; i++)
            dlt_bcd_put(v + 4 * i, 4, x[i]);
        return 20;
    }
    dlt_bcd_put(v, 4, x[rr]);
    return 4;
}

static int read_value(uint32_t di, uint8_t *v)
{
    if (di == BAPP_DI_POWER_DOWN) {         /* to the events module: [power-down, start] */
        if (!g_ready)
            return -1;
        uint32_t w[2] = {g_pd_known ? g_pd_s : 0u, g_boot_s};
        memcpy(v, w, 8);
        return 8;
    }
    if (di == 0x04001203u) {
        dlt_bcd_put(v, 1, X.daily_mm);
        dlt_bcd_put(v + 1, 1, X.daily_hh);
        return 2;
    }
    if (di == 0x04000B01u) {
        dlt_bcd_put(v, 1, X.settle_hh);
        dlt_bcd_put(v + 1, 1, X.settle_dd);
        return 2;
    }
    unsigned ss = di & 0xFFu, rr = di >> 8 & 0xFFu;
    struct frec f;
    if (di >> 24 == 0u) {                   /* 000T RR SS: settlement ss */
        if (rec_get(K_MONTHLY, ss, &f) < 0)
            return -1;
        unsigned type = di >> 16;
        if (type == 0u)
            for (unsigned i = 0; i < 5u; i++)
                f.e.fwd[i] += f.e.rev[i];
        return (int)put_energy(v, type == 2u ? f.e.rev : f.e.fwd, rr);
    }
    unsigned kk = di >> 16 & 0xFFu, kind = kk == 0x00u ? K_TIMED : kk == 0x01u ? K_INSTANT
                                         : kk == 0x04u ? K_HOURLY : K_DAILY;
    unsigned n = 0;
    if (kind == K_HOURLY) {
        struct hrec h;
        if (rec_get(kind, ss, &h) < 0)
            return -1;
        if (rr == 0u || rr == 0xFFu)
            svc_put_time(v, h.t, 0), n = 5;
        if (rr == 1u || rr == 0xFFu)
            dlt_bcd_put(v + n, 4, h.fwd), n += 4;
        if (rr == 2u || rr == 0xFFu)
            dlt_bcd_put(v + n, 4, h.rev), n += 4;
        return (int)n;
    }
    if (rec_get(kind, ss, &f) < 0)
        return -1;
    if (rr == 0u || rr == 0xFFu)
        svc_put_time(v, f.t, 0), n = 5;
    if (rr == 1u || rr == 0xFFu)
        n += put_energy(v + n, f.e.fwd, 0xFFu);
    if (rr == 2u || rr == 0xFFu)
        n += put_energy(v + n, f.e.rev, 0xFFu);
    return (int)n;
}

static int write_value(uint32_t di, const uint8_t *v, unsigned n)
{
    uint32_t x;
    if (n != 2u || dlt_bcd_get(v, 2, &x) < 0)
        return -1;
    unsigned lo = bapp_bcd2(v[0]), hi = bapp_bcd2(v[1]);
    if (di == 0x04001203u) {                /* hhmm */
        if (hi > 23u || lo > 59u)
            return -1;
        X.daily_hh = (uint8_t)hi;
        X.daily_mm = (uint8_t)lo;
    } else {                                /* DDhh */
        if (hi < 1u || hi > 28u || lo > 23u)
            return -1;
        X.settle_dd = (uint8_t)hi;
        X.settle_hh = (uint8_t)lo;
    }
    idx_save();
    return 0;
}

/* 16H: mm hh DD MM; 99999999 freezes now (instantaneous), any other pattern (99 = every) sets
 * the timed freeze. */
static int freeze_command(const dlt_frame_t *q)
{
    if (q->len != 4u)
        return -1;
    static const uint8_t now[4] = {0x99, 0x99, 0x99, 0x99};
    if (!memcmp(q->data, now, 4)) {
        struct energy e;
        if (energy_now(&e) < 0)
            return -1;
        freeze(K_INSTANT, bapp_clock(), &e, "the");
        return 0;
    }
    uint32_t x;
    for (unsigned i = 0; i < 4u; i++)
        if (q->data[i] != 0x99u && dlt_bcd_get(q->data + i, 1, &x) < 0)
            return -1;
    if (q->data[0] == 0x99u)
        return -1;                          /* a timed freeze needs its minute */
    memcpy(X.timed, q->data, 4);
    idx_save();
    ms_printk("freeze: timed freeze at %02x %02x:%02x on day %02x of month %02x (99: every)\n",
              q->data[3], q->data[1], q->data[0], q->data[2], q->data[3]);
    return 0;
}

static void serve(const dlt_frame_t *q, dlt_frame_t *r, uint8_t from)
{
    (void)from;
    unsigned fn = DLT_FN(q->ctrl);
    if (fn == DLT_FREEZE) {
        if (freeze_command(q) == 0)
            dlt_reply(r, q, 0, 0);
        else
            dlt_abnormal(r, q, DLT_SERR_OTHER);
        return;
    }
    uint32_t di = dlt_di(q->data);
    if (fn == DLT_WRITE) {
        if (q->len < 12u || write_value(di, q->data + 12, q->len - 12u) < 0)
            dlt_abnormal(r, q, DLT_SERR_OTHER);
        else
            dlt_reply(r, q, 0, 0);
        return;
    }
    uint8_t v[48];
    int n = read_value(di, v);
    if (n < 0)
        dlt_abnormal(r, q, di == BAPP_DI_POWER_DOWN ? DLT_SERR_OTHER : DLT_SERR_NO_DATA);
    else
        bapp_reply_di(r, q, v, (unsigned)n);
}

static void init(void)
{
    g_boot_s = bapp_clock();
    files_init();
    idx_load();
    pd_load();
    ms_printk("freeze: %u daily, %u monthly, %u hourly freezes kept\n",
              (unsigned)(X.made[K_DAILY] < 62u ? X.made[K_DAILY] : 62u),
              (unsigned)(X.made[K_MONTHLY] < 12u ? X.made[K_MONTHLY] : 12u),
              (unsigned)(X.made[K_HOURLY] < 254u ? X.made[K_HOURLY] : 254u));
}

/* Every minute, 300 ms after it began (the clock's second and the unit's sample). */
static uint32_t tick(void)
{
    if (!g_ready && power_up() < 0)
        return 1000u;
    uint32_t now = bapp_clock(), m = now / 60u;
    if (m != g_last_min) {
        if (energy_now(&g_e) < 0)
            return 1000u;                   /* the time-of-use module busy: again soon */
        if (m > g_last_min)
            freezes_due(g_last_min, m, 0);
        g_last_min = m;
        pd_save(m * 60u);
    }
    return (60u - now % 60u) * 1000u + 300u;
}

const bapp_module_t bapp_freeze = {
    .name = "freeze", .thread = BAPP_T_FREEZE, .prio = 13, .stack = 2048,
    .owns = owns, .init = init, .serve = serve, .tick = tick,
};
