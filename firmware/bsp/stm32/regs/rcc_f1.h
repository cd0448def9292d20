/*
 * STM32F1 reset and clock control (RM0008 rev 21 §7.3): the layout and the F1-only bits;
 * the bits both families share are in rcc.h. Address: stm32f1.h.
 */
#ifndef REGS_RCC_F1_H
#define REGS_RCC_F1_H

#include <stdint.h>
#include "rcc.h"

typedef struct {
    volatile uint32_t CR;       /* 0x00 */
    volatile uint32_t CFGR;     /* 0x04 */
    volatile uint32_t CIR;      /* 0x08 */
    volatile uint32_t APB2RSTR; /* 0x0C */
    volatile uint32_t APB1RSTR; /* 0x10 */
    volatile uint32_t AHBENR;   /* 0x14 */
    volatile uint32_t APB2ENR;  /* 0x18 */
    volatile uint32_t APB1ENR;  /* 0x1C */
    volatile uint32_t BDCR;     /* 0x20 */
    volatile uint32_t CSR;      /* 0x24 */
} rcc_regs_t;

#define RCC_CFGR_PPRE1_MASK (7u << 8)
#define RCC_CFGR_PPRE1_DIV2 (4u << 8)   /* APB1 = HCLK / 2 (PCLK1 <= 36 MHz) */
#define RCC_CFGR_PPRE2_MASK (7u << 11)
#define RCC_CFGR_ADCPRE_DIV6 (2u << 14)
#define RCC_CFGR_PLLSRC_HSE (1u << 16)
#define RCC_CFGR_PLLXTPRE (1u << 17)
#define RCC_CFGR_PLLMUL_POS 18u         /* PLLMUL code = factor - 2 */
#define RCC_CFGR_PLLMUL_MASK (0xFu << 18)
#define RCC_APB2ENR_AFIOEN (1u << 0)
#define RCC_APB2ENR_IOPAEN (1u << 2)    /* port n: IOPAEN << n */
#define RCC_APB2ENR_IOPBEN (1u << 3)
#define RCC_APB2ENR_IOPCEN (1u << 4)
#define RCC_APB2ENR_SPI1EN (1u << 12)
#define RCC_APB2ENR_USART1EN (1u << 14)
#define RCC_APB1ENR_BKPEN (1u << 27)
#define RCC_CSR_FLAGS 0xFC000000u       /* every reset flag */

#endif
