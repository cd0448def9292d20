/*
 * What an app of the management unit links with (apps/common): the kernel API of ms_rtos.h,
 * reached through SVC (app_sys.c), and ms_printk formatting in the app (rtos/src/ms_format.c).
 * An app's main() runs as its process's main thread; returning ends the process.
 */
#ifndef APP_H
#define APP_H

#include "ms_rtos.h"

int main(void);

#endif
