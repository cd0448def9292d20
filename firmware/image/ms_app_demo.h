/*
 * Interface between the RTOS stand-in (targets/meter_rtos_demo) and the demo apps
 * (apps/demo_app): the app's entry is called privileged with this table and returns 0 when
 * its start check passed. The real RTOS starts apps unprivileged in their MPU window instead.
 */
#ifndef MS_APP_DEMO_H
#define MS_APP_DEMO_H

#include <stdint.h>

typedef struct {
    void (*printf)(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
    uint32_t rtos_version;
} ms_demo_api_t;

typedef int (*ms_demo_entry_t)(const ms_demo_api_t *api);

#endif
