/*
 * STM32F2/F4 DMA controller (stream DMA, RM0430 rev 8 §9.5, RM0090 §10.5): LISR/HISR (six
 * flags per stream at bit 0, 6, 16, 22 of each), LIFCR/HIFCR (write 1 to clear), then per
 * stream x at 0x10 + 0x18 * x: SxCR, SxNDTR, SxPAR, SxM0AR, SxM1AR, SxFCR. Instances: the
 * family header (DMA1, DMA2).
 */
#ifndef REGS_DMA_F4_H
#define REGS_DMA_F4_H

#include <stdint.h>

typedef struct {
    volatile uint32_t CR, NDTR, PAR, M0AR, M1AR, FCR;
} dma_stream_t;

typedef struct {
    volatile uint32_t ISR[2];    /* 0x00 LISR (streams 0-3), 0x04 HISR (4-7) */
    volatile uint32_t IFCR[2];   /* 0x08 LIFCR, 0x0C HIFCR: write 1 to clear */
    dma_stream_t S[8];
} dma_regs_t;

#define DMA_SCR_EN (1u << 0)
#define DMA_SCR_TEIE (1u << 2)
#define DMA_SCR_HTIE (1u << 3)
#define DMA_SCR_TCIE (1u << 4)
#define DMA_SCR_DIR_M2P (1u << 6)
#define DMA_SCR_CIRC (1u << 8)
#define DMA_SCR_MINC (1u << 10)
#define DMA_SCR_CHSEL(c) ((uint32_t)(c) << 25)
#define DMA_SISR_TCIF (1u << 5)        /* per stream, at DMA_SISR_SHIFT(x) of ISR[x / 4] */
#define DMA_SISR_HTIF (1u << 4)
#define DMA_SISR_TEIF (1u << 3)
#define DMA_SISR_ALL 0x3Du             /* TCIF HTIF TEIF DMEIF FEIF */
#define DMA_SISR_SHIFT(x) ((0x16100600u >> (8u * ((x) & 3u))) & 0xFFu)   /* 0, 6, 16, 22 */
#define RCC_AHB1ENR_DMA1EN (1u << 21)

#endif
