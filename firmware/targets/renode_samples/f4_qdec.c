/* Quadrature decoder on the STM32F4 (USART2 console): PD12 and PD13, as GPIO outputs, play
 * an encoder turning forward (A = PD12 leading B = PD13), 10 steps a second; TIM3 in encoder
 * mode 3 counts both edges of TI1 (PA6) and TI2 (PA7) (RM0090 18.3.16; the board or the
 * platform wires PD12 to PA6 and PD13 to PA7) with 360 counts a turn, and the program prints
 * "Position = <n> degrees" each second. Stands in for the quadrature decoder binary of Renode's
 * STM32F4_Discovery suite. */
#include "sample.h"

#define GPIOA_MODER REG(0x40020000u)
#define GPIOA_AFRL  REG(0x40020020u)
#define GPIOD_MODER REG(0x40020C00u)
#define GPIOD_BSRR  REG(0x40020C18u)
#define TIM3_BASE   0x40000400u
#define TIM3_CR1    REG(TIM3_BASE + 0x00u)
#define TIM3_SMCR   REG(TIM3_BASE + 0x08u)
#define TIM3_CCMR1  REG(TIM3_BASE + 0x18u)
#define TIM3_CCER   REG(TIM3_BASE + 0x20u)
#define TIM3_CNT    REG(TIM3_BASE + 0x24u)
#define TIM3_ARR    REG(TIM3_BASE + 0x2Cu)
#define COUNTS_PER_TURN 360u
#define STEPS_PER_S     10u

static void set_pin(unsigned pin, int high)
{
    GPIOD_BSRR = high ? (1u << pin) : (1u << (pin + 16u));
}

int main(void)
{
    console_init();
    ticks_start();
    RCC_AHB1ENR |= (1u << 0) | (1u << 3);           /* GPIOAEN, GPIODEN */
    RCC_APB1ENR |= 1u << 1;                         /* TIM3EN */
    GPIOD_MODER = (GPIOD_MODER & ~(0xFu << 24)) | (0x5u << 24);   /* PD12, PD13: outputs */
    GPIOA_MODER = (GPIOA_MODER & ~(0xFu << 12)) | (0xAu << 12);   /* PA6, PA7: AF */
    GPIOA_AFRL = (GPIOA_AFRL & ~(0xFFu << 24)) | (0x22u << 24);   /* AF2: TIM3_CH1, CH2 */
    TIM3_CCMR1 = 1u | (1u << 8);                    /* IC1 <- TI1, IC2 <- TI2 */
    TIM3_CCER = 0;                                  /* both polarities non-inverted */
    TIM3_SMCR = 3u;                                 /* encoder mode 3: both edges */
    TIM3_ARR = COUNTS_PER_TURN - 1u;
    TIM3_CNT = 0;
    TIM3_CR1 = 1u;                                  /* CEN */

    int a = 0, b = 0;
    for (;;) {
        /* One quadrature step every 100 ms: A rises, B rises, A falls, B falls. */
        for (unsigned i = 0; i < STEPS_PER_S; i++) {
            delay_ms(1000u / STEPS_PER_S);
            if (a == b) {
                a = !a;
                set_pin(12, a);
            } else {
                b = !b;
                set_pin(13, b);
            }
        }
        put_str("Position = ");
        put_uint(TIM3_CNT * 360u / COUNTS_PER_TURN);
        put_line(" degrees");
    }
}
