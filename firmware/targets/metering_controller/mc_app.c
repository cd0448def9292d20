/* Application core of the metering controller (see mc_app.h). */
#include "mc_app.h"
#include <string.h>

/* ---- calendar (proleptic Gregorian, days since 1970-01-01) ---- */
static int32_t days_from_civil(int y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int32_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153u * (m + (m > 2 ? -3 : 9)) + 2u) / 5u + d - 1u;
    unsigned doe = yoe * 365u + yoe / 4u - yoe / 100u + doy;
    return era * 146097 + (int32_t)doe - 719468;
}

uint32_t mc_unix_from_time(const struct mc_time *t)
{
    int32_t days = days_from_civil(t->year, t->month, t->day);
    return (uint32_t)days * 86400u + t->hour * 3600u + t->min * 60u + t->sec;
}

void mc_time_from_unix(uint32_t s, struct mc_time *t)
{
    int32_t z = (int32_t)(s / 86400u) + 719468;
    uint32_t sod = s % 86400u;
    int32_t era = z / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460u + doe / 36524u - doe / 146096u) / 365u;
    unsigned doy = doe - (365u * yoe + yoe / 4u - yoe / 100u);
    unsigned mp = (5u * doy + 2u) / 153u;
    unsigned d = doy - (153u * mp + 2u) / 5u + 1u;
    unsigned m = mp < 10 ? mp + 3 : mp - 9;
    t->year = (uint16_t)((int32_t)yoe + era * 400 + (m <= 2));
    t->month = (uint8_t)m;
    t->day = (uint8_t)d;
    t->hour = (uint8_t)(sod / 3600u);
    t->min = (uint8_t)(sod / 60u % 60u);
    t->sec = (uint8_t)(sod % 60u);
}

int mc_time_valid(const struct mc_time *t)
{
    static const uint8_t mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (t->year < 2000 || t->year > 2099 || t->month < 1 || t->month > 12 || t->day < 1 ||
        t->day > mdays[t->month - 1] || t->hour > 23 || t->min > 59 || t->sec > 59)
        return 0;
    if (t->month == 2 && t->day == 29 && (t->year % 4 != 0))
        return 0;                                   /* 2000..2099: every 4th year is leap */
    return 1;
}

static int same_day(const struct mc_time *a, const struct mc_time *b)
{
    return a->year == b->year && a->month == b->month && a->day == b->day;
}

uint32_t mc_baud_of(unsigned code)
{
    static const uint32_t k[5] = {2400, 4800, 9600, 19200, 38400};
    return code < 5 ? k[code] : 9600u;
}

/* ---- events ---- */
static void on_event(void *ctx, enum mc_event ev, unsigned room, int32_t value)
{
    struct mc_app *a = ctx;
    struct mc_event_rec e = {0, a->unix_now, value, (uint8_t)ev, (uint8_t)room};
    if (room < MC_MAX_ROOMS)
        a->room_dirty |= 1u << room;
    if (mc_event_append(&a->ee, &a->ev, &e) < 0)
        a->ee_failed = 1;
    if (a->hw.log_event)
        a->hw.log_event(a->hw.ctx, &e);
}

static struct mc_env env_of(struct mc_app *a)
{
    struct mc_env e;
    e.now_s = a->uptime_s;
    e.minute = a->now.hour * 60u + a->now.min;
    e.price = mc_price_at(&a->dev.tariff, e.minute);
    e.event = on_event;
    e.ctx = a;
    return e;
}

/* ---- init / boot ---- */
int mc_app_init(struct mc_app *a, unsigned rooms, const struct mc_ee *ee, const struct mc_hw *hw)
{
    memset(a, 0, sizeof *a);
    a->rooms = rooms > MC_MAX_ROOMS ? MC_MAX_ROOMS : rooms;
    a->ee = *ee;
    if (hw)
        a->hw = *hw;
    a->mb.ops = &mc_regs_ops;
    a->mb.ctx = a;
    int st = mc_store_open(ee, a->rooms);
    if (st < 0)
        a->ee_failed = 1;
    if (st < 0 || mc_ab_load_dev(ee, &a->dev, &a->dev_seq) <= 0) {
        mc_dev_default(&a->dev);
        a->dev_seq = 0;
        if (st >= 0 && mc_ab_store_dev(ee, &a->dev, &a->dev_seq) < 0)
            a->ee_failed = 1;
    }
    if (st < 0 || mc_ab_load_access(ee, &a->access, &a->access_seq) <= 0) {
        a->access.key = MC_WE_FACTORY_KEY;
        a->access.scope = 0;
        a->access_seq = 0;
    }
    if (a->dev.addr < 1 || a->dev.addr > 247)
        a->dev.addr = 1;
    a->mb.addr = a->dev.addr;
    for (unsigned r = 0; r < a->rooms; r++) {
        mc_room_cfg_default(&a->cfg[r]);
        mc_cal_default(&a->cal[r]);
        mc_room_init(&a->room[r], &a->cfg[r]);
        if (st < 0 || mc_ab_load_room(ee, r, &a->room[r], &a->cfg[r], &a->cal[r], &a->room_seq[r]) <= 0) {
            a->room_seq[r] = 0;
            a->room_dirty |= 1u << r;
        }
        if (!a->cal[r].e_nWh)
            mc_cal_default(&a->cal[r]);
        a->cal_dirty |= 1u << r;
        /* a latching relay keeps its contact across the outage: drive it to the state the
         * restored flags ask for at the first evaluation */
        a->room[r].closed = MC_RELAY_UNKNOWN;
    }
    if (st >= 0) {
        mc_live_scan(ee, &a->live, 0);
        mc_day_scan(ee, &a->day);
        mc_event_scan(ee, &a->ev);
    }
    return st;
}

