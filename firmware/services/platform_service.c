/*
 * Platform management service: the meter clock (/dev/rtc), the load switch (/dev/relay, until
 * the basic app's cost control takes it), platform parameters and app status, and the
 * service console (USART1):
 *   "vbus trace on|off"  switch the bus's per-message trace (a 14H write to the bus)
 *   "vbus stats"         print the bus's counters (a 11H read from the bus)
 *   "app stop <name>"    end an app's process (app lifecycle; its identifiers then get
 *                        abnormal replies from the bus)
 *   "vbus send <hex>"    put raw bytes on this service's pipe to the bus (a test hook that
 *                        shows the bus checking what it receives)
 * Identifiers: 04000101 date, 04000102 time (read, write), 04000503 status word 3, 04800001
 * software version, 04A00001 status of extended app 1 (LOADID), 04A00010 this boot's reset
 * cause, 04A00011..04A00017 the resets so far by cause. Control codes: 08H broadcast
 * time (within 5 minutes of the meter's clock), 1BH event clear, 1CH relay control.
 *
 * Reset counts: at start the service reads this boot's cause (/dev/reset, as the bootloader
 * read RCC_CSR) and adds one to its cause's count in the EEPROM (its window 0x0100..0x017F:
 * two copies of one record, each in a 64-byte page of its own, with a sequence number and a
 * CRC; the new count goes over the older copy, so a power cut during the write leaves the
 * other whole and costs at most that one count).
 */
#include <stddef.h>
#include <string.h>
#include "ms_rtos.h"
#include "bsp.h"
#include "bsp_date.h"
#include "drv_io.h"
#include "services.h"
#include "svc_util.h"
#include "vbus.h"

#define BROADCAST_MAX_S 300u                /* broadcast time corrects at most 5 minutes */

/* Reset causes in the order of their identifiers 04A00011.. and of the record's counts; a
 * reset with several flags (every internal one pulses NRST, so PINRSTF comes along; a
 * power-on sets BORRSTF too) counts under the first that matches, as bsp_reset_cause_name()
 * names it. */
#define RESET_CAUSES 7u
static const uint32_t k_cause_bit[RESET_CAUSES] = {
    BSP_RESET_IWDG, BSP_RESET_WWDG, BSP_RESET_SOFT, BSP_RESET_POR, BSP_RESET_BOR,
    BSP_RESET_PIN, BSP_RESET_LPWR};
static const uint8_t k_cause_rank[RESET_CAUSES] = {6, 1, 0, 2, 3, 4, 5};  /* checked in order */
#define DI_RESET_CAUSE 0x04A00010u          /* 1 byte: RCC_CSR[31:24] of this boot */
#define DI_RESET_COUNT 0x04A00011u          /* .. + 6: XXXXXX resets by cause (BCD) */
#define RESETS_MAGIC 0x43545352u            /* "RSTC" */
#define RESETS_COPY_ADDR(n) (EEPROM_PLAT_START + 0x40u * (n))

typedef struct {
    uint32_t magic;
    uint32_t seq;                           /* the newer copy has the higher number */
    uint32_t count[RESET_CAUSES];
    uint8_t cause;                          /* RCC_CSR[31:24] of the last counted boot */
    uint8_t reserved;
    uint16_t crc;                           /* CRC-16/CCITT of the bytes before it */
} resets_t;
_Static_assert(sizeof(resets_t) <= 0x40u, "a copy fits one EEPROM page");

struct plat {
    int from_bus, to_bus, rtc, relay, con, eeprom, reset;
    uint32_t cause;                         /* this boot's reset cause (BSP_RESET_*) */
    resets_t resets;                        /* the counts as in the EEPROM */
    vbus_rx_t rx;
    uint8_t keep_power, alarm, close_allowed, trip_cmd;
    vbus_msg_t m, out;
    dlt_frame_t r;
    char line[96];
    unsigned line_n;
    uint8_t raw[VBUS_MSG_MAX];
};

static uint32_t clock_get(struct plat *p)
{
    uint32_t s = 0;
    ms_io_read(p->rtc, &s, 4);
    return s;
}

