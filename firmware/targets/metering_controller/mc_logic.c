/* Metering, billing and protection logic (see mc_logic.h). */
#include "mc_logic.h"
#include <string.h>

/* ---- tariffs ---- */
uint16_t mc_price_at(const struct mc_tariff *t, unsigned minute)
{
    if (t->mode != 1)
        return t->flat_price;
    int best = -1, last = -1;
    for (unsigned i = 0; i < MC_TOU_PERIODS; i++) {
        uint16_t s = t->period_start[i];
        if (s >= 1440u || t->period_idx[i] > 3u)
            continue;
        if (s <= minute && (best < 0 || s >= t->period_start[best]))
            best = (int)i;
        if (last < 0 || s >= t->period_start[last])
            last = (int)i;
    }
    if (best < 0)
        best = last;                      /* before the first start: yesterday's last period */
    return best < 0 ? t->flat_price : t->tou_price[t->period_idx[best]];
}

/* ---- conversion ---- */
void mc_cal_default(struct mc_cal *c)
{
    memset(c, 0, sizeof *c);
    c->e_nWh = 388007u;
    c->v_scale = 22643u;
    c->i_scale = 4731u;
}

uint32_t mc_isqrt64(uint64_t v)
{
    uint64_t r = 0, bit = 1ull << 62;
    while (bit > v)
        bit >>= 2;
    while (bit) {
        if (v >= r + bit) {
            v -= r + bit;
            r = (r >> 1) + bit;
        } else {
            r >>= 1;
        }
        bit >>= 2;
    }
    return (uint32_t)r;
}

uint32_t mc_convert(const struct mc_cal *cal, const struct mc_sample *s, struct mc_meas *m,
                    uint64_t *rem_nWh)
{
    uint64_t v = ((uint64_t)s->vrms * cal->v_scale + 500000u) / 1000000u;
    uint64_t i = ((uint64_t)s->irms * cal->i_scale + 50000u) / 100000u;
    m->v_cV = (uint16_t)(v > 0xFFFFu ? 0xFFFFu : v);
    m->i_mA = (uint16_t)(i > 0xFFFFu ? 0xFFFFu : i);
    m->f_cHz = s->period ? (uint16_t)((357954500u + 4u * s->period) / (8u * s->period)) : 0u;
    int64_t e = (int64_t)s->aenergy * (int64_t)cal->e_nWh;       /* nWh, signed */
    m->p_dW = s->dt_ms ? (int32_t)(e * 36 / ((int64_t)s->dt_ms * 1000)) : 0;
    uint64_t sva = ((uint64_t)m->v_cV * m->i_mA + 5000u) / 10000u;  /* 1e-5 VA -> 0.1 VA */
    m->s_dVA = (int32_t)(sva > 0x7FFFFFFFu ? 0x7FFFFFFFu : sva);
    int64_t p = m->p_dW < 0 ? -(int64_t)m->p_dW : m->p_dW;
    if (m->s_dVA < 10) {
        m->pf_m = 1000;                                            /* no load: PF undefined */
        m->n_dVA = 0;
    } else {
        int64_t pf = (int64_t)m->p_dW * 1000 / m->s_dVA;
        m->pf_m = (int16_t)(pf > 1000 ? 1000 : pf < -1000 ? -1000 : pf);
        uint64_t s2 = (uint64_t)m->s_dVA * (uint64_t)m->s_dVA, p2 = (uint64_t)(p * p);
        m->n_dVA = s2 > p2 ? (int32_t)mc_isqrt64(s2 - p2) : 0;
    }
    /* Reverse energy is billed like forward energy (a reversed CT must not earn credit). */
    *rem_nWh += (uint64_t)(e < 0 ? -e : e);
    uint32_t wh = 0;
    while (*rem_nWh >= 1000000000u) {   /* a few Wh per cycle at most: no 64-bit division */
        *rem_nWh -= 1000000000u;
        wh++;
    }
    return wh;
}

