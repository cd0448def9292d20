/*
 * STM32F1 DMA controller (channel DMA, RM0008 rev 21 §13.4): ISR/IFCR, then per channel x
 * CCRx, CNDTRx, CPARx, CMARx at 0x08 + 20 * (x - 1). Instances: the family header (DMA1,
 * seven channels; DMA2, five, on high-density parts).
 */
#ifndef REGS_DMA_F1_H
#define REGS_DMA_F1_H

#include <stdint.h>

typedef struct {
    volatile uint32_t CCR, CNDTR, CPAR, CMAR, reserved;
} dma_ch_t;

typedef struct {
    volatile uint32_t ISR;   /* 0x00: GIF TCIF HTIF TEIF, 4 bits per channel */
    volatile uint32_t IFCR;  /* 0x04: write 1 to clear */
    dma_ch_t CH[7];          /* CH[x - 1] is channel x */
} dma_regs_t;

#define DMA_CCR_EN (1u << 0)
#define DMA_CCR_TCIE (1u << 1)
#define DMA_CCR_HTIE (1u << 2)
#define DMA_CCR_TEIE (1u << 3)
#define DMA_CCR_DIR (1u << 4)          /* 1: memory to peripheral */
#define DMA_CCR_CIRC (1u << 5)
#define DMA_CCR_MINC (1u << 7)
#define DMA_CCR_PSIZE_16 (1u << 8)
#define DMA_CCR_MSIZE_16 (1u << 10)
#define DMA_ISR_GIF 1u                 /* per channel, at bit 4 * (x - 1) */
#define DMA_ISR_TCIF 2u
#define DMA_ISR_HTIF 4u
#define DMA_ISR_TEIF 8u
#define DMA_ISR_SHIFT(x) (4u * ((x) - 1u))
#define RCC_AHBENR_DMA1EN (1u << 0)

#endif
