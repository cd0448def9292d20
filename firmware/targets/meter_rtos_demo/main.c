/*
 * Stand-in for the management unit's RTOS image (until the real RTOS's loader runs apps from
 * flashfs): linked at 0x08008000 behind its image header, started by the bootloader. It
 *   - starts the processes of start.par from flashfs: each image checked (ms_image_check)
 *     before its entry runs, a refused one reported with the check that failed;
 *   - tells the upgrade journal whether an app on trial passed its start check (confirm), or
 *     restarts into the bootloader's rollback when it did not;
 *   - on the console: `upgrade <file>` receives a new image of flashfs file <file> with YMODEM
 *     into the NOR download slot, verifies it, records it PENDING and restarts; `version`.
 */
#include "ms_app_demo.h"
#include "ms_flashfs.h"
#include "ms_image.h"
#include "ms_port.h"

extern const ms_image_hdr_t ms_header;

static void vprint(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void vprint(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    con_vprintf(fmt, ap);
    va_end(ap);
}

static const ms_demo_api_t g_api = {vprint, 0};

static void ver(uint32_t v, char out[16])
{
    /* "M.m.p" without printf's buffer */
    unsigned parts[3] = {v >> 16, v >> 8 & 0xFFu, v & 0xFFu};
    unsigned n = 0;
    for (int i = 0; i < 3; i++) {
        char d[6];
        unsigned k = 0, x = parts[i];
        do { d[k++] = (char)('0' + x % 10u); x /= 10u; } while (x);
        while (k)
            out[n++] = d[--k];
        out[n++] = i < 2 ? '.' : '\0';
    }
}

static void start_apps(void)
{
    const char *why;
    if (ms_flashfs_status(&why)) {
        con_printf("rtos: flashfs refused: %s\n", why);
        return;
    }
    const void *data;
    uint32_t size;
    if (ms_flashfs_find("start.par", &data, &size)) {
        con_printf("rtos: no start.par in flashfs\n");
        return;
    }
    int r = ms_image_check(data, size, (uint32_t)data, MS_IMAGE_PARAMS);
    const ms_start_rec_t *rec;
    uint32_t count;
    if (r || ms_start_params(data, &rec, &count)) {
        con_printf("rtos: start.par refused: %s\n", ms_image_check_name(r));
        return;
    }
    for (uint32_t i = 0; i < count; i++) {
        if (!rec[i].autostart)
            continue;
        char name[21] = {0};
        for (unsigned k = 0; k < 20u; k++)
            name[k] = rec[i].file[k];
        if (ms_flashfs_find(name, &data, &size)) {
            con_printf("rtos: event: %s not in flashfs\n", name);
            continue;
        }
        const ms_image_hdr_t *h = data;
        r = ms_image_check(h, size, (uint32_t)h, 0);
        if (r == 0 && h->kind != MS_IMAGE_APP && h->kind != MS_IMAGE_SERVICE)
            r = MS_IMAGE_BAD_KIND;
        if (r) {
            con_printf("rtos: event: %s refused: %s check failed\n", name, ms_image_check_name(r));
            if (ms_upg_report_start(&g_port_upg, (uint32_t)h, 0) == 1) {
                con_printf("rtos: upgrade of %s rejected: restarting to roll back\n", name);
                con_flush();
                bsp_reboot();
            }
            continue;
        }
        char v[16];
        ver(h->version, v);
        con_printf("rtos: starting %s %s (prio %u, stack %u)\n", name, v, rec[i].prio,
                   rec[i].stack_size);
        int rc = ((ms_demo_entry_t)h->entry)(&g_api);
        int w = ms_upg_report_start(&g_port_upg, (uint32_t)h, rc == 0);
        if (rc) {
            con_printf("rtos: event: %s failed its start check (%d)\n", name, rc);
            if (w == 1) {
                con_printf("rtos: upgrade of %s rejected: restarting to roll back\n", name);
                con_flush();
                bsp_reboot();
            }
        } else if (w == 1) {
            con_printf("rtos: upgrade of %s to %s confirmed\n", name, v);
        }
    }
}

/* ---- upgrade over YMODEM (ms_upg_receive) ---- */
static void upgrade(const char *file)
{
    const void *data;
    uint32_t size;
    if (ms_flashfs_find(file, &data, &size)) {
        con_printf("upgrade: no file %s in flashfs\n", file);
        return;
    }
    con_printf("upgrade: send the image of %s with YMODEM\n", file);
    ms_ymodem_io_t io;
    ms_port_ymodem_io(&io, 30);
    char name[MS_YMODEM_NAME_MAX];
    uint32_t got;
    int nor_error;
    int r = ms_upg_receive(&g_port_upg, &io, file, (uint32_t)data, size, name, &got, &nor_error);
    ms_port_sleep_ms(20);      /* the sender's last bytes, before the console talks again */
    if (r < 0) {
        con_printf("\nupgrade: YMODEM %s (%d)\n", ms_ymodem_result_name(r), nor_error);
        return;
    }
    con_printf("\nupgrade: received %s, %u bytes\n", name, (unsigned)got);
    if (r) {
        con_printf("upgrade: image refused: %s\n", r >= MS_UPG_RX_REFUSED_BASE ?
                   ms_image_check_name(r - MS_UPG_RX_REFUSED_BASE) : "NOR error");
        return;
    }
    con_printf("upgrade: %s staged, restarting\n", file);
    con_flush();
    bsp_reboot();
}

int main(void)
{
    int nor = ms_port_init();
    char v[16];
    ver(ms_header.version, v);
    con_printf("rtos: %s %s (stand-in) running\n", ms_header.name, v);
    if (nor)
        con_printf("rtos: no NOR flash (%d)\n", nor);
    start_apps();
    con_printf("rtos: ready\n");
    char line[64];
    for (;;) {
        con_printf("> ");
        ms_port_readline(line, sizeof line, 0);
        const char *cmd = "upgrade ";
        unsigned k = 0;
        while (cmd[k] && line[k] == cmd[k])
            k++;
        if (!cmd[k] && line[k])
            upgrade(line + k);
        else if (line[0] == 'v')
            con_printf("rtos %s\n", v);
        else
            con_printf("commands: upgrade <file>, version\n");
    }
}
