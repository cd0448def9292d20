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
 * - 04A10002 (read, multi-frame): the log of the last 16 switch-ons, newest first, each
 *   NNNN (its number), class, step XX.XXXX kW (6 bytes); four records per frame, so a reply
 *   stays short on the 1200-baud IR link: 91H carries the first four (B1H when more follow),
 *   12H with SEQ n the n-th next four (B2H when still more follow), SEQ echoed last.
 */
#include <string.h>
#include "ms_rtos.h"
#include "apps.h"
#include "svc_util.h"
#include "vbus.h"

#define LOADID_DI 0x04A10001u
#define LOADID_LOG_DI 0x04A10002u
#define LOG_MAX 16u
#define LOG_PER_FRAME 4u
#define LOG_RECORD 6u
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
    struct { uint32_t n; int32_t step_dW; uint8_t cls; } log[LOG_MAX];   /* ring, newest at count-1 */
};

static int do_register(struct app *a)
{
    int reg_out = ms_io_open(VBUS_PIPE_REG_IN, O_WRONLY, 0);
    int reg_in = ms_io_open(VBUS_PIPE_REG_OUT, O_RDONLY, 0);
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
        ms_printk("loadid: appliance on, %d.%04d kW step, class %u, count %u\n",
                  (int)(a->step_dW / 10000), (int)(a->step_dW % 10000), a->cls,
                  (unsigned)a->count);
    }
    a->last_dW = p;
    a->have = 1;
}

/* One frame of the switch-on log: page 0 for 11H, page SEQ for 12H. */
static void log_page(struct app *a, const dlt_frame_t *q)
{
    unsigned seq = DLT_FN(q->ctrl) == DLT_READ_NEXT ? q->data[4] : 0u;
    unsigned total = a->count < LOG_MAX ? (unsigned)a->count : LOG_MAX;
    unsigned first = seq * LOG_PER_FRAME;
    if (seq && first >= total) {
        dlt_abnormal(&a->r, q, DLT_SERR_NO_DATA);
        return;
    }
    uint8_t d[4 + LOG_PER_FRAME * LOG_RECORD + 1];
    unsigned n = 4;
    dlt_put_di(d, LOADID_LOG_DI);
    for (unsigned i = first; i < total && i < first + LOG_PER_FRAME; i++) {
        unsigned slot = (unsigned)((a->count - 1u - i) % LOG_MAX);     /* newest first */
        dlt_bcd_put(d + n, 2, a->log[slot].n % 10000u);
        d[n + 2] = a->log[slot].cls;
        svc_bcd_signed(d + n + 3, 3, a->log[slot].step_dW);
        n += LOG_RECORD;
    }
    if (seq)
        d[n++] = (uint8_t)seq;
    dlt_reply(&a->r, q, d, n);
    if (first + LOG_PER_FRAME < total)
        a->r.ctrl |= DLT_FOLLOWS;
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
    } else if (((DLT_FN(q->ctrl) == DLT_READ && q->len == 4u) ||
                (DLT_FN(q->ctrl) == DLT_READ_NEXT && q->len == 5u)) &&
               dlt_di(q->data) == LOADID_LOG_DI) {
        log_page(a, q);
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
    ms_printk("loadid: registered as %02x, identifier %08x\n", a->self, (unsigned)LOADID_DI);
    ms_tick_t next = ms_tick_get() + ms_ms_to_ticks(PERIOD_MS);
    for (;;) {
        int32_t left = (int32_t)(next - ms_tick_get());
        if (left <= 0) {
            ask_power(a);
            next += ms_ms_to_ticks(PERIOD_MS);
            continue;
        }
        ms_fdset_t rd = 0;
        MS_FD_SET(a->from_bus, &rd);
        if (ms_io_select(a->from_bus + 1, &rd, 0, (ms_tick_t)left) <= 0)
            continue;
        if (vbus_rx_fill(&a->rx, a->from_bus) < 0)
            continue;
        while (svc_next(&a->rx, &a->m)) {
            if (a->m.h.cmd == VBUS_CMD_REQUEST)
                serve(a, &a->m);
            else
                power(a, &a->m.f);
        }
    }
}
