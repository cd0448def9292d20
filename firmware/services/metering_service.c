/*
 * Metering management service: the management unit's side of the link to the metrology unit
 * (UART5, 9600 8E1, /dev/ttyS5) and the owner of energy (00xxxxxx), instantaneous values
 * (02xxxxxx) and freeze records (05xxxxxx) on the virtual bus.
 *
 * Until the metrology unit's own firmware exists, the link speaks a small line protocol
 * (docs/meter_virtual_bus.md, "metrology link"), answered by metersim.MetrologyUnit:
 *   "RD\n"  -> "OK V=<0.1 V> I=<mA> P=<0.1 W> F=<0.01 Hz> PF=<0.001> E=<t>,<r1>,<r2>,<r3>,<r4>
 *               R=<reverse>\n"  (energies in 0.01 kWh)
 *   "CLR\n" -> "OK\n"  (meter clear: the legal unit zeroes its registers)
 * Every read of a metering identifier asks the unit afresh; when it does not answer, the last
 * values are served (the link is re-synchronised as soon as it answers again).
 */
#include <string.h>
#include "ms_rtos.h"
#include "services.h"
#include "svc_util.h"
#include "vbus.h"

#define LINK_TIMEOUT_MS 150u

struct values {
    int32_t v_dV, i_mA, p_dW, f_cHz, pf_m;
    uint32_t e_cWh[5], rev_cWh;             /* 0.01 kWh: total, rates 1..4 */
};

struct mtr {
    int link, from_bus, to_bus;
    vbus_rx_t rx;
    struct values now, frozen;
    uint8_t have, lost, have_frozen;
    uint32_t link_errors;
    vbus_msg_t m;
    dlt_frame_t r;
    char line[96];
};

static int32_t num(const char *s, const char **end)
{
    int neg = *s == '-';
    s += neg;
    int32_t v = 0;
    while (*s >= '0' && *s <= '9')
        v = v * 10 + (*s++ - '0');
    *end = s;
    return neg ? -v : v;
}

static int parse(const char *s, struct values *out)
{
    struct values v;
    memset(&v, 0, sizeof v);
    if (strncmp(s, "OK ", 3) != 0)
        return -1;
    unsigned seen = 0;
    s += 3;
    while (*s) {
        const char *k = s, *e;
        while (*s && *s != '=')
            s++;
        if (!*s)
            return -1;
        unsigned klen = (unsigned)(s - k);
        s++;
        if (klen == 1 && *k == 'V') { v.v_dV = num(s, &e); seen |= 1; }
        else if (klen == 1 && *k == 'I') { v.i_mA = num(s, &e); seen |= 2; }
        else if (klen == 1 && *k == 'P') { v.p_dW = num(s, &e); seen |= 4; }
        else if (klen == 1 && *k == 'F') { v.f_cHz = num(s, &e); seen |= 8; }
        else if (klen == 2 && k[0] == 'P' && k[1] == 'F') { v.pf_m = num(s, &e); seen |= 16; }
        else if (klen == 1 && *k == 'R') { v.rev_cWh = (uint32_t)num(s, &e); seen |= 32; }
        else if (klen == 1 && *k == 'E') {
            for (unsigned i = 0; i < 5u; i++) {
                v.e_cWh[i] = (uint32_t)num(s, &e);
                s = e;
                if (i < 4u && *s++ != ',')
                    return -1;
            }
            seen |= 64;
        } else
            return -1;
        s = e;
        while (*s == ' ')
            s++;
    }
    if (seen != 127u)
        return -1;
    *out = v;
    return 0;
}

static int ask(struct mtr *t, const char *cmd)
{
    char junk[16];
    while (ms_io_read(t->link, junk, sizeof junk) > 0)
        ;                                   /* nothing stale in front of the answer */
    ms_io_write(t->link, cmd, strlen(cmd));
    return svc_read_line(t->link, t->line, sizeof t->line, LINK_TIMEOUT_MS);
}

/* Fresh values from the unit, or the last ones; 0 when there are none at all. */
static int refresh(struct mtr *t)
{
    struct values v;
    if (ask(t, "RD\n") >= 0 && parse(t->line, &v) == 0) {
        if (t->lost)
            ms_printk("metering: metrology unit answers again, re-synchronised\n");
        t->lost = 0;
        t->now = v;
        t->have = 1;
        return 1;
    }
    t->link_errors++;
    if (!t->lost)
        ms_printk("metering: metrology unit not answering, serving the last values\n");
    t->lost = 1;
    return t->have;
}

static unsigned energy_block(const uint32_t *e, uint8_t *out)
{
    for (unsigned i = 0; i < 5u; i++)
        dlt_bcd_put(out + 4u * i, 4, e[i]);
    return 20;
}

