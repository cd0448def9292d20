/*
 * Host unit tests of the metering controller's pure logic (mc_crc, mc_modbus, mc_logic,
 * mc_store, mc_app), built with the host cc by tests/firmware/test_metering_logic.py.
 * Each block prints "ok <name>"; a failed check prints the file:line and exits 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../mc_app.h"
#include "../mc_crc.h"

#define CHECK(c)                                                                       \
    do {                                                                               \
        if (!(c)) {                                                                    \
            printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #c);                         \
            exit(1);                                                                   \
        }                                                                              \
    } while (0)
#define CHECK_EQ(a, b)                                                                 \
    do {                                                                               \
        long long _a = (long long)(a), _b = (long long)(b);                            \
        if (_a != _b) {                                                                \
            printf("FAIL %s:%d: %s == %lld, expected %lld\n", __FILE__, __LINE__, #a,   \
                   _a, _b);                                                            \
            exit(1);                                                                   \
        }                                                                              \
    } while (0)

/* ---- a RAM EEPROM (32 KiB, erased) with write counting and a power cut after N bytes ---- */
static uint8_t g_mem[MC_EE_SIZE];
static long g_cut_after = -1;         /* bytes still written before the "power cut" */
static unsigned g_writes;
static unsigned long g_read_bytes, g_read_calls;
static int ram_read(void *ctx, uint32_t a, void *b, uint32_t n)
{
    (void)ctx;
    if (a + n > MC_EE_SIZE)
        return -1;
    g_read_calls++;
    g_read_bytes += n;
    memcpy(b, g_mem + a, n);
    return (int)n;
}
static int ram_write(void *ctx, uint32_t a, const void *b, uint32_t n)
{
    (void)ctx;
    if (a + n > MC_EE_SIZE)
        return -1;
    g_writes++;
    for (uint32_t i = 0; i < n; i++) {
        if (g_cut_after == 0)
            return -1;
        if (g_cut_after > 0)
            g_cut_after--;
        g_mem[a + i] = ((const uint8_t *)b)[i];
    }
    return (int)n;
}
static const struct mc_ee k_ee = {ram_read, ram_write, 0};
static void ee_erase(void) { memset(g_mem, 0xFF, sizeof g_mem); g_cut_after = -1; }

/* ---- events seen by the application ---- */
static struct mc_event_rec g_ev[64];
static unsigned g_nev;
static void log_event(void *ctx, const struct mc_event_rec *e)
{
    (void)ctx;
    if (g_nev < 64)
        g_ev[g_nev] = *e;
    g_nev++;
}
static struct mc_time g_set_clock;
static int set_clock(void *ctx, const struct mc_time *t) { (void)ctx; g_set_clock = *t; return 0; }
static const struct mc_hw k_hw = {set_clock, log_event, 0};
static unsigned count_ev(unsigned type, unsigned room)
{
    unsigned n = 0;
    for (unsigned i = 0; i < g_nev && i < 64; i++)
        n += g_ev[i].type == type && (room == 0xFFFFu || g_ev[i].room == room);
    return n;
}

/* ---- Modbus helpers ---- */
static int frame(uint8_t *f, const uint8_t *pdu, int n)
{
    memcpy(f, pdu, (size_t)n);
    uint16_t c = mc_crc16(f, (size_t)n);
    f[n] = (uint8_t)c;
    f[n + 1] = (uint8_t)(c >> 8);
    return n + 2;
}
static int mb(struct mc_app *a, const uint8_t *pdu, int n, uint8_t *reply)
{
    uint8_t f[300];
    int len = frame(f, pdu, n);
    return mb_process(&a->mb, f, len, reply);
}
static int rd(struct mc_app *a, int input, uint16_t addr, uint16_t count, uint16_t *out)
{
    uint8_t req[6] = {a->mb.addr, (uint8_t)(input ? 4 : 3), (uint8_t)(addr >> 8), (uint8_t)addr,
                      (uint8_t)(count >> 8), (uint8_t)count};
    uint8_t rep[260];
    int n = mb(a, req, 6, rep);
    if (n < 5 || (rep[1] & 0x80))
        return n >= 5 ? -rep[2] : -100;
    for (unsigned i = 0; i < count; i++)
        out[i] = (uint16_t)((rep[3 + 2 * i] << 8) | rep[4 + 2 * i]);
    return 0;
}
static uint16_t rd1(struct mc_app *a, int input, uint16_t addr)
{
    uint16_t v = 0;
    CHECK_EQ(rd(a, input, addr, 1, &v), 0);
    return v;
}
static uint32_t rd32(struct mc_app *a, int input, uint16_t addr)
{
    uint16_t v[2];
    CHECK_EQ(rd(a, input, addr, 2, v), 0);
    return ((uint32_t)v[0] << 16) | v[1];
}
static int wr(struct mc_app *a, uint16_t addr, uint16_t count, const uint16_t *v)
{
    uint8_t req[260] = {a->mb.addr, 0x10, (uint8_t)(addr >> 8), (uint8_t)addr, 0, (uint8_t)count,
                        (uint8_t)(2 * count)};
    for (unsigned i = 0; i < count; i++) {
        req[7 + 2 * i] = (uint8_t)(v[i] >> 8);
        req[8 + 2 * i] = (uint8_t)v[i];
    }
    uint8_t rep[260];
    int n = mb(a, req, 7 + 2 * count, rep);
    if (n < 5)
        return -100;
    return (rep[1] & 0x80) ? -rep[2] : 0;
}
static int wr1(struct mc_app *a, uint16_t addr, uint16_t v) { return wr(a, addr, 1, &v); }
static int wr32(struct mc_app *a, uint16_t addr, uint32_t v)
{
    uint16_t w[2] = {(uint16_t)(v >> 16), (uint16_t)v};
    return wr(a, addr, 2, w);
}

/* A top-up of room r: amount and token with one function 16 (room settings +0x12..+0x14). */
static int topup_tok(struct mc_app *a, unsigned room, uint32_t cents, uint16_t token)
{
    uint16_t w[3] = {(uint16_t)(cents >> 16), (uint16_t)cents, token};
    return wr(a, (uint16_t)(0x2012u + 0x20u * room), 3, w);
}
/* ... with a token never used before in this run */
static int topup(struct mc_app *a, unsigned room, uint32_t cents)
{
    static uint16_t token;
    return topup_tok(a, room, cents, ++token);
}

static struct mc_app g_app;
static const struct mc_time k_t0 = {2024, 3, 10, 12, 0, 0};

/* a fresh controller with n rooms on an erased EEPROM, booted at k_t0 */
static struct mc_app *fresh(unsigned n)
{
    ee_erase();
    g_nev = 0;
    CHECK_EQ(mc_app_init(&g_app, n, &k_ee, &k_hw), MC_STORE_FORMATTED);
    mc_app_boot(&g_app, &k_t0, 0, 1);
    return &g_app;
}

/* One second of load on every room: p_W watts at pf (per mille), 230 V, 50 Hz, with the
 * default calibration (what the ADE7753 registers would read). */
static void load(struct mc_sample *s, unsigned n, const double *p_W, const double *pf)
{
    for (unsigned r = 0; r < n; r++) {
        double e_lsb = p_W[r] / 3600.0 / 388007e-9;     /* LSBs in one second */
        double s_VA = pf[r] > 0 ? p_W[r] / pf[r] : 0;
        s[r].aenergy = (int32_t)(e_lsb + 0.5);
        s[r].vrms = (uint32_t)(230.0 / 226.43e-6);
        s[r].irms = (uint32_t)(s_VA / 230.0 / 47.31e-6);
        s[r].period = 8949;
        s[r].dt_ms = 1000;
    }
}

static struct mc_time at(uint32_t unix_s)
{
    struct mc_time t;
    mc_time_from_unix(unix_s, &t);
    return t;
}

/* run `secs` cycles with the same load, starting at unix time *t (advanced) */
static void run(struct mc_app *a, uint32_t *t, uint32_t *up, unsigned secs, const double *p,
                const double *pf)
{
    struct mc_sample s[MC_MAX_ROOMS];
    for (unsigned i = 0; i < secs; i++) {
        double pp[MC_MAX_ROOMS], ff[MC_MAX_ROOMS];
        for (unsigned r = 0; r < a->rooms; r++) {   /* an open relay carries no load */
            pp[r] = a->room[r].closed == 1 ? p[r] : 0.0;
            ff[r] = pf[r];
        }
        load(s, a->rooms, pp, ff);
        ++*t;
        ++*up;
        struct mc_time now = at(*t);
        mc_app_cycle(a, s, &now, *up);
    }
}

/* ======================================================================= */

