/*
 * Metering management service: the management unit's side of the link to the metrology unit
 * (UART5, 9600 8E1, /dev/ttyS5) and the owner of energy (00xxxxxx), instantaneous values
 * (02xxxxxx) and freeze records (05xxxxxx) on the virtual bus.
 *
 * The metrology unit (firmware/targets/metrology_unit) measures and keeps the legal data; this
 * service only asks it, in the binary frames of metrology_link.h (docs/meter_metrology_unit.md):
 * MEASURE (the parts a read needs: V, I, PF, f and its clock; P alone; energy and how many
 * 15-minute interval freezes it made, only when they changed), STATUS (all of it, for a unit
 * without MEASURE), INTERVALS (those records), CLEAR. Reads are served from the last answer
 * while the part they need is current (V, I, P younger than SNAPSHOT_MS, the energy while the
 * unit said it holds), else the unit is asked again; when it does not answer, the last values
 * are served (and it is asked again at the next read). Whenever the link comes back (and at
 * start) the service re-synchronises: every part, then the interval records it has not seen
 * yet (the newest CACHE of them are kept here and served while the unit is away).
 */
#include <string.h>
#include "bsp_date.h"
#include "metrology_link.h"
#include "ms_rtos.h"
#include "services.h"
#include "svc_util.h"
#include "vbus.h"

#define LINK_TIMEOUT_MS 150u            /* for the answer's first byte */
#define LINK_CHAR_MS 3u                 /* then per byte (one is 1.15 ms at 9600 8E1) */
#define RETRY_MS 250u                   /* until the unit first answered */
#define CHAR_US 1146u                   /* one 11-bit character at 9600 baud */
/* An answer serves the reads of the next second: the display and LOADID read every second,
 * the unit's energy moves once per 2 s window (its answer says how long the totals hold) and
 * its V, I, P are read from the ADE7753 when asked, so a fresher answer would not tell more
 * than once a second. A freeze asks afresh. */
#define SNAPSHOT_MS 1000u
/* A reader every second finds the answer asked at its last read a few ms less than a second
 * old (its own period jitters): it is asked again all the same, so every second brings one
 * answer and a unit gone is noticed within a second. */
#define SNAPSHOT_JITTER_MS 50u
#define CACHE 8u                        /* interval records kept here: 2 hours */
/* A part read within RECENT_MS (a reader of it every second) is asked along with the parts a
 * read needs when it is stale: one answer a second serves every reader. */
#define RECENT_MS 2000u
#define PARTS (MT_PART_NOW | MT_PART_POWER | MT_PART_TOTALS)

/* Identifiers of metersim's own beyond DL/T645-2007's tables (docs/meter_metrology_unit.md) */
#define DI_METROLOGY_CLOCK 0x028000F0u  /* YYMMDDhhmmss, 6 BCD bytes ss first */
#define DI_INTERVALS 0x05F00000u        /* number of interval records made, 4 BCD bytes */
#define DI_INTERVAL_BASE 0x05F00000u    /* 05F0 ii NN: item ii of the NN-th last record */
#define DI_PRECISE 0x00F00000u          /* for the basic app's rates: mWh, clock, freezes */
#define ITEM_PRECISE 0xFEu              /* 05F0FENN: time, forward and reverse mWh */

struct mtr {
    int link, from_bus, to_bus;
    vbus_rx_t rx;
    struct mt_status now;
    uint8_t have, lost, have_frozen, seq;
    uint8_t fresh;                      /* MT_PART_ bits: parts of now that are current */
    uint8_t legacy;                     /* the unit does not know MEASURE: STATUS only */
    uint8_t have_totals;                /* the totals in now are of generation gen */
    uint16_t gen;                       /* generation of the totals in now (MEASURE) */
    ms_tick_t asked;                    /* when the NOW part in now was asked */
    ms_tick_t p_asked;                  /* when P (NOW or POWER part) was asked */
    ms_tick_t totals_until;             /* the totals in now are the unit's until then */
    ms_tick_t read_at[3];               /* when NOW, POWER, TOTALS were last read (RECENT_MS) */
    uint32_t frozen_mWh;                /* 0.01 kWh of the last instantaneous freeze */
    uint32_t seen;                      /* newest interval record fetched */
    struct mt_interval cache[CACHE];    /* newest first */
    unsigned cached;
    struct mt_rx in;
    uint8_t out[MT_FRAME_MAX];
    vbus_msg_t m;
    dlt_frame_t r;
};

