/*
 * The basic app's core: its virtual-bus module (Table 3 thread 0, the process's main thread)
 * and the get / set / action plumbing between the modules (bapp.h, docs/meter_basic_app.md).
 *
 * The bus module waits in select() on the app's pipe V_BUS_TO_BASIC (the bus creates the
 * pipes at start; BASIC is process 1, routed by the bus while the process runs) and nothing
 * else: a request is posted to the queue of the module that owns its control code and DI
 * (whose thread answers straight back into BASIC_TO_V_BUS), a reply to a request a module sent
 * out is posted to that module's reply queue (the reply's SA names the module's thread).
 */
#include <string.h>
#include "bapp.h"
#include "drv_io.h"
#include "services.h"
#include "svc_util.h"

#define MODULES_MAX 7u
#define REQ_DEPTH 4u
#define REPLY_DEPTH 2u

typedef struct {
    ms_handle_t reply_mq;                   /* internal asker's reply queue; -1: the bus */
    uint8_t from;                           /* asking module's thread, or BAPP_FROM_BUS */
    vbus_msg_t m;
} bapp_msg_t;

struct mod {
    const bapp_module_t *d;
    ms_handle_t req, reply, tid;
    uint8_t seq;
    bapp_msg_t in, out, scratch;            /* this thread's own buffers */
    dlt_frame_t r;
    volatile uint8_t woken;                 /* bapp_wake: tick at once */
};

static struct mod g_mod[MODULES_MAX];
static int g_from_bus = -1, g_to_bus = -1;
static ms_handle_t g_pipe_lock, g_ee_lock, g_bus_tid;
static vbus_rx_t g_rx;
static vbus_msg_t g_m;
static dlt_frame_t g_r;
static bapp_msg_t g_post, g_wake_msg;

/* ---- helpers the modules share ---- */

unsigned bapp_bcd2(uint8_t b) { return (b >> 4) * 10u + (b & 0xFu); }

/* Devices are opened for each use, one at a time in the whole app (the device lock): the
 * kernel's file table is shared by every process (ms_config.h MS_MAX_FILES) and the app's own
 * share is max_files in its start parameters. Two are kept open once opened: the clock and the
 * relay, which the modules read every second (the open and close of a device cost a path
 * lookup and four more system calls than its read); the display keeps its own two (the glass
 * and the keys). That leaves the app's two pipes, these four and one file at a time for the
 * EEPROM under the device lock and one for a freeze backup on the NOR: its eight. */
static const struct {
    const char *dev;
    uint8_t locked;     /* the relay's write pulses its coil for 55 ms: a read meanwhile would
                         * see the contact moving; the clock's read takes one kernel call */
} k_kept[] = {{DEV_RTC, 0}, {DEV_RELAY, 1}};
enum { KEPT_RTC, KEPT_RELAY, KEPT_NONE = -1 };
static int g_kept_fd[] = {-1, -1};

/* Device dev, kept open when it is k_kept[k] (KEPT_NONE: opened for this use alone). */
static int device_io(int k, const char *dev, void *buf, unsigned n, int write)
{
    if (k >= 0 && !k_kept[k].locked && g_kept_fd[k] >= 0)
        return write ? ms_io_write(g_kept_fd[k], buf, n) : ms_io_read(g_kept_fd[k], buf, n);
    ms_mutex_lock(g_ee_lock, MS_WAIT_FOREVER);
    int fd = k >= 0 ? g_kept_fd[k] : -1;
    if (fd < 0)
        fd = ms_io_open(dev, k >= 0 || write ? O_RDWR : O_RDONLY, 0);
    int r = fd;
    if (fd >= 0) {
        r = write ? ms_io_write(fd, buf, n) : ms_io_read(fd, buf, n);
        if (k >= 0)
            g_kept_fd[k] = fd;
        else
            ms_io_close(fd);
    }
    ms_mutex_unlock(g_ee_lock);
    return r;
}

static int device_result(int r, unsigned n) { return r == (int)n ? MS_OK : (r < 0 ? r : MS_ERR_IO); }

