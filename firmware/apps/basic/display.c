/*
 * Display (Table 3 thread 4): the segment LCD (/dev/lcd, the kernel's HT1621 driver) and the
 * page key (/dev/keys). docs/meter_lcd.md.
 *
 * Three modes, one screen at a time, refreshed every second (the 1 s processing cycle): each
 * refresh fetches the screen's value afresh with bapp_get (from its module, or through the
 * bus from the metering and platform services) and the status word 3 for the relay and alarm
 * annunciators, and writes the frame; the kernel sends the HT1621 only what changed.
 *   rotating  the automatic list (04040101.., 04000301 screens, 04000302 s each, default 5 s)
 *   key       a page-key press shows the key list (04040201.., 04000305 screens) from its
 *             first screen, each further press the next; 30 s without a press: rotating again
 *   tracking  a value read or written from outside (DL/T645 on RS-485 or IR) is shown for
 *             10 s: its value when it is a displayable item, else its identifier
 * The keys are scanned on a 250 ms grid: a press (latched by the kernel's EXTI handler and
 * read by the app's bus module, which waits on /dev/keys beside its pipe) and a tracked read
 * show at the first scan instant after them. The module wakes only for the scans with
 * something to do (a press, a tracked read, a refresh, a rotation step, the end of a held
 * screen), not four times a second. The lists live in EEPROM (BAPP_EE_DISPLAY, two copies).
 */
#include <string.h>
#include "bapp.h"
#include "meter_lcd.h"
#include "services.h"

#define DI_AUTO_N 0x04000301u               /* automatic rotation: screens, NN */
#define DI_AUTO_S 0x04000302u               /* automatic rotation: s per screen, NN */
#define DI_KEY_N 0x04000305u                /* key list: screens, NN */
#define DI_AUTO_LIST 0x04040100u            /* + n: automatic screen n, DI + screen number */
#define DI_KEY_LIST 0x04040200u             /* + n: key screen n */
#define DI_STATUS3 0x04000503u
#define LIST_MAX 12u
#define SCAN_MS 250u
#define REFRESH_MS 1000u
#define KEY_HOLD_MS 30000u
#define TRACK_HOLD_MS 10000u
#define DEFAULT_AUTO_S 5u

enum { ROTATING, KEYED, TRACKING };

struct disp_rec {                           /* BAPP_EE_DISPLAY, copies at +0 and +0x80 */
    uint32_t magic, seq;
    uint8_t auto_n, auto_s, key_n, pad;
    uint32_t auto_di[LIST_MAX], key_di[LIST_MAX];
    uint16_t crc;
};
#define REC_MAGIC 0x50534944u               /* "DISP" */
BAPP_REC_FITS(struct disp_rec, 0x80u);
static const bapp_rec_t k_rec = BAPP_REC(BAPP_EE_DISPLAY, 0x80u, struct disp_rec, REC_MAGIC,
                                         "display: lists");

static const uint32_t k_default_auto[] = {
    0x00010000u, 0x00010100u, 0x00010200u, 0x00010300u, 0x00010400u,   /* energy: total, rates */
    0x00900200u, 0x04000101u, 0x04000102u,                            /* money, date, time */
    0x02010100u, 0x02020100u, 0x02030000u,                            /* V, I, P */
};
static const uint32_t k_default_key[] = {
    0x00010000u, 0x00010100u, 0x00010200u, 0x00010300u, 0x00010400u, 0x00900200u,
    0x02010100u, 0x02020100u, 0x02030000u, 0x04000101u, 0x04000102u,
};

static struct disp_rec D;
static uint8_t g_mode, g_auto, g_key;
static ms_tick_t g_next_refresh, g_screen_until, g_auto_next;
static ms_tick_t g_scan_at;                 /* the next instant on the SCAN_MS grid */
static ms_tick_t g_wake_at;                 /* the grid instant of the next scan with work */
static volatile uint32_t g_track_di;
static volatile uint8_t g_track_new;
static volatile uint8_t g_page_in, g_page_done;    /* page-key presses read, and shown */
static uint32_t g_shown_di;

static void rec_save(void) { bapp_rec_save(&k_rec, &D); }