/* Characters of the frame being received still to come (of the shortest frame while its
 * length is unknown). */
static unsigned frame_rest(const struct mt_rx *in)
{
    unsigned whole = in->len >= 2u ? in->buf[1] + 4u : 6u;
    return whole > in->len ? whole - in->len : 0u;
}

/* One request and its answer; the answer's payload length, or <0 (no answer, bad frame, the
 * unit's error reply). The answer is in t->in. The link's receiver runs by DMA and its tty
 * becomes readable at the IDLE interrupt that ends a burst (board_init: bsp_uart_dma), so the
 * service waits in select() for that: it wakes with the whole answer, at the interrupt that
 * wakes the core anyway, not at a timed guess of the answer's end that would be a wake-up of
 * its own. Should the answer come in pieces, it sleeps for the time the rest needs and reads it
 * in one go (the UART's receive ring holds a whole frame). */
static int ask(struct mtr *t, uint8_t cmd, const uint8_t *payload, unsigned n)
{
    uint8_t buf[64];
    while (ms_io_read(t->link, buf, sizeof buf) > 0)
        ;                                   /* nothing stale in front of the answer */
    mt_rx_reset(&t->in);
    uint8_t seq = ++t->seq;
    unsigned len = mt_frame(t->out, cmd, seq, payload, n);
    ms_io_write(t->link, t->out, len);
    /* the request leaves at 1.15 ms a byte before the unit can start answering */
    ms_tick_t deadline = ms_tick_get() + ms_ms_to_ticks(LINK_TIMEOUT_MS + len * LINK_CHAR_MS);
    for (;;) {
        int32_t left = (int32_t)(deadline - ms_tick_get());
        if (left <= 0)
            return MS_ERR_TIMEOUT;
        ms_fdset_t rd = 0;
        MS_FD_SET(t->link, &rd);
        if (ms_io_select(t->link + 1, &rd, 0, (ms_tick_t)left) <= 0)
            return MS_ERR_TIMEOUT;
        int got;
        while ((got = ms_io_read(t->link, buf, sizeof buf)) > 0) {
            for (int i = 0; i < got; i++) {
                if (!mt_rx_byte(&t->in, buf[i])) {
                    if (t->in.len == 2)     /* the length is known: time for the rest */
                        deadline = ms_tick_get() +
                                   ms_ms_to_ticks((t->in.buf[1] + 3u) * LINK_CHAR_MS + 20u);
                    continue;
                }
                if (mt_rx_seq(&t->in) != seq)
                    continue;               /* a late answer to an earlier request */
                if (mt_rx_cmd(&t->in) != (cmd | MT_REPLY))
                    return MS_ERR_IO;
                return (int)mt_rx_payload_len(&t->in);
            }
            if (got < (int)sizeof buf)
                break;
        }
        unsigned rest = frame_rest(&t->in);
        if (t->in.len && rest)              /* + 1: the last character's interrupt is in */
            ms_thread_sleep(ms_ms_to_ticks((rest * CHAR_US + 999u) / 1000u) + 1u);
    }
}

static void print_time(uint32_t s)
{
    struct bsp_datetime dt;
    bsp_date_from_secs(s, &dt);
    ms_printk("%04u-%02u-%02u %02u:%02u", dt.year, dt.month, dt.day, dt.hour, dt.min);
}

static void cache_put(struct mtr *t, const struct mt_interval *r)
{
    memmove(&t->cache[1], &t->cache[0], (CACHE - 1u) * sizeof t->cache[0]);
    t->cache[0] = *r;
    if (t->cached < CACHE)
        t->cached++;
}

/* The records the unit made since t->seen (at most CACHE: older ones stay in the unit, where
 * 05F0xxNN still reads them); how many came. */