static void fill_live(struct mc_app *a, struct mc_live *l, unsigned reason)
{
    l->rooms = (uint8_t)a->rooms;
    l->reason = (uint8_t)reason;
    l->power_fails = a->power_fails;
    l->time = a->unix_now;
    l->year = a->open_day.year;
    l->month = a->open_day.month;
    l->day = a->open_day.day;
    for (unsigned r = 0; r < a->rooms; r++) {
        l->energy_Wh[r] = a->room[r].energy_Wh;
        l->cost_c[r] = a->room[r].cost_c;
        l->rem_256[r] = mc_rem_to_256(a->room[r].rem_nWh);
    }
}

int mc_app_save_live(struct mc_app *a, unsigned reason)
{
    struct mc_live l;
    fill_live(a, &l, reason);
    if (mc_live_append(&a->ee, &a->live, &l) < 0) {
        a->ee_failed = 1;
        return -1;
    }
    for (unsigned r = 0; r < a->rooms; r++)
        a->saved_Wh[r] = l.energy_Wh[r];
    a->last_save_s = a->uptime_s;
    return 0;
}

static void close_day(struct mc_app *a)
{
    struct mc_freeze f;
    f.rooms = (uint8_t)a->rooms;
    f.year = a->open_day.year;
    f.month = a->open_day.month;
    f.day = a->open_day.day;
    for (unsigned r = 0; r < a->rooms; r++) {
        f.energy_Wh[r] = a->room[r].energy_Wh;
        f.cost_c[r] = a->room[r].cost_c;
        mc_room_new_day(&a->room[r], &a->cfg[r]);
        a->room_dirty |= 1u << r;
    }
    if (mc_day_append(&a->ee, &a->day, &f) < 0)
        a->ee_failed = 1;
    a->open_day = a->now;
}

void mc_app_boot(struct mc_app *a, const struct mc_time *now, uint32_t uptime_s, int power_loss)
{
    struct mc_live l;
    a->now = *now;
    a->unix_now = mc_unix_from_time(now);
    a->uptime_s = uptime_s;
    a->open_day = *now;
    if (mc_live_scan(&a->ee, &a->live, &l) > 0) {
        unsigned n = l.rooms < a->rooms ? l.rooms : a->rooms;
        for (unsigned r = 0; r < n; r++) {
            a->room[r].energy_Wh = l.energy_Wh[r];
            a->room[r].cost_c = l.cost_c[r];
            a->room[r].rem_nWh = mc_rem_from_256(l.rem_256[r]);   /* 0 without the extension */
        }
        a->power_fails = (uint16_t)(l.power_fails + (power_loss ? 1u : 0u));
        if (l.month) {
            a->open_day.year = l.year;
            a->open_day.month = l.month;
            a->open_day.day = l.day;
        }
        /* The failure happened at the last save (the PVD save when it completed); the value
         * is the outage in seconds as the RTC saw it. */
        if (power_loss) {
            uint32_t saved_now = a->unix_now;
            a->unix_now = l.time;
            on_event(a, MC_EV_POWER_FAIL, 0xFF, (int32_t)(saved_now - l.time));
            a->unix_now = saved_now;
        }
    } else if (a->day.newest == 0xFFFFu) {
        /* first start: a baseline freeze, so that today's energy has a reference */
        struct mc_time y;
        mc_time_from_unix(a->unix_now - 86400u, &y);
        a->open_day = y;
        close_day(a);
    }
    if (!same_day(&a->open_day, now))
        close_day(a);
    a->open_day = *now;
    mc_app_save_live(a, MC_LIVE_BOOT);
    struct mc_env env = env_of(a);
    for (unsigned r = 0; r < a->rooms; r++) {
        if ((a->room[r].flags & MC_RF_PROT_TRIP) && !(a->room[r].flags & MC_RF_LOCKED))
            a->room[r].reclose_at_s = uptime_s + a->cfg[r].reclose_delay_s;
        mc_room_eval(&a->room[r], r, &a->cfg[r], &env);
        a->relay_dirty |= 1u << r;
    }
    mc_app_flush(a);
}

void mc_app_add_energy(struct mc_app *a, unsigned room, int32_t aenergy, int chip_wgain)
{
    if (room >= a->rooms || !aenergy)
        return;
    uint16_t price = mc_price_at(&a->dev.tariff, a->now.hour * 60u + a->now.min);
    mc_room_bill(&a->room[room], mc_chip_energy_nWh(&a->cal[room], aenergy, chip_wgain), price);
}

int mc_app_power_fail(struct mc_app *a, const struct mc_time *now)
{
    if (now && mc_time_valid(now)) {
        a->now = *now;                 /* the failure's own time, not the last cycle's */
        a->unix_now = mc_unix_from_time(now);
    }
    return mc_app_save_live(a, MC_LIVE_POWER_FAIL);
}

