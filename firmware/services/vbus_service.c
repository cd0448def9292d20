/*
 * Virtual bus service: the data-flow centre of the middle layer (paper Table 4).
 *
 * - Creates the receive and send pipe of every service at start, and of every extended app
 *   when it registers (REG_TO_V_BUS / V_BUS_TO_REG carry registrations and their answers).
 * - Routes requests by control code and data identifier to the owning service or app, keeps
 *   a transaction per forwarded request (the reserved header byte carries its number) and
 *   returns the owner's reply to the requester; answers abnormally when nobody owns the
 *   identifier or the owner does not answer in time.
 * - Combined reads (VBUS_DI_COMBINED) fan out to several owners and gather one reply.
 * - Checks every message: integrity (separator, lengths, the DL/T645 frame's checksum) and
 *   legitimacy (the source address belongs to the pipe's process, the destination exists);
 *   a bad one is dropped, counted and reported on the console.
 * - Bulk data: gives every extended app a shared memory at registration (vbus.h) and, when
 *   the app answers with a bulk reply, grants the requester read access to it (an MPU region)
 *   and forwards the reply, which describes the payload instead of carrying it.
 * - An extended app whose process has ended (stopped, or ended by a fault) is unregistered
 *   when the bus next routes to it: its pipes are closed and removed, the read grants on its
 *   shared memory are withdrawn and its identifiers have no owner any more (SERR 02).
 * - Waits in select() on all its pipes, with the earliest transaction deadline as timeout.
 * The trace switch (VBUS_DI_TRACE) prints one console line per message the bus sends.
 */
#include <string.h>
#include "ms_rtos.h"
#include "services.h"
#include "svc_util.h"
#include "vbus.h"

#define EP_MAX 8u
#define EP_REG 3u                           /* endpoint index of the registration pipes */
#define TXN_MAX 12u
#define TXN_TIMEOUT_MS 500u
#define PART_MAX 6u
#define PART_BYTES 24u
#define PIPES_RETRY_MS 10u                  /* an ended app's files may close a little later */

struct ep {
    uint8_t used, proc;
    char name[VBUS_APP_NAME_MAX + 1];
    int in_fd, out_fd;
    int shm_fd;                             /* extended apps: /shm/<name>, else -1 */
    uint16_t granted;                       /* processes (bit = Table 3 number) let read it */
    uint8_t pipes_left;                     /* unregistered, its pipes still to remove */
    uint8_t ndis;
    uint32_t dis[VBUS_APP_DIS_MAX];
    vbus_rx_t rx;
};

struct txn {
    uint8_t used, tag, ep, target_proc;
    int8_t parent, part;
    vbus_hdr_t req;                         /* the requester's header */
    dlt_frame_t q;                          /* the request */
    ms_tick_t deadline;
    /* combined reads */
    uint8_t nparts, left, failed;
    uint8_t part_len[PART_MAX];
    uint8_t parts[PART_MAX][PART_BYTES];
};

struct bus {
    struct ep ep[EP_MAX];
    struct txn txn[TXN_MAX];
    uint8_t next_tag, trace;
    uint8_t pipes_pending;                  /* some endpoint has pipes_left */
    uint8_t waiting;                        /* a transaction waits for its answer (expire) */
    ms_tick_t first_deadline;               /* the earliest of their deadlines */
    uint32_t routed, bad_integrity, bad_source, timeouts, no_route, lost;
    vbus_msg_t in, out;
};

/* Identifier ranges owned by the services (first match wins; app registrations come first). */
static const struct { uint32_t di, mask; uint8_t owner; } k_routes[] = {
    {0x04000101u, 0xFFFFFFFFu, VBUS_ADDR_PLATFORM},   /* date and weekday */
    {0x04000102u, 0xFFFFFFFFu, VBUS_ADDR_PLATFORM},   /* time */
    {0x04000500u, 0xFFFFFF00u, VBUS_ADDR_PLATFORM},   /* status words */
    {0x04800001u, 0xFFFFFFFFu, VBUS_ADDR_PLATFORM},   /* software version */
    {0x04A00000u, 0xFFFFFF00u, VBUS_ADDR_PLATFORM},   /* platform: app status */
    {0x04000401u, 0xFFFFFFFFu, VBUS_ADDR_COM},        /* communication address */
    {0x04000700u, 0xFFFFFF00u, VBUS_ADDR_COM},        /* baud feature words */
    {0x00000000u, 0xFF000000u, VBUS_ADDR_METERING},   /* energy */
    {0x02000000u, 0xFF000000u, VBUS_ADDR_METERING},   /* instantaneous values */
    {0x05000000u, 0xFF000000u, VBUS_ADDR_METERING},   /* freeze records */
    {0x04A0FE00u, 0xFFFFFF00u, VBUS_ADDR_BUS},        /* the bus's own */
    {0x04A0FF00u, 0xFFFFFF00u, VBUS_ADDR_BUS},
};
/* Identifiers the basic app owns while its process (BASIC, Table 3 process 1) runs: energy by
 * rate, prices, tariff and cost-control parameters (apps/basic, docs/meter_basic_app.md). */