static unsigned fetch_intervals(struct mtr *t)
{
    uint32_t newest = t->now.intervals;
    if (newest < t->seen) {                 /* cleared meanwhile */
        t->seen = 0;
        t->cached = 0;
    }
    uint32_t first = t->seen + 1u;
    if (newest >= CACHE && first < newest - CACHE + 1u)
        first = newest - CACHE + 1u;
    unsigned got = 0;
    while (first <= newest) {
        uint8_t q[5];
        mt_put32(q, first);
        unsigned want = newest - first + 1u;
        q[4] = (uint8_t)(want < MT_INTERVALS_PER_READ ? want : MT_INTERVALS_PER_READ);
        int n = ask(t, MT_CMD_INTERVALS, q, 5);
        if (n < 1)
            break;
        const uint8_t *p = mt_rx_payload(&t->in);
        unsigned k = p[0];
        if ((unsigned)n < 1u + k * MT_INTERVAL_BYTES || k == 0)
            break;
        for (unsigned i = 0; i < k; i++) {
            struct mt_interval r;
            mt_interval_get(p + 1 + i * MT_INTERVAL_BYTES, &r);
            cache_put(t, &r);
            got++;
        }
        first += q[4];
    }
    t->seen = newest;
    return got;
}

/* The parts in `want` asked of the unit (MEASURE; with MT_PART_HELD the totals come only
 * when they changed since the ones held), or all of it with STATUS from a unit that does not
 * know MEASURE. 1 when they came into t->now. */
static int ask_parts(struct mtr *t, uint8_t want, ms_tick_t at)
{
    struct mt_status s = t->now;
    if (!t->legacy) {
        struct mt_measure m;
        uint8_t q[MT_MEASURE_ASK_BYTES] = {want, (uint8_t)t->gen, (uint8_t)(t->gen >> 8)};
        int n = ask(t, MT_CMD_MEASURE, q, sizeof q);
        if (n >= 0) {
            if (mt_measure_get(mt_rx_payload(&t->in), (unsigned)n, &m, &s) < 0)
                return 0;
            /* every part asked came: the totals too, unless the ones held are the unit's */
            if (((want & MT_PART_NOW) && !(m.parts & MT_PART_NOW)) ||
                ((want & MT_PART_TOTALS) && !(m.parts & MT_PART_TOTALS) &&
                 !((want & MT_PART_HELD) && m.gen == t->gen)))
                return 0;
            t->now = s;
            if (want & MT_PART_TOTALS) {
                t->gen = m.gen;
                t->have_totals = 1;
                /* the unit's own for as long as it said they hold (a sample of the energy is
                 * the unit's latest window, not a second older), a second at most like the
                 * rest (a unit gone is noticed as soon); without a hold (no mains: nothing
                 * moves) a STATUS's second */
                uint32_t ms = SNAPSHOT_MS - SNAPSHOT_JITTER_MS;
                if (m.hold_ms < ms && (m.hold_ms || (t->now.flags & MT_ST_MEASURING)))
                    ms = m.hold_ms;
                t->totals_until = at + ms_ms_to_ticks(ms);
            }
            if (want & MT_PART_NOW)
                t->asked = at;
            if (want & (MT_PART_NOW | MT_PART_POWER)) {
                t->p_asked = at;
                want |= MT_PART_POWER;              /* NOW holds P */
            }
            t->fresh |= want & PARTS;
            return 1;
        }
        const uint8_t *e = mt_rx_payload(&t->in);
        if (n != MS_ERR_IO || mt_rx_cmd(&t->in) != MT_CMD_ERROR || e[0] != MT_CMD_MEASURE ||
            e[1] != MT_ERR_COMMAND)
            return 0;
        t->legacy = 1;                          /* an older unit: STATUS from now on */
        ms_printk("metering: the metrology unit does not know MEASURE, asking STATUS\n");
    }
    if (ask(t, MT_CMD_STATUS, 0, 0) != (int)MT_STATUS_BYTES)
        return 0;
    mt_status_get(mt_rx_payload(&t->in), &t->now);
    t->fresh = PARTS;
    t->have_totals = 0;                         /* no generation: never held */
    t->asked = t->p_asked = at;
    t->totals_until = at + ms_ms_to_ticks(SNAPSHOT_MS);   /* no hold in a STATUS */
    return 1;
}

/* The unit's clock now: the NOW part's, and the seconds since it was asked. */
static uint32_t unit_clock(const struct mtr *t)
{
    return t->now.clock_s + (uint32_t)((ms_tick_get() - t->asked) / ms_ms_to_ticks(1000u));
}

/* Was `asked` in an earlier second of the wake grid (svc_grid_next) than `at`? V, I and P are
 * read every second (the display, LOADID) and their snapshot serves only the second it was
 * asked in: every second brings one answer, and a unit gone is noticed at the first read of
 * V, I or P in the next second, whichever reader's it is. */
