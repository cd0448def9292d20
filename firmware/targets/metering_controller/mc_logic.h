/*
 * Metering, billing and protection logic of the metering controller, one room per ADE7753
 * channel. Pure C (no hardware access) so the host unit tests exercise the same code.
 *
 * Units follow docs/modbus_map.md: money in cents, energy in Wh (0.001 kWh), power in 0.1 W,
 * voltage 0.01 V, current 0.001 A, power factor 0.001, frequency 0.01 Hz, time in seconds.
 */
#ifndef MC_LOGIC_H
#define MC_LOGIC_H
#include <stdint.h>

#define MC_MAX_ROOMS 32u
#define MC_TOU_PERIODS 8u
#define MC_NO_MINUTE 0xFFFFu

/* ---- tariffs ---- */
struct mc_tariff {
    uint16_t flat_price;              /* cents per kWh */
    uint16_t mode;                    /* 0 flat, 1 time-of-use */
    uint16_t tou_price[4];            /* sharp, peak, flat, valley: cents per kWh */
    uint16_t period_start[MC_TOU_PERIODS]; /* minute of day 0..1439, 0xFFFF = unused */
    uint16_t period_idx[MC_TOU_PERIODS];   /* 0..3 into tou_price */
};
/* Price in force at a minute of the day: the used period with the latest start <= minute
 * (before the first start of the day the last period of the previous day runs on). */
uint16_t mc_price_at(const struct mc_tariff *t, unsigned minute_of_day);

/* ---- calibration and conversion ---- */
#define MC_ADE_CLKIN_HZ 3579545u
struct mc_cal {
    int16_t wgain, apos, vrmsos, irmsos;  /* ADE7753 registers (WGAIN/VRMSOS/IRMSOS 12-bit) */
    uint32_t e_nWh;                      /* 1e-9 Wh per AENERGY LSB */
    uint16_t v_scale;                    /* 0.01 uV (10 nV) of line voltage per VRMS LSB */
    uint16_t i_scale;                    /* 0.01 uA (10 nA) of line current per IRMS LSB */
};
/* Defaults for the cabinet's front end (1000:1 divider, 50 A / 20 mA CT, 10 ohm burden,
 * GAIN = 0, WGAIN = 0): 0.388007 mWh per LSB, 226.43 uV and 47.31 uA per RMS LSB. */
void mc_cal_default(struct mc_cal *c);

struct mc_sample {                    /* one metering cycle's register reads */
    int32_t aenergy;                  /* RAENERGY (sign-extended 24-bit) since the last read */
    uint32_t vrms, irms, period;      /* VRMS, IRMS codes, PERIOD (8/CLKIN units) */
    uint32_t dt_ms;                   /* time since the previous RAENERGY read */
};
struct mc_meas {
    uint16_t v_cV, i_mA, f_cHz;
    int16_t pf_m;
    int32_t p_dW;                     /* from energy per interval, signed */
    int32_t s_dVA;                    /* Vrms * Irms */
    int32_t n_dVA;                    /* non-active power sqrt(S^2 - P^2) */
};
/* Converts a sample; adds |energy| to *rem_nWh and returns the whole Wh taken out of it (the
 * remainder stays, so nothing drifts over any number of cycles). */
uint32_t mc_convert(const struct mc_cal *cal, const struct mc_sample *s, struct mc_meas *m,
                    uint64_t *rem_nWh);
uint32_t mc_isqrt64(uint64_t v);
/* Energy in nWh of `aenergy` LSBs that a chip counted with its WGAIN register at `chip_wgain`
 * (the reset value 0 after its power-up, the calibration once configured): AENERGY scales
 * with (1 + WGAIN / 2^12), and e_nWh is the energy per LSB at the calibrated WGAIN. APOS is
 * not corrected (an offset of a few LSB per hour at most). */
uint64_t mc_chip_energy_nWh(const struct mc_cal *cal, int32_t aenergy, int chip_wgain);

/* ---- malicious (resistive) load classifier ---- */
#define MC_MAL_MIN_STEP_DW 1500     /* 150 W: smaller steps (lamps, chargers) are ignored */
#define MC_MAL_PF_MILLI 930         /* step PF at or above this is resistive */
struct mc_cls {
    int32_t p_prev, n_prev, p_base, n_base;
    uint8_t have_prev, have_base;
};
/* Feed one cycle's P and N (0.1 W / 0.1 VA). Returns 1 when the load settled at a level at
 * least MC_MAL_MIN_STEP_DW above the previous settled level and the step's own power factor
 * dP / sqrt(dP^2 + dN^2) is >= MC_MAL_PF_MILLI; *step_dW and *step_pf_m get the step. */
int mc_classify(struct mc_cls *c, int32_t p_dW, int32_t n_dVA, int32_t *step_dW, int32_t *step_pf_m);
void mc_classify_reset(struct mc_cls *c);