static const struct { uint32_t di, mask; } k_basic_routes[] = {
    {0x00E10000u, 0xFFFF0000u},   /* metersim's own: energy by rate, XXXXXX.XXXXXX kWh */
    {0x0280000Bu, 0xFFFFFFFFu}, {0x02800020u, 0xFFFFFFFEu},   /* step, current, rate price */
    {0x00900200u, 0xFFFFFFFEu},   /* remaining / overdraft money */
    {0x03320201u, 0xFFFFFFFFu},   /* purchases */
    {0x04000106u, 0xFFFFFFFEu},   /* switch times of the two table sets */
    {0x04000200u, 0xFFFFFFF0u},   /* numbers of zones, tables, periods, rates, holidays, steps */
    {0x04000503u, 0xFFFFFFFFu},   /* status word 3: relay and cost control */
    {0x04000800u, 0xFFFFFF00u},   /* rest days */
    {0x04000300u, 0xFFFFFFF0u}, {0x04040000u, 0xFFFF0000u},   /* display lists */
    {0x04001000u, 0xFFFFFF00u},   /* money thresholds */
    {0x04010000u, 0xFFFFFFF0u}, {0x04020000u, 0xFFFFFFF0u},   /* zone and day tables */
    {0x04030000u, 0xFFFFFF00u},   /* holidays */
    {0x04050000u, 0xFFFF0000u}, {0x04060000u, 0xFFFF0000u},   /* rate and step prices, steps */
    {0x04A20000u, 0xFFFF0000u},   /* the basic app's own (top-up, step mode, protection) */
    /* freezing and events (apps/basic/freeze.c, events.c) */
    {0x05000000u, 0xFFFF0000u}, {0x05010000u, 0xFFFF0000u},   /* timed, instantaneous */
    {0x05040000u, 0xFFFF0000u}, {0x05060000u, 0xFFFF0000u},   /* hourly, daily */
    {0x04001203u, 0xFFFFFFFFu}, {0x04000B01u, 0xFFFFFFFFu},   /* daily time, settlement day */
    {0x03000000u, 0xFF000000u}, {0x1D000000u, 0xFFFF0000u}, {0x1E000000u, 0xFFFF0000u},
};
#define BASIC_NAME "BASIC"

static int basic_runs(void) { return ms_process_find(BASIC_NAME) > 0; }

static int basic_owns(uint32_t di)
{
    unsigned type = di >> 16, rr = di >> 8 & 0xFFu;
    if (type <= 2u && rr && (di & 0xFFu) == 0)      /* 000T RR 00: by rate, and the blocks */
        return 1;
    if (type <= 2u && (di & 0xFFu) >= 1u && (di & 0xFFu) <= 12u)
        return 1;                                   /* 000T RR SS: at the last settlements */
    for (unsigned i = 0; i < sizeof k_basic_routes / sizeof k_basic_routes[0]; i++)
        if ((di & k_basic_routes[i].mask) == k_basic_routes[i].di)
            return 1;
    return 0;
}

/* Functions without an identifier go by control code. */
static const struct { uint8_t fn, owner; } k_fn_routes[] = {
    {DLT_BROADCAST_TIME, VBUS_ADDR_PLATFORM}, {DLT_FREEZE, VBUS_ADDR_METERING},
    {DLT_CLEAR_DEMAND, VBUS_ADDR_METERING},   {DLT_CLEAR_METER, VBUS_ADDR_METERING},
    {DLT_CLEAR_EVENTS, VBUS_ADDR_PLATFORM},   {DLT_RELAY, VBUS_ADDR_PLATFORM},
};
/* The members of the combined read: energy, voltage (metering), time (platform), address
 * (communication), then the first identifier of every registered extended app. */
static const uint32_t k_combined[] = {0x00010000u, 0x02010100u, 0x04000102u, 0x04000401u};

static struct ep *ep_by_proc(struct bus *b, uint8_t proc)
{
    for (unsigned i = 0; i < EP_MAX; i++)
        if (b->ep[i].used && i != EP_REG && b->ep[i].proc == proc)
            return &b->ep[i];
    return 0;
}

/* Removes the pipes of unregistered apps; 1 while some could not go yet (the ended
 * process's own files close when the kernel reaps it). */