static int from_a_past_second(ms_tick_t asked, ms_tick_t at)
{
    return (int32_t)(at - svc_grid_next(asked, SVC_GRID_S)) >= 0;
}

/* The parts of now in `parts` that are not current at `at`. */
static uint8_t stale_parts(const struct mtr *t, uint8_t parts, ms_tick_t at)
{
    uint8_t stale = (uint8_t)(parts & ~t->fresh);
    ms_tick_t old = ms_ms_to_ticks(SNAPSHOT_MS - SNAPSHOT_JITTER_MS);
    if (at - t->asked >= old || from_a_past_second(t->asked, at))
        stale |= parts & MT_PART_NOW;
    if (at - t->p_asked >= old || from_a_past_second(t->p_asked, at))
        stale |= parts & MT_PART_POWER;
    if ((int32_t)(at - t->totals_until) >= 0)
        stale |= parts & MT_PART_TOTALS;
    return stale;
}

/* The parts in `need` (MT_PART_NOW: V, I, P, PF, f, the unit's clock; MT_PART_POWER: P; both
 * at most SNAPSHOT_MS old; MT_PART_TOTALS: energy and freezes made, the unit's as long as its
 * answer said they hold) from the unit, asked afresh with `now_please`, or, when it does not
 * answer, the last ones (t->lost says so); 0 when there are none at all. */
static int refresh(struct mtr *t, uint8_t need, int now_please)
{
    ms_tick_t at = ms_tick_get(), recent_ticks = ms_ms_to_ticks(RECENT_MS);
    uint8_t recent = 0;
    static const uint8_t k_parts[3] = {MT_PART_NOW, MT_PART_POWER, MT_PART_TOTALS};
    for (unsigned k = 0; k < 3u; k++) {
        uint8_t part = k_parts[k];
        if (need & part)
            t->read_at[k] = at;
        else if (at - t->read_at[k] < recent_ticks)
            recent |= part;
    }
    uint8_t stale = now_please ? need : stale_parts(t, need, at);
    if (!stale && t->have && !t->lost)
        return 1;
    /* what was read recently comes along: P or V when stale, the totals always (nothing on
     * the wire while they are the ones held, and their second starts again) */
    stale |= stale_parts(t, recent, at) | (recent & MT_PART_TOTALS);
    int first = !t->have, back = t->lost;
    if (first || back)
        stale = MT_PART_NOW | MT_PART_TOTALS;   /* a (re-)synchronisation: all of it */
    if (stale & MT_PART_NOW)
        stale &= (uint8_t)~MT_PART_POWER;       /* NOW holds P */
    uint8_t want = stale;
    if ((stale & MT_PART_TOTALS) && t->have_totals && !first && !back)
        want |= MT_PART_HELD;                   /* unchanged totals need not come again */
    t->fresh &= (uint8_t)~stale;
    if (ask_parts(t, want, at)) {
        struct mt_status s = t->now;
        t->have = 1;
        t->lost = 0;
        unsigned got = (stale & MT_PART_TOTALS) && t->now.intervals != t->seen ?
                       fetch_intervals(t) : 0;
        if (first || back) {
            ms_printk("metering: metrology unit %s: forward %u.%02u kWh, clock ",
                      first ? "synchronised" : "answers again, re-synchronised",
                      (unsigned)(s.fwd_mWh / 1000000u), (unsigned)(s.fwd_mWh / 10000u % 100u));
            print_time(s.clock_s);
            ms_printk(", %u interval records", (unsigned)s.intervals);
            if (got) {
                ms_printk(" (%u fetched, last ", got);
                print_time(t->cache[0].time_s);
                ms_printk(")");
            }
            ms_printk("\n");
        }
        return 1;
    }
    if (!t->lost && t->have)
        ms_printk("metering: metrology unit not answering, serving the last values\n");
    t->lost = t->have;
    return t->have;
}

static uint32_t cwh(uint64_t mWh) { return (uint32_t)(mWh / 10000u); }   /* 0.01 kWh, floored */

/* mWh as 12 BCD digits (6 bytes, least significant first) */
static void put_mwh(uint8_t *out, uint64_t mWh)
{
    dlt_bcd_put(out, 3, (uint32_t)(mWh % 1000000u));
    dlt_bcd_put(out + 3, 3, (uint32_t)(mWh / 1000000u % 1000000u));
}