void mc_app_flush(struct mc_app *a)
{
    uint32_t d = a->room_dirty;
    a->room_dirty = 0;
    for (unsigned r = 0; r < a->rooms; r++)
        if (d & (1u << r))
            if (mc_ab_store_room(&a->ee, r, &a->room[r], &a->cfg[r], &a->cal[r], &a->room_seq[r]) < 0)
                a->ee_failed = 1;
}

void mc_app_cycle(struct mc_app *a, const struct mc_sample *s, const struct mc_time *now,
                  uint32_t uptime_s)
{
    uint32_t prev_unix = a->unix_now;
    a->now = *now;
    a->unix_now = mc_unix_from_time(now);
    a->uptime_s = uptime_s;
    (void)prev_unix;
    struct mc_env env = env_of(a);
    int changed = 0, due = 0;
    for (unsigned r = 0; r < a->rooms; r++) {
        struct mc_room *rm = &a->room[r];
        uint32_t wh = mc_convert(&a->cal[r], &s[r], &rm->m, &rm->rem_nWh);
        if (mc_room_step(rm, r, &a->cfg[r], &env, wh)) {
            a->relay_dirty |= 1u << r;
            a->room_dirty |= 1u << r;
        }
        if (rm->energy_Wh != a->saved_Wh[r]) {
            changed = 1;
            if (rm->energy_Wh - a->saved_Wh[r] >= MC_SAVE_WH)
                due = 1;
        }
    }
    if (!same_day(&a->open_day, now)) {
        close_day(a);
        due = 1;
    }
    if (due || (changed && a->uptime_s - a->last_save_s >= MC_SAVE_PERIOD_S))
        mc_app_save_live(a, MC_LIVE_PERIODIC);
    mc_app_flush(a);
}

void mc_app_watchdog(struct mc_app *a, uint16_t resets, int by_watchdog)
{
    a->watchdog_resets = resets;
    if (by_watchdog) {
        on_event(a, MC_EV_WATCHDOG, 0xFF, resets);
        mc_app_flush(a);
    }
}

/* ---- register map ---- */
#define IN_DEV_END 0x000Eu
#define IN_DAY 0x0800u
#define IN_EVENT 0x0900u
#define IN_ROOM 0x1000u
#define HR_TOU_PERIODS 0x0010u
#define HR_ROOM 0x2000u
#define HR_CAL 0x3000u
/* Room settings offsets (0x2000 + 0x20 room) of the top-up: amount u32 at +0x12..+0x13 and its
 * token u16 at +0x14, one function-16 write (docs/modbus_map.md, "Top-up tokens"). +0x01..+0x02,
 * the top-up before tokens, read 0 and are no longer writable: a write without a token could
 * be applied twice by a master's retries. */
#define RS_TOPUP 0x12u
#define RS_TOPUP_TOKEN 0x14u
#define RS_LAST 0x14u                   /* the block's last register */
#define HR_WE 0x0120u                   /* write enable: key (2 registers) */
#define HR_WE_LEFT 0x0122u              /* seconds the writes stay open; write 0 to close */
#define HR_WE_KEY 0x0123u               /* a new key (2 registers) */
#define HR_WE_SCOPE 0x0125u             /* 0 installer settings, 1 every setting */
#define WE_OPEN_S 300u
#define WE_WRONG_MAX 3u
#define WE_LOCK_S 600u

struct win {
    int day_loaded, ev_loaded;
    uint16_t day[8], ev[7];
};

static void load_day_window(struct mc_app *a, struct win *w)
{
    struct mc_freeze f1, f0;
    memset(w->day, 0, sizeof w->day);
    w->day_loaded = 1;
    unsigned r = a->sel_room, k = a->sel_day;
    if (r >= a->rooms || mc_day_get(&a->ee, &a->day, k, &f1) < 0 || r >= f1.rooms)
        return;
    if (mc_day_get(&a->ee, &a->day, k + 1, &f0) < 0 || r >= f0.rooms)
        return;                      /* the baseline of that day is gone: no full record */
    uint32_t e = f1.energy_Wh[r] - f0.energy_Wh[r], c = f1.cost_c[r] - f0.cost_c[r];
    w->day[0] = 1;
    w->day[1] = f1.year;
    w->day[2] = f1.month;
    w->day[3] = f1.day;
    w->day[4] = (uint16_t)(e >> 16);
    w->day[5] = (uint16_t)e;
    w->day[6] = (uint16_t)(c >> 16);
    w->day[7] = (uint16_t)c;
}

static void load_event_window(struct mc_app *a, struct win *w)
{
    struct mc_event_rec e;
    memset(w->ev, 0, sizeof w->ev);
    w->ev_loaded = 1;
    if (mc_event_get(&a->ee, &a->ev, a->sel_event, &e) < 0)
        return;
    w->ev[0] = 1;
    w->ev[1] = e.type;
    w->ev[2] = e.room == 0xFF ? 0xFFFFu : e.room;
    w->ev[3] = (uint16_t)(e.time >> 16);
    w->ev[4] = (uint16_t)e.time;
    w->ev[5] = (uint16_t)((uint32_t)e.value >> 16);
    w->ev[6] = (uint16_t)e.value;
}

