/* STM32F072B-DISCO board pins the F0 samples use: LD3 (red) on PC6, the user button on PA0
 * (RM0091 8.4: MODER, IDR, BSRR). */
#ifndef F0_GPIO_H
#define F0_GPIO_H

#include "sample.h"

#define GPIOA_IDR   REG(0x48000010u)
#define GPIOC_MODER REG(0x48000800u)
#define GPIOC_BSRR  REG(0x48000818u)
#define LED_PIN     6u

static inline void led_init(void)
{
    RCC_AHBENR |= 1u << 19;                         /* IOPCEN */
    GPIOC_MODER = (GPIOC_MODER & ~(3u << (2u * LED_PIN))) | (1u << (2u * LED_PIN));   /* output */
}

static inline void led_set(int on)
{
    GPIOC_BSRR = on ? (1u << LED_PIN) : (1u << (LED_PIN + 16u));
}

#endif
