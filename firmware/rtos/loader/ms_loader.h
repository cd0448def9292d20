/*
 * The RTOS's loader: starts the services and apps that the start-parameter file
 * (start.par in flashfs, docs/meter_flash_layout.md) lists with autostart, each as an
 * unprivileged process in the RAM window its image is linked for, after every check of its
 * image header (image/ms_image.h). A refused image gets a console line and an event record
 * (MS_EV_IMAGE_REFUSED, code = the MS_IMAGE_BAD_* check) and the others still start.
 */
#ifndef MS_LOADER_H
#define MS_LOADER_H

#include <stdint.h>

/* Process windows live here (docs/meter_flash_layout.md: SRAM after the kernel's 128 KiB). */
#define MS_LOADER_RAM_BASE 0x20020000u
#define MS_LOADER_RAM_END 0x20050000u

/* An app's payload starts with this block (apps/common/app.ld): the RAM its .data and .bss
 * take at the start of its window, so the kernel puts its heap and stacks after them. */
#define MS_APP_INFO_MAGIC 0x5041534Du     /* "MSAP" */
typedef struct {
    uint32_t magic;
    uint32_t ram_used;                    /* bytes from the window's base */
} ms_app_info_t;

/* Loader check results beyond the image header's (console and event code). */
#define MS_LOADER_BAD_ENTRY 100           /* entry outside the image */
#define MS_LOADER_BAD_WINDOW 101          /* RAM window not a process window */
#define MS_LOADER_BAD_INFO 102            /* no app info block, or static data past the window */
#define MS_LOADER_NO_FILE 103             /* start.par names a file flashfs does not have */

/* Called for each autostart image once the loader has decided (ok: checked and started as a
 * process; 0: refused or not started): the place for a board to confirm or reject an app on
 * trial after an upgrade (image/ms_upgrade.h, ms_upg_report_start). The default does nothing. */
void ms_loader_started(const char *name, uint32_t image_addr, int ok);

/* Start every autostart process of start.par; returns how many started, or < 0 when there
 * is no usable flashfs or start.par (said on the console). */
int ms_loader_start(void);

#endif
