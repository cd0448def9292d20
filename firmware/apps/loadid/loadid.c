/*
 * Extended app "LOADID": load identification by power steps. It registers itself and its
 * identifier on the virtual bus at start (REG_TO_V_BUS), then every second reads the active
 * power (02030000) from the metering service through the bus, and counts switch-on events:
 * a rise of at least 100 W between two readings is an appliance switched on, classed by its
 * size (1: below 500 W, lighting and electronics; 2: 500-1500 W, motors and small appliances;
 * 3: above 1500 W, heating).
 *
 * Its identifiers:
 * - 04A10001 (read): switch-on count (2 bytes BCD), class of the last one (1 byte), its power
 *   step XX.XXXX kW (3 bytes BCD, signed);
 * - 04A10002 (read, bulk): the record set of the last 32 switch-ons, newest first, 12 bytes
 *   each: NNNN (its number), class, step XX.XXXX kW, power after it XX.XXXX kW (3 bytes BCD,
 *   signed each), seconds since the app started (3 bytes BCD); records not yet filled are
 *   zero, as DL/T645 event tables give them. 384 bytes: more than a frame, so the app writes
 *   the set into its shared memory /shm/LOADID (vbus.h) and answers with a bulk reply; the
 *   communication service sends it in 91H/B1H and 12H follow-up frames.
 */
#include <string.h>
#include "ms_rtos.h"
#include "apps.h"
#include "svc_util.h"
#include "vbus.h"

#define LOADID_DI 0x04A10001u
#define LOADID_LOG_DI 0x04A10002u
#define LOG_MAX 32u
#define LOG_RECORD 12u
#define PERIOD_MS 1000u
#define STEP_MIN_dW 1000                    /* 100 W */

struct app {
    int from_bus, to_bus;
    uint8_t self;
    vbus_rx_t rx;
    vbus_msg_t m;
    dlt_frame_t r;
    int have;
    int32_t last_dW, step_dW;
    uint32_t count;
    uint8_t cls;
    ms_tick_t t0;
    uint8_t *shm;                           /* /shm/LOADID: generation, then the record set */
    uint32_t gen;
    struct { uint32_t n, secs; int32_t step_dW, after_dW; uint8_t cls; } log[LOG_MAX];   /* ring */
};

static int do_register(struct app *a)
{
    int reg_out = ms_io_open(VBUS_PIPE_REG_IN, O_WRONLY, 0);
    int reg_in = ms_io_open(VBUS_PIPE_REG_OUT, O_RDONLY | O_NONBLOCK, 0);     /* vbus_rx_fill */
    if (reg_out < 0 || reg_in < 0)
        return MS_ERR_NOENT;
    vbus_hdr(&a->m.h, VBUS_ADDR(VBUS_P_INITIAL, 0), VBUS_ADDR_BUS, VBUS_CMD_REGISTER,
             VBUS_MA_INTERNAL, 0);
    dlt_frame_t *f = &a->m.f;
    memset(f, 0, sizeof *f);
    memset(f->addr, 0xAA, 6);
    f->ctrl = DLT_WRITE;
    dlt_put_di(f->data, VBUS_DI_REGISTER);
    memcpy(f->data + 4, LOADID_NAME, sizeof LOADID_NAME - 1u);
    dlt_put_di(f->data + 12, LOADID_DI);
    dlt_put_di(f->data + 16, LOADID_LOG_DI);
    f->len = 20;
    vbus_send(reg_out, &a->m);
    int r = MS_ERR_TIMEOUT;
    for (;;) {                              /* until the answer naming this app */
        ms_fdset_t rd = 0;
        MS_FD_SET(reg_in, &rd);
        if (ms_io_select(reg_in + 1, &rd, 0, ms_ms_to_ticks(2000)) <= 0)
            break;
        vbus_rx_fill(&a->rx, reg_in);
        int k = vbus_rx_take(&a->rx, &a->m);
        if (k <= 0)
            continue;
        const dlt_frame_t *q = &a->m.f;
        if (a->m.h.cmd == VBUS_CMD_REGISTER_ACK && q->len >= 13u &&
            !memcmp(q->data + 4, LOADID_NAME, sizeof LOADID_NAME - 1u)) {
            a->self = q->data[12];
            r = (q->ctrl & DLT_ABNORMAL) ? MS_ERR_PERM : 0;
            break;
        }
    }
    ms_io_close(reg_out);
    ms_io_close(reg_in);
    a->rx.n = 0;
    return r;
}

static void ask_power(struct app *a)
{
    vbus_msg_t q;
    vbus_hdr(&q.h, a->self, VBUS_ADDR_BUS, VBUS_CMD_REQUEST, VBUS_MA_INTERNAL, 1);
    memset(q.f.addr, 0xAA, 6);
    q.f.ctrl = DLT_READ;
    q.f.len = 4;
    dlt_put_di(q.f.data, 0x02030000u);
    vbus_send(a->to_bus, &q);
}

static void power(struct app *a, const dlt_frame_t *f)
{
    uint32_t mag;
    if (f->ctrl != (DLT_READ | DLT_REPLY) || f->len != 7u || dlt_di(f->data) != 0x02030000u)
        return;
    uint8_t b[3] = {f->data[4], f->data[5], (uint8_t)(f->data[6] & 0x7Fu)};
    if (dlt_bcd_get(b, 3, &mag) < 0)
        return;
    int32_t p = (f->data[6] & 0x80u) ? -(int32_t)mag : (int32_t)mag;
    if (a->have && p - a->last_dW >= STEP_MIN_dW) {
        a->step_dW = p - a->last_dW;
        a->count++;
        a->cls = a->step_dW < 5000 ? 1u : a->step_dW <= 15000 ? 2u : 3u;
        unsigned slot = (unsigned)((a->count - 1u) % LOG_MAX);
        a->log[slot].n = a->count;
        a->log[slot].step_dW = a->step_dW;
        a->log[slot].cls = a->cls;
        a->log[slot].after_dW = p;
        a->log[slot].secs = (ms_tick_get() - a->t0) / MS_TICK_HZ;
        ms_printk("loadid: appliance on, %d.%04d kW step, class %u, count %u\n",
                  (int)(a->step_dW / 10000), (int)(a->step_dW % 10000), a->cls,
                  (unsigned)a->count);
    }
    a->last_dW = p;
    a->have = 1;
}