uint64_t mc_chip_energy_nWh(const struct mc_cal *cal, int32_t aenergy, int chip_wgain)
{
    uint64_t lsb = (uint64_t)(aenergy < 0 ? -(int64_t)aenergy : aenergy);
    int64_t num = 4096 + cal->wgain, den = 4096 + chip_wgain;
    if (num <= 0 || den <= 0)
        return lsb * cal->e_nWh;            /* 12-bit WGAIN keeps both in 2048..6143 */
    return (lsb * cal->e_nWh * (uint64_t)num + (uint64_t)den / 2u) / (uint64_t)den;
}

/* ---- classifier ---- */
void mc_classify_reset(struct mc_cls *c) { memset(c, 0, sizeof *c); }

static int32_t iabs(int32_t x) { return x < 0 ? -x : x; }

static int settled(int32_t now, int32_t prev)
{
    int32_t tol = iabs(now) / 33;                     /* 3 % or 10 W */
    if (tol < 100)
        tol = 100;
    return iabs(now - prev) <= tol;
}

int mc_classify(struct mc_cls *c, int32_t p, int32_t n, int32_t *step_dW, int32_t *step_pf_m)
{
    int hit = 0;
    if (c->have_prev && settled(p, c->p_prev) && settled(n, c->n_prev)) {
        if (c->have_base && p - c->p_base >= MC_MAL_MIN_STEP_DW) {
            int64_t dp = p - c->p_base, dn = n - c->n_base;
            uint32_t mag = mc_isqrt64((uint64_t)(dp * dp + dn * dn));
            int32_t pf = mag ? (int32_t)(dp * 1000 / mag) : 0;
            if (step_dW)
                *step_dW = (int32_t)dp;
            if (step_pf_m)
                *step_pf_m = pf;
            hit = pf >= MC_MAL_PF_MILLI;
        }
        c->p_base = p;                              /* the new settled level */
        c->n_base = n;
        c->have_base = 1;
    }
    c->p_prev = p;
    c->n_prev = n;
    c->have_prev = 1;
    return hit;
}

/* ---- rooms ---- */
void mc_room_cfg_default(struct mc_room_cfg *c)
{
    memset(c, 0, sizeof *c);
    c->alarm1_c = 2000;                  /* 20.00 */
    c->alarm2_c = 500;                   /* 5.00 */
    c->load_limit_W = 0;
    c->overload_delay_s = 5;
    c->oc_limit_cA = 0;
    c->reclose_delay_s = 60;
    c->reclose_attempts = 3;
    c->sched_off = MC_NO_MINUTE;
    c->sched_on = MC_NO_MINUTE;
    c->malicious = 1;
}

int32_t mc_room_balance(const struct mc_room *r) { return (int32_t)(r->credit_c - r->cost_c); }

uint32_t mc_room_bill(struct mc_room *r, uint64_t nWh, uint16_t price)
{
    r->rem_nWh += nWh;
    uint32_t wh = (uint32_t)(r->rem_nWh / 1000000000u);
    r->rem_nWh -= (uint64_t)wh * 1000000000u;
    r->energy_Wh += wh;
    r->cost_rem += wh * (uint32_t)price;
    r->cost_c += r->cost_rem / 1000u;
    r->cost_rem %= 1000u;
    return wh;
}

void mc_room_init(struct mc_room *r, const struct mc_room_cfg *cfg)
{
    memset(r, 0, sizeof *r);
    r->reclose_left = (uint8_t)(cfg->reclose_attempts > 255 ? 255 : cfg->reclose_attempts);
}

int mc_sched_off(const struct mc_room_cfg *cfg, unsigned m)
{
    unsigned off = cfg->sched_off, on = cfg->sched_on;
    if (off >= 1440u || on >= 1440u || off == on)
        return 0;
    return off < on ? (m >= off && m < on) : (m >= off || m < on);
}