#define HI(x) ((uint16_t)((uint32_t)(x) >> 16))
#define LO(x) ((uint16_t)(x))

static int input_reg(struct mc_app *a, struct win *w, uint16_t addr, uint16_t *v)
{
    if (addr < IN_DEV_END) {
        switch (addr) {
        case 0x0: *v = (MC_FW_MAJOR << 8) | MC_FW_MINOR; break;
        case 0x1: *v = (uint16_t)a->rooms; break;
        case 0x2: *v = HI(a->uptime_s); break;
        case 0x3: *v = LO(a->uptime_s); break;
        case 0x4: *v = a->now.year; break;
        case 0x5: *v = a->now.month; break;
        case 0x6: *v = a->now.day; break;
        case 0x7: *v = a->now.hour; break;
        case 0x8: *v = a->now.min; break;
        case 0x9: *v = a->now.sec; break;
        case 0xA: *v = a->power_fails; break;
        case 0xB: *v = a->ev.valid; break;
        case 0xC: *v = a->mb.c.crc_errors; break;
        default: *v = a->watchdog_resets; break;
        }
        return 0;
    }
    if (addr >= IN_DAY && addr < IN_DAY + 8u) {
        if (!w->day_loaded)
            load_day_window(a, w);
        *v = w->day[addr - IN_DAY];
        return 0;
    }
    if (addr >= IN_EVENT && addr < IN_EVENT + 7u) {
        if (!w->ev_loaded)
            load_event_window(a, w);
        *v = w->ev[addr - IN_EVENT];
        return 0;
    }
    if (addr >= IN_ROOM && addr < IN_ROOM + 0x20u * a->rooms && (addr & 0x1Fu) < 0x10u) {
        unsigned r = (addr - IN_ROOM) >> 5;
        const struct mc_room *rm = &a->room[r];
        int contact = a->have_contacts ? (int)((a->contacts >> r) & 1u) : rm->closed == 1;
        int32_t bal = mc_room_balance(rm);
        switch (addr & 0x1Fu) {
        case 0x0: *v = mc_room_status(rm, contact); break;
        case 0x1: *v = rm->last_reason; break;
        case 0x2: *v = rm->m.v_cV; break;
        case 0x3: *v = rm->m.i_mA; break;
        case 0x4: *v = HI(rm->m.p_dW); break;
        case 0x5: *v = LO(rm->m.p_dW); break;
        case 0x6: *v = (uint16_t)rm->m.pf_m; break;
        case 0x7: *v = rm->m.f_cHz; break;
        case 0x8: *v = HI(rm->energy_Wh); break;
        case 0x9: *v = LO(rm->energy_Wh); break;
        case 0xA: *v = HI(rm->cost_c); break;
        case 0xB: *v = LO(rm->cost_c); break;
        case 0xC: *v = HI(bal); break;
        case 0xD: *v = LO(bal); break;
        case 0xE: *v = rm->trips; break;
        default: *v = rm->reclose_left; break;
        }
        return 0;
    }
    return MB_EX_ILLEGAL_ADDRESS;
}

static int holding_reg(struct mc_app *a, uint16_t addr, uint16_t *v)
{
    const struct mc_tariff *t = &a->dev.tariff;
    if (addr <= 0x000Du) {
        switch (addr) {
        case 0x0: *v = a->dev.addr; break;
        case 0x1: *v = a->dev.baud_code; break;
        case 0x2: *v = a->now.year; break;
        case 0x3: *v = a->now.month; break;
        case 0x4: *v = a->now.day; break;
        case 0x5: *v = a->now.hour; break;
        case 0x6: *v = a->now.min; break;
        case 0x7: *v = a->now.sec; break;
        case 0x8: *v = t->flat_price; break;
        case 0x9: *v = t->mode; break;
        default: *v = t->tou_price[addr - 0xA]; break;
        }
        return 0;
    }
    if (addr >= HR_TOU_PERIODS && addr < HR_TOU_PERIODS + 16u) {
        unsigned i = (addr - HR_TOU_PERIODS) / 2u;
        *v = (addr & 1u) ? t->period_idx[i] : t->period_start[i];
        return 0;
    }
    if (addr == 0x0100u) { *v = a->sel_room; return 0; }
    if (addr == 0x0101u) { *v = a->sel_day; return 0; }
    if (addr == 0x0110u) { *v = a->sel_event; return 0; }
    if (addr >= HR_WE && addr <= HR_WE_SCOPE) {     /* keys read 0 */
        *v = addr == HR_WE_LEFT ? (uint16_t)(a->we_until_s > a->uptime_s ? a->we_until_s - a->uptime_s : 0u)
           : addr == HR_WE_SCOPE ? a->access.scope : 0u;
        return 0;
    }
    if (addr >= HR_ROOM && addr < HR_ROOM + 0x20u * a->rooms && (addr & 0x1Fu) <= RS_LAST) {
        unsigned r = (addr - HR_ROOM) >> 5;
        const struct mc_room_cfg *c = &a->cfg[r];
        switch (addr & 0x1Fu) {
        case 0x00: *v = a->room[r].closed == 1; break;
        case 0x01: case 0x02: *v = 0; break;
        case 0x03: *v = HI(c->alarm1_c); break;
        case 0x04: *v = LO(c->alarm1_c); break;
        case 0x05: *v = HI(c->alarm2_c); break;
        case 0x06: *v = LO(c->alarm2_c); break;
        case 0x07: *v = HI(c->overdraft_c); break;
        case 0x08: *v = LO(c->overdraft_c); break;
        case 0x09: *v = HI(c->load_limit_W); break;
        case 0x0A: *v = LO(c->load_limit_W); break;
        case 0x0B: *v = c->overload_delay_s; break;
        case 0x0C: *v = c->oc_limit_cA; break;
        case 0x0D: *v = c->reclose_delay_s; break;
        case 0x0E: *v = c->reclose_attempts; break;
        case 0x0F: *v = c->sched_off; break;
        case 0x10: *v = c->sched_on; break;
        case 0x11: *v = c->malicious; break;
        case RS_TOPUP_TOKEN: *v = a->room[r].topup_token; break;   /* the last applied */
        default: *v = 0; break;                                      /* the amount */
        }
        return 0;
    }
    if (addr >= HR_CAL && addr < HR_CAL + 8u * a->rooms) {
        const struct mc_cal *c = &a->cal[(addr - HR_CAL) >> 3];
        switch (addr & 7u) {
        case 0: *v = (uint16_t)c->wgain; break;
        case 1: *v = (uint16_t)c->apos; break;
        case 2: *v = (uint16_t)c->vrmsos; break;
        case 3: *v = (uint16_t)c->irmsos; break;
        case 4: *v = HI(c->e_nWh); break;
        case 5: *v = LO(c->e_nWh); break;
        case 6: *v = c->v_scale; break;
        default: *v = c->i_scale; break;
        }
        return 0;
    }
    return MB_EX_ILLEGAL_ADDRESS;
}

