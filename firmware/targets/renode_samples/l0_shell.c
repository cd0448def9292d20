/* A shell on the STM32L072's USART2 (LPUART1 with -DCONSOLE_LPUART1), as Renode's STM32L072
 * suite drives its shell binaries: a "$ " prompt and a `version` command answering with the
 * version line the suite waits for. */
#include "line_shell.h"

int main(void)
{
    static char line[LINE_MAX];
    console_init();
    for (;;) {
        put_str("$ ");
        if (read_line(line) == 0) {
            continue;
        }
        if (str_eq(line, "version")) {
            put_line("Zephyr version 2.6.99");
        } else {
            put_str(line);
            put_line(": command not found");
        }
    }
}
