/*
 * Communication management service: DL/T645-2007 on the RS-485 port (2400 8E1 by default,
 * /dev/ttyS2) and the IR port (1200 8E1, /dev/ttyS3).
 *
 * Frames are found in each port's byte stream (FE preambles skipped, re-synchronised on
 * garbage, a partial frame forgotten after 500 ms of silence). The service itself answers what
 * belongs to the link: read/write address (13H/15H), baud rate (17H), passwords (18H), and it
 * checks the password and its level before a write (14H), clear (19H/1AH/1BH) or relay
 * command (1CH) goes on. Everything else travels through the virtual bus to the service or
 * app that owns the identifier or control code, and its answer goes back on the port it came
 * from, after four FE. Broadcast frames (99..99) get no reply; frames for other addresses are
 * ignored; an unknown function or a malformed data field gets the abnormal reply.
 * Passwords (PA 00..09, 00 the highest level): a command needing level N takes a password of
 * level N or higher. A level whose password was never set (FF FF FF, anything not BCD) opens
 * nothing; the factory sets 02 = 123456 and 04 = 000000 only. Three wrong passwords in a row,
 * on either port, lock password-protected commands on both ports (the lock is the meter's, not
 * a port's) for 24 hours of the calendar clock (/dev/rtc, battery-backed: a day without mains
 * counts). The count and the lock are kept in the EEPROM before the refusal goes out, so a
 * reset or a power cut clears neither; a lock found longer than 24 h (the clock went back) is
 * cut to 24 h from now. A right password ends a run of wrong ones.
 *
 * Bulk replies (vbus.h): an app's answer larger than a frame stays in the app's shared memory,
 * which the bus lets this service read; the first part goes out as the 91H reply (B1H when
 * more follow) and the master fetches the rest with 12H SEQ 1, 2 ... (92H / B2H, SEQ echoed),
 * each read where it lies. A payload rewritten meanwhile (its generation changed) ends the
 * read with SERR 01.
 *
 * The meter's address and passwords live in the EEPROM (/dev/eeprom, this process's window
 * 0x0000..0x00FF) as two copies of one record, each with its CRC and a sequence number: a
 * change is written over the older copy before it is acknowledged, so a power cut during the
 * write leaves the other copy whole; at start the valid copy with the higher number wins and
 * a damaged copy is rewritten from it.
 */
#include <stddef.h>
#include <string.h>
#include "ms_rtos.h"
#include "crc16.h"
#include "drv_io.h"
#include "services.h"
#include "svc_util.h"
#include "vbus.h"

#define PORTS 2u
#define BULK_CHUNK 192u                     /* payload bytes per frame: 16 LOADID records */
#define SHM_MAX 2u
#define GAP_MS 500u                         /* the standard's largest inter-byte gap */
#define PENDING_MS 1000u                    /* the bus answers within 500 ms */
#define WRONG_PASSWORDS_MAX 3u
#define LOCK_S (24u * 3600u)
#define PW_UNSET 0xFFu                      /* a level without a password: FF FF FF */
#define LEVEL_ADMIN 2u
#define LEVEL_OPERATOR 4u
#define CHAR_BITS 11u                       /* 8E1: start, 8 data, parity, stop */
#define REST_MAX_CHARS 12u                  /* the shortest frame: a false start costs no more */
#define REST_NOISE_CHARS 4u                 /* after bytes that begin no frame */

/* The settings record in EEPROM (little endian), one copy per 64-byte page. */
#define SET_MAGIC 0x54455343u               /* "CSET" */
#define SET_COPIES 2u
#define SET_COPY_ADDR(i) ((uint32_t)(i) * 64u)
/* The password lock, in its own record after the two copies: a wrong password costs one
 * small write, not a settings copy. A damaged record reads as unlocked. */
#define LOCK_MAGIC 0x4B434C43u              /* "CLCK" */
#define LOCK_ADDR 0x0080u
typedef struct {
    uint32_t magic;
    uint32_t until_s;                       /* /dev/rtc seconds the lock ends at */
    uint8_t wrong, locked;
    uint16_t crc;                           /* CRC-16/CCITT of the bytes before it */
} lock_t;