static void rec_load(void)
{
    if (bapp_rec_load(&k_rec, &D) >= 0)
        return;
    memset(&D, 0, sizeof D);
    D.magic = REC_MAGIC;
    D.auto_n = sizeof k_default_auto / sizeof k_default_auto[0];
    D.key_n = sizeof k_default_key / sizeof k_default_key[0];
    D.auto_s = DEFAULT_AUTO_S;
    memcpy(D.auto_di, k_default_auto, sizeof k_default_auto);
    memcpy(D.key_di, k_default_key, sizeof k_default_key);
}

/* ---- screens ---- */

enum kind { K_NONE, K_ENERGY, K_MONEY, K_DATE, K_TIME, K_VOLT, K_CURR, K_POWER };

static enum kind kind_of(uint32_t di)
{
    unsigned type = di >> 16, rr = di >> 8 & 0xFFu;
    if (type <= 2u && rr <= 4u && (di & 0xFFu) == 0)
        return K_ENERGY;                    /* combined, forward, reverse: total and rates */
    switch (di) {
    case 0x00900200u: return K_MONEY;
    case 0x04000101u: return K_DATE;
    case 0x04000102u: return K_TIME;
    case 0x02010100u: return K_VOLT;
    case 0x02020100u: return K_CURR;
    case 0x02030000u: return K_POWER;
    default: return K_NONE;
    }
}

/* v as `width` characters right-aligned, blanks for leading zeros down to `keep` digits */
static char *put_num(char *p, uint32_t v, unsigned width, unsigned keep)
{
    char tmp[10];
    unsigned n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v && n < sizeof tmp);
    while (n < keep)
        tmp[n++] = '0';
    while (width > n) {
        *p++ = ' ';
        width--;
    }
    while (n)
        *p++ = tmp[--n];
    return p;
}

/* value of `scale` decimals: 8 digits with the point, a '-' in front when negative */
static void put_fixed(char *out, uint32_t v, unsigned decimals, int negative)
{
    uint32_t div = 1;
    for (unsigned i = 0; i < decimals; i++)
        div *= 10u;
    unsigned int_digits = 8u - decimals;
    char *p = out;
    if (negative) {
        *p++ = '-';
        int_digits--;
    }
    p = put_num(p, v / div, int_digits, 1);
    *p++ = '.';
    p = put_num(p, v % div, decimals, decimals);
    *p = 0;
}

static uint32_t bcd(const uint8_t *v, unsigned n, int *negative)
{
    uint8_t b[4] = {0};
    uint32_t x = 0;
    memcpy(b, v, n);
    if (negative)
        *negative = 0;
    if (negative && (b[n - 1u] & 0x80u)) {
        *negative = 1;
        b[n - 1u] &= 0x7Fu;
    }
    return dlt_bcd_get(b, n, &x) < 0 ? 0u : x;
}

static const char k_hex[] = "0123456789AbCdEF";

/* Three BCD bytes, the highest (v[2]) first, as "xx" sep "xx" sep "xx" into p (9 chars). */
static void put_bcd3(char *p, const uint8_t *v, char sep)
{
    for (unsigned i = 0; i < 3u; i++, p += 3) {
        uint8_t b = v[2u - i];
        p[0] = k_hex[b >> 4 & 0xFu];
        p[1] = k_hex[b & 0xFu];
        p[2] = i < 2u ? sep : 0;
    }
}