int bapp_device_io(const char *dev, void *buf, unsigned n, int write)
{
    int k = KEPT_NONE;
    for (unsigned i = 0; i < sizeof k_kept / sizeof k_kept[0]; i++)
        if (!strcmp(dev, k_kept[i].dev))
            k = (int)i;
    return device_io(k, dev, buf, n, write);
}

int bapp_device(const char *dev, void *buf, unsigned n, int write)
{
    return device_result(bapp_device_io(dev, buf, n, write), n);
}

int bapp_file(const char *path, void *buf, unsigned n, int write)
{
    int fd = ms_io_open(path, write ? O_WRONLY | O_CREAT | O_TRUNC : O_RDONLY, 0), r = fd;
    if (fd < 0)
        return r;
    r = write ? ms_io_write(fd, buf, n) : ms_io_read(fd, buf, n);
    int c = ms_io_close(fd);                /* littlefs commits a written file here */
    if (r >= 0 && c < 0)
        r = c;
    return r == (int)n ? MS_OK : (r < 0 ? r : MS_ERR_IO);
}

/* The clock and the relay, read by the modules every second: straight to their kept files,
 * no look-up of the device's name. */
uint32_t bapp_clock(void)
{
    uint32_t s = 0;
    device_io(KEPT_RTC, DEV_RTC, &s, 4, 0);
    return s;
}

int bapp_relay(int close)
{
    uint8_t b = (uint8_t)close;
    int r = device_result(device_io(KEPT_RELAY, DEV_RELAY, &b, 1, close >= 0), 1);
    return r == MS_OK ? b : r;
}

/* The seek and transfer are the services' (svc_util.c, linked into the app too); the app adds
 * opening /dev/eeprom for this one use under its device lock. */
int bapp_eeprom(uint32_t addr, void *buf, unsigned n, int write)
{
    ms_mutex_lock(g_ee_lock, MS_WAIT_FOREVER);
    int fd = ms_io_open(DEV_EEPROM, O_RDWR, 0), r = fd;
    if (fd >= 0) {
        r = svc_eeprom_rw(fd, addr, buf, n, write);
        ms_io_close(fd);
    }
    ms_mutex_unlock(g_ee_lock);
    return r;
}

/* bapp.h has the contract; the layout and write order are the ones each module had. */
int bapp_rec_save(const bapp_rec_t *d, void *rec)
{
    uint8_t *b = rec;
    uint32_t seq;
    memcpy(&seq, b + 4, 4);
    seq++;
    memcpy(b + 4, &seq, 4);
    svc_rec_seal(rec, d->crc_at);
    int r = bapp_eeprom(d->addr + (seq & 1u) * d->stride, rec, d->size, 1);
    if (r < 0)
        ms_printk("%s not saved\n", d->what);
    return r;
}

/* One copy read at a time, held against the best so far in rec: a second buffer of
 * BAPP_REC_MAX bytes would cost every module's stack. */
int bapp_rec_load(const bapp_rec_t *d, void *rec)
{
    uint8_t c[BAPP_REC_MAX] __attribute__((aligned(8)));
    int best = -1;
    if (d->size > BAPP_REC_MAX)
        return -1;
    for (unsigned k = 0; k < 2u; k++) {
        int ok[2] = {best == 0, 0};
        ok[1] = bapp_eeprom(d->addr + k * d->stride, c, d->size, 0) == MS_OK &&
                svc_rec_valid(c, d->magic, d->crc_at);
        if (svc_rec_newer(rec, c, ok) != 1)
            continue;
        memcpy(rec, c, d->size);
        best = (int)k;
    }
    return best;
}

void bapp_reply_di(dlt_frame_t *r, const dlt_frame_t *q, const uint8_t *v, unsigned n)
{
    uint8_t d[DLT_MAX_DATA];
    dlt_put_di(d, dlt_di(q->data));
    memcpy(d + 4, v, n);
    dlt_reply(r, q, d, 4u + n);
}

/* ---- dispatch ---- */

static struct mod *owner_of(const dlt_frame_t *q)
{
    for (unsigned i = 0; i < bapp_module_count; i++)
        if (g_mod[i].d->owns(q))
            return &g_mod[i];
    return 0;
}