typedef struct {
    uint32_t magic;
    uint32_t seq;                           /* the newer copy has the higher number */
    uint8_t addr[6];
    uint8_t pw[10][3];
    uint16_t crc;                           /* CRC-16/CCITT of the bytes before it */
} settings_t;

struct port {
    const char *name, *dev;
    uint32_t baud;
    uint8_t thread;                         /* the port's thread address (Table 3) */
    int fd;
    dlt_rx_t rx;
    ms_tick_t last_rx;
    uint8_t resting;                        /* a frame is arriving: read again at rest_until */
    ms_tick_t rest_until;
    uint8_t pending, tag, broadcast;
    ms_tick_t deadline;
    uint32_t new_baud;                      /* after the 97H reply has left */
    struct {                                /* a bulk reply being read frame by frame */
        uint8_t active;
        uint32_t di, gen;
        uint16_t len;
        const uint8_t *shm;
        char app[VBUS_APP_NAME_MAX + 1];
    } bulk;
};

struct com {
    struct port port[PORTS];
    int from_bus, to_bus;
    vbus_rx_t bus_rx;
    uint8_t addr[6];
    uint8_t pw[10][3];
    uint8_t wrong, locked;                  /* the meter's, shared by both ports */
    uint32_t locked_until_s;                /* /dev/rtc seconds */
    uint8_t operator_code[4];
    uint8_t next_tag;
    int eeprom;                             /* /dev/eeprom, < 0: settings not kept */
    struct { char name[VBUS_APP_NAME_MAX + 1]; const uint8_t *base; } shm[SHM_MAX];
    uint32_t set_seq;
    unsigned set_copy;                      /* the copy holding the current settings */
    vbus_msg_t m;
    dlt_frame_t r, in;
    uint8_t raw[4 + DLT_FRAME_MAX];
};

static int copy_io(struct com *c, unsigned copy, settings_t *s, int write)
{
    return svc_eeprom_rw(c->eeprom, SET_COPY_ADDR(copy), s, sizeof *s, write);
}

/* Writes the settings in use over the older copy; MS_OK once they are in the EEPROM. */
static int settings_save(struct com *c)
{
    if (c->eeprom < 0)
        return MS_ERR_IO;
    settings_t s;
    memset(&s, 0, sizeof s);
    s.magic = SET_MAGIC;
    s.seq = c->set_seq + 1u;
    memcpy(s.addr, c->addr, 6);
    memcpy(s.pw, c->pw, sizeof s.pw);
    svc_rec_seal(&s, offsetof(settings_t, crc));
    unsigned copy = (c->set_copy + 1u) % SET_COPIES;
    int r = copy_io(c, copy, &s, 1);
    if (r < 0) {
        ms_printk("com: EEPROM write failed (%d), settings not kept\n", r);
        return r;
    }
    c->set_seq = s.seq;
    c->set_copy = copy;
    return MS_OK;
}

/* Address and passwords from the newer valid copy; a damaged copy is rewritten from it,
 * and with no valid copy the factory settings already in `c` are written to both. */
static void settings_load(struct com *c)
{
    static const char k_copy[SET_COPIES] = {'A', 'B'};
    settings_t s[SET_COPIES];
    int ok[SET_COPIES];
    c->eeprom = ms_io_open(DEV_EEPROM, O_RDWR, 0);
    if (c->eeprom < 0) {
        ms_printk("com: no EEPROM (%d), factory settings, not kept\n", c->eeprom);
        return;
    }
    for (unsigned i = 0; i < SET_COPIES; i++)
        ok[i] = copy_io(c, i, &s[i], 0) == MS_OK &&
                svc_rec_valid(&s[i], SET_MAGIC, offsetof(settings_t, crc));
    int newer = svc_rec_newer(&s[0], &s[1], ok);
    if (newer < 0) {
        ms_printk("com: no valid settings in EEPROM, factory settings written\n");
        c->set_copy = 1;
        settings_save(c);                   /* copy A, then B */
        settings_save(c);
        return;
    }
    unsigned best = (unsigned)newer;
    memcpy(c->addr, s[best].addr, 6);
    memcpy(c->pw, s[best].pw, sizeof c->pw);
    c->set_seq = s[best].seq;
    c->set_copy = best;
    unsigned other = 1u - best;
    if (!ok[other]) {
        int r = copy_io(c, other, &s[best], 1);
        ms_printk("com: settings copy %c damaged, %s from copy %c\n", k_copy[other],
                  r == MS_OK ? "repaired" : "NOT repaired", k_copy[best]);
    }
    ms_printk("com: settings from EEPROM copy %c (seq %u)\n", k_copy[best], (unsigned)c->set_seq);
}

