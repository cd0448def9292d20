/* User button on PA0 of the STM32F072B-DISCO (USART1 console, LD3 on PC6), as firmware for an
 * active-low button sees it: the line going low (falling edge) is a press and prints "Button
 * pressed at <ms>", and LD3 is lit while the line is low. EXTI line 0 takes both edges
 * (RM0091 11.2: SYSCFG_EXTICR1 selects port A for line 0, its reset value); the interrupt is
 * EXTI0_1 (IRQ 5). Stands in for the button binary of Renode's STM32F072b suite. */
#include "f0_gpio.h"

#define EXTI_IMR    REG(0x40010400u)
#define EXTI_RTSR   REG(0x40010408u)
#define EXTI_FTSR   REG(0x4001040Cu)
#define EXTI_PR     REG(0x40010414u)
#define IRQ_EXTI0_1 5u

static volatile uint32_t g_presses;
static volatile uint32_t g_pressed_at_ms;

static int line_low(void)
{
    return !(GPIOA_IDR & 1u);
}

void EXTI0_1_IRQHandler(void)
{
    if (EXTI_PR & 1u) {
        EXTI_PR = 1u;                               /* rc_w1 */
        int low = line_low();
        led_set(low);
        if (low) {
            g_pressed_at_ms = ticks_ms();
            g_presses++;
        }
    }
}

int main(void)
{
    console_init();
    ticks_start();
    led_init();
    RCC_AHBENR |= 1u << 17;                         /* IOPAEN: PA0 stays an input */
    RCC_APB2ENR |= 1u << 0;                         /* SYSCFGEN */
    EXTI_RTSR |= 1u;
    EXTI_FTSR |= 1u;
    EXTI_IMR |= 1u;
    nvic_enable(IRQ_EXTI0_1);
    led_set(line_low());
    uint32_t seen = 0;
    for (;;) {
        __asm volatile("cpsid i");
        uint32_t n = g_presses;
        uint32_t at = g_pressed_at_ms;
        if (n == seen) {
            __asm volatile("wfi");
        }
        __asm volatile("cpsie i");
        if (n != seen) {
            seen = n;
            put_str("Button pressed at ");
            put_uint(at);
            put_char('\n');
        }
    }
}
