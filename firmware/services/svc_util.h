/* Small helpers the services share as library code (no state). */
#ifndef SVC_UTIL_H
#define SVC_UTIL_H

#include <stdint.h>
#include <string.h>
#include "ms_rtos.h"
#include "vbus.h"

/* Signed compressed BCD (top bit of the last byte = minus). */
void svc_bcd_signed(uint8_t *out, unsigned bytes, int32_t value);
/* Reply to the bus request m with frame r, from `self`. */
int svc_reply(int to_bus, uint8_t self, const vbus_msg_t *m, const dlt_frame_t *r);
/* The process's state: zeroed memory from its heap; ends the process when there is none. */
void *svc_state(unsigned size);
/* The next well-formed message reassembled in rx (bad ones skipped), 1; 0 when none. */
int svc_next(vbus_rx_t *rx, vbus_msg_t *m);
/* Read one '\n'-terminated line from fd within timeout_ms (select, no polling); its length
 * without the newline, or <0 on timeout. */
int svc_read_line(int fd, char *buf, unsigned size, uint32_t timeout_ms);
/* A time (seconds since 2000) as DL/T645 BCD: ssmmhhDDMMYY, or mmhhDDMMYY without seconds;
 * the bytes written (6 or 5). */
unsigned svc_put_time(uint8_t *out, uint32_t s, int with_seconds);
/* Read (write = 0) or write `len` bytes at `addr` of the EEPROM file `fd` (its window): MS_OK
 * when all of them went, else MS_ERR_IO. */
int svc_eeprom_rw(int fd, uint32_t addr, void *buf, unsigned len, int write);

/* The wake grid: the meter's periodic work (the watchdog's feed, the basic app's display
 * refresh and event checks) falls on whole multiples of `period` ticks of the kernel's tick
 * since it started, so the work of one instant shares one wake-up of the core instead of each
 * thread waking on its own phase. The first grid instant after `now` (wrap-safe: past the
 * tick's wrap the grid goes on from 0, for every user alike). */
static inline ms_tick_t svc_grid_next(ms_tick_t now, ms_tick_t period)
{
    return (now / period + 1u) * period;
}
#define SVC_GRID_S MS_TICK_HZ               /* the grid of work done every second */

/* A record kept in an EEPROM (the meter's settings, its reset counts, the basic app's records
 * and tables) starts with uint32_t magic and has a uint16_t crc at crc_at: the CRC-16/CCITT of
 * the bytes before it. One kept as two copies has uint32_t seq after its magic (the newer copy
 * has the later number, modulo 2^32): a write goes over one copy, so a power cut during it
 * tears that copy only. Where the copies lie and which one a save goes over is the owner's. */
void svc_rec_seal(void *rec, unsigned crc_at);                          /* sets the crc */
int svc_rec_valid(const void *rec, uint32_t magic, unsigned crc_at);    /* 1: magic, crc hold */
/* The seq of a record kept as two copies (rec needs no alignment). */
static inline uint32_t svc_rec_seq(const void *rec)
{
    uint32_t seq;
    memcpy(&seq, (const uint8_t *)rec + 4, 4);
    return seq;
}
/* Which copy to take, ok[k] saying copy k read whole and valid: of two, the later seq (equal:
 * copy 0); -1 when neither. Inline: a few instructions where each owner picks. */
static inline int svc_rec_newer(const void *copy0, const void *copy1, const int ok[2])
{
    if (!ok[0])
        return ok[1] ? 1 : -1;
    return ok[1] && (int32_t)(svc_rec_seq(copy1) - svc_rec_seq(copy0)) > 0 ? 1 : 0;
}

#endif