static int regs_read(void *ctx, int input, uint16_t addr, uint16_t count, uint16_t *out)
{
    struct mc_app *a = ctx;
    struct win w;
    w.day_loaded = w.ev_loaded = 0;
    for (unsigned i = 0; i < count; i++) {
        int r = input ? input_reg(a, &w, (uint16_t)(addr + i), &out[i])
                      : holding_reg(a, (uint16_t)(addr + i), &out[i]);
        if (r)
            return r;
    }
    return 0;
}

/* Writes: every value is checked on a scratch copy of the settings, then committed. */
struct wstate {
    struct mc_dev_settings dev;
    struct mc_time clock;
    uint16_t sel_room, sel_day, sel_event;
    int clock_regs, dev_changed, comm_changed;
    uint32_t rooms_changed, cal_changed;
    struct mc_access access;
    uint32_t we_key;
    int we_regs, we_close, key_regs, access_changed;
};

static void set_hi(uint32_t *x, uint16_t v) { *x = (*x & 0xFFFFu) | ((uint32_t)v << 16); }
static void set_lo(uint32_t *x, uint16_t v) { *x = (*x & 0xFFFF0000u) | v; }
static int s12_ok(uint16_t v) { int16_t s = (int16_t)v; return s >= -2048 && s <= 2047; }
static int minute_ok(uint16_t v) { return v < 1440u || v == MC_NO_MINUTE; }

/* Where a write goes: with a scratch (the checking pass), into a copy of one room's settings
 * and one channel's calibration at a time (registers come in address order, so each room is
 * loaded once); without (the commit pass), into the application itself. This keeps a write of
 * any size checked before it applies without a copy of every room's settings. */
struct wscratch {
    int room, ch, bad_cal;
    struct mc_room_cfg cfg;
    struct mc_cal cal;
};

static struct mc_room_cfg *cfg_of(struct mc_app *a, struct wscratch *s, unsigned r)
{
    if (!s)
        return &a->cfg[r];
    if (s->room != (int)r) {
        s->room = (int)r;
        s->cfg = a->cfg[r];
    }
    return &s->cfg;
}

static void cal_done(struct wscratch *s)
{
    if (s->ch >= 0 && !s->cal.e_nWh)
        s->bad_cal = 1;                /* an energy constant of 0 is rejected */
}

static struct mc_cal *cal_of(struct mc_app *a, struct wscratch *s, unsigned ch)
{
    if (!s)
        return &a->cal[ch];
    if (s->ch != (int)ch) {
        cal_done(s);
        s->ch = (int)ch;
        s->cal = a->cal[ch];
    }
    return &s->cal;
}

/* The writable holding registers by kind: one map, used to check every address of a write
 * before any value (Modbus application protocol 6.12: a range past the map is exception 02
 * even when a value in it is illegal too) and to apply each register. */
enum wreg { WR_NONE, WR_DEV, WR_TOU, WR_SEL_ROOM, WR_SEL_DAY, WR_SEL_EVENT, WR_ROOM, WR_CAL,
            WR_WE, WR_WE_LEFT, WR_ACCESS };

