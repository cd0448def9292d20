/* Console echo on the STM32F072B-DISCO's USART1: every character received is sent back, a
 * carriage return as CR LF. Stands in for the echo binary of Renode's STM32F072b suite. */
#include "sample.h"

int main(void)
{
    console_init();
    put_line("Start typing characters to see them echoed back");
    for (;;) {
        int c = get_char();
        if (c == '\r') {
            put_char('\n');                         /* put_char sends CR LF */
        } else if (c >= 0) {
            put_char((char)c);
        }
    }
}