/* Interval record `nn` (1 = the newest): from the cache, else asked of the unit. */
static int interval(struct mtr *t, unsigned nn, struct mt_interval *r)
{
    if (nn == 0 || nn > t->now.intervals)
        return -1;
    uint32_t number = t->now.intervals - nn + 1u;
    for (unsigned i = 0; i < t->cached; i++)
        if (t->cache[i].number == number) {
            *r = t->cache[i];
            return 0;
        }
    if (t->lost)
        return -1;
    uint8_t q[5];
    mt_put32(q, number);
    q[4] = 1;
    int n = ask(t, MT_CMD_INTERVALS, q, 5);
    const uint8_t *p = mt_rx_payload(&t->in);
    if (n < 1 + (int)MT_INTERVAL_BYTES || p[0] != 1)
        return -1;
    mt_interval_get(p + 1, r);
    return r->number == number ? 0 : -1;
}

/* Is di one of this service's identifiers? */
static int known(uint32_t di)
{
    if ((di & 0xFFFF00FFu) == 0x00010000u)              /* forward active, total/rates/block */
        return 1;
    if ((di & 0xFFFF0000u) == DI_INTERVAL_BASE)
        return 1;
    switch (di) {
    case 0x00000000u: case 0x00020000u: case 0x02010100u: case 0x02020100u: case 0x02030000u:
    case 0x02060000u: case 0x02800002u: case DI_METROLOGY_CLOCK: case 0x05010101u:
    case DI_PRECISE:
        return 1;
    default:
        return 0;
    }
}

/* The parts of the unit's answer di needs (MT_PART_), 0 when it is not this service's. */
static uint8_t parts_of(uint32_t di)
{
    switch (di) {
    case 0x02030000u:
        return MT_PART_POWER;
    case 0x02010100u: case 0x02020100u: case 0x02060000u: case 0x02800002u:
    case DI_METROLOGY_CLOCK:
        return MT_PART_NOW;
    default:
        return known(di) ? MT_PART_TOTALS : 0u;
    }
}

/* The value of di into out (after the DI); its length, or -1 when there is none. */
static int value(struct mtr *t, uint32_t di, uint8_t *out)
{
    const struct mt_status *v = &t->now;
    if ((di & 0xFFFF0000u) == DI_INTERVAL_BASE) {
        unsigned item = (di >> 8) & 0xFFu, nn = di & 0xFFu;
        if (di == DI_INTERVALS) {
            dlt_bcd_put(out, 4, v->intervals);
            return 4;
        }
        struct mt_interval r;
        if ((item > 2u && item < ITEM_PRECISE) || interval(t, nn, &r) < 0)
            return -1;
        unsigned n = 0;
        if (item == ITEM_PRECISE) {
            svc_put_time(out, r.time_s, 0);
            put_mwh(out + 5, r.fwd_mWh);
            put_mwh(out + 11, r.rev_mWh);
            return 17;
        }
        if (item == 0u || item == 0xFFu) {
            svc_put_time(out, r.time_s, 0);
            n += 5;
        }
        if (item == 1u || item == 0xFFu) {
            dlt_bcd_put(out + n, 4, cwh(r.fwd_mWh));
            n += 4;
        }
        if (item == 2u || item == 0xFFu) {
            dlt_bcd_put(out + n, 4, cwh(r.rev_mWh));
            n += 4;
        }
        return (int)n;
    }
    switch (di) {
    /* The unit measures the total only: rates are the basic app's (time-of-use tables); the
     * bus routes them there while it runs. Without it the block holds the total and the
     * rates kept, none: rates themselves are "no requested data". */
    case 0x00010000u: case 0x0001FF00u: dlt_bcd_put(out, 4, cwh(v->fwd_mWh)); return 4;
    case 0x00000000u: dlt_bcd_put(out, 4, cwh(v->fwd_mWh + v->rev_mWh)); return 4;
    case 0x00020000u: dlt_bcd_put(out, 4, cwh(v->rev_mWh)); return 4;
    case 0x02010100u: dlt_bcd_put(out, 2, v->v_dV); return 2;
    case 0x02020100u: svc_bcd_signed(out, 3, v->i_mA); return 3;
    case 0x02030000u: svc_bcd_signed(out, 3, v->p_dW); return 3;
    case 0x02060000u: svc_bcd_signed(out, 2, v->pf_m); return 2;
    case 0x02800002u: dlt_bcd_put(out, 2, v->f_cHz); return 2;
    case DI_METROLOGY_CLOCK: svc_put_time(out, v->clock_s, 1); return 6;
    case DI_PRECISE:                                       /* the totals, with the clock now */
        put_mwh(out, v->fwd_mWh);
        put_mwh(out + 6, v->rev_mWh);
        svc_put_time(out + 12, unit_clock(t), 1);
        dlt_bcd_put(out + 18, 4, v->intervals);
        return 22;
    case 0x05010101u:                                      /* last instantaneous freeze */
        if (!t->have_frozen)
            return -1;
        dlt_bcd_put(out, 4, t->frozen_mWh);
        return 4;
    default: return -1;
    }
}

