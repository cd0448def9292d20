/*
 * EXTI registers, the same on the STM32F1 and F4 (RM0008 rev 21 §10.3, RM0430 rev 8 §10.3).
 * Address: the family header.
 */
#ifndef REGS_EXTI_H
#define REGS_EXTI_H

#include <stdint.h>

typedef struct {
    volatile uint32_t IMR;   /* 0x00 */
    volatile uint32_t EMR;   /* 0x04 */
    volatile uint32_t RTSR;  /* 0x08 */
    volatile uint32_t FTSR;  /* 0x0C */
    volatile uint32_t SWIER; /* 0x10 */
    volatile uint32_t PR;    /* 0x14 rc_w1 */
} exti_regs_t;

#define EXTI_LINE_PVD 16u

#endif
