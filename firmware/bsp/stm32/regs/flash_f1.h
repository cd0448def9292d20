/*
 * STM32F1 flash interface, FPEC (RM0008 rev 21 §3.3.3, PM0075 §3). Address: stm32f1.h.
 */
#ifndef REGS_FLASH_F1_H
#define REGS_FLASH_F1_H

#include <stdint.h>

typedef struct {
    volatile uint32_t ACR;     /* 0x00 LATENCY[2:0] HLFCYA PRFTBE PRFTBS */
    volatile uint32_t KEYR;    /* 0x04 */
    volatile uint32_t OPTKEYR; /* 0x08 */
    volatile uint32_t SR;      /* 0x0C BSY PGERR WRPRTERR EOP */
    volatile uint32_t CR;      /* 0x10 PG PER MER OPTPG OPTER STRT LOCK OPTWRE ERRIE EOPIE */
    volatile uint32_t AR;      /* 0x14 */
    uint32_t reserved;         /* 0x18 */
    volatile uint32_t OBR;     /* 0x1C */
    volatile uint32_t WRPR;    /* 0x20 */
} flashif_regs_t;

#define FLASH_ACR_LATENCY_MASK 7u
#define FLASH_ACR_PRFTBE (1u << 4)
#define FLASH_KEY1 0x45670123u
#define FLASH_KEY2 0xCDEF89ABu
#define FLASH_SR_BSY (1u << 0)
#define FLASH_SR_PGERR (1u << 2)
#define FLASH_SR_WRPRTERR (1u << 4)
#define FLASH_SR_EOP (1u << 5)
#define FLASH_SR_ERRORS (FLASH_SR_PGERR | FLASH_SR_WRPRTERR)
#define FLASH_CR_PG (1u << 0)
#define FLASH_CR_PER (1u << 1)
#define FLASH_CR_MER (1u << 2)
#define FLASH_CR_STRT (1u << 6)
#define FLASH_CR_LOCK (1u << 7)
#define FLASH_CR_ERRIE (1u << 10)
#define FLASH_CR_EOPIE (1u << 12)

#endif
