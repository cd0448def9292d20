/*
 * ARMv7-M Memory Protection Unit (PMSAv7), 0xE000ED90 (ARMv7-M ARM B3.5,
 * PM0214 4.5). The STM32F4's Cortex-M4F has 8 regions; the STM32F1's
 * Cortex-M3 has none (TYPE reads 0).
 */
#ifndef MPU_H
#define MPU_H

#include <stdint.h>

typedef struct {
    volatile uint32_t TYPE;    /* 0x00 DREGION [15:8] */
    volatile uint32_t CTRL;    /* 0x04 ENABLE, HFNMIENA, PRIVDEFENA */
    volatile uint32_t RNR;     /* 0x08 region number */
    volatile uint32_t RBAR;    /* 0x0C base address, VALID, REGION */
    volatile uint32_t RASR;    /* 0x10 XN, AP, TEX/S/C/B, SRD, SIZE, ENABLE */
    volatile uint32_t RBAR_A1; /* 0x14 .. 0x20: aliases of RBAR/RASR */
    volatile uint32_t RASR_A1;
    volatile uint32_t RBAR_A2;
    volatile uint32_t RASR_A2;
    volatile uint32_t RBAR_A3;
    volatile uint32_t RASR_A3;
} mpu_regs_t;
#define MPU ((mpu_regs_t *)0xE000ED90u)

#define MPU_CTRL_ENABLE (1u << 0)
#define MPU_CTRL_HFNMIENA (1u << 1)
#define MPU_CTRL_PRIVDEFENA (1u << 2)

#define MPU_RBAR_VALID (1u << 4)

/* RASR fields */
#define MPU_RASR_ENABLE (1u << 0)
#define MPU_RASR_SIZE(log2_bytes) ((((uint32_t)(log2_bytes)) - 1u) << 1) /* 5 (32 B) .. 32 (4 GiB) */
#define MPU_RASR_SRD(mask) (((uint32_t)(mask) & 0xFFu) << 8)
#define MPU_RASR_C (1u << 17)
#define MPU_RASR_S (1u << 18)
#define MPU_RASR_AP(ap) (((uint32_t)(ap) & 7u) << 24)
#define MPU_RASR_XN (1u << 28)

/* AP values (Table B3-15): privileged / unprivileged */
#define MPU_AP_NONE 0u      /* no access / no access */
#define MPU_AP_PRIV_RW 1u   /* RW / none */
#define MPU_AP_PRIV_RW_USER_RO 2u
#define MPU_AP_FULL 3u      /* RW / RW */
#define MPU_AP_PRIV_RO 5u   /* RO / none */
#define MPU_AP_RO 6u        /* RO / RO */

/* MMFSR bits in SCB->CFSR [7:0] */
#define SCB_CFSR_IACCVIOL (1u << 0)
#define SCB_CFSR_DACCVIOL (1u << 1)
#define SCB_CFSR_MUNSTKERR (1u << 3)
#define SCB_CFSR_MSTKERR (1u << 4)
#define SCB_CFSR_MLSPERR (1u << 5)
#define SCB_CFSR_MMARVALID (1u << 7)

/* Program region `n` (base aligned to its size). */
static inline void mpu_set_region(unsigned n, uint32_t base, uint32_t rasr)
{
    MPU->RBAR = (base & ~0x1Fu) | MPU_RBAR_VALID | (n & 0xFu);
    MPU->RASR = rasr;
}

#endif
