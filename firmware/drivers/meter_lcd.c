#include "meter_lcd.h"

/* bits a..g = 0..6 */
static uint8_t font(char c)
{
    static const char chars[] = "0123456789 -AbCdEFHLPontrU";
    static const uint8_t pat[] = {0x3F, 0x06, 0x5B, 0x4F, 0x66, 0x6D, 0x7D, 0x07, 0x7F, 0x6F,
                                  0x00, 0x40, 0x77, 0x7C, 0x39, 0x5E, 0x79, 0x71, 0x76, 0x38,
                                  0x73, 0x5C, 0x54, 0x78, 0x50, 0x3E};
    for (unsigned i = 0; chars[i]; i++)
        if (chars[i] == c)
            return pat[i];
    return 0x40;                                     /* unknown: '-' */
}

void meter_lcd_encode(const char *text, uint32_t icons, uint8_t ram[METER_LCD_NIBBLES])
{
    for (unsigned i = 0; i < METER_LCD_NIBBLES; i++)
        ram[i] = 0;
    unsigned d = 0;
    for (const char *p = text; p && *p && d < 8; d++) {
        uint8_t s = font(*p++);
        ram[2 * d] = s & 0xFu;
        ram[2 * d + 1] = (uint8_t)((s >> 4) & 0x7u);
        for (; *p == '.' || *p == ':'; p++) {
            if (*p == '.')
                ram[2 * d + 1] |= 8u;
            else if (d == 3u || d == 5u)
                ram[22] |= (uint8_t)(d == 3u ? 1u : 2u);
        }
    }
    for (unsigned i = 0; i < 24u; i++)
        if (icons & (1u << i))
            ram[16 + i / 4] |= (uint8_t)(1u << (i % 4));
}

int meter_lcd_show(const ht1621_t *dev, const char *text, uint32_t icons)
{
    uint8_t ram[METER_LCD_NIBBLES];
    meter_lcd_encode(text, icons, ram);
    return ht1621_write(dev, 0, ram, sizeof ram);
}
