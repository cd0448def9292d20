/*
 * USART (v1) registers, the same on the STM32F1 and F4 (RM0008 rev 21 §27.6, RM0430 rev 8
 * §26.6). Instances and their addresses: the family header (stm32f1.h / stm32f4.h).
 */
#ifndef REGS_USART_H
#define REGS_USART_H

#include <stdint.h>

typedef struct {
    volatile uint32_t SR;   /* 0x00 */
    volatile uint32_t DR;   /* 0x04 */
    volatile uint32_t BRR;  /* 0x08 */
    volatile uint32_t CR1;  /* 0x0C */
    volatile uint32_t CR2;  /* 0x10 */
    volatile uint32_t CR3;  /* 0x14 */
    volatile uint32_t GTPR; /* 0x18 */
} usart_regs_t;

#define USART_SR_PE (1u << 0)
#define USART_SR_FE (1u << 1)
#define USART_SR_NE (1u << 2)   /* noise (NF in RM0430) */
#define USART_SR_ORE (1u << 3)
#define USART_SR_IDLE (1u << 4)
#define USART_SR_RXNE (1u << 5)
#define USART_SR_TC (1u << 6)
#define USART_SR_TXE (1u << 7)
#define USART_CR1_RE (1u << 2)
#define USART_CR1_TE (1u << 3)
#define USART_CR1_IDLEIE (1u << 4)
#define USART_CR1_RXNEIE (1u << 5)
#define USART_CR1_TCIE (1u << 6)
#define USART_CR1_TXEIE (1u << 7)
#define USART_CR1_PEIE (1u << 8)
#define USART_CR1_PS (1u << 9)
#define USART_CR1_PCE (1u << 10)
#define USART_CR1_M (1u << 12)
#define USART_CR1_UE (1u << 13)
#define USART_CR2_STOP_POS 12u
/* Smartcard mode (RM0430 §26.3.11): CK output, SCEN, parity NACK, GTPR guard time/prescaler */
#define USART_CR2_CLKEN (1u << 11)
#define USART_CR3_EIE (1u << 0)
#define USART_CR3_DMAR (1u << 6)       /* receive by DMA (RM0008 §27.3.13) */
#define USART_CR3_DMAT (1u << 7)       /* transmit by DMA */
#define USART_CR3_NACK (1u << 4)
#define USART_CR3_SCEN (1u << 5)
#define USART_GTPR_PSC_POS 0u         /* smartcard: CK = fCK / (2 x PSC[4:0]) */
#define USART_GTPR_GT_POS 8u          /* guard time in baud periods before TC */

#endif