static enum wreg wreg_of(const struct mc_app *a, uint16_t addr)
{
    if (addr <= 0x000Du)
        return WR_DEV;
    if (addr >= HR_TOU_PERIODS && addr < HR_TOU_PERIODS + 16u)
        return WR_TOU;
    if (addr == 0x0100u)
        return WR_SEL_ROOM;
    if (addr == 0x0101u)
        return WR_SEL_DAY;
    if (addr == 0x0110u)
        return WR_SEL_EVENT;
    if (addr == HR_WE || addr == HR_WE + 1u)
        return WR_WE;
    if (addr == HR_WE_LEFT)
        return WR_WE_LEFT;
    if (addr >= HR_WE_KEY && addr <= HR_WE_SCOPE)
        return WR_ACCESS;
    if (addr >= HR_ROOM && addr < HR_ROOM + 0x20u * a->rooms && (addr & 0x1Fu) <= RS_LAST &&
        (addr & 0x1Fu) != 0x01u && (addr & 0x1Fu) != 0x02u)
        return WR_ROOM;
    if (addr >= HR_CAL && addr < HR_CAL + 8u * a->rooms)
        return WR_CAL;
    return WR_NONE;
}

/* Does writing `addr` need the write enable? Installer settings always (the address and
 * baud, calibration, the key and scope); with scope 1 every setting but the read selectors
 * and the enable's own registers. */
static int protected_reg(const struct mc_app *a, uint16_t addr)
{
    enum wreg k = wreg_of(a, addr);
    if (k == WR_ACCESS || k == WR_CAL || (k == WR_DEV && addr <= 0x0001u))
        return 1;
    return a->access.scope == 1u && (k == WR_DEV || k == WR_TOU || k == WR_ROOM);
}

static int write_one(struct mc_app *a, struct wstate *w, struct wscratch *sc, uint16_t addr,
                     uint16_t v)
{
    struct mc_tariff *t = &w->dev.tariff;
    enum wreg kind = wreg_of(a, addr);
    if (kind == WR_WE) {
        w->we_key = addr == HR_WE ? (w->we_key & 0xFFFFu) | ((uint32_t)v << 16) : (w->we_key & 0xFFFF0000u) | v;
        w->we_regs |= addr == HR_WE ? 1 : 2;
        return 0;
    }
    if (kind == WR_WE_LEFT) {
        if (v != 0)
            return MB_EX_ILLEGAL_VALUE;
        w->we_close = 1;
        return 0;
    }
    if (kind == WR_ACCESS) {
        if (addr == HR_WE_SCOPE) {
            if (v > 1)
                return MB_EX_ILLEGAL_VALUE;
            w->access.scope = (uint8_t)v;
        } else {
            w->access.key = addr == HR_WE_KEY ? (w->access.key & 0xFFFFu) | ((uint32_t)v << 16)
                                              : (w->access.key & 0xFFFF0000u) | v;
            w->key_regs |= addr == HR_WE_KEY ? 1 : 2;
        }
        w->access_changed = 1;
        return 0;
    }
    if (kind == WR_DEV) {
        switch (addr) {
        case 0x0:
            if (v < 1 || v > 247)
                return MB_EX_ILLEGAL_VALUE;
            w->comm_changed |= v != a->dev.addr;
            w->dev.addr = (uint8_t)v;
            break;
        case 0x1:
            if (v > 4)
                return MB_EX_ILLEGAL_VALUE;
            w->comm_changed |= v != a->dev.baud_code;
            w->dev.baud_code = (uint8_t)v;
            break;
        case 0x2: w->clock.year = v; w->clock_regs |= 1; return 0;
        case 0x3: w->clock.month = (uint8_t)v; w->clock_regs |= 2; return 0;
        case 0x4: w->clock.day = (uint8_t)v; w->clock_regs |= 4; return 0;
        case 0x5: w->clock.hour = (uint8_t)v; w->clock_regs |= 8; return 0;
        case 0x6: w->clock.min = (uint8_t)v; w->clock_regs |= 16; return 0;
        case 0x7: w->clock.sec = (uint8_t)v; w->clock_regs |= 32; return 0;
        case 0x8: t->flat_price = v; break;
        case 0x9:
            if (v > 1)
                return MB_EX_ILLEGAL_VALUE;
            t->mode = v;
            break;
        default: t->tou_price[addr - 0xA] = v; break;
        }
        w->dev_changed = 1;
        return 0;
    }
    if (kind == WR_TOU) {
        unsigned i = (addr - HR_TOU_PERIODS) / 2u;
        if (addr & 1u) {
            if (v > 3)
                return MB_EX_ILLEGAL_VALUE;
            t->period_idx[i] = v;
        } else {
            if (!minute_ok(v))
                return MB_EX_ILLEGAL_VALUE;
            t->period_start[i] = v;
        }
        w->dev_changed = 1;
        return 0;
    }
    if (kind == WR_SEL_ROOM) {
        if (v >= a->rooms)
            return MB_EX_ILLEGAL_VALUE;
        w->sel_room = v;
        return 0;
    }
    if (kind == WR_SEL_DAY) {
        if (v >= MC_DAYS)
            return MB_EX_ILLEGAL_VALUE;
        w->sel_day = v;
        return 0;
    }
    if (kind == WR_SEL_EVENT) {
        if (v >= MC_EE_EVENT_SLOTS)
            return MB_EX_ILLEGAL_VALUE;
        w->sel_event = v;
        return 0;
    }
    if (kind == WR_ROOM) {
        unsigned r = (addr - HR_ROOM) >> 5;
        if ((addr & 0x1Fu) == 0x00u || (addr & 0x1Fu) >= RS_TOPUP) {    /* applied in commit */
            if ((addr & 0x1Fu) == 0x00u && v > 2)
                return MB_EX_ILLEGAL_VALUE;
            return 0;
        }
        struct mc_room_cfg *c = cfg_of(a, sc, r);
        switch (addr & 0x1Fu) {
        case 0x03: set_hi(&c->alarm1_c, v); break;
        case 0x04: set_lo(&c->alarm1_c, v); break;
        case 0x05: set_hi(&c->alarm2_c, v); break;
        case 0x06: set_lo(&c->alarm2_c, v); break;
        case 0x07: set_hi(&c->overdraft_c, v); break;
        case 0x08: set_lo(&c->overdraft_c, v); break;
        case 0x09: set_hi(&c->load_limit_W, v); break;
        case 0x0A: set_lo(&c->load_limit_W, v); break;
        case 0x0B: c->overload_delay_s = v; break;
        case 0x0C: c->oc_limit_cA = v; break;
        case 0x0D: c->reclose_delay_s = v; break;
        case 0x0E:
            if (v > 255)
                return MB_EX_ILLEGAL_VALUE;
            c->reclose_attempts = v;
            break;
        case 0x0F: if (!minute_ok(v)) return MB_EX_ILLEGAL_VALUE; c->sched_off = v; break;
        case 0x10: if (!minute_ok(v)) return MB_EX_ILLEGAL_VALUE; c->sched_on = v; break;
        default: if (v > 1) return MB_EX_ILLEGAL_VALUE; c->malicious = v; break;
        }
        w->rooms_changed |= 1u << r;
        return 0;
    }
    if (kind == WR_CAL) {
        unsigned ch = (addr - HR_CAL) >> 3;
        struct mc_cal *c = cal_of(a, sc, ch);
        switch (addr & 7u) {
        case 0: if (!s12_ok(v)) return MB_EX_ILLEGAL_VALUE; c->wgain = (int16_t)v; break;
        case 1: c->apos = (int16_t)v; break;
        case 2: if (!s12_ok(v)) return MB_EX_ILLEGAL_VALUE; c->vrmsos = (int16_t)v; break;
        case 3: if (!s12_ok(v)) return MB_EX_ILLEGAL_VALUE; c->irmsos = (int16_t)v; break;
        case 4: set_hi(&c->e_nWh, v); break;
        case 5: set_lo(&c->e_nWh, v); break;
        case 6: if (!v) return MB_EX_ILLEGAL_VALUE; c->v_scale = v; break;
        default: if (!v) return MB_EX_ILLEGAL_VALUE; c->i_scale = v; break;
        }
        w->cal_changed |= 1u << ch;
        return 0;
    }
    return MB_EX_ILLEGAL_ADDRESS;
}

