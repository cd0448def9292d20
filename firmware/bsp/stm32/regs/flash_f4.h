/*
 * STM32F4 flash interface (RM0430 rev 8 §3.8; ACR LATENCY: 3 wait states for
 * 90 < HCLK <= 100 MHz at 2.7-3.6 V, Table 6). Address: stm32f4.h.
 */
#ifndef REGS_FLASH_F4_H
#define REGS_FLASH_F4_H

#include <stdint.h>

typedef struct {
    volatile uint32_t ACR;     /* 0x00 LATENCY[3:0] PRFTEN ICEN DCEN ICRST DCRST */
    volatile uint32_t KEYR;    /* 0x04 */
    volatile uint32_t OPTKEYR; /* 0x08 */
    volatile uint32_t SR;      /* 0x0C EOP OPERR WRPERR PGAERR PGPERR PGSERR RDERR BSY */
    volatile uint32_t CR;      /* 0x10 PG SER MER SNB PSIZE STRT EOPIE ERRIE LOCK */
    volatile uint32_t OPTCR;   /* 0x14 */
} flashif_regs_t;

#define FLASH_ACR_LATENCY_MASK 0xFu
#define FLASH_ACR_PRFTEN (1u << 8)
#define FLASH_ACR_ICEN (1u << 9)
#define FLASH_ACR_DCEN (1u << 10)
#define FLASH_KEY1 0x45670123u
#define FLASH_KEY2 0xCDEF89ABu
#define FLASH_SR_EOP (1u << 0)
#define FLASH_SR_OPERR (1u << 1)
#define FLASH_SR_WRPERR (1u << 4)
#define FLASH_SR_PGAERR (1u << 5)
#define FLASH_SR_PGPERR (1u << 6)
#define FLASH_SR_PGSERR (1u << 7)
#define FLASH_SR_RDERR (1u << 8)
#define FLASH_SR_BSY (1u << 16)
#define FLASH_SR_ERRORS (FLASH_SR_OPERR | FLASH_SR_WRPERR | FLASH_SR_PGAERR | FLASH_SR_PGPERR | \
                         FLASH_SR_PGSERR | FLASH_SR_RDERR)
#define FLASH_CR_PG (1u << 0)
#define FLASH_CR_SER (1u << 1)
#define FLASH_CR_MER (1u << 2)
#define FLASH_CR_SNB_POS 3u
#define FLASH_CR_PSIZE_X8 (0u << 8)
#define FLASH_CR_PSIZE_X32 (2u << 8)
#define FLASH_CR_STRT (1u << 16)
#define FLASH_CR_EOPIE (1u << 24)
#define FLASH_CR_ERRIE (1u << 25)
#define FLASH_CR_LOCK (1u << 31)

#endif
