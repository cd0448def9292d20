/*
 * The meter's LCD glass on an HT1621: eight 7-segment digits with a decimal point after each
 * and 16 annunciators. Segment map (RAM address, COM), the same table as metersim's model
 * (peripherals/ht1621.py): digit d at addresses 2d (COM0..3 = a b c d) and 2d+1 (COM0..3 =
 * e f g DP); annunciator i at address 16 + i / 4, COM i % 4.
 */
#ifndef METER_LCD_H
#define METER_LCD_H

#include <stdint.h>
#include "ht1621.h"

enum meter_lcd_icon {
    LCD_KWH, LCD_KW, LCD_V, LCD_A, LCD_T1, LCD_T2, LCD_T3, LCD_T4,
    LCD_RELAY_OPEN, LCD_ALARM, LCD_COVER, LCD_BATTERY_LOW, LCD_IR, LCD_RS485, LCD_CARD, LCD_PRICE
};
#define LCD_ICON(i) (1u << (i))

/* Show up to 8 characters (digits, space, '-', A b C d E F H L P o n r t U), a '.' after a
 * character lights its DP; `icons` is a mask of LCD_ICON(...) bits. */
int meter_lcd_show(const ht1621_t *dev, const char *text, uint32_t icons);

#endif
