/*
 * The TFT's SPI2 transmit by DMA1 channel 5 (RM0008 §13, §25.3.9): the ILI9341 driver's bulk
 * writer (ili9341_t.bulk). The calling thread sleeps on the channel's transfer-complete
 * interrupt while the pixels go out.
 */
#ifndef QM_DMA_H
#define QM_DMA_H

#include <stdint.h>

int qm_dma_init(void);
/* n bytes of buf to SPI2, or when buf is NULL the pixel `fill` (MSB first) n / 2 times. */
int qm_tft_bulk(int spi, const uint8_t *buf, uint16_t fill, uint32_t n);

#endif
