/*
 * Start-up of an app: the kernel starts its main thread here, unprivileged, in the app's RAM
 * window. It copies .data from the image, zeroes .bss, runs main() and ends the process with
 * main's result. The app info block tells the loader how much of the window that data takes.
 */
#include <stdint.h>
#include "app.h"
#include "ms_loader.h"

extern uint32_t __data_start[], __data_end[], __data_load[], __bss_start[], __bss_end[];
extern char __ms_ram_used[];

__attribute__((section(".ms_app_info"), used))
const ms_app_info_t ms_app_info = {MS_APP_INFO_MAGIC, (uint32_t)(uintptr_t)__ms_ram_used};

void app_start(void *arg);
void app_start(void *arg)
{
    (void)arg;
    for (uint32_t *s = __data_load, *d = __data_start; d < __data_end;)
        *d++ = *s++;
    for (uint32_t *d = __bss_start; d < __bss_end;)
        *d++ = 0;
    ms_process_exit(main());
}