static void emit(const struct mc_env *env, enum mc_event ev, unsigned room, int32_t v)
{
    if (env->event)
        env->event(env->ctx, ev, room, v);
}

static int balance_trip(const struct mc_room *r, const struct mc_room_cfg *cfg)
{
    int32_t b = mc_room_balance(r);
    return cfg->overdraft_c ? b < -(int32_t)cfg->overdraft_c : b <= 0;
}

static void prot_trip(struct mc_room *r, unsigned room, const struct mc_env *env,
                      const struct mc_room_cfg *cfg, enum mc_reason why)
{
    r->flags |= MC_RF_PROT_TRIP;
    r->prot_reason = (uint8_t)why;
    r->over_p_s = r->over_i_s = 0;
    if (r->reclose_left && cfg->reclose_attempts)
        r->reclose_at_s = env->now_s + cfg->reclose_delay_s;
    else
        r->flags |= MC_RF_LOCKED;
    (void)room;
}

int mc_room_eval(struct mc_room *r, unsigned room, const struct mc_room_cfg *cfg,
                 const struct mc_env *env)
{
    int32_t b = mc_room_balance(r);
    uint8_t al = 0;
    if (cfg->alarm1_c && b <= (int32_t)cfg->alarm1_c)
        al |= MC_ST_ALARM1;
    if (cfg->alarm2_c && b <= (int32_t)cfg->alarm2_c)
        al |= MC_ST_ALARM2;
    int first = r->closed == MC_RELAY_UNKNOWN;     /* start-up: states, not new events */
    if ((al & MC_ST_ALARM1) && !(r->alarms & MC_ST_ALARM1) && !first)
        emit(env, MC_EV_ALARM1, room, b);
    if ((al & MC_ST_ALARM2) && !(r->alarms & MC_ST_ALARM2) && !first)
        emit(env, MC_EV_ALARM2, room, b);
    r->alarms = al;
    r->sched_off = (uint8_t)mc_sched_off(cfg, env->minute);

    /* reclose after a protection trip */
    if ((r->flags & MC_RF_PROT_TRIP) && !(r->flags & MC_RF_LOCKED) &&
        (int32_t)(env->now_s - r->reclose_at_s) >= 0) {
        r->flags &= (uint8_t)~MC_RF_PROT_TRIP;
        if (r->reclose_left)
            r->reclose_left--;
        emit(env, MC_EV_RECLOSE, room, r->reclose_left);
    }

    enum mc_reason why = MC_R_NONE;
    if (r->flags & (MC_RF_PROT_TRIP | MC_RF_LOCKED))
        why = (enum mc_reason)r->prot_reason;
    else if (balance_trip(r, cfg))
        why = MC_R_BALANCE;
    else if (r->sched_off)
        why = MC_R_SCHEDULE;
    else if (r->flags & MC_RF_REMOTE_OPEN)
        why = MC_R_REMOTE;
    uint8_t want = why == MC_R_NONE;
    if (want == r->closed)
        return 0;
    r->closed = want;
    if (!want) {
        /* Held open at start-up too (no credit yet, say): the status's tripped bit always
         * has its reason in +0x01; only a change while running counts as a trip event. */
        r->last_reason = (uint8_t)why;
        if (!first) {
            r->trips++;
            emit(env, MC_EV_TRIP, room, (int32_t)why);
        }
    }
    /* The relay was open, so the settled level before this closing is no load at all: the
     * whole load that comes back is one step (a heater left on trips again). */
    mc_classify_reset(&r->cls);
    r->cls.have_base = 1;
    r->over_p_s = r->over_i_s = 0;
    return 1;
}