static int remove_pipes(struct bus *b)
{
    int left = 0;
    for (unsigned i = 0; b->pipes_pending && i < EP_MAX; i++) {
        struct ep *e = &b->ep[i];
        if (!e->pipes_left)
            continue;
        int gone = 1;
        char path[MS_PATH_MAX];
        for (int to_bus = 0; to_bus <= 1; to_bus++) {
            vbus_pipe_path(path, sizeof path, e->name, to_bus);
            int r = ms_io_device_unregister(path);
            gone &= r == MS_OK || r == MS_ERR_NOENT;
        }
        if (gone) {
            e->pipes_left = 0;
            ms_printk("vbus: pipes of %s removed\n", e->name);
        } else {
            left = 1;
        }
    }
    b->pipes_pending = (uint8_t)left;
    return left;
}

/* Is app endpoint e's process gone? Then the app is unregistered (see the top). */
static int app_gone(struct bus *b, struct ep *e)
{
    if (!e || !e->used || e->proc < VBUS_P_EXT_APP(1) || ms_process_find(e->name) > 0)
        return 0;
    ms_io_close(e->in_fd);
    ms_io_close(e->out_fd);
    unsigned withdrawn = 0;
    for (unsigned proc = 0; proc < 16u; proc++) {
        struct ep *r = e->granted >> proc & 1u ? ep_by_proc(b, (uint8_t)proc) : 0;
        ms_handle_t pid = r ? ms_process_find(r->name) : MS_ERR_NOENT;
        ms_shm_grant_t g = {pid, 0};
        if (pid > 0 && ms_io_ioctl(e->shm_fd, MS_IOCTL_SHM_GRANT, &g) == MS_OK)
            withdrawn++;
    }
    if (e->shm_fd >= 0)
        ms_io_close(e->shm_fd);             /* the memory stays for the name's next start */
    e->used = 0;
    e->ndis = 0;
    e->granted = 0;
    e->shm_fd = -1;
    e->pipes_left = 1;
    b->pipes_pending = 1;
    ms_printk("vbus: app %s ended, unregistered; read grants withdrawn: %u\n", e->name, withdrawn);
    remove_pipes(b);
    return 1;
}

static void reap_apps(struct bus *b)
{
    for (unsigned i = 0; i < EP_MAX; i++)
        app_gone(b, &b->ep[i]);
}

static int has_di(const dlt_frame_t *f)
{
    unsigned fn = DLT_FN(f->ctrl);
    return (fn == DLT_READ || fn == DLT_READ_NEXT || fn == DLT_WRITE) && f->len >= 4u;
}

static uint8_t owner_of_di(struct bus *b, uint32_t di)
{
    for (unsigned i = 0; i < EP_MAX; i++)
        for (unsigned k = 0; b->ep[i].used && k < b->ep[i].ndis; k++)
            if (b->ep[i].dis[k] == di)
                return VBUS_ADDR(b->ep[i].proc, 0);
    if (basic_owns(di) && basic_runs())
        return VBUS_ADDR(VBUS_P_BASIC_APP, 0);
    for (unsigned i = 0; i < sizeof k_routes / sizeof k_routes[0]; i++)
        if ((di & k_routes[i].mask) == k_routes[i].di)
            return k_routes[i].owner;
    return 0;
}

static uint8_t route(struct bus *b, const dlt_frame_t *f)
{
    if (has_di(f))
        return owner_of_di(b, dlt_di(f->data));
    if ((DLT_FN(f->ctrl) == DLT_RELAY || DLT_FN(f->ctrl) == DLT_FREEZE ||
         DLT_FN(f->ctrl) == DLT_CLEAR_EVENTS) && basic_runs())
        return VBUS_ADDR(VBUS_P_BASIC_APP, 0);   /* relay, freezes, events: the basic app's */
    for (unsigned i = 0; i < sizeof k_fn_routes / sizeof k_fn_routes[0]; i++)
        if (k_fn_routes[i].fn == DLT_FN(f->ctrl))
            return k_fn_routes[i].owner;
    return 0;
}

/* Send m to endpoint e without ever blocking: a full pipe drops the message (counted). */
static void put(struct bus *b, struct ep *e, const vbus_msg_t *m)
{
    uint8_t raw[VBUS_MSG_MAX];
    unsigned n = vbus_encode(m, raw);
    int used = 0;
    ms_io_ioctl(e->out_fd, MS_IOCTL_FIONREAD, &used);
    if (VBUS_PIPE_SIZE - (unsigned)used < n || ms_io_write(e->out_fd, raw, n) != (int)n) {
        b->lost++;
        ms_printk("vbus: V_BUS_TO_%s full, message dropped\n", e->name);
        return;
    }
    if (b->trace) {
        const dlt_frame_t *f = &m->f;
        if (has_di(f))
            ms_printk("vbus: V_BUS_TO_%s ca %02x sa %02x c %02x di %08x\n", e->name, m->h.ca,
                      m->h.sa, f->ctrl, (unsigned)dlt_di(f->data));
        else
            ms_printk("vbus: V_BUS_TO_%s ca %02x sa %02x c %02x\n", e->name, m->h.ca, m->h.sa,
                      f->ctrl);
    }
}

