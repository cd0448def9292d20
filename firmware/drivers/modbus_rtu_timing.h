/*
 * Modbus RTU receive timing, shared by the metering controller (slave) and the query manager
 * (master): the silences at which the BSP's framing (bsp_uart_set_framing) ends a frame and
 * breaks one (Modbus over serial line V1.02 §2.5.1.1). Pure code, host-testable.
 */
#ifndef MODBUS_RTU_TIMING_H
#define MODBUS_RTU_TIMING_H
#include <stdint.h>

/* Silences for a receiver at `baud` with characters of `char_us` on the wire (Modbus over
 * serial line V1.02 §2.5.1.1: a silence of t3.5 character times ends a frame, one of more
 * than t1.5 inside a frame makes it incomplete; above 19200 bps fixed 1750 us and 750 us).
 * The receiver keeps to the standard: *end_us = t3.5 and *broken_us = t1.5, each moved by
 * MB_STAMP_JITTER_US in the sender's favour. That allowance is the uncertainty of the time
 * stamps (the receive interrupt restarts the silence timer, and an interrupt can be delayed
 * by a short critical section or another handler), so that a sender that waits exactly t3.5
 * is never merged and one whose gaps are exactly t1.5 never broken; it is 2 % of a character
 * at 9600 bps and 4 % at 19200, against the half character these receivers once allowed. */
#define MB_STAMP_JITTER_US 20u
void mb_silences(uint32_t baud, uint32_t char_us, uint32_t *broken_us, uint32_t *end_us);

#endif