/* The screen of `di` into fr; 0, or < 0 when its value could not be fetched. */
static int render(uint32_t di, meter_lcd_frame_t *fr)
{
    uint8_t v[8];
    int neg = 0;
    enum kind k = kind_of(di);
    memset(fr, 0, sizeof *fr);
    if (k == K_NONE) {                      /* tracking of an identifier without a screen */
        for (unsigned i = 0; i < 8u; i++)
            fr->text[i] = k_hex[di >> (28u - 4u * i) & 0xFu];
        return 0;
    }
    int n = bapp_get(di, v, sizeof v);
    if (n < 0) {
        memcpy(fr->text, "--------", 9);
        return n;
    }
    switch (k) {
    case K_ENERGY: {
        unsigned rr = di >> 8 & 0xFFu;
        if (n != 4)
            break;
        uint32_t x = bcd(v, 4, (di >> 16) == 0u ? &neg : 0);
        put_fixed(fr->text, x, 2, neg);
        fr->icons = LCD_ICON(LCD_KWH) | LCD_ICON(LCD_NOW) |
                    (rr ? LCD_ICON(LCD_T1 + rr - 1u) : LCD_ICON(LCD_TOTAL));
        return 0;
    }
    case K_MONEY: {
        if (n != 4)
            break;
        uint32_t x = bcd(v, 4, 0);
        fr->icons = LCD_ICON(LCD_REMAIN) | LCD_ICON(LCD_YUAN) | LCD_ICON(LCD_NOW);
        if (x == 0u && bapp_get(0x00900201u, v, 4) == 4 && (x = bcd(v, 4, 0)) != 0u) {
            neg = 1;                        /* overdraft in use */
            fr->icons = LCD_ICON(LCD_OVERDRAFT) | LCD_ICON(LCD_YUAN) | LCD_ICON(LCD_NOW);
        }
        put_fixed(fr->text, x, 2, neg);
        return 0;
    }
    case K_DATE:                            /* WW DD MM YY -> 20YY.MM.DD */
        if (n != 4)
            break;
        fr->text[0] = '2';
        fr->text[1] = '0';
        put_bcd3(fr->text + 2, v + 1, '.');
        fr->icons = LCD_ICON(LCD_DATE) | LCD_ICON(LCD_NOW);
        return 0;
    case K_TIME:                            /* ss mm hh -> "  hh:mm:ss" */
        if (n != 3)
            break;
        memcpy(fr->text, "  ", 2);
        put_bcd3(fr->text + 2, v, ':');
        fr->icons = LCD_ICON(LCD_TIME) | LCD_ICON(LCD_NOW);
        return 0;
    case K_VOLT:                            /* XXX.X V */
        if (n != 2)
            break;
        put_fixed(fr->text, bcd(v, 2, 0), 1, 0);
        fr->icons = LCD_ICON(LCD_V) | LCD_ICON(LCD_NOW);
        return 0;
    case K_CURR:                            /* XXX.XXX A, sign in the top bit */
        if (n != 3)
            break;
        put_fixed(fr->text, bcd(v, 3, &neg), 3, neg);
        fr->icons = LCD_ICON(LCD_A) | LCD_ICON(LCD_NOW);
        return 0;
    case K_POWER:                           /* XX.XXXX kW, sign in the top bit */
        if (n != 3)
            break;
        put_fixed(fr->text, bcd(v, 3, &neg), 4, neg);
        fr->icons = LCD_ICON(LCD_KW) | LCD_ICON(LCD_NOW);
        return 0;
    default:
        break;
    }
    memcpy(fr->text, "--------", 9);
    return -(int)DLT_SERR_OTHER;
}

static uint32_t status_icons(void)
{
    uint8_t w[2];
    if (bapp_get(DI_STATUS3, w, 2) != 2)
        return 0;
    return (w[0] & 0x10u ? LCD_ICON(LCD_RELAY_OPEN) : 0u) | (w[0] & 0x80u ? LCD_ICON(LCD_ALARM) : 0u);
}

/* The display is the only user of the glass: it keeps it open (opened at the first use, again
 * at the next one if that failed). The keys are the bus module's to wait on (below). */
static int g_lcd_fd = -1, g_keys_fd = -1;

static int own_device(int *fd, const char *dev, int flags)
{
    if (*fd < 0)
        *fd = ms_io_open(dev, flags, 0);
    return *fd;
}

static void show(uint32_t di)
{
    static meter_lcd_frame_t fr;
    render(di, &fr);
    fr.icons |= status_icons();
    if (own_device(&g_lcd_fd, DEV_LCD, O_RDWR) >= 0)
        ms_io_write(g_lcd_fd, &fr, sizeof fr);
    g_shown_di = di;
}

/* In the bus module's thread: /dev/keys for its select (-1 while it cannot be opened), and,
 * when it is readable, the presses counted (the prog key is not the display's) and the
 * display woken for its next scan instant. */
int bapp_display_keys_fd(void) { return own_device(&g_keys_fd, DEV_KEYS, O_RDONLY); }

void bapp_display_keys(void)
{
    uint8_t k[8];
    int n = ms_io_read(g_keys_fd, k, sizeof k);
    for (int i = 0; i < n; i++)
        if (k[i] == KEY_PAGE)
            g_page_in++;
    if (n > 0)
        bapp_wake(BAPP_T_DISPLAY);
}

static int due(ms_tick_t now, ms_tick_t at) { return (int32_t)(now - at) >= 0; }

/* ---- the module ---- */

static ms_tick_t earlier(ms_tick_t a, ms_tick_t b) { return (int32_t)(a - b) < 0 ? a : b; }

