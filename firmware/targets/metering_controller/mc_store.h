/*
 * EEPROM layout of the metering controller (AT24C256, 32 KiB, 64-byte pages). The exact
 * byte layout is documented in docs/firmware_metering_controller.md; the Python side parses
 * images with it. All integers little-endian; every record ends with CRC-16/MODBUS (mc_crc16)
 * over the bytes before it, stored low byte first. Erased cells (0xFF) never form a valid
 * record. Records that change often live in rings (newest = the valid record with the highest
 * sequence number, writes go to the slot after it); settings in A/B pairs (write the older).
 */
#ifndef MC_STORE_H
#define MC_STORE_H
#include <stdint.h>
#include "mc_logic.h"

#define MC_EE_SIZE 0x8000u
#define MC_EE_PAGE 64u
#define MC_EE_MAGIC 0x3145434Du          /* "MCE1" in memory order */
#define MC_EE_VERSION 1u

#define MC_EE_HEADER 0x0000u             /* 14-byte header */
#define MC_EE_DEV_A 0x0040u              /* device settings, 52 bytes, A/B */
#define MC_EE_DEV_B 0x0080u
#define MC_EE_ACCESS_A 0x00C0u           /* write-enable key and scope, 12 bytes, A/B */
#define MC_EE_ACCESS_B 0x00E0u
#define MC_EE_ROOM_BASE 0x0100u          /* room r: A at base + 128 r, B at + 64 */
#define MC_EE_ROOM_STRIDE 128u
#define MC_EE_ROOM_SIZE 64u
#define MC_EE_LIVE_BASE 0x1100u          /* live-totals ring */
#define MC_EE_LIVE_SLOTS 16u
#define MC_EE_LIVE_STRIDE 320u
#define MC_EE_DAY_BASE 0x2500u           /* daily freeze ring */
#define MC_EE_DAY_SLOTS 62u
#define MC_EE_DAY_STRIDE 272u
#define MC_EE_EVENT_BASE 0x6800u         /* event ring */
#define MC_EE_EVENT_SLOTS 384u
#define MC_EE_EVENT_SIZE 16u

#define MC_LIVE_LEN(n) (18u + 8u * (n))
/* with the remainder extension: N bytes + a CRC over the record and them (fits the 320-byte
 * slot for 32 rooms, and one 64-byte page for 4) */
#define MC_LIVE_EXT_LEN(n) (MC_LIVE_LEN(n) + (n) + 2u)
#define MC_DAY_LEN(n) (14u + 8u * (n))

struct mc_ee {
    int (*read)(void *ctx, uint32_t addr, void *buf, uint32_t len);
    int (*write)(void *ctx, uint32_t addr, const void *buf, uint32_t len);
    void *ctx;
};

struct mc_dev_settings {
    uint8_t addr, baud_code;
    struct mc_tariff tariff;
};
void mc_dev_default(struct mc_dev_settings *d);

/* live totals */
#define MC_LIVE_PERIODIC 0u
#define MC_LIVE_POWER_FAIL 1u
#define MC_LIVE_BOOT 2u
#define MC_LIVE_DAY 3u
struct mc_live {
    uint32_t seq, time;                /* unix time of the save */
    uint8_t rooms, reason;
    uint16_t power_fails;
    uint16_t year;                     /* the open (current billing) day */
    uint8_t month, day;
    uint32_t energy_Wh[MC_MAX_ROOMS], cost_c[MC_MAX_ROOMS];
    uint8_t rem_256[MC_MAX_ROOMS];     /* sub-Wh energy remainder, 1/256 Wh (extension) */
    uint8_t has_rem;                   /* the extension was present and intact */
};
/* remainder in nWh <-> 1/256 Wh, rounded to nearest (no bias over many power cuts) */
uint8_t mc_rem_to_256(uint64_t rem_nWh);
uint64_t mc_rem_from_256(uint8_t v);
struct mc_freeze {
    uint32_t seq;
    uint8_t rooms;
    uint16_t year;
    uint8_t month, day;
    uint32_t energy_Wh[MC_MAX_ROOMS], cost_c[MC_MAX_ROOMS];   /* totals at the end of that day */
};
struct mc_event_rec {
    uint32_t seq, time;
    int32_t value;
    uint8_t type, room;                /* room 0xFF = device */
};