static int covers(uint16_t addr, uint16_t count, uint16_t reg)
{
    return reg >= addr && (uint32_t)reg < (uint32_t)addr + count;
}

static int regs_write(void *ctx, uint16_t addr, uint16_t count, const uint16_t *vals, int bcast)
{
    struct mc_app *a = ctx;
    struct wstate w;
    struct wscratch sc;
    memset(&w, 0, sizeof w);
    w.dev = a->dev;
    w.sel_room = a->sel_room;
    w.sel_day = a->sel_day;
    w.sel_event = a->sel_event;
    w.access = a->access;
    sc.room = sc.ch = -1;
    sc.bad_cal = 0;
    int opening = 0, closed = a->we_until_s <= a->uptime_s;
    for (unsigned i = 0; i < count; i++) {          /* pass 0: every address exists */
        enum wreg k = wreg_of(a, (uint16_t)(addr + i));
        if (k == WR_NONE)
            return MB_EX_ILLEGAL_ADDRESS;
        opening |= k == WR_WE;
    }
    /* the write enable: a protected register while writes are closed is exception 01 (the
     * server is in the wrong state for the request: application protocol 7); the enable
     * itself must come alone and addressed, and is refused while wrong keys lock it out */
    if (opening && (count != 2u || addr != HR_WE || bcast || a->we_locked_until_s > a->uptime_s))
        return count != 2u || addr != HR_WE ? MB_EX_ILLEGAL_VALUE : MB_EX_ILLEGAL_FUNCTION;
    for (unsigned i = 0; closed && i < count; i++)
        if (protected_reg(a, (uint16_t)(addr + i)))
            return MB_EX_ILLEGAL_FUNCTION;
    for (unsigned i = 0; i < count; i++) {          /* pass 1: check every value */
        int r = write_one(a, &w, &sc, (uint16_t)(addr + i), vals[i]);
        if (r)
            return r;
    }
    cal_done(&sc);
    /* multi-register quantities that must arrive whole */
    if (w.clock_regs && (w.clock_regs != 0x3F || !mc_time_valid(&w.clock)))
        return MB_EX_ILLEGAL_VALUE;
    if (sc.bad_cal)
        return MB_EX_ILLEGAL_VALUE;
    if (w.key_regs && (w.key_regs != 3 || !w.access.key))
        return MB_EX_ILLEGAL_VALUE;            /* a new key: whole, and never 0 */
    if (opening) {
        if (w.we_key != a->access.key) {
            if (++a->we_wrong >= WE_WRONG_MAX) {
                a->we_wrong = 0;
                a->we_locked_until_s = a->uptime_s + WE_LOCK_S;
            }
            return MB_EX_ILLEGAL_VALUE;
        }
        a->we_wrong = 0;
        a->we_until_s = a->uptime_s + WE_OPEN_S;
        return 0;
    }
    for (unsigned r = 0; r < a->rooms; r++) {     /* a top-up: amount and token, both not 0 */
        uint16_t top = (uint16_t)(HR_ROOM + 0x20u * r + RS_TOPUP);
        unsigned n = (unsigned)covers(addr, count, top) + (unsigned)covers(addr, count, (uint16_t)(top + 1u)) +
                     (unsigned)covers(addr, count, (uint16_t)(top + 2u));
        if (n != 0u && (n != 3u || !(vals[top - addr] | vals[top + 1u - addr]) || !vals[top + 2u - addr]))
            return MB_EX_ILLEGAL_VALUE;
    }

    /* commit */
    a->ee_failed = 0;
    if (w.clock_regs) {
        if (a->hw.set_clock && a->hw.set_clock(a->hw.ctx, &w.clock) < 0)
            return MB_EX_DEVICE_FAILURE;
        uint32_t before = a->unix_now, after = mc_unix_from_time(&w.clock);
        a->now = w.clock;
        a->unix_now = after;
        on_event(a, MC_EV_CLOCK, 0xFF, (int32_t)(after - before));
    }
    a->sel_room = w.sel_room;
    a->sel_day = w.sel_day;
    a->sel_event = w.sel_event;
    if (w.we_close)
        a->we_until_s = 0;
    if (w.access_changed) {
        struct mc_access old = a->access;
        a->access = w.access;
        if (mc_ab_store_access(&a->ee, &a->access, &a->access_seq) < 0) {
            a->access = old;                   /* acknowledged only once it is kept */
            return MB_EX_DEVICE_FAILURE;
        }
    }
    if (w.dev_changed) {
        a->dev = w.dev;
        if (mc_ab_store_dev(&a->ee, &a->dev, &a->dev_seq) < 0)
            return MB_EX_DEVICE_FAILURE;
        if (w.comm_changed)
            a->apply_comm = 1;
    }
    /* pass 2: the same writes into the application (they all passed the checks) */
    uint16_t attempts[MC_MAX_ROOMS];
    for (unsigned r = 0; r < a->rooms; r++)
        attempts[r] = a->cfg[r].reclose_attempts;
    struct wstate w2;
    memset(&w2, 0, sizeof w2);
    w2.dev = a->dev;
    for (unsigned i = 0; i < count; i++)
        (void)write_one(a, &w2, 0, (uint16_t)(addr + i), vals[i]);
    for (unsigned r = 0; r < a->rooms; r++)   /* a new attempts count applies from now on */
        if (attempts[r] != a->cfg[r].reclose_attempts && !(a->room[r].flags & MC_RF_LOCKED))
            a->room[r].reclose_left = (uint8_t)a->cfg[r].reclose_attempts;
    a->cal_dirty |= w.cal_changed;
    a->room_dirty |= w.rooms_changed | w.cal_changed;
    struct mc_env env = env_of(a);
    for (unsigned r = 0; r < a->rooms; r++) {
        uint16_t base = (uint16_t)(HR_ROOM + 0x20u * r);
        int ch = 0;
        uint16_t top = (uint16_t)(base + RS_TOPUP);
        /* the room's last token again: a master's retry of a top-up this controller applied
         * (its reply lost). Answered like the first time, and nothing changes: no credit, no
         * event, no record write. A new token adds the credit and is kept with it in the same
         * room record (one A/B write), so after a power cut both or neither are there. */
        if (covers(addr, count, top) && vals[top + 2u - addr] != a->room[r].topup_token) {
            uint32_t amount = ((uint32_t)vals[top - addr] << 16) | vals[top + 1u - addr];
            mc_room_topup(&a->room[r], r, amount, &env);
            a->room[r].topup_token = vals[top + 2u - addr];
            a->room_dirty |= 1u << r;
            ch = 1;
        }
        if (covers(addr, count, base)) {
            mc_room_command(&a->room[r], r, &a->cfg[r], vals[base - addr], &env);
            a->room_dirty |= 1u << r;
            ch = 1;
        }
        /* a setting (a schedule whose off period has begun, an overdraft limit...) can
         * change the relay as a top-up or command does: the coil follows at once */
        if ((ch || (w.rooms_changed & (1u << r))) &&
            mc_room_eval(&a->room[r], r, &a->cfg[r], &env))
            a->relay_dirty |= 1u << r;
        if (ch)
            a->relay_dirty |= 1u << r;      /* drive the coil even if nothing changed */
    }
    mc_app_flush(a);
    return a->ee_failed ? MB_EX_DEVICE_FAILURE : 0;
}

const struct mb_regs_ops mc_regs_ops = {regs_read, regs_write};