static void test_crc(void)
{
    static const uint8_t req[] = {0x01, 0x03, 0x00, 0x00, 0x00, 0x01};
    CHECK_EQ(mc_crc16(req, sizeof req), 0x0A84);       /* on the wire: 84 0A */
    CHECK_EQ(mc_crc16("123456789", 9), 0x4B37);         /* CRC-16/MODBUS check value */
    CHECK_EQ(mc_crc16("", 0), 0xFFFF);
    uint16_t c = mc_crc16_update(0xFFFF, "1234", 4);
    CHECK_EQ(mc_crc16_update(c, "56789", 5), 0x4B37);   /* incremental = one shot */
    puts("ok crc16");
}

static void test_framing(void)
{
    uint32_t broken, end;
    mb_silences(9600, 1042, &broken, &end);             /* 8N1: 10 bits of 104.17 us */
    CHECK_EQ(broken, 1563 + MB_STAMP_JITTER_US);        /* t1.5 = 1562.5 us, rounded up */
    CHECK_EQ(end, 3645 - MB_STAMP_JITTER_US);           /* t3.5 = 3645.8 us, rounded down */
    mb_silences(9600, 1146, &broken, &end);             /* 8E1: 11 bits */
    CHECK_EQ(broken, 1719 + MB_STAMP_JITTER_US);
    CHECK_EQ(end, 4010 - MB_STAMP_JITTER_US);
    mb_silences(19200, 521, &broken, &end);             /* the last rate timed in characters */
    CHECK_EQ(broken, 782 + MB_STAMP_JITTER_US);
    CHECK_EQ(end, 1822 - MB_STAMP_JITTER_US);
    mb_silences(38400, 261, &broken, &end);             /* fixed above 19200 bps */
    CHECK_EQ(broken, 750 + MB_STAMP_JITTER_US);
    CHECK_EQ(end, 1750 - MB_STAMP_JITTER_US);
    puts("ok framing");
}

static void test_modbus(void)
{
    struct mc_app *a = fresh(4);
    uint8_t rep[260], f[300];
    /* the reference request: read holding 0 (slave address) */
    static const uint8_t req[] = {0x01, 0x03, 0x00, 0x00, 0x00, 0x01, 0x84, 0x0A};
    int n = mb_process(&a->mb, req, sizeof req, rep);
    CHECK_EQ(n, 7);
    CHECK(rep[0] == 1 && rep[1] == 3 && rep[2] == 2 && rep[3] == 0 && rep[4] == 1);
    CHECK_EQ(mc_crc16(rep, 5), rep[5] | (rep[6] << 8));
    /* bad CRC: no reply, counted */
    uint8_t bad[8];
    memcpy(bad, req, 8);
    bad[7] ^= 1;
    CHECK_EQ(mb_process(&a->mb, bad, 8, rep), 0);
    CHECK_EQ(a->mb.c.crc_errors, 1);
    CHECK_EQ(mb_process(&a->mb, req, 3, rep), 0);       /* fragment */
    CHECK_EQ(a->mb.c.crc_errors, 2);
    CHECK_EQ(mb_process(&a->mb, req, 257, rep), 0);     /* too long */
    CHECK_EQ(a->mb.c.crc_errors, 3);
    CHECK_EQ(rd1(a, 1, 0x000C), 3);                     /* input 0x000C: CRC errors seen */
    /* other slave: ignored but a bus message */
    uint16_t before = a->mb.c.bus_msgs;
    uint8_t other[6] = {0x07, 0x03, 0, 0, 0, 1};
    CHECK_EQ(mb(a, other, 6, rep), 0);
    CHECK_EQ(a->mb.c.bus_msgs, before + 1);
    /* exceptions */
    uint8_t coil[6] = {1, 0x05, 0, 0, 0xFF, 0};
    n = mb(a, coil, 6, rep);
    CHECK(n == 5 && rep[1] == 0x85 && rep[2] == 1);
    uint16_t v[4];
    CHECK_EQ(rd(a, 0, 0x0020, 1, v), -2);               /* unmapped holding */
    CHECK_EQ(rd(a, 1, 0x1000 + 0x20 * 4, 1, v), -2);    /* room 4 on a 4-room board */
    CHECK_EQ(rd(a, 1, 0x1000 + 0x10, 1, v), -2);        /* gap inside a room block */
    CHECK_EQ(rd(a, 1, 0x0000, 0, v), -3);               /* count 0 */
    uint8_t big[6] = {1, 3, 0, 0, 0, 126};
    n = mb(a, big, 6, rep);
    CHECK(n == 5 && rep[1] == 0x83 && rep[2] == 3);
    CHECK_EQ(wr1(a, 0x0000, 5), -1);                    /* an installer setting: closed */
    CHECK_EQ(wr32(a, 0x0120, MC_WE_FACTORY_KEY), 0);    /* the write enable opens it */
    CHECK_EQ(wr1(a, 0x0000, 0), -3);                    /* address 0 is not a slave address */
    CHECK_EQ(wr1(a, 0x0009, 2), -3);                    /* tariff mode 2 */
    CHECK_EQ(wr1(a, 0x0003, 5), -3);                    /* half a clock write */
    uint8_t badcount[9] = {1, 0x10, 0, 8, 0, 1, 3, 0, 1};   /* byte count 3 for 1 register */
    n = mb(a, badcount, 9, rep);
    CHECK(n == 5 && rep[1] == 0x90 && rep[2] == 3);
    uint8_t short3[4] = {1, 3, 0, 0};                   /* PDU too short for 03 */
    n = mb(a, short3, 4, rep);
    CHECK(n == 5 && rep[1] == 0x83 && rep[2] == 3);
    /* a rejected multi-register write changes nothing (checked before applied) */
    uint16_t two[2] = {75, 7};                          /* flat price ok, tariff mode 7 bad */
    CHECK_EQ(wr(a, 0x0008, 2, two), -3);
    CHECK_EQ(rd1(a, 0, 0x0008), 60);
    /* diagnostics */
    uint8_t echo[6] = {1, 8, 0, 0, 0xA5, 0x37};
    n = mb(a, echo, 6, rep);
    CHECK_EQ(n, 8);
    CHECK(memcmp(rep, echo, 6) == 0);
    uint8_t q[6] = {1, 8, 0, 0x0D, 0, 0};
    n = mb(a, q, 6, rep);
    CHECK_EQ(n, 8);
    CHECK_EQ((rep[4] << 8) | rep[5], a->mb.c.exceptions);
    CHECK(a->mb.c.exceptions >= 9);
    q[3] = 0x0C;
    mb(a, q, 6, rep);
    CHECK_EQ((rep[4] << 8) | rep[5], 3);
    q[3] = 0x0B;
    mb(a, q, 6, rep);
    CHECK_EQ((rep[4] << 8) | rep[5], a->mb.c.bus_msgs);
    q[3] = 0x0A;
    n = mb(a, q, 6, rep);
    CHECK_EQ(n, 8);
    CHECK_EQ(a->mb.c.crc_errors, 0);
    CHECK_EQ(a->mb.c.exceptions, 0);
    q[3] = 0x0B;
    mb(a, q, 6, rep);
    CHECK_EQ((rep[4] << 8) | rep[5], 1);                /* just this request */
    q[3] = 0x01;                                        /* restart: not supported */
    n = mb(a, q, 6, rep);
    CHECK(n == 5 && rep[1] == 0x88 && rep[2] == 1);
    /* broadcast: writes applied silently, reads ignored */
    uint8_t bw[6] = {0, 6, 0, 8, 0, 99};
    CHECK_EQ(mb(a, bw, 6, rep), 0);
    CHECK_EQ(rd1(a, 0, 0x0008), 99);
    uint8_t br[6] = {0, 3, 0, 0, 0, 1};
    CHECK_EQ(mb(a, br, 6, rep), 0);
    uint8_t bclock[19] = {0, 0x10, 0, 2, 0, 6, 12, 0x07, 0xE8, 0, 5, 0, 6, 0, 7, 0, 8, 0, 9};
    CHECK_EQ(mb(a, bclock, 19, rep), 0);                /* clock sync by broadcast */
    CHECK(g_set_clock.year == 2024 && g_set_clock.month == 5 && g_set_clock.day == 6 &&
          g_set_clock.hour == 7 && g_set_clock.min == 8 && g_set_clock.sec == 9);
    CHECK_EQ(count_ev(MC_EV_CLOCK, 0xFF), 1);
    CHECK_EQ(rd1(a, 1, 0x0004), 2024);
    /* write single register: echo */
    uint8_t w6[6] = {1, 6, 0x20, 0x0B, 0, 9};
    n = mb(a, w6, 6, rep);
    CHECK_EQ(n, 8);
    CHECK(memcmp(rep, w6, 6) == 0);
    CHECK_EQ(rd1(a, 0, 0x200B), 9);
    (void)f;
    puts("ok modbus");
}