/* 04A10002: the record set into the shared memory (generation first, so a reader of the
 * previous set sees the change), then the bulk reply describing it. */
static void record_set(struct app *a, const vbus_msg_t *m)
{
    const dlt_frame_t *q = &m->f;
    if (!a->shm) {
        dlt_abnormal(&a->r, q, DLT_SERR_NO_DATA);
        svc_reply(a->to_bus, a->self, m, &a->r);
        return;
    }
    unsigned total = a->count < LOG_MAX ? (unsigned)a->count : LOG_MAX;
    a->gen++;
    memcpy(a->shm, &a->gen, 4);
    uint8_t *d = a->shm + VBUS_SHM_HDR;
    memset(d, 0, LOG_MAX * LOG_RECORD);
    for (unsigned i = 0; i < total; i++, d += LOG_RECORD) {
        unsigned slot = (unsigned)((a->count - 1u - i) % LOG_MAX);     /* newest first */
        dlt_bcd_put(d, 2, a->log[slot].n % 10000u);
        d[2] = a->log[slot].cls;
        svc_bcd_signed(d + 3, 3, a->log[slot].step_dW);
        svc_bcd_signed(d + 6, 3, a->log[slot].after_dW);
        dlt_bcd_put(d + 9, 3, a->log[slot].secs % 1000000u);
    }
    unsigned len = LOG_MAX * LOG_RECORD;
    uint8_t desc[VBUS_BULK_DESC_LEN];
    memset(desc, 0, sizeof desc);
    dlt_put_di(desc, LOADID_LOG_DI);
    desc[4] = (uint8_t)len;
    desc[5] = (uint8_t)(len >> 8);
    memcpy(desc + 6, &a->gen, 4);
    memcpy(desc + 10, LOADID_NAME, sizeof LOADID_NAME - 1u);
    dlt_reply(&a->r, q, desc, sizeof desc);
    vbus_msg_t out;
    vbus_hdr(&out.h, a->self, m->h.ca, VBUS_CMD_BULK, m->h.addr_type, m->h.tag);
    out.f = a->r;
    vbus_send(a->to_bus, &out);
}

static void serve(struct app *a, const vbus_msg_t *m)
{
    const dlt_frame_t *q = &m->f;
    if (DLT_FN(q->ctrl) == DLT_READ && q->len == 4u && dlt_di(q->data) == LOADID_DI) {
        uint8_t d[10];
        dlt_put_di(d, LOADID_DI);
        dlt_bcd_put(d + 4, 2, a->count % 10000u);
        d[6] = a->cls;
        svc_bcd_signed(d + 7, 3, a->step_dW);
        dlt_reply(&a->r, q, d, sizeof d);
    } else if (DLT_FN(q->ctrl) == DLT_READ && q->len == 4u && dlt_di(q->data) == LOADID_LOG_DI) {
        record_set(a, m);
        return;
    } else {
        dlt_abnormal(&a->r, q, DLT_FN(q->ctrl) == DLT_READ ? DLT_SERR_NO_DATA : DLT_SERR_OTHER);
    }
    svc_reply(a->to_bus, a->self, m, &a->r);
}

void loadid_app_main(void *arg)
{
    (void)arg;
    struct app *a = svc_state(sizeof *a);
    int r = do_register(a);
    if (r < 0 || vbus_connect(LOADID_NAME, &a->from_bus, &a->to_bus) < 0) {
        ms_printk("loadid: registration failed (%d)\n", r);
        ms_process_exit(1);
    }
    char path[MS_PATH_MAX];
    vbus_shm_path(path, sizeof path, LOADID_NAME);
    int shm = ms_io_open(path, O_RDWR, 0);
    void *base = 0;
    if (shm < 0 || ms_io_ioctl(shm, MS_IOCTL_SHM_GET_ADDR, &base) < 0)
        ms_printk("loadid: no shared memory %s (%d): no record set\n", path, shm);
    a->shm = base;
    a->t0 = ms_tick_get();
    ms_printk("loadid: registered as %02x, identifier %08x\n", a->self, (unsigned)LOADID_DI);
    /* the tick (a system call) is read once per wake-up, after its work: not after asking
     * (the period's next instant is known) nor after a wait that timed out (it has come) */
    ms_tick_t now = ms_tick_get(), next = now + ms_ms_to_ticks(PERIOD_MS);
    for (;;) {
        int32_t left = (int32_t)(next - now);
        if (left <= 0) {
            ask_power(a);
            next += ms_ms_to_ticks(PERIOD_MS);
            continue;
        }
        ms_fdset_t rd = 0;
        MS_FD_SET(a->from_bus, &rd);
        int r = ms_io_select(a->from_bus + 1, &rd, 0, (ms_tick_t)left);
        if (r == 0) {
            now = next;
            continue;
        }
        if (r > 0 && vbus_rx_fill(&a->rx, a->from_bus) >= 0)
            while (svc_next(&a->rx, &a->m)) {
                if (a->m.h.cmd == VBUS_CMD_REQUEST)
                    serve(a, &a->m);
                else
                    power(a, &a->m.f);
            }
        now = ms_tick_get();
    }
}