static struct txn *txn_new(struct bus *b, unsigned ep, const vbus_msg_t *m, uint8_t target)
{
    for (unsigned i = 0; i < TXN_MAX; i++) {
        struct txn *t = &b->txn[i];
        if (t->used)
            continue;
        memset(t, 0, sizeof *t);
        t->used = 1;
        if (++b->next_tag == 0)
            b->next_tag = 1;
        t->tag = b->next_tag;
        t->ep = (uint8_t)ep;
        t->target_proc = VBUS_PROC(target);
        t->parent = t->part = -1;
        t->req = m->h;
        t->q = m->f;
        t->deadline = ms_tick_get() + ms_ms_to_ticks(TXN_TIMEOUT_MS);
        return t;
    }
    return 0;
}

/* The answer to the requester of t (from `from`). */
static void answer_cmd(struct bus *b, struct txn *t, uint8_t from, const dlt_frame_t *f, uint8_t cmd)
{
    b->out.h = t->req;
    vbus_hdr(&b->out.h, from, t->req.ca, cmd, t->req.addr_type, t->req.tag);
    b->out.f = *f;
    put(b, &b->ep[t->ep], &b->out);
    t->used = 0;
}

static void answer(struct bus *b, struct txn *t, uint8_t from, const dlt_frame_t *f)
{
    answer_cmd(b, t, from, f, VBUS_CMD_REPLY);
}

static void answer_abnormal(struct bus *b, struct txn *t, uint8_t serr)
{
    dlt_frame_t r;
    dlt_abnormal(&r, &t->q, serr);
    answer(b, t, VBUS_ADDR_BUS, &r);
}

static void finish_combined(struct bus *b, struct txn *p)
{
    if (p->failed) {
        answer_abnormal(b, p, DLT_SERR_NO_DATA);
        return;
    }
    uint8_t data[DLT_MAX_DATA];
    unsigned n = 4;
    dlt_put_di(data, VBUS_DI_COMBINED);
    for (unsigned i = 0; i < p->nparts; i++) {
        memcpy(data + n, p->parts[i], p->part_len[i]);
        n += p->part_len[i];
    }
    dlt_frame_t r;
    dlt_reply(&r, &p->q, data, n);
    answer(b, p, VBUS_ADDR_BUS, &r);
}

/* A member of a combined read came back (f = 0: it failed or timed out). */
static void part_done(struct bus *b, struct txn *c, const dlt_frame_t *f)
{
    struct txn *p = &b->txn[c->parent];
    c->used = 0;
    if (!p->used)
        return;
    unsigned k = (unsigned)c->part;
    if (!f || (f->ctrl & DLT_ABNORMAL) || f->len < 4u || f->len - 4u > PART_BYTES)
        p->failed = 1;
    else {
        memcpy(p->parts[k], f->data + 4, f->len - 4u);
        p->part_len[k] = (uint8_t)(f->len - 4u);
    }
    if (--p->left == 0)
        finish_combined(b, p);
}

static void forward(struct bus *b, struct txn *t, uint8_t target, const vbus_msg_t *m)
{
    struct ep *e = ep_by_proc(b, VBUS_PROC(target));
    b->out.h = m->h;
    b->out.h.sa = target;
    b->out.h.tag = t->tag;
    b->out.f = m->f;
    b->routed++;
    put(b, e, &b->out);
}

static void combined_read(struct bus *b, unsigned ep, const vbus_msg_t *m)
{
    reap_apps(b);                           /* only live apps' identifiers take part */
    struct txn *p = txn_new(b, ep, m, VBUS_ADDR_BUS);
    if (!p) {
        b->lost++;
        return;
    }
    uint32_t dis[PART_MAX];
    unsigned n = 0;
    for (unsigned i = 0; i < sizeof k_combined / sizeof k_combined[0]; i++)
        dis[n++] = k_combined[i];
    for (unsigned i = 0; i < EP_MAX && n < PART_MAX; i++)
        if (b->ep[i].used && b->ep[i].ndis && b->ep[i].proc >= VBUS_P_EXT_APP(1))
            dis[n++] = b->ep[i].dis[0];
    p->nparts = p->left = (uint8_t)n;
    for (unsigned i = 0; i < n; i++) {
        uint8_t owner = owner_of_di(b, dis[i]);
        vbus_msg_t sub;
        vbus_hdr(&sub.h, VBUS_ADDR_BUS, owner, VBUS_CMD_REQUEST, VBUS_MA_INTERNAL, 0);
        sub.f = m->f;
        sub.f.ctrl = DLT_READ;
        sub.f.len = 4;
        dlt_put_di(sub.f.data, dis[i]);
        struct txn *c = owner && owner != VBUS_ADDR_BUS && ep_by_proc(b, VBUS_PROC(owner))
                            ? txn_new(b, ep, &sub, owner) : 0;
        if (!c) {
            p->failed = 1;
            if (--p->left == 0)
                finish_combined(b, p);
            continue;
        }
        c->parent = (int8_t)(p - b->txn);
        c->part = (int8_t)i;
        forward(b, c, owner, &sub);
    }
}