static void clock_set(struct plat *p, uint32_t s, const char *why)
{
    struct bsp_datetime dt;
    ms_io_write(p->rtc, &s, 4);
    bsp_date_from_secs(s, &dt);
    ms_printk("platform: clock set to %04u-%02u-%02u %02u:%02u:%02u (%s)\n", dt.year, dt.month,
              dt.day, dt.hour, dt.min, dt.sec, why);
}

static unsigned bcd2(uint8_t b) { return (b >> 4) * 10u + (b & 0xFu); }
static uint8_t tobcd(unsigned v) { return (uint8_t)((v / 10u) << 4 | v % 10u); }

/* ss mm hh DD MM YY (BCD) -> seconds, or 0xFFFFFFFF when not a valid time */
static uint32_t secs_of(const uint8_t *t)
{
    uint32_t dummy;
    if (dlt_bcd_get(t, 6, &dummy) < 0)
        return 0xFFFFFFFFu;
    struct bsp_datetime dt = {(uint16_t)(2000u + bcd2(t[5])), (uint8_t)bcd2(t[4]),
                              (uint8_t)bcd2(t[3]), (uint8_t)bcd2(t[2]), (uint8_t)bcd2(t[1]),
                              (uint8_t)bcd2(t[0])};
    return bsp_date_valid(&dt) ? bsp_date_to_secs(&dt) : 0xFFFFFFFFu;
}

static int relay_closed(struct plat *p)
{
    uint8_t fb = 0;
    ms_io_read(p->relay, &fb, 1);
    return fb;
}

static uint16_t status3(struct plat *p)
{
    uint16_t w = 0;
    if (!relay_closed(p))
        w |= 1u << 4;
    if (p->trip_cmd)
        w |= 1u << 6;
    if (p->alarm)
        w |= 1u << 7;
    if (p->keep_power)
        w |= 1u << 12;
    return w;
}

static void read_di(struct plat *p, const dlt_frame_t *q)
{
    uint32_t di = dlt_di(q->data);
    uint8_t d[4 + 32];
    unsigned n = 0;
    struct bsp_datetime dt;
    bsp_date_from_secs(clock_get(p), &dt);
    switch (di) {
    case 0x04000101u: {
        /* weekday: 2000-01-01 was a Saturday (6) */
        uint32_t days = bsp_date_to_secs(&dt) / 86400u;
        d[4] = tobcd((days + 6u) % 7u);
        d[5] = tobcd(dt.day);
        d[6] = tobcd(dt.month);
        d[7] = tobcd(dt.year % 100u);
        n = 4;
        break;
    }
    case 0x04000102u:
        d[4] = tobcd(dt.sec);
        d[5] = tobcd(dt.min);
        d[6] = tobcd(dt.hour);
        n = 3;
        break;
    case 0x04000503u: {
        uint16_t w = status3(p);
        d[4] = (uint8_t)w;
        d[5] = (uint8_t)(w >> 8);
        n = 2;
        break;
    }
    case 0x04800001u: {
        static const char k_ver[] = "metersim-mu 1.0 ";   /* ASCII, as sent */
        memcpy(d + 4, k_ver, 16);
        n = 16;
        break;
    }
    case 0x04A00001u:
        d[4] = ms_process_find("LOADID") >= 0 ? 1u : 0u;   /* 1 running, 0 not */
        n = 1;
        break;
    case DI_RESET_CAUSE:
        d[4] = (uint8_t)(p->cause >> 24);
        n = 1;
        break;
    default:
        if (di - DI_RESET_COUNT < RESET_CAUSES) {
            uint32_t c = p->resets.count[di - DI_RESET_COUNT];
            dlt_bcd_put(d + 4, 3, c > 999999u ? 999999u : c);
            n = 3;
            break;
        }
        dlt_abnormal(&p->r, q, DLT_SERR_NO_DATA);
        return;
    }
    dlt_put_di(d, di);
    dlt_reply(&p->r, q, d, 4u + n);
}

