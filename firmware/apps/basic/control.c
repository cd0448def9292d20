/*
 * Control (Table 3 thread 5): the load switch (/dev/relay) for remote commands (DL/T645 1CH),
 * local cost control, and over-current self-protection. docs/meter_basic_app.md.
 *
 * Local cost control starts with the first top-up (purchase 1 opens the account): the
 * remaining money is what was bought less what the time-of-use module charged (its charge,
 * BAPP_DI_CHARGE, carries the money used so far, so a lost message loses nothing). At or
 * below alarm 1 / alarm 2 (04001001 / 04001002) the alarm is raised (status word 3 bit 7);
 * at zero, or once the overdraft limit (04001003) is used up, the relay trips; a top-up that
 * brings the money above the close-allowed limit (04001005) closes it again.
 * The relay is closed while keep-power (1CH 3A) holds, or while neither a remote trip (1CH 1A)
 * nor cost control wants it open. Self-protection: a trip is held back while the current is
 * above the trip-current threshold (04A20020): a relay breaking a current above its rating
 * welds; it trips once the current fell below.
 */
#include <string.h>
#include "bapp.h"
#include "bsp_date.h"
#include "services.h"

#define DI_PROTECT 0x04A20020u              /* trip-current threshold XXX.XXX A; 0: off */
#define DI_TOPUP 0x04A20030u                /* write: amount XXXXXX.XX yuan, purchase number NNNNNNNN */
#define TICK_MS 1000u

struct ctl_rec {                            /* BAPP_EE_CONTROL, copies at +0 and +0x40 */
    uint32_t magic, seq;
    int64_t bought_uY;                      /* 1e-6 yuan */
    uint32_t purchases;
    uint32_t limit_c[5];                    /* 04001001..05: alarm 1, alarm 2, overdraft,
                                               hoarding, close-allowed (0.01 yuan) */
    uint32_t protect_mA;
    uint8_t remote_trip, keep_power, alarm_cmd, money_trip;
    uint16_t crc;
};
#define REC_MAGIC 0x4C544E43u               /* "CNTL" */
BAPP_REC_FITS(struct ctl_rec, 0x40u);
static const bapp_rec_t k_rec = BAPP_REC(BAPP_EE_CONTROL, 0x40u, struct ctl_rec, REC_MAGIC,
                                         "control: record");

static struct ctl_rec C;
static uint8_t g_have_used, g_level, g_deferred;
static int64_t g_used_uY;

static void rec_save(void) { bapp_rec_save(&k_rec, &C); }

static void rec_load(void)
{
    if (bapp_rec_load(&k_rec, &C) >= 0)
        return;
    memset(&C, 0, sizeof C);
    C.magic = REC_MAGIC;
}

static int relay_closed(void) { return bapp_relay(-1) == 1; }

static int64_t remaining_uY(void) { return C.bought_uY - g_used_uY; }

static void print_money(const char *what, int64_t uY)
{
    int64_t c = uY / 10000;                 /* 0.01 yuan, towards zero */
    ms_printk("control: %s, remaining %s%u.%02u yuan\n", what, c < 0 ? "-" : "",
              (unsigned)((c < 0 ? -c : c) / 100), (unsigned)((c < 0 ? -c : c) % 100));
}

/* Current through the meter, mA (the metering service's 02020100), or -1 */
static int32_t current_mA(void)
{
    uint8_t d[3];
    uint32_t mag;
    if (bapp_get(0x02020100u, d, 3) != 3)
        return -1;
    uint8_t b[3] = {d[0], d[1], (uint8_t)(d[2] & 0x7Fu)};
    if (dlt_bcd_get(b, 3, &mag) < 0)
        return -1;
    return (int32_t)mag;
}

/* Moves the relay to where the commands and cost control want it; 0 when it is there. */
static int apply(void)
{
    int want_closed = C.keep_power || !(C.remote_trip || C.money_trip);
    int closed = relay_closed();
    if (want_closed == closed) {
        g_deferred = 0;
        return 0;
    }
    if (!want_closed && C.protect_mA) {
        int32_t i = current_mA();
        if (i < 0 || (uint32_t)i > C.protect_mA) {
            if (!g_deferred)
                ms_printk("control: trip held back, current %d mA above %u mA\n", (int)i,
                          (unsigned)C.protect_mA);
            g_deferred = 1;
            return -1;
        }
    }
    int r = bapp_relay(want_closed);
    int fb = relay_closed();
    ms_printk("control: relay %s, feedback %s%s\n", want_closed ? "close" : "open",
              fb ? "closed" : "open", r >= 0 && fb == want_closed ? "" : ": FAULT");
    g_deferred = 0;
    return r >= 0 && fb == want_closed ? 0 : -1;
}