static struct mod *self(void)
{
    ms_handle_t t = ms_thread_self();
    for (unsigned i = 0; i < bapp_module_count; i++)
        if (g_mod[i].tid == t)
            return &g_mod[i];
    return 0;
}

static void to_bus(const vbus_msg_t *m)
{
    ms_mutex_lock(g_pipe_lock, MS_WAIT_FOREVER);
    vbus_send(g_to_bus, m);
    ms_mutex_unlock(g_pipe_lock);
}

/* A request of module `me` (its thread's own: self() is a system call, asked once per get,
 * set or action). */
static int request(struct mod *me, const dlt_frame_t *q, dlt_frame_t *r)
{
    struct mod *o = owner_of(q);
    bapp_msg_t *s = &me->scratch;
    uint8_t tag = ++me->seq;
    if (o == me) {
        me->d->serve(q, r, me->d->thread);
    } else {
        vbus_hdr(&s->m.h, VBUS_ADDR(VBUS_P_BASIC_APP, me->d->thread), VBUS_ADDR_BUS,
                 VBUS_CMD_REQUEST, VBUS_MA_INTERNAL, tag);
        s->m.f = *q;
        s->reply_mq = me->reply;
        s->from = me->d->thread;
        if (o) {
            if (ms_mq_send(o->req, s, ms_ms_to_ticks(BAPP_TIMEOUT_MS)) < 0)
                return MS_ERR_TIMEOUT;
        } else {
            to_bus(&s->m);                  /* external data: out through the app's pipe */
        }
        /* the whole timeout for the first wait; the tick is read again only after a late
         * answer to an earlier request */
        int32_t left = (int32_t)ms_ms_to_ticks(BAPP_TIMEOUT_MS);
        ms_tick_t deadline = ms_tick_get() + (ms_tick_t)left;
        for (;;) {
            if (left <= 0 || ms_mq_recv(me->reply, s, (ms_tick_t)left) < 0)
                return MS_ERR_TIMEOUT;
            if (s->m.h.tag == tag)
                break;
            left = (int32_t)(deadline - ms_tick_get());
        }
        *r = s->m.f;
    }
    if (r->ctrl & DLT_ABNORMAL)
        return -(int)(r->len ? r->data[0] : DLT_SERR_OTHER);
    return 0;
}

int bapp_request(const dlt_frame_t *q, dlt_frame_t *r)
{
    struct mod *me = self();
    if (!me)
        return MS_ERR_DEADLK;               /* the bus module dispatches, it never waits */
    return request(me, q, r);
}

static int frame(dlt_frame_t *q, uint8_t ctrl, uint32_t di, int with_di, const uint8_t *v,
                 unsigned n)
{
    memset(q->addr, 0xAA, 6);
    q->ctrl = ctrl;
    unsigned k = with_di ? 4u : 0u;
    if (with_di)
        dlt_put_di(q->data, di);
    if (k + n > DLT_MAX_DATA)
        return MS_ERR_INVAL;
    memcpy(q->data + k, v, n);
    q->len = (uint8_t)(k + n);
    return 0;
}

int bapp_get(uint32_t di, uint8_t *out, unsigned max)
{
    struct mod *me = self();
    if (!me)
        return MS_ERR_DEADLK;
    dlt_frame_t q;
    frame(&q, DLT_READ, di, 1, 0, 0);
    int r = request(me, &q, &me->r);
    if (r < 0)
        return r;
    if (me->r.len < 4u || dlt_di(me->r.data) != di)
        return -(int)DLT_SERR_OTHER;
    unsigned n = me->r.len - 4u;
    if (n > max)
        n = max;
    memcpy(out, me->r.data + 4, n);
    return (int)n;
}

int bapp_set(uint32_t di, const uint8_t *v, unsigned n)
{
    struct mod *me = self();
    dlt_frame_t q;
    if (!me)
        return MS_ERR_DEADLK;
    /* 14H: DI, PA P0-P2 (internal: level 02, no password), C0-C3 (the module), data */
    uint8_t d[8 + DLT_MAX_DATA];
    memset(d, 0, 8);
    d[0] = 0x02;
    d[4] = me->d->thread;
    if (n > DLT_MAX_DATA - 12u)
        return MS_ERR_INVAL;
    memcpy(d + 8, v, n);
    frame(&q, DLT_WRITE, di, 1, d, 8u + n);
    return request(me, &q, &me->r);
}

