/*
 * STM32F1 real-time clock (RM0008 rev 21 §18.4: a 32-bit seconds counter in 16-bit halves)
 * and the backup data registers it keeps its mark in (BKP, §6.4). Addresses: stm32f1.h.
 */
#ifndef REGS_RTC_F1_H
#define REGS_RTC_F1_H

#include <stdint.h>

typedef struct {
    volatile uint32_t CRH;  /* 0x00 */
    volatile uint32_t CRL;  /* 0x04 */
    volatile uint32_t PRLH; /* 0x08 */
    volatile uint32_t PRLL; /* 0x0C */
    volatile uint32_t DIVH; /* 0x10 */
    volatile uint32_t DIVL; /* 0x14 */
    volatile uint32_t CNTH; /* 0x18 */
    volatile uint32_t CNTL; /* 0x1C */
    volatile uint32_t ALRH; /* 0x20 */
    volatile uint32_t ALRL; /* 0x24 */
} rtc_regs_t;

#define RTC_CRL_RSF (1u << 3)
#define RTC_CRL_CNF (1u << 4)
#define RTC_CRL_RTOFF (1u << 5)

typedef struct {
    uint32_t reserved;      /* 0x00 */
    volatile uint32_t DR[10]; /* 0x04 DR1..DR10 (16 bits each): DR[0] is DR1 */
} bkp_regs_t;

#endif
