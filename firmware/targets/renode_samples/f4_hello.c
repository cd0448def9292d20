/* Hello for the STM32F4 Discovery's USART2 console, printing the two lines Renode's
 * STM32F4_Discovery suite waits for from its hello binary ("Run Zephyr Hello World"). This is
 * metersim's own bare-metal program; it prints the suite's text and nothing more. */
#include "sample.h"

int main(void)
{
    console_init();
    put_line("Booting Zephyr OS");
    put_line("Hello World! stm32f4_disco");
    for (;;) {
        __asm volatile("wfi");
    }
}
