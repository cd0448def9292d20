/*
 * Independent watchdog, the same on the STM32F1 and F4 (RM0008 rev 21 §19.4, RM0430 rev 8
 * §17.4); clocked by the LSI, whose rate is per family (IWDG_LSI_HZ in the family header).
 */
#ifndef REGS_IWDG_H
#define REGS_IWDG_H

#include <stdint.h>

typedef struct {
    volatile uint32_t KR;  /* 0x00 keys below */
    volatile uint32_t PR;  /* 0x04 prescaler /4 << PR */
    volatile uint32_t RLR; /* 0x08 12-bit reload */
    volatile uint32_t SR;  /* 0x0C PVU RVU */
} iwdg_regs_t;

#define IWDG_KEY_UNLOCK 0x5555u
#define IWDG_KEY_RELOAD 0xAAAAu
#define IWDG_KEY_START 0xCCCCu

#endif
