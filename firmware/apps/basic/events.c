/*
 * Event recording (Table 3 thread 6): each event kind keeps its count and its last 10 records
 * in EEPROM (bapp.h BAPP_EE_EVENTS), served on the DL/T645 event identifiers.
 * docs/meter_basic_app.md "Events".
 *
 * How the module learns of each event:
 * - power down: the freezing module's power-down freeze (once a minute) says when the meter
 *   was last up; the start of the app is the end (BAPP_DI_POWER_DOWN).
 * - cover open / close: /dev/cover (the terminal-cover switch, PC2), read every second.
 * - relay trip / close: /dev/relay's auxiliary contact, read every second (whoever moved it).
 * - clock change: the clock against the kernel's ticks every second; a jump of more than 2 s.
 * - programming (14H) and meter clear (1AH): the virtual bus's note (VBUS_DI_NOTE) after it
 *   passed an outside request's normal answer back; event clear (1BH) comes here itself.
 * - over- and under-voltage: the metering service's voltage every 10 s (and the metrology
 *   totals, for a meter clear's record: the unit is cleared when the note comes).
 * Records: one copy each with a CRC (a torn record reads as "no data"; the count is kept in a
 * header with its own CRC).
 */
#include <string.h>
#include "bapp.h"
#include "bsp_date.h"
#include "services.h"

#define EV_POWER 0u
#define EV_PROG 1u
#define EV_CLEAR_METER 2u
#define EV_CLEAR_EVENTS 3u
#define EV_CLOCK 4u
#define EV_COVER 5u
#define EV_TRIP 6u
#define EV_CLOSE 7u
#define EV_OVER_V 8u
#define EV_UNDER_V 9u
#define EVENTS 10u
#define DEPTH 10u
#define STRIDE 0x100u
#define OVER_DV 2640u                       /* 264.0 V: 120 % of 220 V */
#define UNDER_DV 1716u                      /* 171.6 V: 78 % of 220 V */
#define VOLTAGE_S 10u
#define NO_OPERATOR 0xFFFFFFFFu

/* count DI; record n is rec | n */
static const struct { uint32_t count, rec; const char *name; } E[EVENTS] = {
    {0x03110000u, 0x03110000u, "power down"},  {0x03300000u, 0x03300000u, "programming"},
    {0x03300100u, 0x03300100u, "meter clear"}, {0x03300300u, 0x03300300u, "event clear"},
    {0x03300400u, 0x03300400u, "clock change"}, {0x03300D00u, 0x03300D00u, "cover open"},
    {0x1D000001u, 0x1D000100u, "relay trip"},  {0x1E000001u, 0x1E000100u, "relay close"},
    {0x03030000u, 0x03030100u, "over-voltage"}, {0x03020000u, 0x03020100u, "under-voltage"},
};

struct ehdr { uint32_t count; uint16_t crc, pad; };
struct erec {                               /* 24 bytes; meaning per kind (docs) */
    uint32_t t1, t2, a, b, c;
    uint16_t n, crc;
};

static struct ehdr H[EVENTS];
static uint8_t g_have_pd, g_cover, g_relay, g_vstate, g_started;
static uint32_t g_clock_s, g_note_op, g_note_s, g_v_s;
static uint32_t g_fwd_cWh, g_rev_cWh;       /* the metrology totals, looked at every 10 s */
static ms_tick_t g_clock_tick;

static uint32_t hdr_addr(unsigned k) { return BAPP_EE_EVENTS + k * STRIDE; }
static uint32_t rec_addr(unsigned k, uint32_t n)
{
    return hdr_addr(k) + 8u + ((n - 1u) % DEPTH) * sizeof(struct erec);
}

static uint16_t rec_crc(const struct erec *r)
{
    return crc16_ccitt((const uint8_t *)r, (unsigned)offsetof(struct erec, crc));
}

static void hdr_save(unsigned k)
{
    H[k].crc = crc16_ccitt((const uint8_t *)&H[k], 4);
    bapp_eeprom(hdr_addr(k), &H[k], sizeof H[k], 1);
}

/* The nn-th last record of kind k (1 = newest); 0 or -1. */
static int rec_get(unsigned k, unsigned nn, struct erec *r)
{
    if (nn < 1u || nn > DEPTH || nn > H[k].count)
        return -1;
    uint32_t n = H[k].count - nn + 1u;
    if (bapp_eeprom(rec_addr(k, n), r, sizeof *r, 0) < 0 || r->crc != rec_crc(r) ||
        r->n != (uint16_t)n)
        return -1;
    return 0;
}

