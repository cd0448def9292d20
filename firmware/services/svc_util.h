/* Small helpers the services share as library code (no state). */
#ifndef SVC_UTIL_H
#define SVC_UTIL_H

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

#endif
