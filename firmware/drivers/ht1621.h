/*
 * Holtek HT1621 segment LCD driver (32 x 4 RAM), 3-wire serial interface bit-banged on GPIOs:
 * /CS, /WR (DATA latched on its rising edge), DATA. Mode IDs and commands per the HT1621
 * data sheet ("Command summary"): 100 command (9-bit codes, C0 don't care), 101 write
 * (6-bit address, then D0..D3 nibbles, LSB first, address auto-increment).
 */
#ifndef HT1621_H
#define HT1621_H

#include <stdint.h>
#include "bsp.h"

/* 8-bit command codes C8..C1 (C0 is sent as 0) */
#define HT1621_SYS_DIS 0x00u
#define HT1621_SYS_EN 0x01u
#define HT1621_LCD_OFF 0x02u
#define HT1621_LCD_ON 0x03u
#define HT1621_RC_256K 0x18u
#define HT1621_BIAS_1_3_4COM 0x29u
#define HT1621_RAM_NIBBLES 32u

typedef struct {
    bsp_pin_t cs, wr, data;
} ht1621_t;

/* Configure the pins, then SYS EN, RC 256K, BIAS 1/3 4 COM, LCD ON and a cleared RAM. */
int ht1621_init(ht1621_t *dev, bsp_pin_t cs, bsp_pin_t wr, bsp_pin_t data);
void ht1621_command(const ht1621_t *dev, uint8_t cmd);
/* Successive write of `n` nibbles from RAM address `addr` (wraps at 32). */
int ht1621_write(const ht1621_t *dev, unsigned addr, const uint8_t *nibbles, unsigned n);

#endif
