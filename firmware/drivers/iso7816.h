/*
 * ISO 7816-3 reader on an STM32 USART in smartcard mode (RM0430 §26.3.11), T=0, polled, and
 * the ESAM commands the meter uses. The USART's TX pin is the card's I/O (open drain), its CK
 * pin the card's clock; RST is a GPIO. Character repetition: a character the card NACKs comes
 * back in the echo with FE and is sent again (ISO 7816-3 §7.3, up to 3 repeats); a received
 * character with a parity error is NACKed by the USART (CR3.NACK) and dropped, the card sends
 * it again.
 */
#ifndef ISO7816_H
#define ISO7816_H

#include <stdint.h>
#include "bsp.h"

typedef struct {
    int usart;               /* USART instance with smartcard mode (1, 2, 3 or 6) */
    bsp_pin_t rst, ck;
    uint32_t ck_hz, etu_us;
    uint8_t atr[33];
    uint8_t atr_len;
    uint32_t repeats, parity_errors;   /* statistics */
} iso7816_t;

/* Smartcard mode at CK <= max_ck_hz (F = 372, D = 1), card held in reset. `io` is the
 * USART's TX pin (made open drain), `ck` its CK pin. */
int iso7816_init(iso7816_t *sc, int usart, bsp_pin_t io, bsp_pin_t ck, bsp_pin_t rst,
                 uint32_t max_ck_hz);
/* Cold reset: RST low, clock running, RST high, collect the ATR (returns its length). */
int iso7816_reset(iso7816_t *sc);
/* A T=0 case-2 command: 5-byte header, `le` = P3 bytes out; returns the status word
 * (SW1 << 8 | SW2) or < 0 (BSP_ERR_TIMEOUT, BSP_ERR_IO). */
int iso7816_t0_get(iso7816_t *sc, const uint8_t header[5], uint8_t *out);
/* ESAM GET CHALLENGE (00 84 00 00 len): random bytes from the card; status word or < 0. */
int esam_get_challenge(iso7816_t *sc, uint8_t *out, uint8_t len);

#endif
