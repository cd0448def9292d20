/*
 * Power controller CR/CSR (RM0008 rev 21 §5.4, RM0430 rev 8 §5.4): PVD and backup-domain
 * access are the same on both families; VOS (voltage scaling) is the F4's.
 */
#ifndef REGS_PWR_H
#define REGS_PWR_H

#include <stdint.h>

typedef struct {
    volatile uint32_t CR;  /* 0x00 */
    volatile uint32_t CSR; /* 0x04 */
} pwr_regs_t;

#define PWR_CR_PVDE (1u << 4)
#define PWR_CR_PLS_POS 5u
#define PWR_CR_DBP (1u << 8)
#define PWR_CR_VOS_MASK (3u << 14)      /* F4 */
#define PWR_CR_VOS_SCALE1 (3u << 14)    /* F4: needed for HCLK up to 100 MHz */
#define PWR_CSR_PVDO (1u << 2)

#endif
