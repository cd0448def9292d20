/*
 * The meter's LCD glass on an HT1621 (docs/meter_lcd.md): eight 7-segment digits with a
 * decimal point after each, colons after digits 3 and 5, and 24 annunciators. Segment map
 * (RAM address, COM), the same table as metersim's model (peripherals/ht1621.py): digit d at
 * addresses 2d (COM0..3 = a b c d) and 2d+1 (COM0..3 = e f g DP); annunciator i at address
 * 16 + i / 4, COM i % 4; the colons at address 22, COM0 (after digit 3) and COM1 (after 5).
 */
#ifndef METER_LCD_H
#define METER_LCD_H

#include <stdint.h>
#include "ht1621.h"

enum meter_lcd_icon {
    LCD_KWH, LCD_KW, LCD_V, LCD_A, LCD_T1, LCD_T2, LCD_T3, LCD_T4,
    LCD_RELAY_OPEN, LCD_ALARM, LCD_COVER, LCD_BATTERY_LOW, LCD_IR, LCD_RS485, LCD_CARD, LCD_PRICE,
    LCD_TOTAL, LCD_REMAIN, LCD_YUAN, LCD_DATE, LCD_TIME, LCD_NOW, LCD_BUY, LCD_OVERDRAFT
};
#define LCD_ICON(i) (1u << (i))
#define METER_LCD_NIBBLES 23u               /* RAM addresses the glass uses: 0..22 */

/* What /dev/lcd takes (one write of the whole struct): the text, NUL-terminated, and the
 * annunciators. */
typedef struct {
    char text[24];
    uint32_t icons;
} meter_lcd_frame_t;

/* The RAM image of up to 8 characters (digits, space, '-', A b C d E F H L P o n r t U; other
 * characters show as '-'); a '.' after a character lights its DP, a ':' after digit 3 or 5 its
 * colon; `icons` is a mask of LCD_ICON(...) bits. */
void meter_lcd_encode(const char *text, uint32_t icons, uint8_t ram[METER_LCD_NIBBLES]);
/* Encode and write the whole image. */
int meter_lcd_show(const ht1621_t *dev, const char *text, uint32_t icons);

#endif