int bapp_action(uint8_t code, const uint8_t *v, unsigned n)
{
    struct mod *me = self();
    dlt_frame_t q;
    if (!me || frame(&q, code, 0, 0, v, n) < 0)
        return MS_ERR_INVAL;
    return request(me, &q, &me->r);
}

/* ---- module threads ---- */

/* The module's loop: its queue, with the tick's deadline as the timeout; bapp_wake puts a
 * wake-up in the queue for a tick at once. The tick count is a system call for a process: it
 * is read once per wake-up (after a tick, to set the next deadline from; after a request, to
 * see whether the tick is due), and a wait that timed out needs none (the kernel ends it at
 * the deadline, not before). Work done every second is wanted on the wake grid's seconds
 * (BAPP_NEXT_SECOND), where the display's refresh and the watchdog's feed wake the core too. */
static void module_thread(void *arg)
{
    struct mod *me = arg;
    me->tid = ms_thread_self();
    if (me->d->init)
        me->d->init();
    uint32_t wait_ms = BAPP_NEVER;
    ms_tick_t now = 0, next = 0;
    int tick_due = me->d->tick != 0;
    for (;;) {
        if (tick_due) {
            wait_ms = me->d->tick();
            now = ms_tick_get();
            if (wait_ms == BAPP_NEXT_SECOND)
                next = svc_grid_next(now, SVC_GRID_S);
            else
                next = now + (wait_ms == BAPP_NEVER ? 0 : ms_ms_to_ticks(wait_ms));
        }
        ms_tick_t timeout = MS_WAIT_FOREVER;
        if (wait_ms != BAPP_NEVER) {
            int32_t left = (int32_t)(next - now);
            timeout = left > 0 ? (ms_tick_t)left : 0;
        }
        int got = ms_mq_recv(me->req, &me->in, timeout);
        int woken = got >= 0 && me->woken && me->d->tick;
        if (woken)
            me->woken = 0;                          /* before the tick looks at what changed */
        if (got >= 0 && me->in.from != BAPP_FROM_WAKE) {
            bapp_msg_t *m = &me->in;
            me->d->serve(&m->m.f, &me->r, m->from);
            if (m->from == BAPP_FROM_BUS) {
                vbus_msg_t *o = &me->out.m;
                vbus_hdr(&o->h, VBUS_ADDR(VBUS_P_BASIC_APP, me->d->thread), m->m.h.ca,
                         VBUS_CMD_REPLY, m->m.h.addr_type, m->m.h.tag);
                o->f = me->r;
                to_bus(o);
            } else {
                me->out.m.h.tag = m->m.h.tag;
                me->out.m.f = me->r;
                ms_mq_send(m->reply_mq, &me->out, ms_ms_to_ticks(BAPP_TIMEOUT_MS));
            }
        }
        if (woken || (got >= 0 && wait_ms == BAPP_NEVER)) {
            tick_due = me->d->tick != 0;            /* woken, or serving may want a tick */
            continue;
        } else if (got == MS_ERR_TIMEOUT && wait_ms != BAPP_NEVER) {
            tick_due = 1;                           /* the deadline passed */
            continue;
        }
        if (wait_ms == BAPP_NEVER) {
            tick_due = 0;
            continue;
        }
        now = ms_tick_get();
        tick_due = (int32_t)(now - next) >= 0;
    }
}

/* The flag first, then the wake-up (dropped when the queue is full: the module wakes for
 * what fills it and sees the flag then). */
void bapp_wake(uint8_t thread)
{
    for (unsigned i = 0; i < bapp_module_count; i++)
        if (g_mod[i].d->thread == thread) {
            g_mod[i].woken = 1;
            g_wake_msg.reply_mq = -1;
            g_wake_msg.from = BAPP_FROM_WAKE;
            ms_mq_send(g_mod[i].req, &g_wake_msg, MS_NO_WAIT);
            return;
        }
}