static void test_tariff(void)
{
    struct mc_tariff t;
    memset(&t, 0, sizeof t);
    t.flat_price = 55;
    t.tou_price[0] = 120;
    t.tou_price[1] = 90;
    t.tou_price[2] = 60;
    t.tou_price[3] = 25;
    for (unsigned i = 0; i < MC_TOU_PERIODS; i++)
        t.period_start[i] = MC_NO_MINUTE;
    CHECK_EQ(mc_price_at(&t, 600), 55);                 /* flat mode */
    t.mode = 1;
    CHECK_EQ(mc_price_at(&t, 600), 55);                 /* TOU without periods: flat */
    /* valley 23:00-07:00, peak 08:00-11:00, sharp 18:00-21:00, flat otherwise (unsorted) */
    uint16_t st[6] = {18 * 60, 7 * 60, 23 * 60, 8 * 60, 11 * 60, 21 * 60};
    uint16_t ix[6] = {0, 2, 3, 1, 2, 2};
    for (unsigned i = 0; i < 6; i++) {
        t.period_start[i] = st[i];
        t.period_idx[i] = ix[i];
    }
    CHECK_EQ(mc_price_at(&t, 0), 25);                   /* before 07:00: yesterday's valley */
    CHECK_EQ(mc_price_at(&t, 419), 25);
    CHECK_EQ(mc_price_at(&t, 420), 60);
    CHECK_EQ(mc_price_at(&t, 480), 90);
    CHECK_EQ(mc_price_at(&t, 659), 90);
    CHECK_EQ(mc_price_at(&t, 660), 60);
    CHECK_EQ(mc_price_at(&t, 18 * 60 + 30), 120);
    CHECK_EQ(mc_price_at(&t, 21 * 60), 60);
    CHECK_EQ(mc_price_at(&t, 1439), 25);
    /* billing follows the minute of day: 1 kWh at 08:30 costs the peak price */
    struct mc_app *a = fresh(1);
    uint16_t per[4] = {7 * 60, 2, 8 * 60, 1};
    CHECK_EQ(wr(a, 0x0010, 4, per), 0);
    CHECK_EQ(wr1(a, 0x2011, 0), 0);                     /* a resistive test load */
    CHECK_EQ(wr1(a, 0x0009, 1), 0);
    CHECK_EQ(topup(a, 0, 100000), 0);
    uint32_t t0 = mc_unix_from_time(&(struct mc_time){2024, 3, 10, 8, 30, 0}), up = 10;
    double p[1] = {3600.0}, pf[1] = {1.0};              /* 1 Wh per second */
    run(a, &t0, &up, 1000, p, pf);
    uint32_t e = rd32(a, 1, 0x1008), c = rd32(a, 1, 0x100A);
    CHECK(e >= 999 && e <= 1001);
    CHECK_EQ(c, e * 80 / 1000);                         /* peak = tou_price[1] = 80 default */
    puts("ok tariff");
}

static void test_convert(void)
{
    struct mc_cal cal;
    mc_cal_default(&cal);
    struct mc_sample s = {1, 0, 0, 0, 1000};
    struct mc_meas m;
    uint64_t rem = 0;
    uint64_t total = 0;
    for (int i = 0; i < 1000000; i++)
        total += mc_convert(&cal, &s, &m, &rem);
    CHECK_EQ(total, 388);                               /* 1e6 x 0.388007 mWh, no drift */
    CHECK_EQ(rem, 7000000);                             /* 0.007 Wh still carried */
    /* 2.2 kW at 230 V, PF 1: what the registers read in one second */
    double p[1] = {2200.0}, pf[1] = {1.0};
    load(&s, 1, p, pf);
    rem = 0;
    mc_convert(&cal, &s, &m, &rem);
    CHECK(m.p_dW >= 21990 && m.p_dW <= 22010);
    CHECK(m.v_cV >= 22990 && m.v_cV <= 23010);
    CHECK(m.i_mA >= 9555 && m.i_mA <= 9575);            /* 9.565 A */
    CHECK(m.pf_m >= 995);
    CHECK_EQ(m.f_cHz, 5000);                            /* PERIOD 8949 -> 50.00 Hz */
    pf[0] = 0.6;
    load(&s, 1, p, pf);
    mc_convert(&cal, &s, &m, &rem);
    CHECK(m.pf_m >= 595 && m.pf_m <= 605);
    CHECK(m.n_dVA >= 29000 && m.n_dVA <= 29700);        /* sqrt(3667^2 - 2200^2) = 2933 VA */
    s.aenergy = -100;                                   /* reversed CT: billed as forward */
    rem = 0;
    uint32_t wh = 0;
    for (int i = 0; i < 100; i++)
        wh += mc_convert(&cal, &s, &m, &rem);
    CHECK_EQ(wh, 3);                                    /* 100 x 100 x 0.388 mWh = 3.88 Wh */
    CHECK(m.p_dW < 0);
    CHECK_EQ(mc_isqrt64(1000000000000ull), 1000000);
    CHECK_EQ(mc_isqrt64(15), 3);
    puts("ok convert");
}

static void test_balance(void)
{
    struct mc_app *a = fresh(2);
    uint32_t t = mc_unix_from_time(&k_t0), up = 0;
    CHECK_EQ(rd1(a, 1, 0x1000) & (MC_ST_CLOSED | MC_ST_TRIPPED), MC_ST_TRIPPED);   /* no credit */
    CHECK_EQ(rd1(a, 1, 0x1001), MC_R_BALANCE);          /* held open: the reason is given */
    CHECK_EQ(count_ev(MC_EV_TRIP, 0xFFFF), 0);          /* but start-up drive is no trip */
    CHECK_EQ(wr1(a, 0x2011, 0), 0);                     /* a resistive test load */
    CHECK_EQ(wr32(a, 0x2003, 1000), 0);                 /* alarm 1 at 10.00 */
    CHECK_EQ(wr32(a, 0x2005, 300), 0);                  /* alarm 2 at 3.00 */
    CHECK_EQ(wr32(a, 0x2012, 2000), -3);                /* a top-up without its token */
    CHECK_EQ(wr1(a, 0x2014, 7), -3);                    /* a token without its amount */
    CHECK_EQ(topup_tok(a, 0, 0, 7), -3);                /* nothing */
    CHECK_EQ(topup_tok(a, 0, 2000, 0), -3);             /* token 0: none */
    CHECK_EQ(wr32(a, 0x2001, 2000), -2);              /* the old form, without a token */
    CHECK_EQ(rd1(a, 0, 0x2014), 0);                     /* no top-up applied yet */
    CHECK_EQ(topup_tok(a, 0, 2000, 7), 0);              /* 20.00 */
    CHECK_EQ(count_ev(MC_EV_TOPUP, 0), 1);
    CHECK_EQ((int32_t)rd32(a, 1, 0x100C), 2000);
    CHECK(rd1(a, 1, 0x1000) & MC_ST_CLOSED);            /* top-up closed the relay */
    CHECK_EQ(rd32(a, 0, 0x2012), 0);                    /* the amount reads 0 */
    CHECK_EQ(rd32(a, 0, 0x2001), 0);                    /* so does the old top-up */
    CHECK_EQ(rd1(a, 0, 0x2014), 7);                     /* the token applied last */
    uint32_t seq = a->room_seq[0];
    CHECK_EQ(topup_tok(a, 0, 2000, 7), 0);              /* a retry: answered, not applied */
    CHECK_EQ(topup_tok(a, 0, 9999, 7), 0);              /* whatever amount it claims */
    CHECK_EQ(count_ev(MC_EV_TOPUP, 0), 1);
    CHECK_EQ((int32_t)rd32(a, 1, 0x100C), 2000);
    CHECK_EQ(a->room_seq[0], seq);                      /* no record written */
    /* 60 cents/kWh, 3.6 kW: 1 Wh/s -> 0.06 cent/s; 20.00 lasts 33 333 s */
    double p[2] = {3600.0, 0.0}, pf[2] = {1.0, 1.0};
    run(a, &t, &up, 16000, p, pf);                      /* 9.60 spent: 10.40 left */
    CHECK_EQ(rd1(a, 1, 0x1000) & (MC_ST_ALARM1 | MC_ST_ALARM2), 0);
    run(a, &t, &up, 1000, p, pf);                       /* 9.80 left */
    CHECK(rd1(a, 1, 0x1000) & MC_ST_ALARM1);
    CHECK_EQ(count_ev(MC_EV_ALARM1, 0), 1);
    run(a, &t, &up, 11700, p, pf);                      /* 2.78 left */
    CHECK(rd1(a, 1, 0x1000) & MC_ST_ALARM2);
    CHECK_EQ(count_ev(MC_EV_ALARM2, 0), 1);
    CHECK(rd1(a, 1, 0x1000) & MC_ST_CLOSED);            /* alarms do not trip */
    run(a, &t, &up, 4700, p, pf);
    CHECK(rd1(a, 1, 0x1000) & MC_ST_TRIPPED);           /* zero balance */
    CHECK_EQ(rd1(a, 1, 0x1001), MC_R_BALANCE);
    int32_t bal = (int32_t)rd32(a, 1, 0x100C);
    CHECK(bal <= 0 && bal > -2);
    CHECK_EQ(rd1(a, 1, 0x100E), 1);
    uint32_t e = rd32(a, 1, 0x1008);
    run(a, &t, &up, 100, p, pf);                        /* open: nothing more is metered */
    CHECK_EQ(rd32(a, 1, 0x1008), e);
    CHECK_EQ(topup(a, 0, 500), 0);
    CHECK(rd1(a, 1, 0x1000) & MC_ST_CLOSED);
    CHECK_EQ(rd1(a, 1, 0x1000) & MC_ST_ALARM1, MC_ST_ALARM1);   /* 5.00 <= 10.00 */
    CHECK_EQ(rd1(a, 1, 0x1000) & MC_ST_ALARM2, 0);
    /* overdraft: trips only below -limit */
    CHECK_EQ(wr32(a, 0x2007, 200), 0);
    run(a, &t, &up, 8400, p, pf);                       /* 5.04 spent: -0.04 */
    CHECK(rd1(a, 1, 0x1000) & MC_ST_CLOSED);
    run(a, &t, &up, 3400, p, pf);                       /* another 2.04: -2.08 */
    CHECK(rd1(a, 1, 0x1000) & MC_ST_TRIPPED);
    CHECK((int32_t)rd32(a, 1, 0x100C) < -200);
    /* room 1 was never loaded and never topped up */
    CHECK_EQ(rd32(a, 1, 0x1028), 0);
    CHECK(rd1(a, 1, 0x1020) & MC_ST_TRIPPED);
    /* remote open / close */
    CHECK_EQ(topup(a, 0, 10000), 0);
    CHECK(rd1(a, 1, 0x1000) & MC_ST_CLOSED);
    CHECK_EQ(wr1(a, 0x2000, 0), 0);
    CHECK_EQ(rd1(a, 1, 0x1001), MC_R_REMOTE);
    CHECK_EQ(rd1(a, 0, 0x2000), 0);
    CHECK_EQ(wr1(a, 0x2000, 3), -3);
    CHECK_EQ(wr1(a, 0x2000, 1), 0);
    CHECK(rd1(a, 1, 0x1000) & MC_ST_CLOSED);
    /* each room keeps its own token: room 0's 7 is new to room 1 */
    CHECK_EQ(topup_tok(a, 1, 100, 7), 0);
    CHECK_EQ((int32_t)rd32(a, 1, 0x102C), 100);
    CHECK_EQ(topup_tok(a, 1, 100, 7), 0);
    CHECK_EQ((int32_t)rd32(a, 1, 0x102C), 100);
    puts("ok balance");
}