static void bcd_counter(uint8_t *out, uint32_t v) { dlt_bcd_put(out, 4, v % 100000000u); }

/* Requests addressed to the bus itself. */
static void own_request(struct bus *b, unsigned ep, const vbus_msg_t *m)
{
    const dlt_frame_t *q = &m->f;
    uint32_t di = dlt_di(q->data);
    dlt_frame_t r;
    if (DLT_FN(q->ctrl) == DLT_READ && di == VBUS_DI_COMBINED && q->len == 4u) {
        combined_read(b, ep, m);
        return;
    }
    if (DLT_FN(q->ctrl) == DLT_READ && di == VBUS_DI_STATS && q->len == 4u) {
        uint8_t d[4 + 24];
        dlt_put_di(d, di);
        bcd_counter(d + 4, b->routed);
        bcd_counter(d + 8, b->bad_integrity);
        bcd_counter(d + 12, b->bad_source);
        bcd_counter(d + 16, b->timeouts);
        bcd_counter(d + 20, b->no_route);
        bcd_counter(d + 24, b->lost);
        dlt_reply(&r, q, d, sizeof d);
    } else if (DLT_FN(q->ctrl) == DLT_WRITE && di == VBUS_DI_TRACE && q->len == 13u &&
               q->data[12] <= 1u) {
        b->trace = q->data[12];
        ms_printk("vbus: trace %s\n", b->trace ? "on" : "off");
        dlt_reply(&r, q, 0, 0);
    } else {
        dlt_abnormal(&r, q, DLT_FN(q->ctrl) == DLT_READ ? DLT_SERR_NO_DATA : DLT_SERR_OTHER);
    }
    vbus_msg_t *o = &b->out;
    vbus_hdr(&o->h, VBUS_ADDR_BUS, m->h.ca, VBUS_CMD_REPLY, m->h.addr_type, m->h.tag);
    o->f = r;
    put(b, &b->ep[ep], o);
}

static void request(struct bus *b, unsigned ep, const vbus_msg_t *m)
{
    uint8_t target = m->h.sa == VBUS_ADDR_BUS ? route(b, &m->f) : m->h.sa;
    if (VBUS_PROC(target) == VBUS_P_BUS) {
        own_request(b, ep, m);
        return;
    }
    struct txn *t = txn_new(b, ep, m, target);
    if (!t) {
        b->lost++;
        ms_printk("vbus: too many transactions, request from %02x dropped\n", m->h.ca);
        return;
    }
    struct ep *to = target ? ep_by_proc(b, VBUS_PROC(target)) : 0;
    if (app_gone(b, to))
        to = 0;
    if (!to) {
        b->no_route++;
        answer_abnormal(b, t, has_di(&m->f) || DLT_FN(m->f.ctrl) == DLT_READ ? DLT_SERR_NO_DATA
                                                                           : DLT_SERR_OTHER);
        return;
    }
    forward(b, t, target, m);
}

/* A bulk reply from app endpoint e for transaction t: the descriptor must name e's own shared
 * memory and fit it; the requester's process is granted read access before it gets the
 * reply. A bad one is dropped and counted, and the requester gets SERR 01. */
static void bulk_reply(struct bus *b, struct ep *e, struct txn *t, const vbus_msg_t *m)
{
    const dlt_frame_t *f = &m->f;
    struct ep *req = &b->ep[t->ep];
    int ok = e->shm_fd >= 0 && t->parent < 0 && f->ctrl == (DLT_READ | DLT_REPLY) &&
             f->len == VBUS_BULK_DESC_LEN && dlt_di(f->data) == dlt_di(t->q.data) &&
             (unsigned)(f->data[4] | f->data[5] << 8) <= VBUS_BULK_MAX &&
             !strncmp((const char *)f->data + 10, e->name, VBUS_APP_NAME_MAX);
    if (ok && !(e->granted >> req->proc & 1u)) {
        ms_handle_t pid = ms_process_find(req->name);
        ms_shm_grant_t g = {pid, MS_SHM_READ};
        ok = pid > 0 && ms_io_ioctl(e->shm_fd, MS_IOCTL_SHM_GRANT, &g) == MS_OK;
        if (ok) {
            e->granted |= (uint16_t)(1u << req->proc);
            ms_printk("vbus: %s may read /shm/%s\n", req->name, e->name);
        }
    }
    if (!ok) {
        b->bad_integrity++;
        ms_printk("vbus: dropped from %s_TO_V_BUS: bad bulk reply (dropped %u)\n", e->name,
                  (unsigned)b->bad_integrity);
        if (t->parent >= 0)
            part_done(b, t, 0);
        else
            answer_abnormal(b, t, DLT_SERR_OTHER);
        return;
    }
    answer_cmd(b, t, m->h.ca, f, VBUS_CMD_BULK);
}