static void send_frame(struct com *c, struct port *p, dlt_frame_t *f)
{
    memcpy(f->addr, c->addr, 6);            /* a reply carries the meter's real address */
    memset(c->raw, DLT_PREAMBLE, 4);
    unsigned n = 4u + dlt_encode(f, c->raw + 4);
    ms_io_write(p->fd, c->raw, n);
    if (p->new_baud) {
        uint32_t baud = p->new_baud;
        p->new_baud = 0;
        if (ms_io_ioctl(p->fd, TTY_IOCTL_SET_BAUD, &baud) == 0) {
            p->baud = baud;
            ms_printk("com: %s now at %u baud\n", p->name, (unsigned)baud);
        }
    }
}

static int addr_kind(struct com *c, const uint8_t *a)
{
    int all99 = 1, allAA = 1, match = 1;
    for (unsigned i = 0; i < 6u; i++) {
        all99 &= a[i] == 0x99u;
        allAA &= a[i] == 0xAAu;
    }
    if (all99)
        return VBUS_MA_BROADCAST;
    if (allAA)
        return VBUS_MA_WILDCARD;
    /* abbreviated addressing: the high bytes AA, the low bytes the meter's */
    unsigned i = 6;
    while (i > 0 && a[i - 1] == 0xAAu)
        i--;
    for (unsigned k = 0; k < i; k++)
        match &= a[k] == c->addr[k];
    if (!match)
        return -1;
    return i == 6u ? VBUS_MA_OWN : VBUS_MA_WILDCARD;
}

static const uint8_t k_baud_z[] = {0, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40};
static const uint32_t k_baud[] = {0, 600, 1200, 2400, 4800, 9600, 19200};

static uint32_t baud_of(uint8_t z)
{
    for (unsigned i = 1; i < sizeof k_baud / sizeof k_baud[0]; i++)
        if (k_baud_z[i] == z)
            return k_baud[i];
    return 0;
}

static uint8_t z_of(uint32_t baud)
{
    for (unsigned i = 1; i < sizeof k_baud / sizeof k_baud[0]; i++)
        if (k_baud[i] == baud)
            return k_baud_z[i];
    return 0;
}

/* The battery-backed clock, opened for each read: the kernel's file table is shared by every
 * process and nearly full, and the clock is read only when a password is checked. */
static uint32_t rtc_now_s(void)
{
    uint32_t s = 0;
    int fd = ms_io_open(DEV_RTC, O_RDONLY, 0);
    if (fd < 0)
        return 0;
    int n = ms_io_read(fd, &s, 4);
    ms_io_close(fd);
    return n == 4 ? s : 0;
}

/* The lock record as it is in `c`; MS_OK once it is in the EEPROM. */
static int lock_save(struct com *c)
{
    if (c->eeprom < 0)
        return MS_ERR_IO;
    lock_t l = {.magic = LOCK_MAGIC, .until_s = c->locked_until_s, .wrong = c->wrong,
                .locked = c->locked};
    l.crc = crc16_ccitt((const uint8_t *)&l, offsetof(lock_t, crc));
    drv_seek_t at = {.offset = LOCK_ADDR, .whence = DRV_SEEK_SET};
    if (ms_io_ioctl(c->eeprom, DRV_IOCTL_SEEK, &at) < 0 ||
        ms_io_write(c->eeprom, &l, sizeof l) != (int)sizeof l) {
        ms_printk("com: EEPROM write failed, password lock not kept\n");
        return MS_ERR_IO;
    }
    return MS_OK;
}

