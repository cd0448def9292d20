/*
 * STM32F4 system configuration controller (RM0430 rev 8 §7.2): memory remap and the EXTI
 * line sources. Address: stm32f4.h.
 */
#ifndef REGS_SYSCFG_F4_H
#define REGS_SYSCFG_F4_H

#include <stdint.h>

typedef struct {
    volatile uint32_t MEMRMP;    /* 0x00 */
    volatile uint32_t PMC;       /* 0x04 */
    volatile uint32_t EXTICR[4]; /* 0x08 EXTI line x source port in bits 4*(x%4), A = 0 */
} syscfg_regs_t;

#endif
