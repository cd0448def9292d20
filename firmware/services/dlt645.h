/*
 * DL/T645-2007 frames for the management unit's services: [FE..] 68 A0..A5 68 C L DATA CS 16,
 * data bytes +0x33 on the wire, CS = sum of 68..last data byte. Pure functions and a stream
 * splitter with its state in the caller's struct, so every process links its own copy.
 */
#ifndef DLT645_H
#define DLT645_H

#include <stdint.h>

#define DLT_START 0x68u
#define DLT_END 0x16u
#define DLT_PREAMBLE 0xFEu
#define DLT_OFFSET 0x33u
#define DLT_MAX_DATA 200u                   /* the standard's largest data field */
#define DLT_FRAME_MAX (12u + DLT_MAX_DATA)

/* control code bits (§1.3) */
#define DLT_REPLY 0x80u
#define DLT_ABNORMAL 0x40u
#define DLT_FOLLOWS 0x20u
#define DLT_FN(c) ((c) & 0x1Fu)

/* functions */
#define DLT_BROADCAST_TIME 0x08u
#define DLT_READ 0x11u
#define DLT_READ_NEXT 0x12u
#define DLT_READ_ADDR 0x13u
#define DLT_WRITE 0x14u
#define DLT_WRITE_ADDR 0x15u
#define DLT_FREEZE 0x16u
#define DLT_BAUD 0x17u
#define DLT_PASSWORD 0x18u
#define DLT_CLEAR_DEMAND 0x19u
#define DLT_CLEAR_METER 0x1Au
#define DLT_CLEAR_EVENTS 0x1Bu
#define DLT_RELAY 0x1Cu

/* error word SERR (§1.5) */
#define DLT_SERR_OTHER 0x01u
#define DLT_SERR_NO_DATA 0x02u
#define DLT_SERR_PASSWORD 0x04u
#define DLT_SERR_BAUD 0x08u

/* decode results */
#define DLT_OK 0
#define DLT_ERR_SHORT (-1)
#define DLT_ERR_START (-2)
#define DLT_ERR_LEN (-3)
#define DLT_ERR_CS (-4)
#define DLT_ERR_END (-5)

typedef struct {
    uint8_t addr[6];                        /* wire order (A0 first) */
    uint8_t ctrl;
    uint8_t len;
    uint8_t data[DLT_MAX_DATA];             /* plain: the 0x33 removed */
} dlt_frame_t;

/* Bytes 68..16 of f into out (at least 12 + f->len); returns the count. */
unsigned dlt_encode(const dlt_frame_t *f, uint8_t *out);
/* raw holds exactly one frame 68..16 (no preamble): DLT_OK or DLT_ERR_*. */
int dlt_decode(const uint8_t *raw, unsigned n, dlt_frame_t *f);

/* Stream splitter: skips FE and anything before a 68, re-synchronises at the next 68 when a
 * candidate fails (second 68, length, checksum, end byte). */
typedef struct {
    uint8_t buf[12u + 255u];
    unsigned n;
    uint32_t discarded;                     /* bytes that belonged to no frame (FE aside) */
    uint32_t bad;                           /* candidate frames rejected */
} dlt_rx_t;
/* Append what fits of bytes[0..n); returns how many were taken. */
unsigned dlt_rx_put(dlt_rx_t *rx, const uint8_t *bytes, unsigned n);
/* 1 and the next whole frame in *f, or 0 when more bytes are needed. */
int dlt_rx_take(dlt_rx_t *rx, dlt_frame_t *f);
void dlt_rx_reset(dlt_rx_t *rx);

/* Values: compressed BCD, least significant byte first. */
void dlt_bcd_put(uint8_t *out, unsigned bytes, uint32_t value);
int dlt_bcd_get(const uint8_t *in, unsigned bytes, uint32_t *value);  /* -1: not BCD */
static inline uint32_t dlt_di(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline void dlt_put_di(uint8_t *p, uint32_t di)
{
    p[0] = (uint8_t)di; p[1] = (uint8_t)(di >> 8); p[2] = (uint8_t)(di >> 16); p[3] = (uint8_t)(di >> 24);
}
/* A reply frame for request q: control q->ctrl | 0x80, the data given. */
void dlt_reply(dlt_frame_t *r, const dlt_frame_t *q, const uint8_t *data, unsigned len);
/* An abnormal reply: control q->ctrl | 0xC0, data = SERR. */
void dlt_abnormal(dlt_frame_t *r, const dlt_frame_t *q, uint8_t serr);

#endif