static void test_protection(void)
{
    struct mc_app *a = fresh(1);
    uint32_t t = mc_unix_from_time(&k_t0), up = 0;
    CHECK_EQ(topup(a, 0, 1000000), 0);
    CHECK_EQ(wr1(a, 0x2011, 0), 0);                     /* malicious detection off here */
    CHECK_EQ(wr32(a, 0x2009, 1000), 0);                 /* load limit 1 kW */
    uint16_t pr[4] = {3, 1000, 10, 2};                  /* delay 3 s, OC 10 A, reclose 10 s x2 */
    CHECK_EQ(wr(a, 0x200B, 4, pr), 0);
    double p[1] = {900.0}, pf[1] = {1.0};
    run(a, &t, &up, 30, p, pf);
    CHECK(rd1(a, 1, 0x1000) & MC_ST_CLOSED);
    p[0] = 1500.0;                                      /* overload */
    run(a, &t, &up, 3, p, pf);
    CHECK(rd1(a, 1, 0x1000) & MC_ST_CLOSED);            /* within the delay */
    run(a, &t, &up, 1, p, pf);
    CHECK(rd1(a, 1, 0x1000) & MC_ST_TRIPPED);           /* 4th second over the limit */
    CHECK_EQ(rd1(a, 1, 0x1001), MC_R_OVERLOAD);
    CHECK_EQ(rd1(a, 1, 0x100F), 2);
    run(a, &t, &up, 9, p, pf);
    CHECK(rd1(a, 1, 0x1000) & MC_ST_TRIPPED);           /* reclose delay 10 s */
    run(a, &t, &up, 1, p, pf);
    CHECK(rd1(a, 1, 0x1000) & MC_ST_CLOSED);            /* reclosed */
    CHECK_EQ(rd1(a, 1, 0x100F), 1);
    CHECK_EQ(count_ev(MC_EV_RECLOSE, 0), 1);
    run(a, &t, &up, 4, p, pf);                          /* still overloaded: trips again */
    CHECK(rd1(a, 1, 0x1000) & MC_ST_TRIPPED);
    run(a, &t, &up, 10, p, pf);
    CHECK_EQ(rd1(a, 1, 0x100F), 0);
    CHECK(rd1(a, 1, 0x1000) & MC_ST_CLOSED);
    run(a, &t, &up, 4, p, pf);                          /* third trip: no attempts left */
    CHECK_EQ(rd1(a, 1, 0x1000) & (MC_ST_TRIPPED | MC_ST_LOCKED), MC_ST_TRIPPED | MC_ST_LOCKED);
    run(a, &t, &up, 600, p, pf);
    CHECK(rd1(a, 1, 0x1000) & MC_ST_LOCKED);            /* stays locked out */
    CHECK_EQ(rd1(a, 1, 0x100E), 3);
    CHECK_EQ(wr1(a, 0x2000, 1), 0);                     /* "close" does not unlock */
    CHECK(rd1(a, 1, 0x1000) & MC_ST_LOCKED);
    CHECK_EQ(wr1(a, 0x2000, 2), 0);                     /* reset lock-out */
    CHECK_EQ(rd1(a, 1, 0x1000) & (MC_ST_CLOSED | MC_ST_LOCKED), MC_ST_CLOSED);
    CHECK_EQ(rd1(a, 1, 0x100F), 2);
    CHECK_EQ(count_ev(MC_EV_LOCK_RESET, 0), 1);
    /* severe overload (> 2 x limit): at once */
    p[0] = 2500.0;
    run(a, &t, &up, 1, p, pf);
    CHECK_EQ(rd1(a, 1, 0x1001), MC_R_LOAD_LIMIT);
    CHECK(rd1(a, 1, 0x1000) & MC_ST_TRIPPED);
    CHECK_EQ(wr1(a, 0x2000, 2), 0);
    /* over-current: 10 A limit, 2.2 kW at PF 0.5 draws 19 A with only 2.2 kW (limit off) */
    CHECK_EQ(wr32(a, 0x2009, 0), 0);
    p[0] = 2200.0;
    pf[0] = 0.5;
    run(a, &t, &up, 3, p, pf);
    CHECK(rd1(a, 1, 0x1000) & MC_ST_CLOSED);
    run(a, &t, &up, 1, p, pf);
    CHECK_EQ(rd1(a, 1, 0x1001), MC_R_OVERCURRENT);
    /* every trip is in the event log with its reason */
    CHECK_EQ(count_ev(MC_EV_TRIP, 0), 5);
    CHECK_EQ(g_ev[g_nev - 1].type, MC_EV_TRIP);
    CHECK_EQ(g_ev[g_nev - 1].value, MC_R_OVERCURRENT);
    puts("ok protection");
}

