/* Button sample for the STM32F103 (USART2 console): the user button on PC13 raises EXTI line
 * 13 on its falling edge (the button releasing the line), and each edge prints
 * "Button pressed at <ms>". Stands in for the button binary of Renode's STM32F103 suite. */
#include "sample.h"

#define AFIO_EXTICR4   REG(0x40010014u)
#define EXTI_IMR       REG(0x40010400u)
#define EXTI_FTSR      REG(0x4001040Cu)
#define EXTI_PR        REG(0x40010414u)
#define LINE13         (1u << 13)
#define IRQ_EXTI15_10  40u

static volatile uint32_t g_presses;
static volatile uint32_t g_pressed_at_ms;

void EXTI15_10_IRQHandler(void)
{
    if (EXTI_PR & LINE13) {
        EXTI_PR = LINE13;                          /* rc_w1 */
        g_pressed_at_ms = ticks_ms();
        g_presses++;
    }
}

int main(void)
{
    console_init();
    ticks_start();
    RCC_APB2ENR |= (1u << 0) | (1u << 4);          /* AFIOEN, IOPCEN; PC13 stays a floating input */
    AFIO_EXTICR4 = (AFIO_EXTICR4 & ~(0xFu << 4)) | (2u << 4);   /* EXTI13 <- port C */
    EXTI_FTSR |= LINE13;
    EXTI_IMR |= LINE13;
    nvic_enable(IRQ_EXTI15_10);
    put_line("Press the user defined button on the board");
    uint32_t seen = 0;
    for (;;) {
        __asm volatile("cpsid i");
        uint32_t n = g_presses;
        uint32_t at = g_pressed_at_ms;
        if (n == seen) {
            __asm volatile("wfi");                 /* wakes on a pending interrupt even masked */
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
