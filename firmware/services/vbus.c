/* Virtual-bus messages on pipes (see vbus.h). */
#include <stdarg.h>
#include <string.h>
#include "ms_rtos.h"
#include "vbus.h"

unsigned vbus_encode(const vbus_msg_t *m, uint8_t *out)
{
    unsigned n = dlt_encode(&m->f, out + VBUS_HDR_LEN);
    out[0] = VBUS_SEPA;
    out[1] = m->h.ca;
    out[2] = m->h.sa;
    out[3] = m->h.encrypt;
    out[4] = m->h.addr_type;
    out[5] = m->h.proto;
    out[6] = m->h.cmd;
    out[7] = m->h.tag;
    out[8] = out[9] = 0;
    out[10] = (uint8_t)n;
    out[11] = (uint8_t)(n >> 8);
    return VBUS_HDR_LEN + n;
}

const char *vbus_strerror(int err)
{
    switch (err) {
    case VBUS_BAD_SEPA: return "no 0x68 separator";
    case VBUS_BAD_LENGTH: return "bad length";
    case VBUS_BAD_FRAME: return "damaged DL/T645 frame";
    case VBUS_BAD_PROTO: return "unknown protocol type";
    case VBUS_BAD_ENCRYPT: return "encrypted";
    case VBUS_BAD_CMD: return "unknown command type";
    default: return "ok";
    }
}

/* The bus's pipes are read without blocking (vbus_connect, the bus's own ends): one read takes
 * what came, up to the room left, and an empty pipe answers at once; no FIONREAD first. */
int vbus_rx_fill(vbus_rx_t *rx, int fd)
{
    unsigned room = (unsigned)sizeof rx->buf - rx->n;
    if (!room)
        return 0;
    int r = ms_io_read(fd, rx->buf + rx->n, room);
    if (r == MS_ERR_AGAIN)
        return 0;
    if (r > 0)
        rx->n += (unsigned)r;
    return r;
}

static void rx_drop(vbus_rx_t *rx, unsigned k)
{
    memmove(rx->buf, rx->buf + k, rx->n - k);
    rx->n -= k;
}

/* Drop a bad message: up to the next separator after its first byte. */
static int rx_bad(vbus_rx_t *rx, int why)
{
    unsigned k = 1;
    while (k < rx->n && rx->buf[k] != VBUS_SEPA)
        k++;
    rx_drop(rx, k);
    return why;
}

int vbus_rx_take(vbus_rx_t *rx, vbus_msg_t *m)
{
    if (!rx->n)
        return 0;
    if (rx->buf[0] != VBUS_SEPA)
        return rx_bad(rx, VBUS_BAD_SEPA);
    if (rx->n < VBUS_HDR_LEN)
        return 0;
    unsigned len = rx->buf[10] | (unsigned)rx->buf[11] << 8;
    if (len < 12u || len > DLT_FRAME_MAX)
        return rx_bad(rx, VBUS_BAD_LENGTH);
    const uint8_t *fr = rx->buf + VBUS_HDR_LEN;
    /* the frame's own length must agree with DataLen: judged as soon as its L has come,
     * so a too-large DataLen does not swallow the messages behind it */
    if (rx->n >= VBUS_HDR_LEN + 10u && (fr[0] != DLT_START || 12u + fr[9] != len)) {
        if (fr[0] != DLT_START)
            return rx_bad(rx, VBUS_BAD_LENGTH);
        /* the frame's own length tells where this message ends: skip it whole */
        unsigned k = VBUS_HDR_LEN + 12u + fr[9];
        rx_drop(rx, k < rx->n ? k : rx->n);
        return VBUS_BAD_LENGTH;
    }
    if (rx->n < VBUS_HDR_LEN + len)
        return 0;
    int why = VBUS_OK;
    if (dlt_decode(fr, len, &m->f) != DLT_OK)
        why = VBUS_BAD_FRAME;
    else if (rx->buf[5] != VBUS_PROTO_DLT645_2007)
        why = VBUS_BAD_PROTO;
    else if (rx->buf[3] != 0)
        why = VBUS_BAD_ENCRYPT;
    else if (rx->buf[6] < VBUS_CMD_REQUEST || rx->buf[6] > VBUS_CMD_BULK)
        why = VBUS_BAD_CMD;
    m->h.ca = rx->buf[1];
    m->h.sa = rx->buf[2];
    m->h.encrypt = rx->buf[3];
    m->h.addr_type = rx->buf[4];
    m->h.proto = rx->buf[5];
    m->h.cmd = rx->buf[6];
    m->h.tag = rx->buf[7];
    m->h.len = (uint16_t)len;
    rx_drop(rx, VBUS_HDR_LEN + len);    /* a whole message: consumed even when rejected */
    return why == VBUS_OK ? 1 : why;
}

int vbus_send(int fd, const vbus_msg_t *m)
{
    uint8_t out[VBUS_MSG_MAX];
    unsigned n = vbus_encode(m, out);
    int r = ms_io_write(fd, out, n);
    return r == (int)n ? 0 : (r < 0 ? r : MS_ERR_IO);
}

void vbus_hdr(vbus_hdr_t *h, uint8_t ca, uint8_t sa, uint8_t cmd, uint8_t addr_type, uint8_t tag)
{
    h->ca = ca;
    h->sa = sa;
    h->encrypt = 0;
    h->addr_type = addr_type;
    h->proto = VBUS_PROTO_DLT645_2007;
    h->cmd = cmd;
    h->tag = tag;
    h->len = 0;
}

static void fmt(char *out, unsigned size, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    ms_vsnprintf(out, size, f, ap);
    va_end(ap);
}

void vbus_pipe_path(char *out, unsigned size, const char *name, int to_bus)
{
    if (to_bus)
        fmt(out, size, "/pipe/%s_TO_V_BUS", name);
    else
        fmt(out, size, "/pipe/V_BUS_TO_%s", name);
}

void vbus_shm_path(char *out, unsigned size, const char *name)
{
    fmt(out, size, "/shm/%s", name);
}

int vbus_connect(const char *name, int *from_bus, int *to_bus)
{
    char path[MS_PATH_MAX];
    vbus_pipe_path(path, sizeof path, name, 0);
    *from_bus = ms_io_open(path, O_RDONLY | O_NONBLOCK, 0);
    if (*from_bus < 0)
        return *from_bus;
    vbus_pipe_path(path, sizeof path, name, 1);
    *to_bus = ms_io_open(path, O_WRONLY, 0);
    return *to_bus < 0 ? *to_bus : 0;
}
