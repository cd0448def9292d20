/*
 * ILI9341 240x320 TFT on 4-wire SPI (write only): D/CX on a GPIO, chip select by the driver.
 * Follows the ILI9341 data sheet V1.11: hardware reset (RESX low >= 10 us, then 120 ms before
 * SLPOUT), SLPOUT then 5 ms before the next command, COLMOD 0x55 (16 bit/pixel), MADCTL 0x08
 * (portrait, BGR panel), DISPON. Pixels are RGB565, MSB first. Text uses the shared 5x7 font
 * (font5x7.h) in 6x8 cells with the background drawn, so the metersim display model can read
 * it back as text.
 */
#ifndef ILI9341_DRIVER_H
#define ILI9341_DRIVER_H

#include <stdint.h>
#include "bsp.h"

#define ILI9341_WIDTH 240
#define ILI9341_HEIGHT 320
#define RGB565(r, g, b) ((uint16_t)((((r) & 0xF8) << 8) | (((g) & 0xFC) << 3) | ((b) >> 3)))

/* A bulk writer (DMA) for pixel data: n bytes of buf, or when buf is NULL the pixel `fill`
 * n / 2 times, MSB first; returns 0 or a BSP error. */
typedef int (*ili9341_bulk_fn)(int spi, const uint8_t *buf, uint16_t fill, uint32_t n);

typedef struct {
    int spi;                    /* BSP SPI instance */
    bsp_pin_t cs, dc, rst;      /* rst may be BSP_PIN_NONE */
    ili9341_bulk_fn bulk;       /* NULL: pixels by bsp_spi_write */
} ili9341_t;

int  ili9341_init(ili9341_t *d);                 /* SPI must be initialised (mode 0) */
void ili9341_fill(ili9341_t *d, unsigned x, unsigned y, unsigned w, unsigned h, uint16_t c);
/* Text at pixel (x, y), one 6x8 cell per character; stops at the right edge. */
void ili9341_text(ili9341_t *d, unsigned x, unsigned y, const char *s, uint16_t fg, uint16_t bg);

#endif
