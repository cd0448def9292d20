/*
 * Extended app "LOADID": load identification by power steps. It registers itself and its
 * identifier on the virtual bus at start (REG_TO_V_BUS), then every second reads the active
 * power (02030000) from the metering service through the bus, and counts switch-on events:
 * a rise of at least 100 W between two readings is an appliance switched on, classed by its
 * size (1: below 500 W, lighting and electronics; 2: 500-1500 W, motors and small appliances;
 * 3: above 1500 W, heating).
 *
 * Its identifier 04A10001 (read): switch-on count (2 bytes BCD), class of the last one
 * (1 byte), its power step XX.XXXX kW (3 bytes BCD, signed).
 */
#include <string.h>
#include "ms_rtos.h"
#include "apps.h"
#include "svc_util.h"
#include "vbus.h"

#define LOADID_DI 0x04A10001u
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
    f->len = 16;
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
        ms_printk("loadid: appliance on, %d.%04d kW step, class %u, count %u\n",
                  (int)(a->step_dW / 10000), (int)(a->step_dW % 10000), a->cls,
                  (unsigned)a->count);
    }
    a->last_dW = p;
    a->have = 1;
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
    } else {
        dlt_abnormal(&a->r, q, DLT_FN(q->ctrl) == DLT_READ ? DLT_SERR_NO_DATA : DLT_SERR_OTHER);
    }
    svc_reply(a->to_bus, a->self, m, &a->r);
}

void loadid_app_main(void *arg)
{
    (void)arg;
    struct app *a = ms_malloc(sizeof *a);
    if (!a)
        ms_process_exit(1);
    memset(a, 0, sizeof *a);
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
        int k;
        while ((k = vbus_rx_take(&a->rx, &a->m)) != 0) {
            if (k < 0)
                continue;
            if (a->m.h.cmd == VBUS_CMD_REQUEST)
                serve(a, &a->m);
            else
                power(a, &a->m.f);
        }
    }
}
