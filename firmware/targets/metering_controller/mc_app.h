/*
 * The metering controller's application core: rooms, settings, records and the Modbus
 * register map (docs/modbus_map.md) on top of mc_logic / mc_store / mc_modbus. Pure C: the
 * platform (main.c on the board, host/test_logic.c in the unit tests) feeds it samples and
 * time, gives it an EEPROM and a clock setter, and carries out the relay changes it asks for.
 * Not thread-safe: the caller serialises calls (one mutex on the board).
 */
#ifndef MC_APP_H
#define MC_APP_H
#include <stdint.h>
#include "mc_logic.h"
#include "mc_modbus.h"
#include "mc_store.h"

#define MC_FW_MAJOR 1
#define MC_FW_MINOR 0
#define MC_SAVE_WH 5u                 /* live totals saved when a room moved this much ... */
#define MC_SAVE_PERIOD_S 600u         /* ... or this long after the last save with any change */
#define MC_DAYS 60u

struct mc_time {
    uint16_t year;
    uint8_t month, day, hour, min, sec;
};
uint32_t mc_unix_from_time(const struct mc_time *t);
void mc_time_from_unix(uint32_t unix_s, struct mc_time *t);
int mc_time_valid(const struct mc_time *t);

struct mc_hw {
    int (*set_clock)(void *ctx, const struct mc_time *t);   /* 0 or < 0 */
    void (*log_event)(void *ctx, const struct mc_event_rec *e);
    void *ctx;
};

struct mc_app {
    unsigned rooms;
    struct mc_ee ee;
    struct mc_hw hw;
    struct mc_dev_settings dev;
    uint32_t dev_seq;
    struct mc_room room[MC_MAX_ROOMS];
    struct mc_room_cfg cfg[MC_MAX_ROOMS];
    struct mc_cal cal[MC_MAX_ROOMS];
    uint32_t room_seq[MC_MAX_ROOMS];
    uint32_t saved_Wh[MC_MAX_ROOMS];
    struct mc_ring live, day, ev;
    uint16_t power_fails;
    uint16_t watchdog_resets;         /* kept by the board (backup domain), shown here */
    uint16_t sel_room, sel_day, sel_event;
    struct mc_time now, open_day;
    uint32_t unix_now, uptime_s, last_save_s;
    uint32_t contacts;                /* relay feedback bits, valid when have_contacts */
    uint8_t have_contacts;
    uint32_t relay_dirty;             /* rooms whose relay must be driven (bit r) */
    uint32_t cal_dirty;               /* channels whose ADE7753 must be re-programmed */
    uint32_t room_dirty;              /* room records to write */
    uint8_t apply_comm;               /* address / baud changed: apply after the reply */
    uint8_t ee_failed;
    /* write enable (docs/modbus_map.md): settings writes open until we_until_s (uptime) */
    struct mc_access access;
    uint32_t access_seq;
    uint32_t we_until_s, we_locked_until_s;
    uint8_t we_wrong;                 /* wrong keys in a row */
    struct mb_slave mb;
};

/* Load settings and records (formats a blank EEPROM). Returns MC_STORE_OK/FORMATTED or < 0. */
int mc_app_init(struct mc_app *a, unsigned rooms, const struct mc_ee *ee, const struct mc_hw *hw);
/* After init, with the RTC time: restore the live totals, log the power failure (when a
 * previous run left totals and power_loss says the supply had gone: power-on/brown-out
 * reset), close the day if the date moved, write a boot snapshot. */
void mc_app_boot(struct mc_app *a, const struct mc_time *now, uint32_t uptime_s, int power_loss);
/* After boot: the watchdog resets counted so far; `by_watchdog` logs this boot's as an event. */
void mc_app_watchdog(struct mc_app *a, uint16_t resets, int by_watchdog);
/* One metering cycle: samples[r] for every room, the RTC time, uptime. */
void mc_app_cycle(struct mc_app *a, const struct mc_sample *samples, const struct mc_time *now,
                  uint32_t uptime_s);
/* Write the live totals now (one small ring record, with the sub-Wh remainders). */
int mc_app_save_live(struct mc_app *a, unsigned reason);
/* Power is failing: the RTC time `now` (NULL: keep the last cycle's) becomes the save's time,
 * which the next boot subtracts from its own to log the outage; then the live totals. */
int mc_app_power_fail(struct mc_app *a, const struct mc_time *now);
/* Energy a chip counted outside the metering cycle, billed at once: at boot, what it counted
 * since its own power-up (or since the last cycle before a warm reset), read before anything
 * reconfigures it; at a power failure, what it counted since the last cycle. `chip_wgain` is
 * the chip's WGAIN while it counted (see mc_chip_energy_nWh). Call after mc_app_boot. */
void mc_app_add_energy(struct mc_app *a, unsigned room, int32_t aenergy, int chip_wgain);
/* Write pending room records (after a cycle or a Modbus write). */
void mc_app_flush(struct mc_app *a);
uint32_t mc_baud_of(unsigned code);

extern const struct mb_regs_ops mc_regs_ops;

#endif