/* The whole second of the wake grid at or after t (svc_grid_next): refreshes and rotation
 * steps fall there, with the event checks and the watchdog's feed, so one wake-up of the core
 * serves them all. */
static ms_tick_t second_at_or_after(ms_tick_t t) { return svc_grid_next(t - 1u, SVC_GRID_S); }

/* The first scan instant at or after t (the grid runs on from g_scan_at). */
static ms_tick_t scan_at_or_after(ms_tick_t t)
{
    const ms_tick_t p = ms_ms_to_ticks(SCAN_MS);
    if (!due(t, g_scan_at))
        return g_scan_at;
    return g_scan_at + (t - g_scan_at + p - 1u) / p * p;
}

/* The scans keep a steady SCAN_MS grid (not SCAN_MS after the last one's work, which drifts by
 * the fetches of the refresh) within the wake grid's seconds, and every instant is set from a
 * scan's instant in whole seconds: a refresh, a rotation step or the end of a held screen falls
 * on a scan, not up to one late; refreshes and rotation steps fall on the wake grid's seconds.
 * A scan with nothing to do (no press, no tracked read, nothing due) changes nothing: the
 * module sleeps through those to the grid instant of the next one with work. */
static uint32_t tick(void)
{
    ms_tick_t now = ms_tick_get();
    if (!due(now, g_wake_at)) {
        /* woken early: a press or a tracked read shows at the next scan instant */
        if (g_page_in != g_page_done || g_track_new)
            g_wake_at = scan_at_or_after(now);
        return (uint32_t)(g_wake_at - now) * 1000u / MS_TICK_HZ;
    }
    ms_tick_t at = g_scan_at = g_wake_at;
    uint8_t page = (uint8_t)(g_page_in - g_page_done);
    g_page_done = (uint8_t)(g_page_done + page);
    int now_refresh = due(now, g_next_refresh);
    if (page) {
        g_key = g_mode == KEYED ? (uint8_t)((g_key + page) % D.key_n) : (uint8_t)((page - 1u) % D.key_n);
        g_mode = KEYED;
        g_screen_until = at + ms_ms_to_ticks(KEY_HOLD_MS);
        now_refresh = 1;
    }
    if (g_track_new) {
        g_track_new = 0;
        g_mode = TRACKING;
        g_screen_until = at + ms_ms_to_ticks(TRACK_HOLD_MS);
        now_refresh = 1;
    }
    if (g_mode != ROTATING && due(now, g_screen_until)) {
        g_mode = ROTATING;
        /* each screen its auto_s from the held one's end, as a user counts them: from then
         * on a rotation step lies on the scan grid, off the wake grid's seconds (a wake of
         * its own every auto_s), as pressing the key asked for */
        g_auto_next = g_screen_until + ms_ms_to_ticks(D.auto_s * 1000u);
        now_refresh = 1;
    }
    if (g_mode == ROTATING && due(now, g_auto_next)) {
        g_auto = (uint8_t)((g_auto + 1u) % D.auto_n);
        g_auto_next += ms_ms_to_ticks(D.auto_s * 1000u);
        if (due(now, g_auto_next))          /* fell behind (a long request): start afresh */
            g_auto_next = second_at_or_after(at + ms_ms_to_ticks(D.auto_s * 1000u));
        now_refresh = 1;
    }
    if (now_refresh) {
        show(g_mode == TRACKING ? g_track_di : g_mode == KEYED ? D.key_di[g_key] : D.auto_di[g_auto]);
        g_next_refresh = svc_grid_next(at, ms_ms_to_ticks(REFRESH_MS));
    }
    g_scan_at = svc_grid_next(at, ms_ms_to_ticks(SCAN_MS));
    now = ms_tick_get();
    if (due(now, g_scan_at))                /* fell behind (a long fetch): from now on */
        g_scan_at = svc_grid_next(now, ms_ms_to_ticks(SCAN_MS));
    ms_tick_t work = earlier(g_next_refresh, g_mode == ROTATING ? g_auto_next : g_screen_until);
    g_wake_at = scan_at_or_after(work);
    if (g_page_in != g_page_done || g_track_new)        /* came during this scan */
        g_wake_at = g_scan_at;
    return (uint32_t)(g_wake_at - now) * 1000u / MS_TICK_HZ;
}

