/*
 * Loading from flashfs (see ms_loader.h). Images run in place (linked for their flashfs
 * slot), so loading is checking and mapping: the kernel creates the process with the image's
 * window as its memory (one MPU region) and the image's entry as its main thread, which runs
 * unprivileged and sets up the app's own .data/.bss from its image (apps/common/app_crt0.c).
 */
#include <string.h>
#include "ms_flashfs.h"
#include "ms_image.h"
#include "ms_loader.h"
#include "ms_driver.h"

static const char *check_name(int r)
{
    switch (r) {
    case MS_LOADER_BAD_ENTRY: return "entry";
    case MS_LOADER_BAD_WINDOW: return "ram window";
    case MS_LOADER_BAD_INFO: return "app info";
    case MS_LOADER_NO_FILE: return "file";
    default: return ms_image_check_name(r);
    }
}

__attribute__((weak)) void ms_loader_started(const char *name, uint32_t image_addr, int ok)
{
    (void)name;
    (void)image_addr;
    (void)ok;
}

static void refuse(const char *name, uint32_t addr, int r)
{
    ms_printk("loader: %s refused: %s check failed\n", name, check_name(r));
    ms_evlog_add(MS_EV_IMAGE_REFUSED, r, name, addr, 0);
}

/* The checks beyond the header's: entry inside the payload, window inside the process
 * windows, the app's static data inside its window. */
static int check_process_image(const ms_image_hdr_t *h, uint32_t *ram_used)
{
    uint32_t code = (uint32_t)(uintptr_t)ms_image_payload(h);
    uint32_t entry = h->entry & ~1u;
    if (!(h->entry & 1u) || entry < code || entry >= code + h->length)
        return MS_LOADER_BAD_ENTRY;
    uint32_t base = h->ram_base, size = h->ram_size;
    if (size < 4096u || (size & (size - 1u)) || (base & (size - 1u)) || base < MS_LOADER_RAM_BASE ||
        base > MS_LOADER_RAM_END - size)
        return MS_LOADER_BAD_WINDOW;
    const ms_app_info_t *info = (const ms_app_info_t *)(uintptr_t)code;
    if (h->length < sizeof *info || info->magic != MS_APP_INFO_MAGIC || info->ram_used > size / 2u)
        return MS_LOADER_BAD_INFO;
    *ram_used = info->ram_used;
    return MS_IMAGE_OK;
}

static int start_one(const ms_start_rec_t *rec, const char *name)
{
    const void *data;
    uint32_t extent;
    if (ms_flashfs_find(name, &data, &extent)) {
        refuse(name, 0, MS_LOADER_NO_FILE);
        return -1;
    }
    const ms_image_hdr_t *h = data;
    uint32_t addr = (uint32_t)(uintptr_t)data, ram_used = 0;
    int r = ms_image_check(h, extent, addr, 0);
    if (r == MS_IMAGE_OK && h->kind != MS_IMAGE_APP && h->kind != MS_IMAGE_SERVICE)
        r = MS_IMAGE_BAD_KIND;
    if (r == MS_IMAGE_OK)
        r = check_process_image(h, &ram_used);
    if (r != MS_IMAGE_OK) {
        refuse(name, addr, r);
        return -1;
    }
    ms_process_desc_t d;
    memset(&d, 0, sizeof d);
    d.name = name;
    d.entry = (ms_thread_entry_t)(uintptr_t)h->entry;
    d.prio = rec->prio;
    d.stack_size = rec->stack_size;
    d.max_threads = rec->max_threads;
    d.max_kobjs = rec->max_kobjs;
    d.max_files = rec->max_files;
    d.perms = rec->perms;
    for (unsigned i = 0; i < MS_EEPROM_RANGES && i < 2u; i++) {
        d.eeprom[i].start = rec->eeprom[i].start;
        d.eeprom[i].size = rec->eeprom[i].size;
    }
    d.mem_base = h->ram_base;
    d.mem_size = h->ram_size;
    d.mem_static = ram_used;
    ms_handle_t pid = ms_process_create(&d);
    if (pid < 0) {
        ms_printk("loader: %s not started: %s\n", name, ms_strerror(pid));
        ms_evlog_add(MS_EV_IMAGE_REFUSED, MS_LOADER_BAD_WINDOW, name, addr, (uint32_t)pid);
        return -1;
    }
    ms_printk("loader: started %s %u.%u.%u (window 0x%08x %u KiB, prio %u)\n", name,
              (unsigned)(h->version >> 16), (unsigned)(h->version >> 8 & 0xFFu),
              (unsigned)(h->version & 0xFFu), (unsigned)h->ram_base, (unsigned)(h->ram_size >> 10),
              (unsigned)rec->prio);
    ms_evlog_add(MS_EV_PROCESS_START, 0, name, h->ram_base, h->ram_size);
    return 0;
}

int ms_loader_start(void)
{
    const char *why;
    if (ms_flashfs_status(&why)) {
        ms_printk("loader: flashfs refused: %s\n", why);
        return -1;
    }
    const void *data;
    uint32_t extent;
    if (ms_flashfs_find("start.par", &data, &extent)) {
        ms_printk("loader: no start.par in flashfs\n");
        return -1;
    }
    const ms_start_rec_t *rec;
    uint32_t count;
    int r = ms_image_check(data, extent, (uint32_t)(uintptr_t)data, MS_IMAGE_PARAMS);
    if (r == MS_IMAGE_OK)
        r = ms_start_params(data, &rec, &count);
    if (r != MS_IMAGE_OK) {
        refuse("start.par", (uint32_t)(uintptr_t)data, r);
        return -1;
    }
    int started = 0;
    for (uint32_t i = 0; i < count; i++) {
        if (!rec[i].autostart)
            continue;
        char name[MS_FLASHFS_NAME_MAX + 1];
        memcpy(name, rec[i].file, MS_FLASHFS_NAME_MAX);
        name[MS_FLASHFS_NAME_MAX] = '\0';
        const void *image = 0;
        uint32_t extent;
        ms_flashfs_find(name, &image, &extent);
        int ok = start_one(&rec[i], name) == 0;
        started += ok;
        ms_loader_started(name, (uint32_t)(uintptr_t)image, ok);
    }
    return started;
}