/* Cost control after the money changed. */
static void evaluate(void)
{
    if (!C.purchases || !g_have_used)
        return;                             /* no account opened yet */
    int64_t rem = remaining_uY(), unit = 10000;   /* 0.01 yuan */
    uint8_t level = rem <= -(int64_t)C.limit_c[2] * unit ? 3u
                  : rem <= (int64_t)C.limit_c[1] * unit ? 2u
                  : rem <= (int64_t)C.limit_c[0] * unit ? 1u : 0u;
    if (level == 3u && !C.money_trip) {
        C.money_trip = 1;
        print_money(C.limit_c[2] ? "overdraft used up, trip" : "money used up, trip", rem);
        rec_save();
    } else if (level != g_level && level && level < 3u) {
        print_money(level == 1u ? "alarm 1" : "alarm 2", rem);
    }
    if (C.money_trip && rem > (int64_t)C.limit_c[4] * unit) {
        C.money_trip = 0;
        print_money("money restored, close", rem);
        rec_save();
    }
    g_level = level;
    apply();
}

static int owns(const dlt_frame_t *q)
{
    unsigned fn = DLT_FN(q->ctrl);
    if (fn == DLT_RELAY)
        return 1;
    if ((fn != DLT_READ && fn != DLT_WRITE) || q->len < 4u)
        return 0;
    uint32_t di = dlt_di(q->data);
    switch (di) {
    case 0x00900200u: case 0x00900201u: case 0x04000503u: case 0x03320201u:
        return fn == DLT_READ;
    case 0x04001001u: case 0x04001002u: case 0x04001003u: case 0x04001004u: case 0x04001005u:
    case DI_PROTECT:
        return 1;
    case DI_TOPUP: case BAPP_DI_CHARGE:
        return fn == DLT_WRITE;
    default:
        return 0;
    }
}

static uint16_t status3(void)
{
    uint16_t w = 0;
    if (!relay_closed())
        w |= 1u << 4;
    if (C.remote_trip || C.money_trip)
        w |= 1u << 6;
    if (C.alarm_cmd || (C.purchases && g_level))
        w |= 1u << 7;
    if (C.keep_power)
        w |= 1u << 12;
    return w;
}

static void read_di(const dlt_frame_t *q, dlt_frame_t *r)
{
    uint32_t di = dlt_di(q->data);
    uint8_t v[4];
    unsigned n = 4;
    int64_t rem = remaining_uY() / 10000;
    switch (di) {
    case 0x00900200u: dlt_bcd_put(v, 4, rem > 0 ? (uint32_t)rem : 0u); break;
    case 0x00900201u: dlt_bcd_put(v, 4, rem < 0 ? (uint32_t)-rem : 0u); break;
    case 0x04000503u: {
        uint16_t w = status3();
        v[0] = (uint8_t)w;
        v[1] = (uint8_t)(w >> 8);
        n = 2;
        break;
    }
    case 0x03320201u: dlt_bcd_put(v, 2, C.purchases % 10000u); n = 2; break;
    case DI_PROTECT: dlt_bcd_put(v, 3, C.protect_mA); n = 3; break;
    default: dlt_bcd_put(v, 4, C.limit_c[(di & 0xFu) - 1u]); break;   /* 0400100n */
    }
    bapp_reply_di(r, q, v, n);
}

static int topup(const uint8_t *v, unsigned n)
{
    uint32_t amount_c, number;
    if (n != 8u || dlt_bcd_get(v, 4, &amount_c) < 0 || dlt_bcd_get(v + 4, 4, &number) < 0)
        return -1;
    if (number != C.purchases + 1u) {
        ms_printk("control: top-up %u refused, purchase %u expected\n", (unsigned)number,
                  (unsigned)(C.purchases + 1u));
        return -1;
    }
    int64_t after = remaining_uY() + (int64_t)amount_c * 10000;
    if (C.limit_c[3] && after > (int64_t)C.limit_c[3] * 10000) {
        ms_printk("control: top-up refused, above the hoarding limit\n");
        return -1;
    }
    C.bought_uY += (int64_t)amount_c * 10000;
    C.purchases = number;
    rec_save();
    print_money("top-up", remaining_uY());
    evaluate();
    return 0;
}