int mc_room_step(struct mc_room *r, unsigned room, const struct mc_room_cfg *cfg,
                 const struct mc_env *env, uint32_t new_Wh)
{
    r->energy_Wh += new_Wh;
    r->cost_rem += new_Wh * (uint32_t)env->price;
    r->cost_c += r->cost_rem / 1000u;
    r->cost_rem %= 1000u;

    if (r->closed && !(r->flags & (MC_RF_PROT_TRIP | MC_RF_LOCKED))) {
        int32_t p_W = r->m.p_dW / 10;
        enum mc_reason why = MC_R_NONE;
        if (cfg->load_limit_W && p_W > 0) {
            if ((uint32_t)p_W > 2u * cfg->load_limit_W) {
                why = MC_R_LOAD_LIMIT;           /* severe overload: at once */
            } else if ((uint32_t)p_W > cfg->load_limit_W) {
                if (++r->over_p_s > cfg->overload_delay_s)
                    why = MC_R_OVERLOAD;
            } else {
                r->over_p_s = 0;
            }
        }
        if (why == MC_R_NONE && cfg->oc_limit_cA) {
            if ((uint32_t)r->m.i_mA > 10u * cfg->oc_limit_cA) {
                if (++r->over_i_s > cfg->overload_delay_s)
                    why = MC_R_OVERCURRENT;
            } else {
                r->over_i_s = 0;
            }
        }
        int32_t step = 0, spf = 0;
        int hit = mc_classify(&r->cls, r->m.p_dW, r->m.n_dVA, &step, &spf);
        if (why == MC_R_NONE && hit && cfg->malicious) {
            why = MC_R_MALICIOUS;
            r->flags |= MC_RF_ILLEGAL_SEEN;
            emit(env, MC_EV_ILLEGAL, room, step / 10);
        }
        if (why != MC_R_NONE)
            prot_trip(r, room, env, cfg, why);
    }
    return mc_room_eval(r, room, cfg, env);
}

void mc_room_topup(struct mc_room *r, unsigned room, uint32_t amount_c, const struct mc_env *env)
{
    r->credit_c += amount_c;
    emit(env, MC_EV_TOPUP, room, (int32_t)amount_c);
}

int mc_room_command(struct mc_room *r, unsigned room, const struct mc_room_cfg *cfg, unsigned cmd,
                    const struct mc_env *env)
{
    switch (cmd) {
    case 0: r->flags |= MC_RF_REMOTE_OPEN; break;
    case 1: r->flags &= (uint8_t)~MC_RF_REMOTE_OPEN; break;
    case 2:
        if (r->flags & (MC_RF_LOCKED | MC_RF_PROT_TRIP))
            emit(env, MC_EV_LOCK_RESET, room, r->prot_reason);
        r->flags &= (uint8_t)~(MC_RF_LOCKED | MC_RF_PROT_TRIP | MC_RF_ILLEGAL_SEEN);
        r->prot_reason = MC_R_NONE;
        r->reclose_left = (uint8_t)(cfg->reclose_attempts > 255 ? 255 : cfg->reclose_attempts);
        break;
    default: return -1;
    }
    return mc_room_eval(r, room, cfg, env);
}

void mc_room_new_day(struct mc_room *r, const struct mc_room_cfg *cfg)
{
    if (!(r->flags & MC_RF_LOCKED))
        r->reclose_left = (uint8_t)(cfg->reclose_attempts > 255 ? 255 : cfg->reclose_attempts);
}

uint16_t mc_room_status(const struct mc_room *r, int contact_closed)
{
    uint16_t s = (uint16_t)(r->alarms & (MC_ST_ALARM1 | MC_ST_ALARM2));
    if (contact_closed)
        s |= MC_ST_CLOSED;
    if (!r->closed)
        s |= MC_ST_TRIPPED;
    if (r->flags & MC_RF_LOCKED)
        s |= MC_ST_LOCKED;
    if (r->sched_off)
        s |= MC_ST_SCHED_OFF;
    if (r->flags & MC_RF_ILLEGAL_SEEN)
        s |= MC_ST_ILLEGAL;
    return s;
}