static void write_di(struct plat *p, const dlt_frame_t *q)
{
    uint32_t di = dlt_di(q->data);
    const uint8_t *v = q->data + 12;
    unsigned n = q->len - 12u;
    struct bsp_datetime dt;
    bsp_date_from_secs(clock_get(p), &dt);
    uint32_t x;
    if (di == 0x04000101u && n == 4u && dlt_bcd_get(v, 4, &x) == 0) {
        dt.day = (uint8_t)bcd2(v[1]);
        dt.month = (uint8_t)bcd2(v[2]);
        dt.year = (uint16_t)(2000u + bcd2(v[3]));
    } else if (di == 0x04000102u && n == 3u && dlt_bcd_get(v, 3, &x) == 0) {
        dt.sec = (uint8_t)bcd2(v[0]);
        dt.min = (uint8_t)bcd2(v[1]);
        dt.hour = (uint8_t)bcd2(v[2]);
    } else {
        dlt_abnormal(&p->r, q, DLT_SERR_OTHER);
        return;
    }
    if (!bsp_date_valid(&dt)) {
        dlt_abnormal(&p->r, q, DLT_SERR_OTHER);
        return;
    }
    clock_set(p, bsp_date_to_secs(&dt), "write");
    dlt_reply(&p->r, q, 0, 0);
}

static int relay_set(struct plat *p, int close)
{
    uint8_t cmd = (uint8_t)close;
    int r = ms_io_write(p->relay, &cmd, 1);
    int fb = relay_closed(p);
    ms_printk("platform: relay %s, feedback %s%s\n", close ? "close" : "open",
              fb ? "closed" : "open", r == 1 && fb == close ? "" : ": FAULT");
    return r == 1 && fb == close;
}

/* 1CH: PA P0-P2 C0-C3 N1 N2 N3..N8 (valid until ss mm hh DD MM YY) */
static void relay_control(struct plat *p, const dlt_frame_t *q)
{
    uint8_t n1 = q->data[8];
    uint32_t until = secs_of(q->data + 10);
    int ok = until != 0xFFFFFFFFu && until >= clock_get(p);
    if (ok) {
        switch (n1) {
        case 0x1A:
            ok = !p->keep_power;            /* keep-power refuses trips */
            if (ok) {
                p->trip_cmd = 1;
                p->close_allowed = 0;
                ok = relay_set(p, 0);
            }
            break;
        case 0x1B:
            p->close_allowed = 1;           /* the customer closes with the button */
            ms_printk("platform: relay close allowed\n");
            break;
        case 0x1C:
            p->trip_cmd = 0;
            ok = relay_set(p, 1);
            break;
        case 0x2A: case 0x2B: p->alarm = n1 == 0x2A; break;
        case 0x3A: case 0x3B: p->keep_power = n1 == 0x3A; break;
        default: ok = 0; break;
        }
    }
    if (ok)
        dlt_reply(&p->r, q, 0, 0);
    else
        dlt_abnormal(&p->r, q, DLT_SERR_OTHER);
}

static void broadcast_time(struct plat *p, const dlt_frame_t *q)
{
    uint32_t t = q->len == 6u ? secs_of(q->data) : 0xFFFFFFFFu, now = clock_get(p);
    uint32_t off = t > now ? t - now : now - t;
    if (t == 0xFFFFFFFFu)
        ms_printk("platform: broadcast time refused, not a time\n");
    else if (off > BROADCAST_MAX_S)
        ms_printk("platform: broadcast time refused, off by %u s (more than %u s)\n",
                  (unsigned)off, BROADCAST_MAX_S);
    else {
        clock_set(p, t, "broadcast");
        dlt_reply(&p->r, q, 0, 0);
        return;
    }
    dlt_abnormal(&p->r, q, DLT_SERR_OTHER);
}

static void serve(struct plat *p, const vbus_msg_t *m)
{
    const dlt_frame_t *q = &m->f;
    switch (DLT_FN(q->ctrl)) {
    case DLT_READ: read_di(p, q); break;
    case DLT_WRITE: write_di(p, q); break;
    case DLT_BROADCAST_TIME: broadcast_time(p, q); break;
    case DLT_RELAY: relay_control(p, q); break;
    case DLT_CLEAR_EVENTS:
        ms_printk("platform: events cleared\n");
        dlt_reply(&p->r, q, 0, 0);
        break;
    default: dlt_abnormal(&p->r, q, DLT_SERR_OTHER); break;
    }
    svc_reply(p->to_bus, VBUS_ADDR_PLATFORM, m, &p->r);
}

