/*
 * YMODEM receiver (batch XMODEM-1K with CRC-16/XMODEM, Forsberg's "XMODEM/YMODEM protocol
 * reference"): the receiver asks with 'C', block 0 (SOH, 128 bytes) carries the file name and
 * its decimal size, data blocks are 1024 (STX) or 128 (SOH) bytes, each ACKed or NAKed; EOT
 * is NAKed once and ACKed the second time, and an empty block 0 ends the batch. Two CAN bytes
 * cancel from either side. One file per call; the data goes to the caller's sink.
 */
#ifndef MS_YMODEM_H
#define MS_YMODEM_H

#include <stdint.h>

#define MS_YMODEM_NAME_MAX 64u

enum ms_ymodem_result {
    MS_YMODEM_OK = 0,
    MS_YMODEM_TIMEOUT = -1,     /* the sender did not start or stopped answering */
    MS_YMODEM_CANCELLED = -2,   /* the sender cancelled (CAN CAN) */
    MS_YMODEM_REFUSED = -3,     /* the sink refused the file or a block (receiver sent CAN) */
    MS_YMODEM_ERRORS = -4,      /* too many bad blocks in a row */
};

typedef struct {
    int (*getc)(void *ctx, uint32_t timeout_ms);      /* a byte, or < 0 on timeout */
    void (*write)(void *ctx, const uint8_t *buf, uint32_t len);
    /* 0 accepts the file, anything else refuses it */
    int (*begin)(void *ctx, const char *name, uint32_t size);
    /* `len` bytes at `offset` of the file (padding beyond the size already cut off) */
    int (*data)(void *ctx, uint32_t offset, const uint8_t *buf, uint32_t len);
    void *ctx;
    uint32_t start_tries;                             /* 'C' sent once a second this often */
} ms_ymodem_io_t;

uint16_t ms_crc16_xmodem(uint16_t crc, const uint8_t *buf, uint32_t len);
/* Receive one file; name (MS_YMODEM_NAME_MAX bytes) and size get block 0's values. */
int ms_ymodem_receive(const ms_ymodem_io_t *io, char *name, uint32_t *size);
const char *ms_ymodem_result_name(int result);

#endif