static void test_schedule(void)
{
    struct mc_app *a = fresh(1);
    CHECK_EQ(topup(a, 0, 100000), 0);
    CHECK_EQ(wr1(a, 0x200F, 1440), -3);
    uint16_t sch[2] = {23 * 60, 6 * 60 + 30};           /* lights out 23:00 - 06:30 */
    CHECK_EQ(wr(a, 0x200F, 2, sch), 0);
    uint32_t t = mc_unix_from_time(&(struct mc_time){2024, 3, 10, 22, 58, 0}), up = 0;
    double p[1] = {100.0}, pf[1] = {1.0};
    run(a, &t, &up, 119, p, pf);
    CHECK(rd1(a, 1, 0x1000) & MC_ST_CLOSED);
    run(a, &t, &up, 1, p, pf);                          /* 23:00:00 */
    CHECK_EQ(rd1(a, 1, 0x1000) & (MC_ST_TRIPPED | MC_ST_SCHED_OFF), MC_ST_TRIPPED | MC_ST_SCHED_OFF);
    CHECK_EQ(rd1(a, 1, 0x1001), MC_R_SCHEDULE);
    run(a, &t, &up, 7 * 3600 + 29 * 60, p, pf);         /* 06:29 next day */
    CHECK(rd1(a, 1, 0x1000) & MC_ST_TRIPPED);
    run(a, &t, &up, 60, p, pf);                         /* 06:30 */
    CHECK_EQ(rd1(a, 1, 0x1000) & (MC_ST_CLOSED | MC_ST_SCHED_OFF), MC_ST_CLOSED);
    puts("ok schedule");
}

/* a load's P and non-active power N (0.1 W / 0.1 VA) from watts and PF */
static void pn(double w, double pf, int32_t *p, int32_t *n)
{
    double s = pf > 0 ? w / pf : 0;
    *p = (int32_t)(w * 10);
    *n = (int32_t)(10 * (s * s > w * w ? __builtin_sqrt(s * s - w * w) : 0));
}

static int feed(struct mc_cls *c, double w, double pf, int cycles, int32_t *step)
{
    int hit = 0;
    int32_t p, n, spf;
    pn(w, pf, &p, &n);
    for (int i = 0; i < cycles; i++)
        hit |= mc_classify(c, p, n, step, &spf);
    return hit;
}

static void test_classifier(void)
{
    struct mc_cls c;
    int32_t step = 0;
    /* 1.5 kW heater (PF 1), motor (PF 0.8) and computer SMPS (PF 0.6) of the same power */
    mc_classify_reset(&c);
    CHECK(!feed(&c, 0, 1, 3, &step));
    CHECK(feed(&c, 1500, 1.0, 3, &step));
    CHECK(step >= 14900 && step <= 15100);
    mc_classify_reset(&c);
    feed(&c, 0, 1, 3, &step);
    CHECK(!feed(&c, 1500, 0.8, 5, &step));
    mc_classify_reset(&c);
    feed(&c, 0, 1, 3, &step);
    CHECK(!feed(&c, 1500, 0.6, 5, &step));
    /* a heater switched on next to a running motor: the step alone is resistive */
    mc_classify_reset(&c);
    feed(&c, 800, 0.8, 3, &step);
    int32_t p1, n1, p2, n2, spf;
    pn(800, 0.8, &p1, &n1);
    pn(1000, 1.0, &p2, &n2);
    CHECK(!mc_classify(&c, p1 + p2, n1, &step, &spf));  /* the changing second: not settled */
    CHECK(mc_classify(&c, p1 + p2, n1, &step, &spf));
    CHECK(spf >= 990);
    /* a computer switched on next to a heater: not resistive */
    mc_classify_reset(&c);
    feed(&c, 1000, 1.0, 3, &step);
    pn(1000, 0.6, &p2, &n2);
    CHECK(!mc_classify(&c, 10000 + p2, n2, &step, &spf));
    CHECK(!mc_classify(&c, 10000 + p2, n2, &step, &spf));
    CHECK(spf < 700);
    /* a 100 W lamp is below the minimum step */
    mc_classify_reset(&c);
    feed(&c, 0, 1, 3, &step);
    CHECK(!feed(&c, 100, 1.0, 5, &step));
    /* a step spread over two cycles (switched on mid-second) still counts once */
    mc_classify_reset(&c);
    feed(&c, 200, 0.7, 3, &step);
    int hits = 0;
    hits += feed(&c, 900, 1.0, 1, &step);               /* half a second of a 1.4 kW heater */
    hits += feed(&c, 1600, 0.99, 4, &step);
    CHECK_EQ(hits, 1);

    /* through the room logic: heater trips, reclose finds it again, lock-out after N */
    struct mc_app *a = fresh(3);
    uint32_t t = mc_unix_from_time(&k_t0), up = 0;
    for (unsigned r = 0; r < 3; r++) {
        CHECK_EQ(topup(a, r, 1000000), 0);
        uint16_t rc[2] = {30, 1};                      /* reclose after 30 s, once */
        CHECK_EQ(wr(a, (uint16_t)(0x200D + 0x20 * r), 2, rc), 0);
    }
    double p[3] = {0, 0, 0}, pf[3] = {1.0, 0.8, 0.6};
    run(a, &t, &up, 5, p, pf);
    p[0] = p[1] = p[2] = 1500.0;                        /* heater, motor, computer */
    run(a, &t, &up, 5, p, pf);
    CHECK_EQ(rd1(a, 1, 0x1001), MC_R_MALICIOUS);
    CHECK_EQ(rd1(a, 1, 0x1000) & (MC_ST_TRIPPED | MC_ST_ILLEGAL), MC_ST_TRIPPED | MC_ST_ILLEGAL);
    CHECK(rd1(a, 1, 0x1020) & MC_ST_CLOSED);            /* motor runs */
    CHECK(rd1(a, 1, 0x1040) & MC_ST_CLOSED);            /* computer runs */
    CHECK_EQ(count_ev(MC_EV_ILLEGAL, 0), 1);
    CHECK_EQ(count_ev(MC_EV_ILLEGAL, 0xFFFF), 1);
    run(a, &t, &up, 40, p, pf);                         /* reclosed, heater still on: again */
    CHECK_EQ(count_ev(MC_EV_RECLOSE, 0), 1);
    CHECK_EQ(count_ev(MC_EV_ILLEGAL, 0), 2);
    CHECK(rd1(a, 1, 0x1000) & MC_ST_LOCKED);
    run(a, &t, &up, 3600, p, pf);
    CHECK(rd1(a, 1, 0x1000) & MC_ST_LOCKED);
    CHECK_EQ(count_ev(MC_EV_ILLEGAL, 0xFFFF), 2);
    /* detection off: the same heater is allowed */
    CHECK_EQ(wr1(a, 0x2011, 0), 0);
    CHECK_EQ(wr1(a, 0x2000, 2), 0);
    run(a, &t, &up, 30, p, pf);
    CHECK(rd1(a, 1, 0x1000) & MC_ST_CLOSED);
    puts("ok classifier");
}

