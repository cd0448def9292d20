/* ILI9341 driver: see ili9341.h. */
#include "ili9341.h"
#include "font5x7.h"
#include "ms_rtos.h"

static void sel(ili9341_t *d, int on) { bsp_pin_write(d->cs, !on); }

static void cmd(ili9341_t *d, uint8_t c, const uint8_t *p, unsigned n)
{
    sel(d, 1);
    bsp_pin_write(d->dc, 0);
    bsp_spi_write(d->spi, &c, 1);
    bsp_pin_write(d->dc, 1);
    if (n)
        bsp_spi_write(d->spi, p, n);
    sel(d, 0);
}

static void window(ili9341_t *d, unsigned x0, unsigned y0, unsigned x1, unsigned y1)
{
    uint8_t ca[4] = {(uint8_t)(x0 >> 8), (uint8_t)x0, (uint8_t)(x1 >> 8), (uint8_t)x1};
    uint8_t pa[4] = {(uint8_t)(y0 >> 8), (uint8_t)y0, (uint8_t)(y1 >> 8), (uint8_t)y1};
    cmd(d, 0x2A, ca, 4);
    cmd(d, 0x2B, pa, 4);
}

int ili9341_init(ili9341_t *d)
{
    bsp_pin_write(d->cs, 1);
    bsp_pin_config(d->cs, BSP_PIN_OUTPUT, 0);
    bsp_pin_config(d->dc, BSP_PIN_OUTPUT, 0);
    if (d->rst != BSP_PIN_NONE) {
        bsp_pin_config(d->rst, BSP_PIN_OUTPUT, 0);
        bsp_pin_write(d->rst, 0);
        bsp_delay_us(20);
        bsp_pin_write(d->rst, 1);
        ms_thread_sleep_ms(121);            /* >= 120 ms (tick-granular sleep) */
    } else {
        cmd(d, 0x01, 0, 0);                 /* SWRESET */
        ms_thread_sleep_ms(121);
    }
    cmd(d, 0x11, 0, 0);                     /* SLPOUT */
    ms_thread_sleep_ms(6);                  /* >= 5 ms: a sleep of n ticks may end after n-1 */
    static const uint8_t colmod = 0x55, madctl = 0x08;
    cmd(d, 0x3A, &colmod, 1);
    cmd(d, 0x36, &madctl, 1);
    cmd(d, 0x29, 0, 0);                     /* DISPON */
    return 0;
}

void ili9341_fill(ili9341_t *d, unsigned x, unsigned y, unsigned w, unsigned h, uint16_t c)
{
    if (!w || !h || x >= ILI9341_WIDTH || y >= ILI9341_HEIGHT)
        return;
    if (x + w > ILI9341_WIDTH)
        w = ILI9341_WIDTH - x;
    if (y + h > ILI9341_HEIGHT)
        h = ILI9341_HEIGHT - y;
    uint8_t buf[64];
    for (unsigned i = 0; i < sizeof buf; i += 2) {
        buf[i] = (uint8_t)(c >> 8);
        buf[i + 1] = (uint8_t)c;
    }
    window(d, x, y, x + w - 1, y + h - 1);
    uint32_t left = (uint32_t)w * h * 2u;
    uint8_t ramwr = 0x2C;
    sel(d, 1);
    bsp_pin_write(d->dc, 0);
    bsp_spi_write(d->spi, &ramwr, 1);
    bsp_pin_write(d->dc, 1);
    if (d->bulk && d->bulk(d->spi, 0, c, left) == 0)
        left = 0;
    while (left) {
        unsigned n = left > sizeof buf ? sizeof buf : (unsigned)left;
        bsp_spi_write(d->spi, buf, n);
        left -= n;
    }
    sel(d, 0);
}

void ili9341_text(ili9341_t *d, unsigned x, unsigned y, const char *s, uint16_t fg, uint16_t bg)
{
    uint8_t px[FONT5X7_CELL_W * FONT5X7_CELL_H * 2];
    for (; *s && x + FONT5X7_CELL_W <= ILI9341_WIDTH; s++, x += FONT5X7_CELL_W) {
        unsigned ch = (unsigned char)*s;
        if (ch < FONT5X7_FIRST || ch > FONT5X7_LAST)
            ch = '?';
        const uint8_t *g = font5x7[ch - FONT5X7_FIRST];
        unsigned i = 0;
        for (unsigned row = 0; row < FONT5X7_CELL_H; row++)
            for (unsigned col = 0; col < FONT5X7_CELL_W; col++) {
                uint16_t c = (col < 5 && (g[col] >> row & 1u)) ? fg : bg;
                px[i++] = (uint8_t)(c >> 8);
                px[i++] = (uint8_t)c;
            }
        window(d, x, y, x + FONT5X7_CELL_W - 1, y + FONT5X7_CELL_H - 1);
        if (d->bulk) {
            uint8_t ramwr = 0x2C;
            sel(d, 1);
            bsp_pin_write(d->dc, 0);
            bsp_spi_write(d->spi, &ramwr, 1);
            bsp_pin_write(d->dc, 1);
            if (d->bulk(d->spi, px, 0, sizeof px) != 0)
                bsp_spi_write(d->spi, px, sizeof px);
            sel(d, 0);
        } else {
            cmd(d, 0x2C, px, sizeof px);
        }
    }
}