/* A request from the bus: to its owner's queue (the owner replies), else answered here. */
static void dispatch(const vbus_msg_t *m)
{
    struct mod *o = owner_of(&m->f);
    bapp_display_track(&m->f);
    int internal = (DLT_FN(m->f.ctrl) == DLT_READ || DLT_FN(m->f.ctrl) == DLT_WRITE) &&
                   m->f.len >= 4u && BAPP_DI_INTERNAL(dlt_di(m->f.data));
    if (o && !internal) {
        g_post.reply_mq = -1;
        g_post.from = BAPP_FROM_BUS;
        g_post.m = *m;
        if (ms_mq_send(o->req, &g_post, MS_NO_WAIT) >= 0)
            return;
        ms_printk("basic: %s busy, request dropped\n", o->d->name);
        dlt_abnormal(&g_r, &m->f, DLT_SERR_OTHER);
    } else {
        dlt_abnormal(&g_r, &m->f, DLT_FN(m->f.ctrl) == DLT_READ ? DLT_SERR_NO_DATA
                                                                 : DLT_SERR_OTHER);
    }
    vbus_msg_t out;
    vbus_hdr(&out.h, VBUS_ADDR(VBUS_P_BASIC_APP, 0), m->h.ca, VBUS_CMD_REPLY, m->h.addr_type,
             m->h.tag);
    out.f = g_r;
    to_bus(&out);
}

/* A reply to a module's external request: to that module's reply queue. */
static void route_reply(const vbus_msg_t *m)
{
    for (unsigned i = 0; i < bapp_module_count; i++)
        if (g_mod[i].d->thread == (m->h.sa & 7u)) {
            g_post.reply_mq = -1;
            g_post.from = BAPP_FROM_BUS;
            g_post.m = *m;
            ms_mq_send(g_mod[i].reply, &g_post, MS_NO_WAIT);   /* full: the asker gave up */
            return;
        }
}

void basic_app_main(void)
{
    g_bus_tid = ms_thread_self();
    g_pipe_lock = ms_mutex_create("bapp_pipe");
    g_ee_lock = ms_mutex_create("bapp_ee");
    int bus = vbus_connect(BASIC_NAME, &g_from_bus, &g_to_bus);
    if (g_pipe_lock < 0 || g_ee_lock < 0 || bus < 0) {
        ms_printk("basic: cannot start: locks %d %d, bus %d\n", g_pipe_lock, g_ee_lock, bus);
        ms_process_exit(1);
    }
    for (unsigned i = 0; i < bapp_module_count && i < MODULES_MAX; i++) {
        struct mod *m = &g_mod[i];
        m->d = bapp_modules[i];
        m->tid = -1;
        m->req = ms_mq_create(m->d->name, sizeof(bapp_msg_t), REQ_DEPTH);
        m->reply = ms_mq_create(m->d->name, sizeof(bapp_msg_t), REPLY_DEPTH);
        if (m->req < 0 || m->reply < 0 ||
            ms_thread_create(m->d->name, module_thread, m, m->d->stack, m->d->prio, 0) < 0) {
            ms_printk("basic: cannot start module %s\n", m->d->name);
            ms_process_exit(1);
        }
    }
    ms_printk("basic: %u modules, listening on the bus\n", bapp_module_count);
    for (;;) {
        /* the pipe, and the page key for the display (it wakes for a press, not every scan) */
        int keys = bapp_display_keys_fd();
        ms_fdset_t rd = 0;
        MS_FD_SET(g_from_bus, &rd);
        if (keys >= 0)
            MS_FD_SET(keys, &rd);
        int nfds = (keys > g_from_bus ? keys : g_from_bus) + 1;
        if (ms_io_select(nfds, &rd, 0, MS_WAIT_FOREVER) <= 0)
            continue;
        if (keys >= 0 && MS_FD_ISSET(keys, &rd))
            bapp_display_keys();
        if (!MS_FD_ISSET(g_from_bus, &rd) || vbus_rx_fill(&g_rx, g_from_bus) < 0)
            continue;
        while (svc_next(&g_rx, &g_m)) {
            if (g_m.h.cmd == VBUS_CMD_REQUEST)
                dispatch(&g_m);
            else if (g_m.h.cmd == VBUS_CMD_REPLY)
                route_reply(&g_m);
        }
    }
}
