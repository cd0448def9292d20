/*
 * STM32F4 GPIO port (RM0430 rev 8 §8.4): mode, type, speed and pull per pin, alternate
 * function 4 bits per pin. Ports: stm32f4.h.
 */
#ifndef REGS_GPIO_F4_H
#define REGS_GPIO_F4_H

#include <stdint.h>

typedef struct {
    volatile uint32_t MODER;   /* 0x00 2 bits/pin: 00 in, 01 out, 10 AF, 11 analog */
    volatile uint32_t OTYPER;  /* 0x04 */
    volatile uint32_t OSPEEDR; /* 0x08 */
    volatile uint32_t PUPDR;   /* 0x0C */
    volatile uint32_t IDR;     /* 0x10 */
    volatile uint32_t ODR;     /* 0x14 */
    volatile uint32_t BSRR;    /* 0x18 */
    volatile uint32_t LCKR;    /* 0x1C */
    volatile uint32_t AFR[2];  /* 0x20 AFRL (pins 0-7), 0x24 AFRH (pins 8-15), 4 bits/pin */
} gpio_regs_t;

#define GPIO_MODE_IN 0u
#define GPIO_MODE_OUT 1u
#define GPIO_MODE_AF 2u
#define GPIO_MODE_ANALOG 3u
#define GPIO_SPEED_HIGH 2u
#define GPIO_PULL_UP 1u
#define GPIO_PULL_DOWN 2u

#endif