/* An outside request (not made inside the meter) that changed something was answered
 * normally: programming (14H) and meter clear (1AH) are events, and the basic app's events
 * module records them. The note carries fn, the operator C0..C3 and the DI (14H); tag 0: its
 * answer belongs to no transaction. */
static void note(struct bus *b, const struct txn *t, const dlt_frame_t *f)
{
    unsigned fn = DLT_FN(t->q.ctrl);
    struct ep *e = ep_by_proc(b, VBUS_P_BASIC_APP);
    if ((f->ctrl & DLT_ABNORMAL) || t->req.addr_type == VBUS_MA_INTERNAL || !e || !basic_runs() ||
        !((fn == DLT_WRITE && t->q.len >= 12u) || (fn == DLT_CLEAR_METER && t->q.len >= 8u)))
        return;
    vbus_msg_t *o = &b->out;
    vbus_hdr(&o->h, VBUS_ADDR_BUS, VBUS_ADDR(VBUS_P_BASIC_APP, 0), VBUS_CMD_REQUEST,
             VBUS_MA_INTERNAL, 0);
    memset(&o->f, 0, sizeof o->f);
    memset(o->f.addr, 0xAA, 6);
    o->f.ctrl = DLT_WRITE;
    dlt_put_di(o->f.data, VBUS_DI_NOTE);
    o->f.data[12] = (uint8_t)fn;
    memcpy(o->f.data + 13, t->q.data + (fn == DLT_WRITE ? 8u : 4u), 4);
    memcpy(o->f.data + 17, fn == DLT_WRITE ? t->q.data : (const uint8_t *)"\0\0\0\0", 4);
    o->f.len = 21;
    put(b, e, o);
}

static void reply(struct bus *b, unsigned ep, const vbus_msg_t *m)
{
    for (unsigned i = 0; i < TXN_MAX; i++) {
        struct txn *t = &b->txn[i];
        if (!t->used || t->tag != m->h.tag)
            continue;
        if (t->target_proc != b->ep[ep].proc) {
            b->bad_source++;
            ms_printk("vbus: dropped from %s_TO_V_BUS: reply to a transaction of process %u\n",
                      b->ep[ep].name, t->target_proc);
            return;
        }
        if (m->h.cmd == VBUS_CMD_BULK)
            bulk_reply(b, &b->ep[ep], t, m);
        else if (t->parent >= 0)
            part_done(b, t, &m->f);
        else {
            note(b, t, &m->f);
            answer(b, t, m->h.ca, &m->f);
        }
        return;
    }
    if (m->h.tag == 0 && b->ep[ep].proc == VBUS_P_BASIC_APP)
        return;                 /* the answer to a note */
    b->lost++;                  /* late: its transaction already timed out */
}

static int open_ep(struct ep *e, int create)
{
    char path[MS_PATH_MAX];
    for (int to_bus = 0; to_bus <= 1; to_bus++) {
        vbus_pipe_path(path, sizeof path, e->name, to_bus);
        int r = create ? ms_pipe_dev_create(path, VBUS_PIPE_SIZE) : 0;
        if (r < 0 && r != MS_ERR_EXIST)
            return r;
        /* the bus reads its ends without blocking (vbus_rx_fill) */
        int fd = ms_io_open(path, to_bus ? O_RDONLY | O_NONBLOCK : O_WRONLY, 0);
        if (fd < 0)
            return fd;
        *(to_bus ? &e->in_fd : &e->out_fd) = fd;
    }
    e->used = 1;
    e->rx.n = 0;
    return 0;
}

/* An app's shared memory for bulk replies, read/write for the app's process (pid). */
static int open_shm(struct ep *e, ms_handle_t pid)
{
    char path[MS_PATH_MAX];
    vbus_shm_path(path, sizeof path, e->name);
    if (e->shm_fd < 0) {
        int r = ms_shm_dev_create(path, VBUS_SHM_SIZE);
        if (r < 0 && r != MS_ERR_EXIST)
            return r;
        e->shm_fd = ms_io_open(path, O_RDWR, 0);
        if (e->shm_fd < 0)
            return e->shm_fd;
    }
    ms_shm_grant_t g = {pid, MS_SHM_READ | MS_SHM_WRITE};
    e->granted = 0;                         /* a new registration: readers granted afresh */
    return ms_io_ioctl(e->shm_fd, MS_IOCTL_SHM_GRANT, &g);
}