static void test_records(void)
{
    /* live ring: wrap, newest wins, torn newest falls back to the previous one */
    struct mc_app *a = fresh(4);
    uint32_t t = mc_unix_from_time(&k_t0), up = 0;
    for (unsigned i = 0; i < 40; i++) {
        a->room[2].energy_Wh = 1000 + i;
        a->uptime_s = ++up;
        CHECK_EQ(mc_app_save_live(a, MC_LIVE_PERIODIC), 0);
    }
    struct mc_ring ring;
    struct mc_live l;
    CHECK_EQ(mc_live_scan(&k_ee, &ring, &l), 1);
    CHECK_EQ(l.seq, 41);                                /* boot snapshot was seq 1 */
    CHECK_EQ(ring.newest, 40 % MC_EE_LIVE_SLOTS);
    CHECK_EQ(l.energy_Wh[2], 1039);
    CHECK_EQ(l.rooms, 4);
    /* a power cut 20 bytes into the next save */
    a->room[2].energy_Wh = 2000;
    g_cut_after = 20;
    CHECK_EQ(mc_app_save_live(a, MC_LIVE_POWER_FAIL), -1);
    g_cut_after = -1;
    CHECK_EQ(mc_live_scan(&k_ee, &ring, &l), 1);
    CHECK_EQ(l.energy_Wh[2], 1039);                     /* the torn record is not used */
    CHECK_EQ(l.seq, 41);
    /* encoded layout: documented offsets */
    uint8_t b[MC_LIVE_LEN(MC_MAX_ROOMS)];
    CHECK_EQ(ram_read(0, MC_EE_LIVE_BASE + ring.newest * MC_EE_LIVE_STRIDE, b, sizeof b), (int)sizeof b);
    CHECK_EQ(b[0] | (b[1] << 8), 41);
    CHECK_EQ(b[4], 4);
    CHECK_EQ(b[16 + 8 * 2] | (b[17 + 8 * 2] << 8), 1039);
    CHECK_EQ(mc_crc16(b, MC_LIVE_LEN(4) - 2), b[MC_LIVE_LEN(4) - 2] | (b[MC_LIVE_LEN(4) - 1] << 8));

    /* event ring: 400 events wrap the 384 slots; newest first; the oldest 16 are gone */
    unsigned base = a->ev.valid;
    for (int i = 0; i < 400; i++) {
        struct mc_event_rec e = {0, 1700000000u + (uint32_t)i, i, MC_EV_TOPUP, 1};
        CHECK_EQ(mc_event_append(&k_ee, &a->ev, &e), 0);
    }
    (void)base;
    struct mc_ring er;
    CHECK_EQ(mc_event_scan(&k_ee, &er), 1);
    CHECK_EQ(er.valid, MC_EE_EVENT_SLOTS);
    CHECK_EQ(er.seq, a->ev.seq);
    struct mc_event_rec e;
    CHECK_EQ(mc_event_get(&k_ee, &er, 0, &e), 0);
    CHECK_EQ(e.value, 399);
    CHECK_EQ(mc_event_get(&k_ee, &er, 383, &e), 0);
    CHECK_EQ(e.value, 399 - 383);
    CHECK_EQ(mc_event_get(&k_ee, &er, 384, &e), -1);
    /* through Modbus: entry 0 = newest */
    CHECK_EQ(wr1(a, 0x0110, 5), 0);
    uint16_t w[7];
    CHECK_EQ(rd(a, 1, 0x0900, 7, w), 0);
    CHECK_EQ(w[0], 1);
    CHECK_EQ(w[1], MC_EV_TOPUP);
    CHECK_EQ(w[2], 1);
    CHECK_EQ(((uint32_t)w[3] << 16) | w[4], 1700000000u + 394);
    CHECK_EQ(((uint32_t)w[5] << 16) | w[6], 394);
    CHECK_EQ(rd1(a, 1, 0x000B), MC_EE_EVENT_SLOTS);
    /* a corrupted event reads as empty, its neighbours stay readable */
    uint32_t slot = (er.seq - 1 - 1) % MC_EE_EVENT_SLOTS;   /* entry 1 */
    g_mem[MC_EE_EVENT_BASE + slot * MC_EE_EVENT_SIZE + 9] ^= 0x40;
    CHECK_EQ(mc_event_get(&k_ee, &er, 1, &e), -1);
    CHECK_EQ(mc_event_get(&k_ee, &er, 2, &e), 0);

    /* room record A/B: a torn write of the newer copy leaves the older one */
    CHECK_EQ(topup(a, 2, 12345), 0);                 /* room 2 top-up, record saved */
    uint32_t seq_before = a->room_seq[2];
    struct mc_room rr;
    struct mc_room_cfg rc;
    struct mc_cal rcal;
    uint32_t s;
    memset(&rr, 0, sizeof rr);
    CHECK(mc_ab_load_room(&k_ee, 2, &rr, &rc, &rcal, &s) > 0);
    CHECK_EQ(rr.credit_c, 12345);
    uint16_t token = rd1(a, 0, 0x2054);                  /* its token, kept with the credit */
    CHECK(token != 0);
    CHECK_EQ(rr.topup_token, token);
    CHECK_EQ(s, seq_before);
    g_cut_after = 30;
    CHECK_EQ(topup(a, 2, 100), -4);                  /* EEPROM failed: device failure */
    g_cut_after = -1;
    CHECK(mc_ab_load_room(&k_ee, 2, &rr, &rc, &rcal, &s) > 0);
    CHECK_EQ(rr.credit_c, 12345);                        /* neither the credit nor the token */
    CHECK_EQ(rr.topup_token, token);
    CHECK_EQ(s, seq_before);
    (void)t;
    puts("ok records");
}

/* Wh a day of constant p_W gives through load() (whole LSBs per second) */
static uint32_t day_Wh(double p_W)
{
    uint64_t lsb = (uint64_t)(p_W / 3600.0 / 388007e-9 + 0.5);
    return (uint32_t)(lsb * 388007u * 86400u / 1000000000u);
}

static void test_days(void)
{
    struct mc_app *a = fresh(2);
    CHECK_EQ(topup(a, 0, 10000000), 0);
    CHECK_EQ(topup(a, 1, 10000000), 0);
    CHECK_EQ(wr1(a, 0x2011, 0), 0);
    CHECK_EQ(wr1(a, 0x2031, 0), 0);
    uint32_t t = mc_unix_from_time(&(struct mc_time){2024, 3, 10, 23, 0, 0}), up = 0;
    double p[2] = {3600.0, 1800.0}, pf[2] = {1.0, 1.0};     /* 1 Wh/s and 0.5 Wh/s */
    run(a, &t, &up, 3600, p, pf);                           /* to 2024-03-11 00:00:00 */
    CHECK_EQ(wr1(a, 0x0100, 0), 0);
    CHECK_EQ(wr1(a, 0x0101, 0), 0);
    uint16_t w[8];
    CHECK_EQ(rd(a, 1, 0x0800, 8, w), 0);
    CHECK_EQ(w[0], 1);
    CHECK(w[1] == 2024 && w[2] == 3 && w[3] == 10);
    uint32_t e = ((uint32_t)w[4] << 16) | w[5];
    CHECK(e >= 3598 && e <= 3600);                          /* one hour at 3.6 kW that day */
    CHECK_EQ(((uint32_t)w[6] << 16) | w[7], e * 60 / 1000);
    CHECK_EQ(wr1(a, 0x0100, 1), 0);
    CHECK_EQ(rd(a, 1, 0x0800, 8, w), 0);
    uint32_t e1 = ((uint32_t)w[4] << 16) | w[5];
    CHECK(e1 >= 1798 && e1 <= 1800);
    /* 70 more days at a different load each day: 60 days kept, oldest gone */
    for (unsigned d = 0; d < 70; d++) {
        p[0] = 36.0 * (d + 1);                              /* (d+1) x 0.01 Wh per s */
        run(a, &t, &up, 86400, p, pf);
    }
    CHECK_EQ(wr1(a, 0x0100, 0), 0);
    CHECK_EQ(wr1(a, 0x0101, 0), 0);
    CHECK_EQ(rd(a, 1, 0x0800, 8, w), 0);
    e = ((uint32_t)w[4] << 16) | w[5];
    CHECK(e + 1 >= day_Wh(36.0 * 70) && e <= day_Wh(36.0 * 70) + 1);   /* yesterday: 2520 W */
    CHECK_EQ(wr1(a, 0x0101, 59), 0);
    CHECK_EQ(rd(a, 1, 0x0800, 8, w), 0);
    CHECK_EQ(w[0], 1);
    e = ((uint32_t)w[4] << 16) | w[5];
    CHECK(e + 1 >= day_Wh(36.0 * 11) && e <= day_Wh(36.0 * 11) + 1);   /* 59 days earlier */
    CHECK_EQ(w[1] * 10000 + w[2] * 100 + w[3], 20240321);
    CHECK_EQ(wr1(a, 0x0101, 60), -3);
    /* rings: the daily ring has wrapped without losing its order */
    CHECK(a->day.seq > MC_EE_DAY_SLOTS);
    puts("ok days");
}