/* position of a ring: newest slot and its sequence number */
struct mc_ring {
    uint16_t newest;                   /* 0xFFFF: empty */
    uint16_t valid;                    /* valid records found at boot (+ written since) */
    uint32_t seq;
};

/* encoders / decoders (return length, or 0 / -1 on a bad record) */
int mc_enc_header(uint8_t *b, unsigned rooms);
int mc_dec_header(const uint8_t *b, unsigned *rooms);
int mc_enc_dev(uint8_t *b, uint32_t seq, const struct mc_dev_settings *d);
int mc_dec_dev(const uint8_t *b, uint32_t *seq, struct mc_dev_settings *d);
int mc_enc_room(uint8_t *b, uint32_t seq, unsigned room, const struct mc_room *r,
                const struct mc_room_cfg *c, const struct mc_cal *cal);
int mc_dec_room(const uint8_t *b, uint32_t *seq, unsigned room, struct mc_room *r,
                struct mc_room_cfg *c, struct mc_cal *cal);
int mc_enc_live(uint8_t *b, const struct mc_live *l);
int mc_dec_live(const uint8_t *b, unsigned maxlen, struct mc_live *l);
int mc_enc_freeze(uint8_t *b, const struct mc_freeze *f);
int mc_dec_freeze(const uint8_t *b, unsigned maxlen, struct mc_freeze *f);
int mc_enc_event(uint8_t *b, const struct mc_event_rec *e);
int mc_dec_event(const uint8_t *b, struct mc_event_rec *e);

/* The write-enable's settings (docs/modbus_map.md, "Write enable"). */
#define MC_WE_FACTORY_KEY 0x12345678u
struct mc_access {
    uint32_t key;                      /* opens setting writes; never 0 */
    uint8_t scope;                     /* 0 installer settings, 1 every setting */
};
int mc_enc_access(uint8_t *b, uint32_t seq, const struct mc_access *x);
int mc_dec_access(const uint8_t *b, uint32_t *seq, struct mc_access *x);
int mc_ab_load_access(const struct mc_ee *ee, struct mc_access *x, uint32_t *seq);
int mc_ab_store_access(const struct mc_ee *ee, const struct mc_access *x, uint32_t *seq);

/* A/B pairs: load the newest valid copy (1 = A, 2 = B, 0 = none); store into the other. */
int mc_ab_load_dev(const struct mc_ee *ee, struct mc_dev_settings *d, uint32_t *seq);
int mc_ab_store_dev(const struct mc_ee *ee, const struct mc_dev_settings *d, uint32_t *seq);
int mc_ab_load_room(const struct mc_ee *ee, unsigned room, struct mc_room *r,
                    struct mc_room_cfg *c, struct mc_cal *cal, uint32_t *seq);
int mc_ab_store_room(const struct mc_ee *ee, unsigned room, const struct mc_room *r,
                     const struct mc_room_cfg *c, const struct mc_cal *cal, uint32_t *seq);

/* rings */
int mc_live_scan(const struct mc_ee *ee, struct mc_ring *ring, struct mc_live *newest);
int mc_live_append(const struct mc_ee *ee, struct mc_ring *ring, struct mc_live *l);
int mc_day_scan(const struct mc_ee *ee, struct mc_ring *ring);
int mc_day_append(const struct mc_ee *ee, struct mc_ring *ring, struct mc_freeze *f);
/* k = 0: newest freeze, 1: the one before ... ; -1 when absent or corrupt */
int mc_day_get(const struct mc_ee *ee, const struct mc_ring *ring, unsigned k, struct mc_freeze *f);
int mc_event_scan(const struct mc_ee *ee, struct mc_ring *ring);
int mc_event_append(const struct mc_ee *ee, struct mc_ring *ring, struct mc_event_rec *e);
int mc_event_get(const struct mc_ee *ee, const struct mc_ring *ring, unsigned k, struct mc_event_rec *e);

/* Header check; blank (all 0xFF) or foreign contents are formatted (foreign: erased). */
#define MC_STORE_OK 0
#define MC_STORE_FORMATTED 1
int mc_store_open(const struct mc_ee *ee, unsigned rooms);

#endif