static void serve(struct mtr *t, const vbus_msg_t *m)
{
    const dlt_frame_t *q = &m->f;
    uint8_t d[4 + 24];
    switch (DLT_FN(q->ctrl)) {
    case DLT_READ: {
        uint32_t di = dlt_di(q->data);
        uint8_t need = parts_of(di);
        int n = -1, k = need != 0;
        if (k && refresh(t, need, 0))
            n = value(t, di, d + 4);
        if (n < 0)
            dlt_abnormal(&t->r, q, k && !t->have ? DLT_SERR_OTHER : DLT_SERR_NO_DATA);
        else {
            dlt_put_di(d, di);
            dlt_reply(&t->r, q, d, 4u + (unsigned)n);
        }
        break;
    }
    case DLT_FREEZE:
        if (refresh(t, MT_PART_TOTALS, 1) && !t->lost) {
            t->frozen_mWh = cwh(t->now.fwd_mWh);
            t->have_frozen = 1;
            ms_printk("metering: instantaneous freeze, forward energy %u.%02u kWh\n",
                      (unsigned)(t->frozen_mWh / 100u), (unsigned)(t->frozen_mWh % 100u));
            dlt_reply(&t->r, q, 0, 0);
        } else
            dlt_abnormal(&t->r, q, DLT_SERR_OTHER);
        break;
    case DLT_CLEAR_DEMAND:
        dlt_reply(&t->r, q, 0, 0);          /* no demand registers kept yet */
        break;
    case DLT_CLEAR_METER:
        if (ask(t, MT_CMD_CLEAR, 0, 0) == 0) {
            memset(&t->now, 0, sizeof t->now);
            t->fresh = 0;
            t->have_totals = 0;
            t->have_frozen = 0;
            t->seen = 0;
            t->cached = 0;
            ms_printk("metering: meter cleared\n");
            dlt_reply(&t->r, q, 0, 0);
        } else
            dlt_abnormal(&t->r, q, DLT_SERR_OTHER);
        break;
    default:
        dlt_abnormal(&t->r, q, DLT_SERR_OTHER);   /* legal data is read-only here */
        break;
    }
    svc_reply(t->to_bus, VBUS_ADDR_METERING, m, &t->r);
}

void metering_service_main(void *arg)
{
    (void)arg;
    struct mtr *t = svc_state(sizeof *t);
    t->link = ms_io_open(DEV_METROLOGY, O_RDWR | O_NONBLOCK, 0);
    if (t->link < 0 || vbus_connect(VBUS_NAME_METERING, &t->from_bus, &t->to_bus) < 0) {
        ms_printk("metering: cannot open the link or the bus\n");
        ms_process_exit(1);
    }
    ms_printk("metering: metrology link on %s\n", DEV_METROLOGY);
    refresh(t, MT_PART_NOW | MT_PART_TOTALS, 1);
    for (;;) {
        ms_fdset_t rd = 0;
        MS_FD_SET(t->from_bus, &rd);
        /* until the unit first answered, it is asked again every RETRY_MS */
        int r = ms_io_select(t->from_bus + 1, &rd, 0,
                             t->have ? MS_WAIT_FOREVER : ms_ms_to_ticks(RETRY_MS));
        if (r == 0 && !t->have)
            refresh(t, MT_PART_NOW | MT_PART_TOTALS, 1);
        if (r <= 0)
            continue;
        if (vbus_rx_fill(&t->rx, t->from_bus) < 0)
            continue;
        while (svc_next(&t->rx, &t->m))
            if (t->m.h.cmd == VBUS_CMD_REQUEST)
                serve(t, &t->m);
    }
}