/* The value of di into out (after the DI); its length, or -1 when unknown. */
static int value(struct mtr *t, uint32_t di, uint8_t *out)
{
    const struct values *v = &t->now;
    if ((di & 0xFFFF00FFu) == 0x00010000u) {               /* forward active, by rate */
        unsigned rate = (di >> 8) & 0xFFu;
        if (rate == 0xFFu)
            return (int)energy_block(v->e_cWh, out);
        if (rate > 4u)
            return -1;
        dlt_bcd_put(out, 4, v->e_cWh[rate]);
        return 4;
    }
    switch (di) {
    case 0x00000000u: dlt_bcd_put(out, 4, v->e_cWh[0] + v->rev_cWh); return 4;
    case 0x00020000u: dlt_bcd_put(out, 4, v->rev_cWh); return 4;
    case 0x02010100u: dlt_bcd_put(out, 2, (uint32_t)v->v_dV); return 2;
    case 0x02020100u: svc_bcd_signed(out, 3, v->i_mA); return 3;
    case 0x02030000u: svc_bcd_signed(out, 3, v->p_dW); return 3;
    case 0x02060000u: svc_bcd_signed(out, 2, v->pf_m); return 2;
    case 0x02800002u: dlt_bcd_put(out, 2, (uint32_t)v->f_cHz); return 2;
    case 0x05010101u:                                      /* last instantaneous freeze */
        return t->have_frozen ? (int)energy_block(t->frozen.e_cWh, out) : -1;
    default: return -1;
    }
}

static void serve(struct mtr *t, const vbus_msg_t *m)
{
    const dlt_frame_t *q = &m->f;
    uint8_t d[4 + 32];
    switch (DLT_FN(q->ctrl)) {
    case DLT_READ: {
        uint32_t di = dlt_di(q->data);
        int n = -1;
        int known = value(t, di, d + 4) >= 0 || di == 0x05010101u;
        if (known && refresh(t))
            n = value(t, di, d + 4);
        if (n < 0)
            dlt_abnormal(&t->r, q, known ? DLT_SERR_OTHER : DLT_SERR_NO_DATA);
        else {
            dlt_put_di(d, di);
            dlt_reply(&t->r, q, d, 4u + (unsigned)n);
        }
        break;
    }
    case DLT_FREEZE:
        if (refresh(t)) {
            t->frozen = t->now;
            t->have_frozen = 1;
            ms_printk("metering: instantaneous freeze, forward energy %u.%02u kWh\n",
                      (unsigned)(t->now.e_cWh[0] / 100u), (unsigned)(t->now.e_cWh[0] % 100u));
            dlt_reply(&t->r, q, 0, 0);
        } else
            dlt_abnormal(&t->r, q, DLT_SERR_OTHER);
        break;
    case DLT_CLEAR_DEMAND:
        dlt_reply(&t->r, q, 0, 0);          /* no demand registers kept yet */
        break;
    case DLT_CLEAR_METER:
        if (ask(t, "CLR\n") >= 0 && strcmp(t->line, "OK") == 0) {
            memset(&t->now, 0, sizeof t->now);
            t->have_frozen = 0;
            ms_printk("metering: meter cleared\n");
            dlt_reply(&t->r, q, 0, 0);
        } else
            dlt_abnormal(&t->r, q, DLT_SERR_OTHER);
        break;
    default:
        dlt_abnormal(&t->r, q, DLT_SERR_OTHER);   /* legal data is read-only here */
        break;
    }
    svc_reply(t->to_bus, VBUS_ADDR_METERING, m, &t->r);
}

void metering_service_main(void *arg)
{
    (void)arg;
    struct mtr *t = svc_state(sizeof *t);
    t->link = ms_io_open(DEV_METROLOGY, O_RDWR | O_NONBLOCK, 0);
    if (t->link < 0 || vbus_connect(VBUS_NAME_METERING, &t->from_bus, &t->to_bus) < 0) {
        ms_printk("metering: cannot open the link or the bus\n");
        ms_process_exit(1);
    }
    ms_printk("metering: metrology link on %s\n", DEV_METROLOGY);
    for (;;) {
        ms_fdset_t rd = 0;
        MS_FD_SET(t->from_bus, &rd);
        if (ms_io_select(t->from_bus + 1, &rd, 0, MS_WAIT_FOREVER) <= 0)
            continue;
        if (vbus_rx_fill(&t->rx, t->from_bus) < 0)
            continue;
        while (svc_next(&t->rx, &t->m))
            if (t->m.h.cmd == VBUS_CMD_REQUEST)
                serve(t, &t->m);
    }
}
