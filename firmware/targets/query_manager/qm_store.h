/*
 * The readings waiting for the server's ACK, in the board's AT24C256 (32 KiB, 64-byte pages):
 * a ring of records numbered by sequence number, each with its own CRC, and the ring's two
 * ends (oldest unacknowledged, next to write) in a header kept twice, so a reset or a power
 * cut neither loses nor repeats readings. Layout and rules: docs/firmware_query_manager.md,
 * "Buffer". One thread (net) uses it.
 */
#ifndef QM_STORE_H
#define QM_STORE_H

#include <stdint.h>
#include "at24c.h"

struct qm_rec {
    uint32_t seq;                       /* given by qm_store_append */
    uint32_t secs;                      /* RTC, seconds since 2000-01-01, of the snapshot */
    uint32_t energy_wh, cost, balance, power;
    uint16_t voltage, current, pf, freq, trips;
    uint8_t addr, room, status, reason, age_s;
};

#define QM_STORE_HDR_BYTES 64u          /* one page per header copy, two copies */
#define QM_STORE_BASE (2u * QM_STORE_HDR_BYTES)
#define QM_STORE_REC_BYTES 41u
#define QM_STORE_CAP ((32768u - QM_STORE_BASE) / QM_STORE_REC_BYTES)   /* 796 */

/* Mounts the ring (recovering records written after the last header); 0 or an error. */
int qm_store_init(at24c_t *ee);
uint32_t qm_store_first(void);          /* oldest kept (unacknowledged) sequence number */
uint32_t qm_store_next(void);           /* the number the next record gets */
/* Appends r (r->seq set); a full ring drops its oldest first (returns 1 then, else 0). */
int qm_store_append(struct qm_rec *r);
int qm_store_commit(void);              /* persist the ends (after a batch of appends) */
int qm_store_read(uint32_t seq, struct qm_rec *r);   /* MS_ERR_IO: bad CRC or number */
int qm_store_ack(uint32_t seq);         /* everything up to seq is stored by the server */

#endif
