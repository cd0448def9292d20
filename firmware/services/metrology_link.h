/*
 * The metrology unit's side of its two data formats, shared by its firmware and the
 * management unit's metering service (services/metering_service.c):
 * - the link frame on the UART between the units (docs/meter_metrology_unit.md, "The link"):
 *       A5 LEN CMD SEQ payload.. CRC16(lo, hi)     LEN = 2 + payload length (<= 250)
 *   CRC-16/CCITT (poly 1021, init FFFF) over LEN..payload; integers little endian;
 * - the records it keeps in its EEPROM (energy, two copies; interval freezes, a ring).
 * Pure code: no hardware, no RTOS.
 */
#ifndef METROLOGY_LINK_H
#define METROLOGY_LINK_H

#include <stddef.h>
#include <stdint.h>
#include "crc16.h"

#define MT_SYNC 0xA5u
#define MT_PAYLOAD_MAX 248u
#define MT_FRAME_MAX (MT_PAYLOAD_MAX + 6u)

enum {
    MT_CMD_STATUS = 0x01,       /* -> 81: struct mt_status */
    MT_CMD_INTERVALS = 0x02,    /* first (u32), count (u8 <= MT_INTERVALS_PER_READ) -> 82 */
    MT_CMD_CLEAR = 0x03,        /* meter clear -> 83, empty */
    MT_CMD_MEASURE = 0x04,      /* want (u8 MT_PART_), totals' generation (u16) -> 84 */
    MT_CMD_ERROR = 0xFF,        /* reply: the command, then an MT_ERR_ code */
};
enum { MT_ERR_COMMAND = 1, MT_ERR_LENGTH = 2, MT_ERR_STORAGE = 3 };
#define MT_REPLY 0x80u
#define MT_INTERVALS_PER_READ 4u

/* STATUS flags */
#define MT_ST_CLOCK_SET 1u      /* the RTC kept its calendar (else it restarted at the default) */
#define MT_ST_MEASURING 2u      /* the ADE7753 answers and line cycles come */
#define MT_ST_STORED 4u         /* the energy record was read from the EEPROM at start */

struct mt_status {              /* 40 bytes on the wire, in this order */
    uint32_t clock_s;           /* metrology clock, seconds since 2000-01-01 00:00:00 */
    uint64_t fwd_mWh, rev_mWh;  /* forward / reverse active energy */
    uint32_t intervals;         /* interval freezes made so far (the newest one's number) */
    uint16_t v_dV;              /* 0.1 V */
    int32_t i_mA;               /* signed like the power */
    int32_t p_dW;               /* 0.1 W, negative = reverse */
    int16_t pf_m;               /* 0.001 */
    uint16_t f_cHz;             /* 0.01 Hz */
    uint16_t flags;
};
#define MT_STATUS_BYTES 40u

/* MEASURE: only the parts the asker needs now, the totals only when they changed. The
 * request: want (u8: MT_PART_NOW, MT_PART_POWER, MT_PART_TOTALS, MT_PART_HELD), gen (u16: the
 * generation of the totals the asker holds, looked at with MT_PART_HELD). The answer: parts
 * (u8: what follows), gen (u16: the totals' generation now, one more at every change of the
 * energy or of the number of freezes), hold (u16 ms: the totals stay as they are at least
 * this long after the answer; 0 when they may change at any moment), then the parts asked in
 * this order: NOW (clock, V, I, P, PF, f, flags: 20 bytes), POWER (P alone, 4 bytes, left out
 * with NOW, which holds it), TOTALS (forward, reverse mWh, freezes made: 20 bytes; left out
 * when asked with MT_PART_HELD and the generation held is the unit's). A reading of P every
 * second is 8 + 15 characters on the wire instead of 6 + 46, and the energy is carried once
 * per line-cycle window (2 s), not every second. */
#define MT_PART_NOW 1u
#define MT_PART_TOTALS 2u
#define MT_PART_HELD 4u
#define MT_PART_POWER 8u
#define MT_MEASURE_ASK_BYTES 3u
#define MT_MEASURE_HEAD_BYTES 5u
#define MT_PART_NOW_BYTES 20u
#define MT_PART_POWER_BYTES 4u
#define MT_PART_TOTALS_BYTES 20u

