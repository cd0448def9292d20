/* The basic app's modules, one line each (bapp.h; docs/meter_basic_app.md "Adding a module").
 * A request goes to the first module whose owns() takes it. */
#include "bapp.h"

extern const bapp_module_t bapp_tou, bapp_control, bapp_display;
extern const bapp_module_t bapp_freeze, bapp_events;

const bapp_module_t *const bapp_modules[] = {
    &bapp_tou,
    &bapp_control,
    &bapp_display,
    &bapp_freeze,
    &bapp_events,
};
const unsigned bapp_module_count = sizeof bapp_modules / sizeof bapp_modules[0];