/* REG_TO_V_BUS: 14H frame, DI VBUS_DI_REGISTER, name (8 bytes), n identifiers. The answer on
 * V_BUS_TO_REG repeats the stored registration with the app's address (9AH abnormal: refused). */
static void registration(struct bus *b, const vbus_msg_t *m)
{
    const dlt_frame_t *q = &m->f;
    dlt_frame_t r;
    struct ep *e = 0;
    char name[VBUS_APP_NAME_MAX + 1];
    unsigned ndis = q->len >= 12u ? (q->len - 12u) / 4u : 0;
    int ok = DLT_FN(q->ctrl) == DLT_WRITE && q->len >= 16u && (q->len - 12u) % 4u == 0 &&
             ndis <= VBUS_APP_DIS_MAX && dlt_di(q->data) == VBUS_DI_REGISTER && q->data[4];
    if (ok) {
        memcpy(name, q->data + 4, VBUS_APP_NAME_MAX);
        name[VBUS_APP_NAME_MAX] = 0;
        for (unsigned i = 0; i < EP_MAX && !e; i++)
            if (b->ep[i].used && i != EP_REG && !strcmp(b->ep[i].name, name))
                e = &b->ep[i];
        if (e && e->proc < VBUS_P_EXT_APP(1))
            ok = 0;                           /* a service's name */
        if (ms_process_find(name) <= 0)
            ok = 0;                           /* no process of that name */
        for (unsigned k = 0; ok && k < ndis; k++) {
            uint8_t o = owner_of_di(b, dlt_di(q->data + 12 + 4 * k));
            if (o && (!e || VBUS_PROC(o) != e->proc))
                ok = 0;                       /* owned by someone else */
        }
    }
    if (ok && !e) {
        for (unsigned slot = 1; slot <= 10u && !e; slot++) {
            if (ep_by_proc(b, (uint8_t)VBUS_P_EXT_APP(slot)))
                continue;
            for (unsigned i = 0; i < EP_MAX; i++)
                if (b->ep[i].pipes_left && !strcmp(b->ep[i].name, name))
                    b->ep[i].pipes_left = 0;    /* the same pipes serve it again */
            for (unsigned i = 0; i < EP_MAX; i++)
                if (!b->ep[i].used && !b->ep[i].pipes_left) {
                    e = &b->ep[i];
                    memset(e, 0, sizeof *e);
                    memcpy(e->name, name, sizeof e->name);
                    e->proc = (uint8_t)VBUS_P_EXT_APP(slot);
                    e->shm_fd = -1;
                    if (open_ep(e, 1) < 0) {
                        e->used = 0;
                        e = 0;
                    }
                    break;
                }
            break;
        }
        ok = e != 0;
    }
    if (ok) {
        int r = open_shm(e, ms_process_find(name));
        if (r < 0) {
            ms_printk("vbus: no shared memory for %s (%d)\n", name, r);
            ok = 0;
        }
    }
    if (ok) {
        e->ndis = (uint8_t)ndis;
        for (unsigned k = 0; k < ndis; k++)
            e->dis[k] = dlt_di(q->data + 12 + 4 * k);
        uint8_t d[DLT_MAX_DATA];
        dlt_put_di(d, VBUS_DI_REGISTER);
        memcpy(d + 4, e->name, VBUS_APP_NAME_MAX);
        d[12] = VBUS_ADDR(e->proc, 0);
        memcpy(d + 13, q->data + 12, 4u * ndis);
        dlt_reply(&r, q, d, 13u + 4u * ndis);
        ms_printk("vbus: registered app %s as %02x with %u identifiers\n", e->name,
                  VBUS_ADDR(e->proc, 0), ndis);
    } else {
        dlt_abnormal(&r, q, DLT_SERR_OTHER);
        ms_printk("vbus: registration refused\n");
    }
    vbus_hdr(&b->out.h, VBUS_ADDR_BUS, ok ? VBUS_ADDR(e->proc, 0) : 0, VBUS_CMD_REGISTER_ACK,
             VBUS_MA_INTERNAL, m->h.tag);
    b->out.f = r;
    put(b, &b->ep[EP_REG], &b->out);
}

static void drop(struct bus *b, unsigned ep, int why, uint8_t ca)
{
    if (why == -100) {
        b->bad_source++;
        ms_printk("vbus: dropped from %s_TO_V_BUS: source %02x is not this pipe's process "
                  "(dropped %u)\n", b->ep[ep].name, ca, (unsigned)b->bad_source);
    } else {
        b->bad_integrity++;
        ms_printk("vbus: dropped from %s_TO_V_BUS: %s (dropped %u)\n", b->ep[ep].name,
                  vbus_strerror(why), (unsigned)b->bad_integrity);
    }
}