static int write_di(const dlt_frame_t *q)
{
    uint32_t di = dlt_di(q->data), x;
    const uint8_t *v = q->data + 12;
    unsigned n = q->len - 12u;
    if (di == BAPP_DI_CHARGE) {
        if (n != 8u)
            return -1;
        uint64_t used;
        memcpy(&used, v, 8);
        g_used_uY = (int64_t)used;
        g_have_used = 1;
        evaluate();
        return 0;
    }
    if (di == DI_TOPUP)
        return topup(v, n);
    if (di == DI_PROTECT) {
        if (n != 3u || dlt_bcd_get(v, 3, &x) < 0)
            return -1;
        C.protect_mA = x;
    } else {
        if (n != 4u || dlt_bcd_get(v, 4, &x) < 0)
            return -1;
        C.limit_c[(di & 0xFu) - 1u] = x;
    }
    rec_save();
    ms_printk("control: parameter %08x written\n", (unsigned)di);
    evaluate();
    return 0;
}

/* ss mm hh DD MM YY (BCD) -> seconds, or 0 when not a valid time */
static uint32_t secs_of6(const uint8_t *t)
{
    uint32_t x;
    if (dlt_bcd_get(t, 6, &x) < 0)
        return 0;
    struct bsp_datetime dt = {(uint16_t)(2000u + bapp_bcd2(t[5])), (uint8_t)bapp_bcd2(t[4]),
                              (uint8_t)bapp_bcd2(t[3]), (uint8_t)bapp_bcd2(t[2]),
                              (uint8_t)bapp_bcd2(t[1]), (uint8_t)bapp_bcd2(t[0])};
    return bsp_date_valid(&dt) ? bsp_date_to_secs(&dt) : 0;
}

/* 1CH: PA P0-P2 C0-C3 N1 N2 N3..N8 (valid until ss mm hh DD MM YY) */
static int relay_command(const dlt_frame_t *q)
{
    if (q->len != 16u)
        return -1;
    uint8_t n1 = q->data[8];
    uint32_t until = secs_of6(q->data + 10);
    if (!until || until < bapp_clock())
        return -1;
    switch (n1) {
    case 0x1A:
        if (C.keep_power)
            return -1;                      /* keep-power refuses trips */
        C.remote_trip = 1;
        break;
    case 0x1B:
        ms_printk("control: relay close allowed\n");   /* the customer closes it */
        C.remote_trip = 0;
        rec_save();
        return 0;
    case 0x1C:
        if (C.money_trip && !C.keep_power)
            return -1;                      /* cost control holds it open: top up first */
        C.remote_trip = 0;
        break;
    case 0x2A: case 0x2B: C.alarm_cmd = n1 == 0x2A; break;
    case 0x3A: case 0x3B: C.keep_power = n1 == 0x3A; break;
    default: return -1;
    }
    rec_save();
    if (n1 == 0x1B || n1 == 0x2A || n1 == 0x2B)
        return 0;
    return apply() < 0 && !g_deferred ? -1 : 0;
}

static void serve(const dlt_frame_t *q, dlt_frame_t *r, uint8_t from)
{
    (void)from;
    int ok;
    switch (DLT_FN(q->ctrl)) {
    case DLT_READ: read_di(q, r); return;
    case DLT_WRITE: ok = q->len >= 12u && write_di(q) == 0; break;
    case DLT_RELAY: ok = relay_command(q) == 0; break;
    default: ok = 0; break;
    }
    if (ok)
        dlt_reply(r, q, 0, 0);
    else
        dlt_abnormal(r, q, DLT_SERR_OTHER);
}

static void init(void)
{
    rec_load();
    if (C.purchases)
        ms_printk("control: cost control on, %u purchases\n", (unsigned)C.purchases);
}

/* A trip held back by self-protection is tried again every second. */
static uint32_t tick(void)
{
    if (g_deferred)
        apply();
    return g_deferred ? TICK_MS : BAPP_NEVER;
}

const bapp_module_t bapp_control = {
    .name = "control", .thread = BAPP_T_CONTROL, .prio = 12, .stack = 2048,
    .owns = owns, .init = init, .serve = serve, .tick = tick,
};