static void rec_put(unsigned k, struct erec *r, uint32_t n)
{
    r->n = (uint16_t)n;
    r->crc = rec_crc(r);
    if (bapp_eeprom(rec_addr(k, n), r, sizeof *r, 1) < 0)
        ms_printk("events: %s record not written\n", E[k].name);
}

static void log_time(uint32_t s)
{
    struct bsp_datetime dt;
    bsp_date_from_secs(s, &dt);
    ms_printk("%04u-%02u-%02u %02u:%02u:%02u", dt.year, dt.month, dt.day, dt.hour, dt.min, dt.sec);
}

/* The log line of kind k's newest record, when it began or ended: "<kind> <count> <what>
 * <t1>[ .. <t2>]" (t2 = 0: none). */
__attribute__((noinline)) /* two callers: one copy in flash */
static void log_record(unsigned k, const char *what, uint32_t t1, uint32_t t2)
{
    ms_printk("events: %s %u %s ", E[k].name, (unsigned)H[k].count, what);
    log_time(t1);
    if (t2)
        ms_printk(" .. "), log_time(t2);
    ms_printk("\n");
}

/* A new event of kind k; its record r (t1 = when). */
static void record(unsigned k, struct erec *r)
{
    rec_put(k, r, H[k].count + 1u);
    H[k].count++;
    hdr_save(k);
    log_record(k, "at", r->t1, k != EV_COVER ? r->t2 : 0u);
}

/* The newest record of an event that lasts (cover, voltage) ends now. */
static void finish(unsigned k, uint32_t t, uint32_t c)
{
    struct erec r;
    if (rec_get(k, 1, &r) < 0 || r.t2)
        return;
    r.t2 = t;
    r.c = c;
    rec_put(k, &r, H[k].count);
    log_record(k, "ended at", t, 0u);
}

static uint32_t energy_cWh(uint32_t di)
{
    uint8_t d[4];
    uint32_t x = 0;
    if (bapp_get(di, d, 4) == 4)
        dlt_bcd_get(d, 4, &x);
    return x;
}

static int dev_byte(const char *dev)
{
    uint8_t b = 0;
    return bapp_device(dev, &b, 1, 0) == MS_OK ? b : -1;
}

/* ---- what the module watches ---- */

static void watch_power_down(void)
{
    uint8_t d[8];
    if (g_have_pd || bapp_get(BAPP_DI_POWER_DOWN, d, 8) != 8)
        return;
    g_have_pd = 1;
    uint32_t w[2];
    memcpy(w, d, 8);
    if (!w[0])
        return;                             /* a new meter: no power-down before */
    struct erec r = {w[0], w[1], 0, 0, 0, 0, 0};
    record(EV_POWER, &r);
}

static void watch_clock(uint32_t now)
{
    ms_tick_t t = ms_tick_get();
    if (g_started) {
        uint32_t expect = g_clock_s + (t - g_clock_tick) / MS_TICK_HZ;
        uint32_t off = now > expect ? now - expect : expect - now;
        if (off > 2u) {
            uint32_t op = now - g_note_s <= 5u || g_note_s - now <= 5u ? g_note_op : NO_OPERATOR;
            struct erec r = {expect, now, op, 0, 0, 0, 0};
            record(EV_CLOCK, &r);
        } else if (((t - g_clock_tick) / MS_TICK_HZ) < 60u) {
            return;                         /* keep the reference: whole seconds */
        }
    }
    g_clock_s = now;
    g_clock_tick = t;
}

static void watch_cover(uint32_t now)
{
    int c = dev_byte(DEV_COVER);
    if (c < 0 || c == g_cover)
        return;
    g_cover = (uint8_t)c;
    if (c) {
        struct erec r = {now, 0, NO_OPERATOR, energy_cWh(0x00010000u), 0, 0, 0};
        record(EV_COVER, &r);
    } else {
        finish(EV_COVER, now, energy_cWh(0x00010000u));
    }
}

static void watch_relay(uint32_t now)
{
    int fb = bapp_relay(-1);
    if (fb < 0 || fb == g_relay)
        return;
    int first = g_relay == 0xFFu;
    g_relay = (uint8_t)fb;
    if (first)
        return;                             /* where it was at start is no event */
    struct erec r = {now, 0, NO_OPERATOR, energy_cWh(0x00010000u), energy_cWh(0x00020000u), 0, 0};
    record(fb ? EV_CLOSE : EV_TRIP, &r);
}

