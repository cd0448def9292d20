/* Small helpers the services share as library code (no state). */
#ifndef SVC_UTIL_H
#define SVC_UTIL_H

#include <stddef.h>
#include <stdint.h>
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

/* A record kept as two copies in an EEPROM (the meter's settings, its reset counts, the basic
 * app's records): a write goes over one copy, so a power cut during it tears that copy only.
 * The record (a struct of `size` bytes) starts with uint32_t magic, seq (the newer copy has
 * the later number, modulo 2^32) and has a uint16_t crc at `crc_at`: the CRC-16/CCITT of the
 * bytes before it. Copy k is at addr + k * stride. Where each save goes is the owner's. */
typedef struct {
    uint32_t addr, stride, magic;
    uint16_t size, crc_at;
    const char *what;                       /* "module: record", for the log */
} svc_rec_t;
#define SVC_REC(addr_, stride_, type_, magic_, what_)                                        \
    {.addr = (addr_), .stride = (stride_), .magic = (magic_), .size = sizeof(type_),         \
     .crc_at = offsetof(type_, crc), .what = (what_)}
/* Sets rec's crc from the bytes before it. */
void svc_rec_seal(const svc_rec_t *d, void *rec);
/* 1 when rec's magic is d's and its crc holds, else 0. */
int svc_rec_valid(const svc_rec_t *d, const void *rec);
/* Which copy to take, ok[k] saying copy k is whole and valid: of two, the later seq (equal:
 * copy 0); -1 when neither. */
int svc_rec_newer(const void *copy0, const void *copy1, const int ok[2]);

#endif
