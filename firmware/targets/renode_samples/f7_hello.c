/* Hello on the STM32F746 Discovery's USART1: the line Renode's STM32F7 suite waits for from its
 * hello binary. metersim's own program; it prints the suite's text and nothing more. */
#include "sample.h"

int main(void)
{
    console_init();
    put_line("HELLO WORLD MBED+RENODE");
    for (;;) {
        __asm volatile("wfi");
    }
}
