/*
 * Modbus RTU slave: frame assembly and the application protocol (Modbus over serial line
 * V1.02 §2.5.1 RTU framing; Modbus application protocol V1.1b3 §6.3/6.4/6.6/6.8/6.12 and §7).
 *
 * Framing: the UART driver splits the byte stream at silent intervals (bsp_uart_read_frame)
 * with the thresholds of mb_silences(); a frame with a silence beyond t1.5 inside is dropped
 * like one with a bad CRC. mb_process() then checks address and CRC and builds the reply:
 *   - a bad CRC (or a fragment shorter than 4 bytes, or more than 256 bytes) is dropped and
 *     counted (diagnostic counter 0x0C); frames for other addresses are counted and ignored;
 *   - broadcast (address 0) is executed for 06/16 only and never answered;
 *   - function codes 03, 04, 06, 16, 08 (sub-functions 00, 0A, 0B, 0C, 0D); anything else
 *     gets exception 01; register-level errors come from the register callbacks (02/03/04).
 */
#ifndef MC_MODBUS_H
#define MC_MODBUS_H
#include <stdint.h>
#include "modbus_rtu_timing.h"   /* mb_silences(): the framing thresholds */

#define MB_ADU_MAX 256u
#define MB_EX_ILLEGAL_FUNCTION 1
#define MB_EX_ILLEGAL_ADDRESS 2
#define MB_EX_ILLEGAL_VALUE 3
#define MB_EX_DEVICE_FAILURE 4

struct mb_counters {
    uint16_t bus_msgs;     /* frames with a good CRC seen on the bus (any address) */
    uint16_t crc_errors;   /* frames dropped for a bad CRC / bad length */
    uint16_t exceptions;   /* exception replies sent */
    uint16_t slave_msgs;   /* frames addressed to us (incl. broadcast) */
};

struct mb_regs_ops {
    /* Fill out[0..count) (input = 1: input registers, 0: holding). 0 or an MB_EX_* code. */
    int (*read)(void *ctx, int input, uint16_t addr, uint16_t count, uint16_t *out);
    /* Check all values first, then apply all (no partial writes). 0 or an MB_EX_* code. */
    int (*write)(void *ctx, uint16_t addr, uint16_t count, const uint16_t *vals, int broadcast);
};

struct mb_slave {
    uint8_t addr;
    struct mb_counters c;
    const struct mb_regs_ops *ops;
    void *ctx;
};

/* mb_process() length for a frame longer than an ADU (dropped and counted). */
#define MB_RX_TOO_LONG (-1)

/* One received frame; returns the reply length to send (0 = no reply). */
int mb_process(struct mb_slave *s, const uint8_t *frame, int len, uint8_t *reply);

#endif