static void test_power_fail(void)
{
    struct mc_app *a = fresh(4);
    CHECK_EQ(topup(a, 1, 500000), 0);
    CHECK_EQ(wr1(a, 0x2031, 0), 0);
    uint32_t t = mc_unix_from_time(&k_t0), up = 0;
    double p[4] = {0, 2000.0, 0, 0}, pf[4] = {1, 1, 1, 1};
    unsigned w0 = g_writes;
    run(a, &t, &up, 600, p, pf);                            /* 333 Wh */
    unsigned saves = g_writes - w0;
    CHECK(saves >= 60 && saves <= 70);                      /* every 5 Wh: ~66 saves */
    uint32_t e_true = a->room[1].energy_Wh, c_true = a->room[1].cost_c;
    /* PVD: the save completes -> nothing lost */
    CHECK_EQ(mc_app_save_live(a, MC_LIVE_POWER_FAIL), 0);
    g_nev = 0;
    CHECK_EQ(mc_app_init(&g_app, 4, &k_ee, &k_hw), MC_STORE_OK);
    struct mc_time back = at(t + 3600);
    mc_app_boot(&g_app, &back, 0, 1);
    CHECK_EQ(a->room[1].energy_Wh, e_true);
    CHECK_EQ(a->room[1].cost_c, c_true);
    CHECK_EQ((int32_t)rd32(a, 1, 0x102C), 500000 - (int32_t)c_true);   /* balance intact */
    CHECK_EQ(rd1(a, 1, 0x000A), 1);
    CHECK_EQ(count_ev(MC_EV_POWER_FAIL, 0xFF), 1);
    CHECK_EQ(g_ev[0].value, 3600);                          /* outage length */
    CHECK_EQ(g_ev[0].time, t);
    CHECK(rd1(a, 1, 0x1020) & MC_ST_CLOSED);
    /* PVD save cut short at every byte position: loss stays under 10 Wh, records intact */
    for (long cut = 0; cut < (long)MC_LIVE_LEN(4); cut += 3) {
        run(a, &t, &up, 7, p, pf);                          /* some energy since the last save */
        e_true = a->room[1].energy_Wh;
        g_cut_after = cut;
        mc_app_save_live(a, MC_LIVE_POWER_FAIL);
        g_cut_after = -1;
        CHECK_EQ(mc_app_init(&g_app, 4, &k_ee, &k_hw), MC_STORE_OK);
        mc_app_boot(&g_app, &back, 0, 1);
        CHECK(a->room[1].energy_Wh <= e_true);
        CHECK(e_true - a->room[1].energy_Wh < 10);
        CHECK(a->room[1].energy_Wh + 10 > e_true);
    }
    /* a software reset is no power failure */
    uint16_t pfc = rd1(a, 1, 0x000A);
    CHECK_EQ(mc_app_init(&g_app, 4, &k_ee, &k_hw), MC_STORE_OK);
    g_nev = 0;
    mc_app_boot(&g_app, &back, 0, 0);
    CHECK_EQ(rd1(a, 1, 0x000A), pfc);
    CHECK_EQ(count_ev(MC_EV_POWER_FAIL, 0xFF), 0);
    /* settings survive: address written, then a restart */
    CHECK_EQ(wr32(a, 0x0120, MC_WE_FACTORY_KEY), 0);
    CHECK_EQ(wr1(a, 0x0000, 17), 0);
    CHECK_EQ(a->apply_comm, 1);
    CHECK_EQ(mc_app_init(&g_app, 4, &k_ee, &k_hw), MC_STORE_OK);
    CHECK_EQ(g_app.mb.addr, 17);
    /* a foreign EEPROM image is erased and formatted */
    memset(g_mem, 0x00, sizeof g_mem);
    CHECK_EQ(mc_app_init(&g_app, 4, &k_ee, &k_hw), MC_STORE_FORMATTED);
    CHECK_EQ(g_mem[0x7FFF], 0xFF);
    puts("ok power_fail");
}

static void test_calibration(void)
{
    struct mc_app *a = fresh(2);
    uint16_t cal[8];
    CHECK_EQ(rd(a, 0, 0x3008, 8, cal), 0);
    CHECK_EQ(((uint32_t)cal[4] << 16) | cal[5], 388007);
    CHECK_EQ(cal[6], 22643);
    CHECK_EQ(cal[7], 4731);
    CHECK_EQ(wr1(a, 0x3008, 100), -1);                  /* calibration needs the enable */
    CHECK_EQ(wr32(a, 0x0120, MC_WE_FACTORY_KEY), 0);
    CHECK_EQ(wr1(a, 0x3008, 0x0800), -3);               /* WGAIN is 12-bit signed */
    CHECK_EQ(wr1(a, 0x3008, (uint16_t)-100), 0);
    CHECK_EQ(a->cal[1].wgain, -100);
    CHECK(a->cal_dirty & 2u);
    CHECK_EQ(wr32(a, 0x300C, 0), -3);                   /* energy constant 0 */
    CHECK_EQ(wr32(a, 0x300C, 400000), 0);
    CHECK_EQ(rd(a, 1, 0x3000, 1, cal), -2);             /* calibration is holding only */
    CHECK_EQ(rd(a, 0, 0x3010, 1, cal), -2);             /* channel 2 of a 2-channel board */
    CHECK_EQ(mc_app_init(&g_app, 2, &k_ee, &k_hw), MC_STORE_OK);
    CHECK_EQ(g_app.cal[1].e_nWh, 400000);
    CHECK_EQ(g_app.cal[1].wgain, -100);
    puts("ok calibration");
}

/* Energy counted outside the cycle (boot, power failure) and the remainders kept across cuts:
 * many cuts lose no more than the 1/256 Wh rounding of each saved remainder. */
static void test_boot_energy(void)
{
    struct mc_cal cal;
    mc_cal_default(&cal);
    CHECK_EQ(mc_chip_energy_nWh(&cal, 1000, 0), 388007000ull);
    CHECK_EQ(mc_chip_energy_nWh(&cal, -1000, 0), 388007000ull);     /* reverse: as forward */
    cal.wgain = 410;                     /* calibrated +10 %: a chip fresh from reset (WGAIN 0)
                                          * counted 10 % fewer LSBs for the same energy */
    CHECK_EQ(mc_chip_energy_nWh(&cal, 10000, 0), (10000ull * 388007u * 4506u + 2048u) / 4096u);
    CHECK_EQ(mc_chip_energy_nWh(&cal, 10000, 410), 10000ull * 388007u);   /* configured chip */

    /* remainder codes round to nearest, never past 255 */
    CHECK_EQ(mc_rem_to_256(0), 0);
    CHECK_EQ(mc_rem_to_256(999999999u), 255);
    CHECK_EQ(mc_rem_to_256(mc_rem_from_256(77)), 77);
    CHECK_EQ(mc_rem_to_256(500000000u), 128);

    /* boot energy is billed at the price in force, with its remainder */
    struct mc_app *a = fresh(2);
    CHECK_EQ(topup(a, 0, 100000), 0);
    CHECK_EQ(wr1(a, 0x0008, 100), 0);                   /* 1.00 per kWh */
    mc_app_add_energy(a, 1, 10000, 0);                  /* 3.88007 Wh */
    CHECK_EQ(a->room[1].energy_Wh, 3);
    CHECK_EQ(a->room[1].rem_nWh, 880070000ull);
    CHECK_EQ(a->room[0].energy_Wh, 0);
    mc_app_add_energy(a, 1, 400, 0);                    /* +0.155 Wh: the 4th Wh completes */
    CHECK_EQ(a->room[1].energy_Wh, 4);
    CHECK_EQ(a->room[1].cost_c, 0);                     /* 4 Wh x 0.1 cent: in the remainder */
    CHECK_EQ(a->room[1].cost_rem, 400);
    mc_app_add_energy(a, 7, 1000, 0);                   /* no such room: ignored */

    /* 40 power cuts, each after 1..3 s of 1.7 kW and the PVD save: totals + remainders are
     * restored, so the room loses < 1/512 Wh per cut (old layout: 0.5 Wh per cut) */
    a = fresh(1);
    CHECK_EQ(topup(a, 0, 10000000), 0);
    CHECK_EQ(wr1(a, 0x2011, 0), 0);
    uint32_t t = mc_unix_from_time(&k_t0), up = 0;
    double p[1] = {1700.0}, pf[1] = {1.0};
    uint64_t true_nWh = 0;
    struct mc_sample smp;
    load(&smp, 1, p, pf);
    for (unsigned cut = 0; cut < 40; cut++) {
        unsigned secs = 1 + cut % 3;
        run(a, &t, &up, secs, p, pf);
        true_nWh += (uint64_t)secs * (uint64_t)smp.aenergy * 388007u;
        mc_app_add_energy(a, 0, 123 + (int32_t)cut, 0);    /* the PVD reads the last part */
        true_nWh += (uint64_t)(123 + cut) * 388007u;
        struct mc_time now = at(t);
        CHECK_EQ(mc_app_power_fail(a, &now), 0);
        CHECK_EQ(mc_app_init(&g_app, 1, &k_ee, &k_hw), MC_STORE_OK);
        t += 2;
        struct mc_time back = at(t);
        mc_app_boot(&g_app, &back, 0, 1);
    }
    uint64_t got_nWh = (uint64_t)a->room[0].energy_Wh * 1000000000u + a->room[0].rem_nWh;
    CHECK(got_nWh <= true_nWh + 40u * 1953125u);
    CHECK(true_nWh <= got_nWh + 40u * 1953125u);       /* 40 x 1/512 Wh = 0.08 Wh at most */
    CHECK_EQ(rd1(a, 1, 0x000A), 40);

    /* a record without an intact extension (older firmware, or the extension torn) restores
     * its totals with a zero remainder */
    struct mc_ring ring;
    struct mc_live l;
    CHECK_EQ(mc_live_scan(&k_ee, &ring, &l), 1);
    CHECK_EQ(l.has_rem, 1);
    g_mem[MC_EE_LIVE_BASE + ring.newest * MC_EE_LIVE_STRIDE + MC_LIVE_LEN(1)] ^= 0x01;
    CHECK_EQ(mc_live_scan(&k_ee, &ring, &l), 1);
    CHECK_EQ(l.has_rem, 0);
    CHECK_EQ(l.energy_Wh[0], a->room[0].energy_Wh);
    CHECK_EQ(mc_app_init(&g_app, 1, &k_ee, &k_hw), MC_STORE_OK);
    struct mc_time t_now = at(t);
    mc_app_boot(&g_app, &t_now, 0, 0);
    CHECK_EQ(a->room[0].rem_nWh, 0);
    puts("ok boot_energy");
}

