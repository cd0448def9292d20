/*
 * Demo app of the management unit: linked per slot (its flashfs extent, image/ld/meter_app.ld),
 * started by the RTOS stand-in from flashfs per start.par. It prints the name and version of
 * its own image header (filled in by `metersim image`) and passes its start check; built with
 * -DAPP_FAIL_START (demo_app_bad) it fails it, which makes an upgrade to it roll back.
 */
#include "ms_app_demo.h"
#include "ms_image.h"

extern const ms_image_hdr_t ms_header;

int app_entry(const ms_demo_api_t *api);
int app_entry(const ms_demo_api_t *api)
{
    const volatile ms_image_hdr_t *h = &ms_header;
    api->printf("app %s %u.%u.%u running\n", (const char *)h->name, (unsigned)(h->version >> 16),
                (unsigned)(h->version >> 8 & 0xFFu), (unsigned)(h->version & 0xFFu));
#ifdef APP_FAIL_START
    api->printf("app %s: self-test failed\n", (const char *)h->name);
    return -1;
#else
    return 0;
#endif
}