static void lock_load(struct com *c)
{
    lock_t l;
    drv_seek_t at = {.offset = LOCK_ADDR, .whence = DRV_SEEK_SET};
    if (c->eeprom < 0 || ms_io_ioctl(c->eeprom, DRV_IOCTL_SEEK, &at) < 0 ||
        ms_io_read(c->eeprom, &l, sizeof l) != (int)sizeof l || l.magic != LOCK_MAGIC ||
        l.crc != crc16_ccitt((const uint8_t *)&l, offsetof(lock_t, crc)))
        return;                             /* blank or damaged: no wrong passwords */
    c->wrong = l.wrong < WRONG_PASSWORDS_MAX ? l.wrong : 0u;
    c->locked = l.locked == 1u;
    c->locked_until_s = l.until_s;
    if (c->locked) {
        uint32_t now = rtc_now_s();
        if ((int32_t)(c->locked_until_s - now) > (int32_t)LOCK_S)
            c->locked_until_s = now + LOCK_S;   /* the clock went back: at most 24 h more */
        ms_printk("com: password lock kept, %u s left\n",
                  (int32_t)(c->locked_until_s - now) > 0 ? (unsigned)(c->locked_until_s - now) : 0u);
    } else if (c->wrong) {
        ms_printk("com: %u wrong password(s) kept\n", c->wrong);
    }
}

/* A password is six BCD digits; FF FF FF (or anything not BCD) is a level never set. */
static int pw_valid(const uint8_t *pw)
{
    for (unsigned i = 0; i < 3u; i++)
        if ((pw[i] & 0x0Fu) > 9u || (pw[i] >> 4) > 9u)
            return 0;
    return 1;
}

/* PA P0 P1 P2 at pa: may a command needing `max_level` go on? Counts wrong passwords, and
 * keeps the count and the lock in the EEPROM before the caller refuses. */
