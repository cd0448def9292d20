/*
 * WIZnet W5500 on SPI (mode 0), variable-length data mode (SCSn frames every access): common
 * set-up and a TCP client socket API. Follows the W5500 data sheet v1.0.x: SPI frame = 16-bit
 * offset, control byte (BSB, RWB, OM = 00), data; Sn_CR is polled back to 0 after each
 * command; Sn_TX_FSR / Sn_RX_RSR are read until two reads agree (§4.2: they may change while
 * being read); Sn_TX_WR / Sn_RX_RD are 16-bit pointers masked to the buffer size.
 */
#ifndef W5500_H
#define W5500_H

#include <stdint.h>
#include "bsp.h"

typedef struct {
    int spi;                    /* BSP SPI instance */
    bsp_pin_t cs, rst;          /* rst may be BSP_PIN_NONE */
} w5500_t;

/* Sn_SR values */
#define W5500_SOCK_CLOSED 0x00
#define W5500_SOCK_INIT 0x13
#define W5500_SOCK_SYNSENT 0x15
#define W5500_SOCK_ESTABLISHED 0x17
#define W5500_SOCK_CLOSE_WAIT 0x1C

/* Sn_IR / Sn_IMR bits */
#define W5500_IR_CON 0x01u
#define W5500_IR_DISCON 0x02u
#define W5500_IR_RECV 0x04u
#define W5500_IR_TIMEOUT 0x08u
#define W5500_IR_SENDOK 0x10u

/* Reset (pin, else MR.RST), check VERSIONR = 0x04, set the addresses. MS_ERR_NODEV if absent. */
int w5500_init(w5500_t *d, const uint8_t mac[6], const uint8_t ip[4], const uint8_t mask[4],
               const uint8_t gw[4]);
int w5500_link_up(w5500_t *d);                                 /* PHYCFGR.LNK */
/* Start a TCP connection from socket s; poll w5500_status() for ESTABLISHED / CLOSED. */
int w5500_tcp_connect(w5500_t *d, int s, const uint8_t ip[4], uint16_t port, uint16_t sport);
int w5500_status(w5500_t *d, int s);                           /* Sn_SR */
int w5500_irq(w5500_t *d, int s, uint8_t clear);               /* Sn_IR, clearing `clear` bits */
/* INTn (active low) while socket s has a Sn_IR bit of `mask` set (Sn_IMR, SIMR bit s); the
 * bits stay set, and INTn low, until w5500_irq clears them. */
void w5500_irq_enable(w5500_t *d, int s, uint8_t mask);
/* Queue len bytes and SEND; waits for SEND_OK (or TIMEOUT / close) up to timeout_ms.
 * Returns len, MS_ERR_NOMEM when the TX buffer has less room, < 0 on failure. */
int w5500_send(w5500_t *d, int s, const void *buf, unsigned len, uint32_t timeout_ms);
int w5500_recv(w5500_t *d, int s, void *buf, unsigned max);    /* bytes taken (0: none) */
void w5500_close(w5500_t *d, int s);
void w5500_discon(w5500_t *d, int s);

#endif
