/* LOADID as a separately linked app (apps/common): the RTOS's loader starts it from its
 * flashfs slot as an unprivileged process; the app then registers on the virtual bus. */
#include "app.h"
#include "apps.h"

int main(void)
{
    loadid_app_main(0);
    return 0;
}
