/*
 * STM32F1 GPIO port (RM0008 rev 21 §9.2): 4 configuration bits per pin, CNF[1:0] MODE[1:0]
 * (CRL pins 0-7, CRH pins 8-15). Ports: stm32f1.h.
 */
#ifndef REGS_GPIO_F1_H
#define REGS_GPIO_F1_H

#include <stdint.h>

typedef struct {
    volatile uint32_t CR[2]; /* 0x00 CRL pins 0-7, 0x04 CRH pins 8-15, 4 bits/pin */
    volatile uint32_t IDR;   /* 0x08 */
    volatile uint32_t ODR;   /* 0x0C */
    volatile uint32_t BSRR;  /* 0x10 */
    volatile uint32_t BRR;   /* 0x14 */
    volatile uint32_t LCKR;  /* 0x18 */
} gpio_regs_t;

/* CNF[1:0] MODE[1:0] nibbles */
#define GPIO_CFG_OUT_PP_2MHZ 0x2u     /* CNF=00 push-pull, MODE=10 */
#define GPIO_CFG_INPUT_FLOATING 0x4u  /* reset state */
#define GPIO_CFG_INPUT_PULL 0x8u      /* CNF=10: pull-up if ODR=1, pull-down if ODR=0 */
#define GPIO_CFG_AF_PP_50MHZ 0xBu     /* CNF=10 alternate push-pull, MODE=11 */
#define GPIO_CFG_AF_OD_2MHZ 0xEu      /* CNF=11 alternate open-drain, MODE=10 */

#endif