struct mt_measure {
    uint8_t parts;              /* MT_PART_NOW, _POWER, _TOTALS: the parts carried */
    uint16_t gen, hold_ms;
};

struct mt_interval {            /* 28 bytes on the wire; 30 with the CRC in the EEPROM */
    uint32_t number;            /* 1, 2, ... since the last meter clear */
    uint32_t time_s;            /* the 15-minute boundary it belongs to */
    uint64_t fwd_mWh, rev_mWh;  /* totals at that boundary */
};
#define MT_INTERVAL_BYTES 28u
#define MT_INTERVAL_MINUTES 15u
#define MT_RING 256u            /* interval records kept: 64 hours */

/* EEPROM layout (AT24C256, 64-byte pages) */
#define MT_EE_COPY_A 0x0000u
#define MT_EE_COPY_B 0x0040u
#define MT_EE_RING 0x0100u      /* slot k at MT_EE_RING + 32 k */
#define MT_EE_SLOT 32u

struct mt_energy {              /* the record of both copies, 30 bytes */
    uint32_t seq;               /* the newer copy has the higher number (modulo 2^32) */
    uint64_t fwd_mWh, rev_mWh;
    uint32_t intervals;
};
#define MT_ENERGY_BYTES 30u     /* "MTEN", seq, fwd, rev, intervals, CRC */

void mt_put32(uint8_t *p, uint32_t v);
void mt_put64(uint8_t *p, uint64_t v);
uint32_t mt_get32(const uint8_t *p);
uint64_t mt_get64(const uint8_t *p);

/* The CRC-16/CCITT of p's first n bytes, little endian right after them (the frame, every
 * EEPROM record): written there, or 1 when the one there holds. */
void mt_crc_append(uint8_t *p, unsigned n);
int mt_crc_holds(const uint8_t *p, unsigned n);

/* A frame into out (MT_FRAME_MAX); its length. */
unsigned mt_frame(uint8_t *out, uint8_t cmd, uint8_t seq, const uint8_t *payload, unsigned n);

/* Frame assembly from a byte stream: feed bytes; 1 when a whole frame with a good CRC is in
 * (cmd, seq, payload, n), after which the next byte starts a new one. A bad CRC or length
 * counts in `bad` and re-synchronises at the next A5. */
struct mt_rx {
    uint8_t buf[MT_FRAME_MAX];
    unsigned len;
    uint32_t bad;
};
int mt_rx_byte(struct mt_rx *rx, uint8_t b);
static inline void mt_rx_reset(struct mt_rx *rx) { rx->len = 0; }
static inline uint8_t mt_rx_cmd(const struct mt_rx *rx) { return rx->buf[2]; }
static inline uint8_t mt_rx_seq(const struct mt_rx *rx) { return rx->buf[3]; }
static inline const uint8_t *mt_rx_payload(const struct mt_rx *rx) { return rx->buf + 4; }
static inline unsigned mt_rx_payload_len(const struct mt_rx *rx) { return rx->buf[1] - 2u; }

void mt_status_put(uint8_t *p, const struct mt_status *s);
void mt_status_get(const uint8_t *p, struct mt_status *s);
/* MEASURE's answer from s: its length. */
unsigned mt_measure_put(uint8_t *p, const struct mt_measure *m, const struct mt_status *s);
/* The parts an answer of n bytes carries into *m and s (the others left alone): 0, or -1 when
 * its length does not match its parts. */
int mt_measure_get(const uint8_t *p, unsigned n, struct mt_measure *m, struct mt_status *s);
void mt_interval_put(uint8_t *p, const struct mt_interval *r);
void mt_interval_get(const uint8_t *p, struct mt_interval *r);
void mt_energy_put(uint8_t *p, const struct mt_energy *e);   /* MT_ENERGY_BYTES with the CRC */
int mt_energy_get(const uint8_t *p, struct mt_energy *e);    /* 0, or -1: bad magic or CRC */

#endif