/* The boot reads the rings by binary search: a few dozen bytes, not every slot; a slot 0
 * torn by a power cut falls back to reading them all and still finds the newest. */
static void test_ring_scan(void)
{
    struct mc_app *a = fresh(4);
    for (int i = 0; i < 500; i++) {                    /* the event ring wraps once */
        struct mc_event_rec e = {0, 1700000000u + (uint32_t)i, i, MC_EV_TOPUP, 0};
        CHECK_EQ(mc_event_append(&k_ee, &a->ev, &e), 0);
    }
    for (uint32_t n = 0; n < 21; n++) {
        a->uptime_s = n;
        CHECK_EQ(mc_app_save_live(a, MC_LIVE_PERIODIC), 0);
    }
    uint32_t ev_seq = a->ev.seq, live_seq = a->live.seq;
    g_read_bytes = g_read_calls = 0;
    CHECK_EQ(mc_app_init(&g_app, 4, &k_ee, &k_hw), MC_STORE_OK);
    mc_app_boot(&g_app, &k_t0, 0, 0);
    CHECK_EQ(a->ev.seq, ev_seq + 0);                   /* no event at a warm boot */
    CHECK_EQ(a->live.seq, live_seq + 1);               /* the boot record followed it */
    CHECK(g_read_calls < 200);                          /* was > 470 with one read per slot */
    CHECK(g_read_bytes < 2400);
    /* every position of the newest event, and an empty ring, found by the search */
    for (unsigned n = 0; n <= 2 * MC_EE_EVENT_SLOTS + 3; n += 37) {
        memset(g_mem + MC_EE_EVENT_BASE, 0xFF, MC_EE_EVENT_SLOTS * MC_EE_EVENT_SIZE);
        struct mc_ring r = {0xFFFFu, 0, 0};
        for (unsigned i = 0; i < n; i++) {
            struct mc_event_rec e = {0, i, (int32_t)i, MC_EV_TOPUP, 0};
            CHECK_EQ(mc_event_append(&k_ee, &r, &e), 0);
        }
        struct mc_ring s;
        CHECK_EQ(mc_event_scan(&k_ee, &s), n ? 1 : 0);
        CHECK_EQ(s.seq, n);
        CHECK_EQ(s.valid, n < MC_EE_EVENT_SLOTS ? n : MC_EE_EVENT_SLOTS);
    }
    /* slot 0 torn (erased, then garbage) right after the ring wrapped: the newest of the
     * previous lap is found by the full scan */
    memset(g_mem + MC_EE_EVENT_BASE, 0xFF, MC_EE_EVENT_SLOTS * MC_EE_EVENT_SIZE);
    struct mc_ring r = {0xFFFFu, 0, 0};
    for (unsigned i = 0; i < MC_EE_EVENT_SLOTS; i++) {
        struct mc_event_rec e = {0, i, (int32_t)i, MC_EV_TOPUP, 0};
        CHECK_EQ(mc_event_append(&k_ee, &r, &e), 0);
    }
    struct mc_ring s;
    for (int garbage = 0; garbage < 2; garbage++) {
        memset(g_mem + MC_EE_EVENT_BASE, garbage ? 0x5A : 0xFF, MC_EE_EVENT_SIZE);
        CHECK_EQ(mc_event_scan(&k_ee, &s), 1);
        CHECK_EQ(s.seq, MC_EE_EVENT_SLOTS);
        CHECK_EQ(s.newest, MC_EE_EVENT_SLOTS - 1);
    }
    /* the newest torn with its number intact: the one before is used */
    memset(g_mem + MC_EE_EVENT_BASE, 0xFF, MC_EE_EVENT_SIZE);
    struct mc_event_rec e = {0, 9, 9, MC_EV_TOPUP, 0};
    CHECK_EQ(mc_event_append(&k_ee, &s, &e), 0);        /* seq 385 into slot 0 */
    g_mem[MC_EE_EVENT_BASE + 9] ^= 0xFF;
    CHECK_EQ(mc_event_scan(&k_ee, &s), 1);
    CHECK_EQ(s.seq, MC_EE_EVENT_SLOTS);
    puts("ok ring_scan");
}

/* A write is checked completely before anything applies: across the calibration of several
 * channels (one scratch channel at a time), and within a room's settings. */
static void test_write_checks(void)
{
    struct mc_app *a = fresh(4);
    uint16_t v[0x0F];                                   /* room 1, +0x03 .. +0x11 */
    memset(v, 0, sizeof v);
    v[0x04 - 3] = 3000;                                 /* alarm 1 */
    v[0x0F - 3] = 0xFFFF;                               /* no schedule */
    v[0x10 - 3] = 0xFFFF;
    v[0x11 - 3] = 2;                                    /* illegal: malicious 0/1 */
    uint32_t before = a->cfg[1].alarm1_c;
    CHECK_EQ(wr(a, 0x2023, 0x0F, v), -3);
    CHECK_EQ(a->cfg[1].alarm1_c, before);
    uint16_t w[0x13];                                   /* one register into the gap */
    memset(w, 0, sizeof w);                             /* after the top-up (+0x12..+0x14) */
    memcpy(w, v, sizeof v);
    w[0x0E] = 0;
    CHECK_EQ(wr(a, 0x2023, 0x13, w), -2);
    CHECK_EQ(a->cfg[1].alarm1_c, before);
    v[0x11 - 3] = 0;
    CHECK_EQ(wr(a, 0x2023, 0x0F, v), 0);
    CHECK_EQ(a->cfg[1].alarm1_c, 3000);
    CHECK_EQ(a->cfg[1].malicious, 0);
    CHECK_EQ(a->cfg[2].alarm1_c, before);               /* the neighbour untouched */
    /* calibration of channels 0..2 with channel 2's energy constant 0: nothing applies */
    uint16_t c[24];
    for (unsigned ch = 0; ch < 3; ch++) {
        c[8 * ch + 0] = 5; c[8 * ch + 1] = 0; c[8 * ch + 2] = 0; c[8 * ch + 3] = 0;
        c[8 * ch + 4] = 0x0006; c[8 * ch + 5] = 0x1A80;  /* 400000 */
        c[8 * ch + 6] = 22643; c[8 * ch + 7] = 4731;
    }
    c[8 * 2 + 4] = c[8 * 2 + 5] = 0;
    CHECK_EQ(wr(a, 0x3000, 24, c), -1);                 /* closed: nothing looked at */
    CHECK_EQ(wr32(a, 0x0120, MC_WE_FACTORY_KEY), 0);
    CHECK_EQ(wr(a, 0x3000, 24, c), -3);
    CHECK_EQ(a->cal[0].wgain, 0);
    CHECK_EQ(a->cal[0].e_nWh, 388007);
    c[8 * 2 + 5] = 1;
    CHECK_EQ(wr(a, 0x3000, 24, c), 0);
    CHECK_EQ(a->cal[0].e_nWh, 400000);
    CHECK_EQ(a->cal[2].e_nWh, 1);
    CHECK_EQ(a->cal[1].wgain, 5);
    CHECK_EQ(a->cal_dirty & 7u, 7u);
    /* a new reclose attempts count refills the attempts left (unless locked out) */
    CHECK_EQ(wr1(a, 0x206E, 7), 0);
    CHECK_EQ(a->room[3].reclose_left, 7);
    puts("ok write_checks");
}

static void test_calendar(void)
{
    struct mc_time t = {2024, 2, 29, 23, 59, 59};
    CHECK_EQ(mc_unix_from_time(&t), 1709251199u);
    struct mc_time u;
    mc_time_from_unix(1709251200u, &u);
    CHECK(u.year == 2024 && u.month == 3 && u.day == 1 && u.hour == 0 && u.min == 0);
    mc_time_from_unix(946684800u, &u);
    CHECK(u.year == 2000 && u.month == 1 && u.day == 1);
    CHECK(mc_time_valid(&t));
    t.year = 2023;
    CHECK(!mc_time_valid(&t));
    puts("ok calendar");
}

int main(void)
{
    test_crc();
    test_framing();
    test_calendar();
    test_modbus();
    test_tariff();
    test_convert();
    test_balance();
    test_protection();
    test_schedule();
    test_classifier();
    test_records();
    test_days();
    test_power_fail();
    test_calibration();
    test_boot_energy();
    test_ring_scan();
    test_write_checks();
    puts("ALL PASSED");
    return 0;
}