/* ---- rooms ---- */
struct mc_room_cfg {
    uint32_t alarm1_c, alarm2_c, overdraft_c, load_limit_W;
    uint16_t overload_delay_s, oc_limit_cA, reclose_delay_s, reclose_attempts;
    uint16_t sched_off, sched_on;     /* minute of day or MC_NO_MINUTE */
    uint16_t malicious;               /* 0 off, 1 on */
};
void mc_room_cfg_default(struct mc_room_cfg *c);

enum mc_reason { MC_R_NONE, MC_R_BALANCE, MC_R_LOAD_LIMIT, MC_R_OVERLOAD, MC_R_OVERCURRENT,
                 MC_R_MALICIOUS, MC_R_SCHEDULE, MC_R_REMOTE };
enum mc_event { MC_EV_TRIP = 1, MC_EV_ALARM1, MC_EV_ALARM2, MC_EV_TOPUP, MC_EV_POWER_FAIL,
                MC_EV_CLOCK, MC_EV_ILLEGAL, MC_EV_RECLOSE, MC_EV_LOCK_RESET, MC_EV_WATCHDOG };

/* persistent flags (room record) */
#define MC_RF_LOCKED 0x01u
#define MC_RF_REMOTE_OPEN 0x02u
#define MC_RF_ILLEGAL_SEEN 0x04u
#define MC_RF_PROT_TRIP 0x08u     /* a protection trip waits for its reclose */

/* status register bits (docs/modbus_map.md) */
#define MC_ST_CLOSED 0x01u
#define MC_ST_TRIPPED 0x02u
#define MC_ST_ALARM1 0x04u
#define MC_ST_ALARM2 0x08u
#define MC_ST_LOCKED 0x10u
#define MC_ST_SCHED_OFF 0x20u
#define MC_ST_ILLEGAL 0x40u

#define MC_RELAY_UNKNOWN 0xFFu
struct mc_room {
    /* persistent: the room record (credit, flags, counters) and the live snapshot (totals) */
    uint32_t credit_c;                /* all top-ups ever; balance = credit - cost */
    uint32_t energy_Wh, cost_c;
    uint16_t trips;
    uint8_t flags, prot_reason, reclose_left, last_reason;
    /* the token of the last top-up applied (0 none yet), kept in the room record with the
     * credit it added: a retried write carrying it again is answered but not applied twice */
    uint16_t topup_token;
    /* runtime */
    uint64_t rem_nWh;
    uint32_t cost_rem;                /* 0.001 cent */
    uint32_t reclose_at_s;
    uint16_t over_p_s, over_i_s;
    uint8_t closed;                   /* relay commanded closed (MC_RELAY_UNKNOWN at start) */
    uint8_t alarms;                   /* MC_ST_ALARM1 | MC_ST_ALARM2 */
    uint8_t sched_off;
    struct mc_meas m;
    struct mc_cls cls;
};

typedef void (*mc_event_fn)(void *ctx, enum mc_event ev, unsigned room, int32_t value);
struct mc_env {
    uint32_t now_s;                   /* monotonic seconds (uptime) */
    unsigned minute;                  /* RTC minute of day */
    uint16_t price;                   /* cents per kWh in force */
    mc_event_fn event;
    void *ctx;
};

int32_t mc_room_balance(const struct mc_room *r);
/* Add nWh to the room's remainder and bill the whole Wh it yields at `price`; returns them. */
uint32_t mc_room_bill(struct mc_room *r, uint64_t nWh, uint16_t price);
void mc_room_init(struct mc_room *r, const struct mc_room_cfg *cfg);
/* Bill new_Wh at env->price, then protection on the cycle's measurements (r->m), then the
 * relay decision. Returns 1 when the relay should change (r->closed tells to what). */
int mc_room_step(struct mc_room *r, unsigned room, const struct mc_room_cfg *cfg,
                 const struct mc_env *env, uint32_t new_Wh);
/* Re-evaluate balance, alarms, schedule and commands without new energy (after a top-up, a
 * command or a setting change). Returns 1 when the relay should change. */
int mc_room_eval(struct mc_room *r, unsigned room, const struct mc_room_cfg *cfg,
                 const struct mc_env *env);
void mc_room_topup(struct mc_room *r, unsigned room, uint32_t amount_c, const struct mc_env *env);
/* Relay command register: 0 open, 1 close if allowed, 2 reset lock-out. */
int mc_room_command(struct mc_room *r, unsigned room, const struct mc_room_cfg *cfg, unsigned cmd,
                    const struct mc_env *env);
/* Midnight: automatic reclosures available again (unless locked out). */
void mc_room_new_day(struct mc_room *r, const struct mc_room_cfg *cfg);
uint16_t mc_room_status(const struct mc_room *r, int contact_closed);
int mc_sched_off(const struct mc_room_cfg *cfg, unsigned minute);

#endif
