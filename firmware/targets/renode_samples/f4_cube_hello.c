/* "Hello World!" every 500 ms on the STM32F4's USART2, the way a CubeMX project's main loop
 * prints it. With FLASH_LATENCY_WS defined it first programs that many flash wait states and
 * reads FLASH_ACR back until they are in effect (RM0090 3.5.1: check the new latency before
 * relying on it), as a custom-latency CubeMX start-up does. */
#include "sample.h"

#define FLASH_ACR  REG(0x40023C00u)

int main(void)
{
#ifdef FLASH_LATENCY_WS
    FLASH_ACR = (FLASH_ACR & ~0xFu) | FLASH_LATENCY_WS | (1u << 8) | (1u << 9) | (1u << 10);
    while ((FLASH_ACR & 0xFu) != FLASH_LATENCY_WS) {
    }
#endif
    console_init();
    ticks_start();
    for (;;) {
        put_line("Hello World!");
        delay_ms(500);
    }
}
