/* A command server on the STM32F746 Discovery's USART1, shaped like the FreeRTOS+CLI demo
 * Renode's STM32F7 suite drives (no RTOS here): a "> " prompt, `help` listing the commands,
 * `echo-parameters` printing each parameter on a numbered line, and an empty line running the
 * previous command again. */
#include "line_shell.h"

static void help(void)
{
    put_line("help:");
    put_line(" Lists all the registered commands");
    put_line("");
    put_line("echo-parameters <...>:");
    put_line(" Echoes each parameter on a numbered line");
    put_line("");
    put_line("[Press ENTER to execute the previous command again]");
}

static void echo_parameters(const char *args)
{
    put_line("The parameters were:");
    uint32_t n = 0;
    while (*args) {
        while (*args == ' ') {
            args++;
        }
        if (!*args) {
            break;
        }
        put_uint(++n);
        put_str(": ");
        while (*args && *args != ' ') {
            put_char(*args++);
        }
        put_char('\n');
    }
}

static void run(const char *line)
{
    if (str_eq(line, "help")) {
        help();
    } else if (starts_with(line, "echo-parameters") && (line[15] == ' ' || !line[15])) {
        echo_parameters(line + 15);
    } else {
        put_line("Command not recognised.  Enter 'help' to view a list of available commands.");
    }
}

int main(void)
{
    static char line[LINE_MAX], previous[LINE_MAX];
    console_init();
    put_line("FreeRTOS command server.");
    for (;;) {
        put_str("> ");
        if (read_line(line) == 0) {
            if (previous[0]) {
                run(previous);
            }
            continue;
        }
        for (int i = 0; i < LINE_MAX; i++) {
            previous[i] = line[i];
        }
        run(line);
    }
}
