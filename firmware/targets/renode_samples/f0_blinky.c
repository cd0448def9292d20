/* LD3 (PC6) on the STM32F072B-DISCO toggles every 500 ms, timed by SysTick. Stands in for the
 * blinky binary of Renode's STM32F072b suite. */
#include "f0_gpio.h"

int main(void)
{
    led_init();
    ticks_start();
    int on = 1;
    for (;;) {
        led_set(on);
        delay_ms(500);
        on = !on;
    }
}