/* The bus's answers to the console's requests. */
static void answer(const vbus_msg_t *m)
{
    const dlt_frame_t *f = &m->f;
    if (f->ctrl == (DLT_READ | DLT_REPLY) && f->len == 28u && dlt_di(f->data) == VBUS_DI_STATS) {
        uint32_t c[6];
        for (unsigned i = 0; i < 6u; i++)
            dlt_bcd_get(f->data + 4 + 4 * i, 4, &c[i]);
        ms_printk("vbus: routed %u, bad integrity %u, bad source %u, timeouts %u, no route %u, "
                  "lost %u\n", (unsigned)c[0], (unsigned)c[1], (unsigned)c[2], (unsigned)c[3],
                  (unsigned)c[4], (unsigned)c[5]);
    } else if (f->ctrl & DLT_ABNORMAL) {
        ms_printk("platform: the bus answered c %02x serr %02x\n", f->ctrl, f->data[0]);
    }
}

static void bus_request(struct plat *p, uint8_t ctrl, uint32_t di, const uint8_t *v, unsigned n)
{
    vbus_hdr(&p->out.h, VBUS_ADDR_PLATFORM, VBUS_ADDR_BUS, VBUS_CMD_REQUEST, VBUS_MA_INTERNAL, 1);
    memset(&p->out.f, 0, sizeof p->out.f);
    memset(p->out.f.addr, 0xAA, 6);
    p->out.f.ctrl = ctrl;
    dlt_put_di(p->out.f.data, di);
    unsigned off = ctrl == DLT_WRITE ? 12u : 4u;   /* writes: PA P0-P2 C0-C3 (internal: 0) */
    memcpy(p->out.f.data + off, v, n);
    p->out.f.len = (uint8_t)(off + n);
    vbus_send(p->to_bus, &p->out);
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static void command(struct plat *p, const char *s)
{
    if (!strcmp(s, "vbus trace on") || !strcmp(s, "vbus trace off")) {
        uint8_t on = !strcmp(s, "vbus trace on");
        bus_request(p, DLT_WRITE, VBUS_DI_TRACE, &on, 1);
    } else if (!strcmp(s, "vbus stats")) {
        bus_request(p, DLT_READ, VBUS_DI_STATS, 0, 0);
    } else if (!strncmp(s, "app stop ", 9)) {
        ms_handle_t pid = ms_process_find(s + 9);
        int r = pid >= 0 && strncmp(s + 9, "V_BUS", 5) &&
                        strstr(s + 9, "_SRV") == 0 ? ms_process_kill(pid) : MS_ERR_PERM;
        ms_printk("platform: app %s %s (%d)\n", s + 9, r == 0 ? "stopped" : "not stopped", r);
    } else if (!strncmp(s, "vbus send ", 10)) {
        unsigned n = 0;
        for (s += 10; *s && n < sizeof p->raw; s++) {
            int hi = hexval(*s), lo = s[1] ? hexval(s[1]) : -1;
            if (hi < 0 || lo < 0)
                continue;
            p->raw[n++] = (uint8_t)(hi << 4 | lo);
            s++;
        }
        ms_io_write(p->to_bus, p->raw, n);
        ms_printk("platform: sent %u raw bytes to the bus\n", n);
    } else if (*s) {
        ms_printk("platform: unknown command '%s'\n", s);
    }
}

static void console(struct plat *p)
{
    char c;
    while (ms_io_read(p->con, &c, 1) == 1) {
        if (c == '\r' || c == '\n') {
            p->line[p->line_n] = 0;
            p->line_n = 0;
            command(p, p->line);
        } else if (p->line_n + 1u < sizeof p->line) {
            p->line[p->line_n++] = c;
        }
    }
}

static int resets_io(struct plat *p, unsigned copy, resets_t *r, int write)
{
    return svc_eeprom_rw(p->eeprom, RESETS_COPY_ADDR(copy), r, sizeof *r, write);
}

/* This boot's reset cause on the console and counted in the EEPROM (once per boot: the
 * service starts once). */
static void count_reset(struct plat *p)
{
    if (p->reset < 0 || ms_io_read(p->reset, &p->cause, 4) != 4)
        p->cause = 0;
    resets_t c[2];
    int ok[2] = {0, 0};
    if (p->eeprom >= 0)
        for (unsigned i = 0; i < 2u; i++)
            ok[i] = resets_io(p, i, &c[i], 0) == MS_OK &&
                    svc_rec_valid(&c[i], RESETS_MAGIC, offsetof(resets_t, crc));
    int newer = svc_rec_newer(&c[0], &c[1], ok);
    if (newer >= 0)
        p->resets = c[newer];
    else
        memset(&p->resets, 0, sizeof p->resets);    /* first start: no resets counted yet */
    unsigned k = RESET_CAUSES;
    for (unsigned r = 0; r < RESET_CAUSES && k == RESET_CAUSES; r++)
        if (p->cause & k_cause_bit[k_cause_rank[r]])
            k = k_cause_rank[r];
    if (k < RESET_CAUSES && p->resets.count[k] < 0xFFFFFFFFu)
        p->resets.count[k]++;
    p->resets.magic = RESETS_MAGIC;
    p->resets.seq++;
    p->resets.cause = (uint8_t)(p->cause >> 24);
    p->resets.reserved = 0;
    svc_rec_seal(&p->resets, offsetof(resets_t, crc));
    unsigned older = newer < 0 ? 0u : 1u - (unsigned)newer;    /* the one not taken */
    int w = p->eeprom < 0 ? MS_ERR_IO : resets_io(p, older, &p->resets, 1);
    const uint32_t *n = p->resets.count;
    ms_printk("platform: reset cause %s, %s\n", bsp_reset_cause_name(p->cause),
              w == MS_OK ? "counted in the EEPROM" : "count not kept (EEPROM)");
    ms_printk("platform: resets so far: watchdog %u, window-watchdog %u, software %u, "
              "power-on %u, brown-out %u, pin %u, low-power %u\n", (unsigned)n[0],
              (unsigned)n[1], (unsigned)n[2], (unsigned)n[3], (unsigned)n[4], (unsigned)n[5],
              (unsigned)n[6]);
}

void platform_service_main(void *arg)
{
    (void)arg;
    struct plat *p = svc_state(sizeof *p);
    p->rtc = ms_io_open(DEV_RTC, O_RDWR, 0);
    p->relay = ms_io_open(DEV_RELAY, O_RDWR, 0);
    p->con = ms_io_open(DEV_CONSOLE, O_RDONLY | O_NONBLOCK, 0);
    p->reset = ms_io_open(DEV_RESET, O_RDONLY, 0);
    p->eeprom = ms_io_open(DEV_EEPROM, O_RDWR, 0);
    if (p->rtc < 0 || p->relay < 0 || p->con < 0 ||
        vbus_connect(VBUS_NAME_PLATFORM, &p->from_bus, &p->to_bus) < 0) {
        ms_printk("platform: cannot open its devices or the bus\n");
        ms_process_exit(1);
    }
    count_reset(p);
    ms_printk("platform: clock, relay and console ready\n");
    for (;;) {
        ms_fdset_t rd = 0;
        MS_FD_SET(p->from_bus, &rd);
        MS_FD_SET(p->con, &rd);
        int nfds = (p->from_bus > p->con ? p->from_bus : p->con) + 1;
        if (ms_io_select(nfds, &rd, 0, MS_WAIT_FOREVER) <= 0)
            continue;
        if (MS_FD_ISSET(p->con, &rd))
            console(p);
        if (!MS_FD_ISSET(p->from_bus, &rd) || vbus_rx_fill(&p->rx, p->from_bus) < 0)
            continue;
        while (svc_next(&p->rx, &p->m)) {
            if (p->m.h.cmd == VBUS_CMD_REQUEST)
                serve(p, &p->m);
            else
                answer(&p->m);
        }
    }
}