static void watch_voltage(uint32_t now)
{
    uint8_t d[2];
    uint32_t dv;
    if (now - g_v_s < VOLTAGE_S && g_v_s <= now)
        return;
    g_v_s = now;
    uint8_t p[22];
    if (bapp_get(0x00F00000u, p, sizeof p) == 22) {     /* for a meter clear's record */
        uint32_t lo, hi;
        if (dlt_bcd_get(p, 3, &lo) == 0 && dlt_bcd_get(p + 3, 3, &hi) == 0)
            g_fwd_cWh = hi * 100u + lo / 10000u;
        if (dlt_bcd_get(p + 6, 3, &lo) == 0 && dlt_bcd_get(p + 9, 3, &hi) == 0)
            g_rev_cWh = hi * 100u + lo / 10000u;
    }
    if (bapp_get(0x02010100u, d, 2) != 2 || dlt_bcd_get(d, 2, &dv) < 0)
        return;
    uint8_t state = dv > OVER_DV ? 1u : (dv < UNDER_DV && dv > 0u) ? 2u : 0u;
    if (state == g_vstate)
        return;
    if (g_vstate)
        finish(g_vstate == 1u ? EV_OVER_V : EV_UNDER_V, now, dv);
    if (state) {
        struct erec r = {now, 0, NO_OPERATOR, dv, 0, 0, 0};
        record(state == 1u ? EV_OVER_V : EV_UNDER_V, &r);
    }
    g_vstate = state;
}

/* ---- requests ---- */

static int owns(const dlt_frame_t *q)
{
    unsigned fn = DLT_FN(q->ctrl);
    if (fn == DLT_CLEAR_EVENTS)
        return 1;
    if (q->len < 4u)
        return 0;
    uint32_t di = dlt_di(q->data);
    if (fn == DLT_WRITE)
        return di == VBUS_DI_NOTE;
    if (fn != DLT_READ)
        return 0;
    for (unsigned k = 0; k < EVENTS; k++)
        if (di == E[k].count || ((di & 0xFFFFFF00u) == E[k].rec && (di & 0xFFu) >= 1u &&
                                 (di & 0xFFu) <= DEPTH))
            return 1;
    return 0;
}

static unsigned put_time6(uint8_t *out, uint32_t s)
{
    svc_put_time(out, s, 1);
    if (!s)
        memset(out, 0, 6);                  /* not yet (an event still going on) */
    return 6;
}

static unsigned put_u32(uint8_t *out, uint32_t v)
{
    memcpy(out, &v, 4);                     /* operator codes and DIs: as on the wire */
    return 4;
}

static unsigned put_bcd4(uint8_t *out, uint32_t v)
{
    dlt_bcd_put(out, 4, v % 100000000u);
    return 4;
}

static int read_value(uint32_t di, uint8_t *v)
{
    for (unsigned k = 0; k < EVENTS; k++) {
        if (di == E[k].count) {
            dlt_bcd_put(v, 3, H[k].count % 1000000u);
            return 3;
        }
        if ((di & 0xFFFFFF00u) != E[k].rec)
            continue;
        struct erec r;
        if (rec_get(k, di & 0xFFu, &r) < 0)
            return -1;
        unsigned n = 0;
        switch (k) {
        case EV_POWER: n += put_time6(v, r.t1); n += put_time6(v + n, r.t2); break;
        case EV_CLEAR_METER: case EV_TRIP: case EV_CLOSE:
            n += put_time6(v, r.t1);
            n += put_u32(v + n, r.a);
            n += put_bcd4(v + n, r.b);
            n += put_bcd4(v + n, r.c);
            break;
        case EV_PROG: case EV_CLEAR_EVENTS:      /* when, operator, the DI */
            n += put_time6(v, r.t1);
            n += put_u32(v + n, r.a);
            n += put_u32(v + n, r.b);
            if (k == EV_PROG) {
                memset(v + n, 0xFF, 36);    /* one DI per write: the other nine unused */
                n += 36;
            }
            break;
        case EV_CLOCK:
            n += put_u32(v, r.a);
            n += put_time6(v + n, r.t1);
            n += put_time6(v + n, r.t2);
            break;
        case EV_COVER:
            n += put_time6(v, r.t1);
            n += put_time6(v + n, r.t2);
            n += put_bcd4(v + n, r.b);
            n += put_bcd4(v + n, r.c);
            break;
        default:                            /* voltage: start, end, extreme 0.1 V */
            n += put_time6(v, r.t1);
            n += put_time6(v + n, r.t2);
            dlt_bcd_put(v + n, 2, r.b % 10000u);
            n += 2;
            break;
        }
        return (int)n;
    }
    return -1;
}