static void receive(struct bus *b, unsigned ep)
{
    struct ep *e = &b->ep[ep];
    if (vbus_rx_fill(&e->rx, e->in_fd) < 0)
        return;
    int k;
    while ((k = vbus_rx_take(&e->rx, &b->in)) != 0) {
        vbus_msg_t *m = &b->in;
        if (k < 0) {
            drop(b, ep, k, 0);
            continue;
        }
        if (ep == EP_REG) {
            if (m->h.cmd == VBUS_CMD_REGISTER && VBUS_PROC(m->h.ca) == VBUS_P_INITIAL)
                registration(b, m);
            else
                drop(b, ep, -100, m->h.ca);
            continue;
        }
        if (VBUS_PROC(m->h.ca) != e->proc || m->h.cmd == VBUS_CMD_REGISTER ||
            m->h.cmd == VBUS_CMD_REGISTER_ACK ||
            (m->h.cmd == VBUS_CMD_BULK && e->proc < VBUS_P_EXT_APP(1)) ||
            (m->h.cmd == VBUS_CMD_REQUEST && m->h.sa != VBUS_ADDR_BUS &&
             !ep_by_proc(b, VBUS_PROC(m->h.sa)))) {
            drop(b, ep, -100, m->h.ca);
            continue;
        }
        if (m->h.cmd == VBUS_CMD_REQUEST)
            request(b, ep, m);
        else
            reply(b, ep, m);
    }
}

/* Expires the transactions whose answer is overdue and notes the earliest deadline of those
 * still waiting, for the next select (nothing between this and that starts a transaction).
 * Both read the tick (a system call) only when a transaction waits for its answer: between
 * requests the bus looks at no clock. */
static void expire(struct bus *b)
{
    ms_tick_t now = 0;
    int have_now = 0;
    b->waiting = 0;
    for (unsigned i = 0; i < TXN_MAX; i++) {
        struct txn *t = &b->txn[i];
        if (!t->used || t->nparts)
            continue;
        if (!have_now) {
            now = ms_tick_get();
            have_now = 1;
        }
        if ((int32_t)(now - t->deadline) < 0) {
            if (!b->waiting || (int32_t)(t->deadline - b->first_deadline) < 0)
                b->first_deadline = t->deadline;
            b->waiting = 1;
            continue;
        }
        b->timeouts++;
        ms_printk("vbus: no answer from process %u for c %02x\n", t->target_proc, t->q.ctrl);
        app_gone(b, ep_by_proc(b, t->target_proc));
        if (t->parent >= 0)
            part_done(b, t, 0);
        else
            answer_abnormal(b, t, DLT_SERR_OTHER);
    }
}

static ms_tick_t next_timeout(struct bus *b)
{
    if (!b->waiting)
        return MS_WAIT_FOREVER;
    int32_t left = (int32_t)(b->first_deadline - ms_tick_get());
    return left > 0 ? (ms_tick_t)left : 0;
}

void vbus_service_main(void *arg)
{
    (void)arg;
    struct bus *b = svc_state(sizeof *b);
    static const struct { const char *name; uint8_t proc; } k_fixed[] = {
        {VBUS_NAME_COM, VBUS_P_COM}, {VBUS_NAME_METERING, VBUS_P_METERING},
        {VBUS_NAME_PLATFORM, VBUS_P_PLATFORM}, {"REG", VBUS_P_INITIAL},
        {BASIC_NAME, VBUS_P_BASIC_APP},     /* its pipes wait for it from the start */
    };
    for (unsigned i = 0; i < sizeof k_fixed / sizeof k_fixed[0]; i++) {
        struct ep *e = &b->ep[i];
        strcpy(e->name, k_fixed[i].name);
        e->proc = k_fixed[i].proc;
        e->shm_fd = -1;
        int r = open_ep(e, 1);
        if (r < 0) {
            ms_printk("vbus: cannot create the pipes of %s (%d)\n", e->name, r);
            ms_process_exit(1);
        }
    }
    ms_printk("vbus: pipes ready\n");
    for (;;) {
        ms_fdset_t rd = 0;
        int nfds = 0;
        for (unsigned i = 0; i < EP_MAX; i++)
            if (b->ep[i].used) {
                MS_FD_SET(b->ep[i].in_fd, &rd);
                if (b->ep[i].in_fd + 1 > nfds)
                    nfds = b->ep[i].in_fd + 1;
            }
        ms_tick_t timeout = next_timeout(b);
        if (remove_pipes(b) && timeout > ms_ms_to_ticks(PIPES_RETRY_MS))
            timeout = ms_ms_to_ticks(PIPES_RETRY_MS);
        int r = ms_io_select(nfds, &rd, 0, timeout);
        for (unsigned i = 0; r > 0 && i < EP_MAX; i++)
            if (b->ep[i].used && MS_FD_ISSET(b->ep[i].in_fd, &rd)) {
                receive(b, i);
                r--;                        /* select counted the pipes ready: no more */
            }
        expire(b);
    }
}