static int authorised(struct com *c, const uint8_t *pa, unsigned max_level)
{
    if (c->locked) {
        uint32_t now = rtc_now_s();
        if ((int32_t)(now - c->locked_until_s) < 0) {
            ms_printk("com: password-protected commands locked\n");
            return 0;
        }
        c->locked = 0;
        c->wrong = 0;
        lock_save(c);
        ms_printk("com: password lock ended\n");
    }
    if (pa[0] > 9u || pa[0] > max_level)
        return 0;
    if (!pw_valid(c->pw[pa[0]]) || memcmp(pa + 1, c->pw[pa[0]], 3) != 0) {
        if (++c->wrong >= WRONG_PASSWORDS_MAX) {
            c->locked = 1;
            c->locked_until_s = rtc_now_s() + LOCK_S;
            c->wrong = 0;
            lock_save(c);
            ms_printk("com: %u wrong passwords, locked for 24 h\n", WRONG_PASSWORDS_MAX);
        } else {
            lock_save(c);
            ms_printk("com: wrong password (%u)\n", c->wrong);
        }
        return 0;
    }
    if (c->wrong) {
        c->wrong = 0;
        lock_save(c);
    }
    return 1;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Where an app's shared memory lies in this process (opened once; the bus granted reading). */
static const uint8_t *shm_of(struct com *c, const char *app)
{
    unsigned i;
    for (i = 0; i < SHM_MAX && c->shm[i].base; i++)
        if (!strcmp(c->shm[i].name, app))
            return c->shm[i].base;
    if (i == SHM_MAX)
        return 0;
    char path[MS_PATH_MAX];
    vbus_shm_path(path, sizeof path, app);
    int fd = ms_io_open(path, O_RDONLY, 0);
    uint32_t access = 0;
    void *base = 0;
    if (fd < 0 || ms_io_ioctl(fd, MS_IOCTL_SHM_ACCESS, &access) < 0 || !(access & MS_SHM_READ) ||
        ms_io_ioctl(fd, MS_IOCTL_SHM_GET_ADDR, &base) < 0) {
        ms_printk("com: cannot read %s (%d, access %u)\n", path, fd, (unsigned)access);
        if (fd >= 0)
            ms_io_close(fd);
        return 0;
    }
    memcpy(c->shm[i].name, app, sizeof c->shm[i].name);
    c->shm[i].base = base;
    return base;
}

/* Frame `seq` of the port's bulk read: 0 answers 11H, n >= 1 answers 12H SEQ n. */
static void bulk_frame(struct com *c, struct port *p, const dlt_frame_t *q, unsigned seq)
{
    unsigned first = seq * BULK_CHUNK, n = 4;
    if (le32(p->bulk.shm) != p->bulk.gen) {
        ms_printk("com: bulk data of %s changed during the read\n", p->bulk.app);
        p->bulk.active = 0;
        dlt_abnormal(&c->r, q, DLT_SERR_OTHER);
    } else if (seq && first >= p->bulk.len) {
        dlt_abnormal(&c->r, q, DLT_SERR_NO_DATA);
    } else {
        unsigned part = p->bulk.len - first < BULK_CHUNK ? p->bulk.len - first : BULK_CHUNK;
        dlt_put_di(c->r.data, p->bulk.di);
        memcpy(c->r.data + 4, p->bulk.shm + VBUS_SHM_HDR + first, part);
        n += part;
        if (seq)
            c->r.data[n++] = (uint8_t)seq;
        memcpy(c->r.addr, q->addr, 6);
        c->r.ctrl = (uint8_t)(DLT_FN(q->ctrl) | DLT_REPLY);
        if (first + part < p->bulk.len)
            c->r.ctrl |= DLT_FOLLOWS;
        c->r.len = (uint8_t)n;
    }
    send_frame(c, p, &c->r);
}

/* The bus forwarded a bulk reply for port p: find the payload and send its first frame. */
static void bulk_start(struct com *c, struct port *p, const dlt_frame_t *d)
{
    p->bulk.active = 0;
    if (d->len != VBUS_BULK_DESC_LEN || (d->ctrl & DLT_ABNORMAL)) {
        dlt_abnormal(&c->r, d, DLT_SERR_OTHER);
        send_frame(c, p, &c->r);
        return;
    }
    memcpy(p->bulk.app, d->data + 10, VBUS_APP_NAME_MAX);
    p->bulk.app[VBUS_APP_NAME_MAX] = 0;
    p->bulk.di = dlt_di(d->data);
    p->bulk.len = (uint16_t)(d->data[4] | d->data[5] << 8);
    p->bulk.gen = le32(d->data + 6);
    p->bulk.shm = shm_of(c, p->bulk.app);
    if (!p->bulk.shm || p->bulk.len > VBUS_BULK_MAX) {
        dlt_abnormal(&c->r, d, DLT_SERR_OTHER);
        send_frame(c, p, &c->r);
        return;
    }
    p->bulk.active = 1;
    bulk_frame(c, p, d, 0);
}

static void to_bus(struct com *c, struct port *p, const dlt_frame_t *q, int kind)
{
    if (++c->next_tag == 0)
        c->next_tag = 1;
    vbus_hdr(&c->m.h, VBUS_ADDR(VBUS_P_COM, p->thread), VBUS_ADDR_BUS, VBUS_CMD_REQUEST,
             (uint8_t)kind, c->next_tag);
    c->m.f = *q;
    p->pending = 1;
    p->tag = c->next_tag;
    p->broadcast = kind == VBUS_MA_BROADCAST;
    p->deadline = ms_tick_get() + ms_ms_to_ticks(PENDING_MS);
    if (vbus_send(c->to_bus, &c->m) < 0)
        p->pending = 0;
}

/* 18H: DI 04000C0N (level N-1), old PA + password, new PA + password. */
static void change_password(struct com *c, struct port *p, const dlt_frame_t *q)
{
    uint32_t di = dlt_di(q->data);
    unsigned level = (di & 0xFFu) - 1u;
    const uint8_t *old = q->data + 4, *neu = q->data + 8;
    if ((di & 0xFFFFFF00u) != 0x04000C00u || level > 9u || neu[0] != level ||
        !pw_valid(neu + 1) || !authorised(c, old, level)) {
        dlt_abnormal(&c->r, q, DLT_SERR_PASSWORD);
    } else {
        uint8_t old[3];
        memcpy(old, c->pw[level], 3);
        memcpy(c->pw[level], neu + 1, 3);
        if (settings_save(c) < 0) {         /* acknowledged only once it is kept */
            memcpy(c->pw[level], old, 3);
            dlt_abnormal(&c->r, q, DLT_SERR_OTHER);
        } else {
            dlt_reply(&c->r, q, neu, 4);
            ms_printk("com: password of level %02u changed\n", level);
        }
    }
    send_frame(c, p, &c->r);
}

static void frame(struct com *c, struct port *p, const dlt_frame_t *q)
{
    if (q->ctrl & DLT_REPLY)
        return;                             /* another meter's answer */
    int kind = addr_kind(c, q->addr);
    if (kind < 0)
        return;                             /* for another meter */
    unsigned fn = DLT_FN(q->ctrl), len = q->len;
    int bc = kind == VBUS_MA_BROADCAST;
    if (bc && fn != DLT_BROADCAST_TIME && fn != DLT_FREEZE)
        return;
    p->pending = 0;                         /* a new request supersedes an unanswered one */
    uint8_t serr = 0;
    switch (q->ctrl) {
    case DLT_READ_ADDR:
        if (len)
            serr = DLT_SERR_OTHER;
        else {
            dlt_reply(&c->r, q, c->addr, 6);
            send_frame(c, p, &c->r);
        }
        break;
    case DLT_WRITE_ADDR: {
        uint32_t v;
        if (len != 6u || kind != VBUS_MA_WILDCARD || dlt_bcd_get(q->data, 6, &v) < 0 ||
            q->addr[0] != 0xAAu)
            serr = DLT_SERR_OTHER;
        else {
            uint8_t old[6];
            memcpy(old, c->addr, 6);
            memcpy(c->addr, q->data, 6);
            if (settings_save(c) < 0) {     /* acknowledged only once it is kept */
                memcpy(c->addr, old, 6);
                serr = DLT_SERR_OTHER;
                break;
            }
            dlt_reply(&c->r, q, 0, 0);
            send_frame(c, p, &c->r);
            ms_printk("com: address now %02x%02x%02x%02x%02x%02x\n", c->addr[5], c->addr[4],
                      c->addr[3], c->addr[2], c->addr[1], c->addr[0]);
        }
        break;
    }
    case DLT_BAUD: {
        uint32_t baud = len == 1u ? baud_of(q->data[0]) : 0;
        if (!baud)
            serr = DLT_SERR_BAUD;
        else {
            dlt_reply(&c->r, q, q->data, 1);
            p->new_baud = baud;             /* the reply still goes at the old rate */
            send_frame(c, p, &c->r);
        }
        break;
    }
    case DLT_PASSWORD:
        if (len != 12u)
            serr = DLT_SERR_PASSWORD;
        else
            change_password(c, p, q);
        break;
    case DLT_WRITE:
    case DLT_CLEAR_DEMAND:
    case DLT_CLEAR_METER:
    case DLT_CLEAR_EVENTS:
    case DLT_RELAY: {
        /* PA P0-P2 C0-C3 come first, after the DI in a write */
        unsigned at = q->ctrl == DLT_WRITE ? 4u : 0u;
        unsigned need = q->ctrl == DLT_CLEAR_EVENTS ? 12u : q->ctrl == DLT_RELAY ? 16u : 8u;
        unsigned level = q->ctrl == DLT_CLEAR_DEMAND ? LEVEL_OPERATOR : LEVEL_ADMIN;
        if (q->ctrl == DLT_WRITE ? len < 13u : len != need)
            serr = DLT_SERR_OTHER;
        else if (!authorised(c, q->data + at, level))
            serr = DLT_SERR_PASSWORD;
        else {
            memcpy(c->operator_code, q->data + at + 4, 4);
            to_bus(c, p, q, kind);
        }
        break;
    }
    case DLT_READ:
        p->bulk.active = 0;                 /* a new read ends a bulk one */
        if (len != 4u && len != 5u && len != 10u)
            serr = DLT_SERR_OTHER;
        else
            to_bus(c, p, q, kind);
        break;
    case DLT_READ_NEXT:
        if (len != 5u)
            serr = DLT_SERR_OTHER;
        else if (p->bulk.active && dlt_di(q->data) == p->bulk.di)
            bulk_frame(c, p, q, q->data[4]);    /* served from the shared memory */
        else
            to_bus(c, p, q, kind);
        break;
    case DLT_BROADCAST_TIME:
        if (bc && len == 6u)
            to_bus(c, p, q, kind);          /* never answered */
        break;
    case DLT_FREEZE:
        if (len != 4u)
            serr = DLT_SERR_OTHER;
        else
            to_bus(c, p, q, kind);
        break;
    default:
        serr = DLT_SERR_OTHER;
        break;
    }
    if (serr && !bc) {
        dlt_abnormal(&c->r, q, serr);
        send_frame(c, p, &c->r);
    }
}

/* Requests the bus routes to this service: the identifiers of the link. */
static void serve(struct com *c, const vbus_msg_t *m)
{
    const dlt_frame_t *q = &m->f;
    uint32_t di = q->len >= 4u ? dlt_di(q->data) : 0;
    uint8_t d[12];
    dlt_put_di(d, di);
    if (DLT_FN(q->ctrl) == DLT_READ && di == 0x04000401u) {
        memcpy(d + 4, c->addr, 6);
        dlt_reply(&c->r, q, d, 10);
    } else if (DLT_FN(q->ctrl) == DLT_READ && (di == 0x04000701u || di == 0x04000703u)) {
        d[4] = z_of(c->port[di == 0x04000703u ? 0 : 1].baud);   /* IR modulated, port 1 */
        dlt_reply(&c->r, q, d, 5);
    } else {
        dlt_abnormal(&c->r, q, DLT_FN(q->ctrl) == DLT_READ ? DLT_SERR_NO_DATA : DLT_SERR_OTHER);
    }
    vbus_hdr(&c->m.h, VBUS_ADDR_COM, m->h.ca, VBUS_CMD_REPLY, m->h.addr_type, m->h.tag);
    c->m.f = c->r;
    vbus_send(c->to_bus, &c->m);
}

static void from_bus(struct com *c)
{
    if (vbus_rx_fill(&c->bus_rx, c->from_bus) < 0)
        return;
    while (svc_next(&c->bus_rx, &c->m)) {
        vbus_msg_t *m = &c->m;
        if (m->h.cmd == VBUS_CMD_REQUEST) {
            serve(c, m);
            continue;
        }
        for (unsigned i = 0; i < PORTS; i++) {
            struct port *p = &c->port[i];
            if ((m->h.cmd == VBUS_CMD_REPLY || m->h.cmd == VBUS_CMD_BULK) &&
                m->h.sa == VBUS_ADDR(VBUS_P_COM, p->thread) && p->pending && m->h.tag == p->tag) {
                p->pending = 0;
                if (p->broadcast)
                    continue;
                if (m->h.cmd == VBUS_CMD_BULK)
                    bulk_start(c, p, &m->f);
                else
                    send_frame(c, p, &m->f);
            }
        }
    }
}

/* Characters worth waiting for before reading the port again: the rest of the frame its
 * receiver holds the head of (of the shortest frame while L is unknown); after a preamble
 * byte, a whole frame; after bytes that began no frame, a few (noise tends to come in
 * bursts); none after a whole frame. */
static unsigned bytes_to_come(const struct port *p, uint8_t last, int took_frame)
{
    const dlt_rx_t *rx = &p->rx;
    unsigned want = rx->n >= 10u ? 12u + rx->buf[9] : rx->n ? 12u : 0u;
    if (!rx->n)
        return last == DLT_PREAMBLE ? 12u : took_frame ? 0u : REST_NOISE_CHARS;
    return want > rx->n ? want - rx->n : 0u;
}

/* Reads what the port has received and handles the frames in it. While a frame is arriving,
 * the service does not wake for each of its characters: it leaves the port out of select
 * until the time the rest needs on the wire (at most the shortest frame's, so a false start
 * delays a frame behind it by no more than that) and then reads it in one go. Likewise a few
 * characters' time after noise. */
static void from_port(struct com *c, struct port *p, ms_tick_t now)
{
    uint8_t buf[64];
    int n = ms_io_read(p->fd, buf, sizeof buf);
    if (n <= 0)
        return;
    if (p->rx.n && now - p->last_rx > ms_ms_to_ticks(GAP_MS))
        dlt_rx_reset(&p->rx);               /* the rest of that frame never came */
    p->last_rx = now;
    unsigned off = 0;
    int took = 0;
    while (off < (unsigned)n) {
        off += dlt_rx_put(&p->rx, buf + off, (unsigned)n - off);
        dlt_frame_t *f = &c->in;
        while (dlt_rx_take(&p->rx, f)) {
            frame(c, p, f);
            took = 1;
        }
        if (p->rx.n == sizeof p->rx.buf)
            dlt_rx_reset(&p->rx);
    }
    unsigned k = bytes_to_come(p, buf[n - 1], took);
    if (k && p->baud && n < (int)sizeof buf) {     /* (a full buffer: more is waiting) */
        if (k > REST_MAX_CHARS)
            k = REST_MAX_CHARS;
        uint32_t ms = (k * CHAR_BITS * 1000u + p->baud - 1u) / p->baud;
        p->resting = 1;
        p->rest_until = now + ms_ms_to_ticks(ms) + 1u;  /* + 1: the last one's RXNE is in */
    }
}

void com_service_main(void *arg)
{
    (void)arg;
    struct com *c = svc_state(sizeof *c);
    static const uint8_t k_addr[6] = {0x56, 0x34, 0x12, 0x00, 0x00, 0x00};  /* 000000123456 */
    memcpy(c->addr, k_addr, 6);
    memset(c->pw, PW_UNSET, sizeof c->pw);
    c->pw[LEVEL_ADMIN][0] = 0x56;           /* 123456, least significant byte first */
    c->pw[LEVEL_ADMIN][1] = 0x34;
    c->pw[LEVEL_ADMIN][2] = 0x12;
    memset(c->pw[LEVEL_OPERATOR], 0, 3);    /* 000000 */
    settings_load(c);
    lock_load(c);
    c->port[0] = (struct port){.name = "rs485", .dev = DEV_RS485, .baud = 2400,
                               .thread = VBUS_T_COM_RS485};
    c->port[1] = (struct port){.name = "ir", .dev = DEV_IR, .baud = 1200, .thread = VBUS_T_COM_IR};
    for (unsigned i = 0; i < PORTS; i++) {
        c->port[i].fd = ms_io_open(c->port[i].dev, O_RDWR | O_NONBLOCK, 0);
        if (c->port[i].fd < 0) {
            ms_printk("com: cannot open %s (%d)\n", c->port[i].dev, c->port[i].fd);
            ms_process_exit(1);
        }
    }
    if (vbus_connect(VBUS_NAME_COM, &c->from_bus, &c->to_bus) < 0) {
        ms_printk("com: no virtual bus\n");
        ms_process_exit(1);
    }
    ms_printk("com: DL/T645-2007 on rs485 (2400 8E1) and ir (1200 8E1), address "
              "%02x%02x%02x%02x%02x%02x\n", c->addr[5], c->addr[4], c->addr[3], c->addr[2],
              c->addr[1], c->addr[0]);
    /* One tick reading per wake-up (each is a system call): taken after select, it serves
     * the gap check, the deadlines and the next select's timeout. */
    ms_tick_t now = ms_tick_get();
    for (;;) {
        ms_fdset_t rd = 0;
        int nfds = c->from_bus + 1;
        MS_FD_SET(c->from_bus, &rd);
        /* wake for an unanswered request's deadline and a resting port's time only */
        ms_tick_t timeout = MS_WAIT_FOREVER;
        for (unsigned i = 0; i < PORTS; i++) {
            struct port *p = &c->port[i];
            if (p->pending) {
                int32_t left = (int32_t)(p->deadline - now);
                ms_tick_t w = left > 0 ? (ms_tick_t)left : 0;
                if (w < timeout)
                    timeout = w;
            }
            if (p->resting) {
                int32_t left = (int32_t)(p->rest_until - now);
                ms_tick_t w = left > 0 ? (ms_tick_t)left : 0;
                if (w < timeout)
                    timeout = w;
                continue;
            }
            MS_FD_SET(p->fd, &rd);
            if (p->fd + 1 > nfds)
                nfds = p->fd + 1;
        }
        int r = ms_io_select(nfds, &rd, 0, timeout);
        now = ms_tick_get();
        if (r > 0 && MS_FD_ISSET(c->from_bus, &rd))
            from_bus(c);
        for (unsigned i = 0; i < PORTS; i++) {
            struct port *p = &c->port[i];
            if (p->resting) {
                if ((int32_t)(now - p->rest_until) >= 0) {
                    p->resting = 0;
                    from_port(c, p, now);
                }
            } else if (r > 0 && MS_FD_ISSET(p->fd, &rd)) {
                from_port(c, p, now);
            }
        }
        for (unsigned i = 0; i < PORTS; i++)
            if (c->port[i].pending && (int32_t)(now - c->port[i].deadline) >= 0) {
                c->port[i].pending = 0;
                ms_printk("com: no answer from the bus for %s\n", c->port[i].name);
            }
    }
}