static uint32_t le32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

/* The bus's note: fn, operator C0..C3, DI (14H) of an outside request it answered normally. */
static void note(const uint8_t *v, unsigned n)
{
    if (n != 9u)
        return;
    uint32_t now = bapp_clock(), op = le32(v + 1), di = le32(v + 5);
    if (v[0] == DLT_WRITE) {
        struct erec r = {now, 0, op, di, 0, 0, 0};
        if (di == 0x04000101u || di == 0x04000102u) {
            g_note_op = op;                 /* the clock change that follows is theirs */
            g_note_s = now;
        }
        record(EV_PROG, &r);
    } else if (v[0] == DLT_CLEAR_METER) {
        /* the metrology unit is cleared now: its totals as last looked at (<= 10 s before) */
        struct erec r = {now, 0, op, g_fwd_cWh, g_rev_cWh, 0, 0};
        record(EV_CLEAR_METER, &r);
        g_fwd_cWh = g_rev_cWh = 0;
    }
}

/* 1BH: PA P0-P2 C0-C3 DI; FFFFFFFF all, else the kind whose count or class the DI names. */
static int clear_events(const dlt_frame_t *q)
{
    if (q->len != 12u)
        return -1;
    uint32_t di = dlt_di(q->data + 8), op = le32(q->data + 4);
    int found = 0;
    for (unsigned k = 0; k < EVENTS; k++)
        if (k != EV_CLEAR_EVENTS &&
            (di == 0xFFFFFFFFu || (di | 0xFFu) == (E[k].count | 0xFFu) ||
             (di | 0xFFu) == (E[k].rec | 0xFFu))) {
            H[k].count = 0;
            hdr_save(k);
            found = 1;
        }
    if (!found)
        return -1;
    struct erec r = {bapp_clock(), 0, op, di, 0, 0, 0};
    record(EV_CLEAR_EVENTS, &r);
    return 0;
}

static void serve(const dlt_frame_t *q, dlt_frame_t *r, uint8_t from)
{
    (void)from;
    unsigned fn = DLT_FN(q->ctrl);
    if (fn == DLT_CLEAR_EVENTS) {
        if (clear_events(q) == 0)
            dlt_reply(r, q, 0, 0);
        else
            dlt_abnormal(r, q, DLT_SERR_OTHER);
        return;
    }
    if (fn == DLT_WRITE) {
        if (from != BAPP_FROM_BUS || q->len < 12u) {
            dlt_abnormal(r, q, DLT_SERR_OTHER);
            return;
        }
        note(q->data + 12, q->len - 12u);
        dlt_reply(r, q, 0, 0);
        return;
    }
    uint8_t v[64];
    int n = read_value(dlt_di(q->data), v);
    if (n < 0)
        dlt_abnormal(r, q, DLT_SERR_NO_DATA);
    else
        bapp_reply_di(r, q, v, (unsigned)n);
}

static void init(void)
{
    for (unsigned k = 0; k < EVENTS; k++)
        if (bapp_eeprom(hdr_addr(k), &H[k], sizeof H[k], 0) < 0 ||
            H[k].crc != crc16_ccitt((const uint8_t *)&H[k], 4))
            H[k].count = 0;
    g_relay = 0xFFu;
    uint8_t cb;
    int c = bapp_device(DEV_COVER, &cb, 1, 0);
    g_cover = 0;
    if (c < 0)
        ms_printk("events: no %s (%d): cover events not recorded\n", DEV_COVER, c);
}

static uint32_t tick(void)
{
    uint32_t now = bapp_clock();
    watch_clock(now);
    g_started = 1;
    watch_power_down();
    watch_cover(now);
    watch_relay(now);
    watch_voltage(now);
    return BAPP_NEXT_SECOND;
}

const bapp_module_t bapp_events = {
    .name = "events", .thread = BAPP_T_EVENTS, .prio = 14, .stack = 2048,
    .owns = owns, .init = init, .serve = serve, .tick = tick,
};