void bapp_display_track(const dlt_frame_t *q)
{
    unsigned fn = DLT_FN(q->ctrl);
    if ((fn != DLT_READ && fn != DLT_WRITE) || q->len < 4u || BAPP_DI_INTERNAL(dlt_di(q->data)) ||
        dlt_di(q->data) == VBUS_DI_NOTE)    /* the bus's own note of a write, not a reader's */
        return;
    g_track_di = dlt_di(q->data);
    g_track_new = 1;
    bapp_wake(BAPP_T_DISPLAY);
}

static int list_index(uint32_t di, uint32_t base)
{
    unsigned n = di & 0xFFu;
    return (di & 0xFFFFFF00u) == base && n >= 1u && n <= LIST_MAX ? (int)n - 1 : -1;
}

static int owns(const dlt_frame_t *q)
{
    unsigned fn = DLT_FN(q->ctrl);
    if ((fn != DLT_READ && fn != DLT_WRITE) || q->len < 4u)
        return 0;
    uint32_t di = dlt_di(q->data);
    return di == DI_AUTO_N || di == DI_AUTO_S || di == DI_KEY_N ||
           list_index(di, DI_AUTO_LIST) >= 0 || list_index(di, DI_KEY_LIST) >= 0;
}

static void read_di(const dlt_frame_t *q, dlt_frame_t *r)
{
    uint32_t di = dlt_di(q->data);
    uint8_t v[5];
    int i;
    if (di == DI_AUTO_N || di == DI_AUTO_S || di == DI_KEY_N) {
        dlt_bcd_put(v, 1, di == DI_AUTO_N ? D.auto_n : di == DI_AUTO_S ? D.auto_s : D.key_n);
        bapp_reply_di(r, q, v, 1);
        return;
    }
    int is_auto = (i = list_index(di, DI_AUTO_LIST)) >= 0;
    if (!is_auto)
        i = list_index(di, DI_KEY_LIST);
    dlt_put_di(v, is_auto ? D.auto_di[i] : D.key_di[i]);
    v[4] = 0;                               /* screen number: every item has one screen */
    bapp_reply_di(r, q, v, 5);
}

static int write_di(const dlt_frame_t *q)
{
    uint32_t di = dlt_di(q->data), x;
    const uint8_t *v = q->data + 12;
    unsigned n = q->len - 12u;
    int i;
    if (di == DI_AUTO_N || di == DI_AUTO_S || di == DI_KEY_N) {
        if (n != 1u || dlt_bcd_get(v, 1, &x) < 0 || x < 1u ||
            (di != DI_AUTO_S && x > LIST_MAX))
            return -1;
        if (di == DI_AUTO_N)
            D.auto_n = (uint8_t)x;
        else if (di == DI_AUTO_S)
            D.auto_s = (uint8_t)x;
        else
            D.key_n = (uint8_t)x;
    } else {
        uint32_t item = n == 5u ? dlt_di(v) : 0u;
        if (n != 5u || v[4] != 0u || kind_of(item) == K_NONE)
            return -1;                      /* only the items the glass can show */
        if ((i = list_index(di, DI_AUTO_LIST)) >= 0)
            D.auto_di[i] = item;
        else
            D.key_di[list_index(di, DI_KEY_LIST)] = item;
    }
    g_auto %= D.auto_n;
    g_key %= D.key_n;
    rec_save();
    ms_printk("display: parameter %08x written\n", (unsigned)di);
    return 0;
}

static void serve(const dlt_frame_t *q, dlt_frame_t *r, uint8_t from)
{
    (void)from;
    if (DLT_FN(q->ctrl) == DLT_READ) {
        read_di(q, r);
        return;
    }
    if (q->len >= 12u && write_di(q) == 0)
        dlt_reply(r, q, 0, 0);
    else
        dlt_abnormal(r, q, DLT_SERR_OTHER);
}

static void init(void)
{
    rec_load();
    ms_tick_t now = ms_tick_get();
    g_mode = ROTATING;
    g_scan_at = g_wake_at = now;            /* the first screen at once, then on the grid */
    g_next_refresh = now;
    g_auto_next = second_at_or_after(now + ms_ms_to_ticks(D.auto_s * 1000u));
    ms_printk("display: %u screens rotating, %u s each, %u on the page key\n", D.auto_n,
              D.auto_s, D.key_n);
}

const bapp_module_t bapp_display = {
    .name = "display", .thread = BAPP_T_DISPLAY, .prio = 14, .stack = 1536,
    .owns = owns, .init = init, .serve = serve, .tick = tick,
};
