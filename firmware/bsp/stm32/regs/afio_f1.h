/*
 * STM32F1 alternate-function I/O (RM0008 rev 21 §9.4): remaps and the EXTI line sources.
 * Address: stm32f1.h.
 */
#ifndef REGS_AFIO_F1_H
#define REGS_AFIO_F1_H

#include <stdint.h>

typedef struct {
    volatile uint32_t EVCR;      /* 0x00 */
    volatile uint32_t MAPR;      /* 0x04 */
    volatile uint32_t EXTICR[4]; /* 0x08 EXTI line x source port in bits 4*(x%4), A = 0 */
    uint32_t reserved;           /* 0x18 */
    volatile uint32_t MAPR2;     /* 0x1C */
} afio_regs_t;

#endif
