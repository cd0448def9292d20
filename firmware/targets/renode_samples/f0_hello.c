/* Hello on the STM32F072B-DISCO's USART1: the line Renode's STM32F072b suite waits for from
 * its hello binary. metersim's own program; it prints the suite's text and nothing more. */
#include "sample.h"

int main(void)
{
    console_init();
    put_line("Hello World! stm32f072b_disco");
    for (;;) {
        __asm volatile("wfi");
    }
}
