/* The basic app (BASIC, Table 3 process 1) as a separately linked app (apps/common): the
 * RTOS's loader starts it from its flashfs slot as an unprivileged process; its main thread
 * becomes the app's virtual-bus module (bapp.c). */
#include "app.h"
#include "bapp.h"

int main(void)
{
    basic_app_main();
    return 0;
}
