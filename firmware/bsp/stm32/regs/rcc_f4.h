/*
 * STM32F4 reset and clock control (RM0430 rev 8 §6.3; the same up to CSR in RM0090): the
 * layout and the F4-only bits; the bits both families share are in rcc.h.
 * Address: stm32f4.h.
 */
#ifndef REGS_RCC_F4_H
#define REGS_RCC_F4_H

#include <stdint.h>
#include "rcc.h"

typedef struct {
    volatile uint32_t CR;         /* 0x00 */
    volatile uint32_t PLLCFGR;    /* 0x04 */
    volatile uint32_t CFGR;       /* 0x08 */
    volatile uint32_t CIR;        /* 0x0C */
    volatile uint32_t AHB1RSTR;   /* 0x10 */
    volatile uint32_t AHB2RSTR;   /* 0x14 */
    volatile uint32_t AHB3RSTR;   /* 0x18 */
    uint32_t reserved0;           /* 0x1C */
    volatile uint32_t APB1RSTR;   /* 0x20 */
    volatile uint32_t APB2RSTR;   /* 0x24 */
    uint32_t reserved1[2];        /* 0x28 */
    volatile uint32_t AHB1ENR;    /* 0x30 */
    volatile uint32_t AHB2ENR;    /* 0x34 */
    volatile uint32_t AHB3ENR;    /* 0x38 */
    uint32_t reserved2;           /* 0x3C */
    volatile uint32_t APB1ENR;    /* 0x40 */
    volatile uint32_t APB2ENR;    /* 0x44 */
    uint32_t reserved3[2];        /* 0x48 */
    volatile uint32_t AHB1LPENR;  /* 0x50 */
    volatile uint32_t AHB2LPENR;  /* 0x54 */
    volatile uint32_t AHB3LPENR;  /* 0x58 */
    uint32_t reserved4;           /* 0x5C */
    volatile uint32_t APB1LPENR;  /* 0x60 */
    volatile uint32_t APB2LPENR;  /* 0x64 */
    uint32_t reserved5[2];        /* 0x68 */
    volatile uint32_t BDCR;       /* 0x70 */
    volatile uint32_t CSR;        /* 0x74 */
} rcc_regs_t;

#define RCC_PLLCFGR_PLLM_POS 0u
#define RCC_PLLCFGR_PLLN_POS 6u
#define RCC_PLLCFGR_PLLP_POS 16u       /* PLLP code: 0 = /2, 1 = /4, 2 = /6, 3 = /8 */
#define RCC_PLLCFGR_PLLSRC_HSE (1u << 22)
#define RCC_PLLCFGR_PLLQ_POS 24u
#define RCC_PLLCFGR_PLLR_POS 28u
#define RCC_CFGR_PPRE1_MASK (7u << 10)
#define RCC_CFGR_PPRE1_DIV2 (4u << 10)  /* APB1 = HCLK / 2 (PCLK1 <= 50 MHz) */
#define RCC_CFGR_PPRE2_MASK (7u << 13)
#define RCC_AHB1ENR_GPIOAEN (1u << 0)   /* port n: GPIOAEN << n */
#define RCC_AHB1ENR_GPIOBEN (1u << 1)
#define RCC_AHB1ENR_GPIOCEN (1u << 2)
#define RCC_APB2ENR_USART1EN (1u << 4)
#define RCC_APB2ENR_USART6EN (1u << 5)
#define RCC_APB2ENR_SPI1EN (1u << 12)
#define RCC_APB2ENR_SYSCFGEN (1u << 14)
#define RCC_CSR_BORRSTF (1u << 25)
#define RCC_CSR_FLAGS 0xFE000000u       /* every reset flag */

#endif
