#include <string.h>
#include "ms_rtos.h"
#include "bsp_date.h"
#include "crc16.h"
#include "drv_io.h"
#include "svc_util.h"

void svc_bcd_signed(uint8_t *out, unsigned bytes, int32_t value)
{
    uint32_t mag = value < 0 ? (uint32_t)-value : (uint32_t)value;
    dlt_bcd_put(out, bytes, mag);
    out[bytes - 1] &= 0x7Fu;
    if (value < 0)
        out[bytes - 1] |= 0x80u;
}

int svc_reply(int to_bus, uint8_t self, const vbus_msg_t *m, const dlt_frame_t *r)
{
    vbus_msg_t out;
    vbus_hdr(&out.h, self, m->h.ca, VBUS_CMD_REPLY, m->h.addr_type, m->h.tag);
    out.f = *r;
    return vbus_send(to_bus, &out);
}

void *svc_state(unsigned size)
{
    void *p = ms_malloc(size);
    if (!p) {
        ms_printk("process %d: no memory for its state\n", ms_process_self());
        ms_process_exit(1);
    }
    memset(p, 0, size);
    return p;
}

int svc_next(vbus_rx_t *rx, vbus_msg_t *m)
{
    int k;
    while ((k = vbus_rx_take(rx, m)) < 0)
        ;
    return k;
}

int svc_read_line(int fd, char *buf, unsigned size, uint32_t timeout_ms)
{
    ms_tick_t deadline = ms_tick_get() + ms_ms_to_ticks(timeout_ms);
    unsigned n = 0;
    for (;;) {
        int32_t left = (int32_t)(deadline - ms_tick_get());
        if (left <= 0)
            return MS_ERR_TIMEOUT;
        ms_fdset_t rd = 0;
        MS_FD_SET(fd, &rd);
        if (ms_io_select(fd + 1, &rd, 0, (ms_tick_t)left) <= 0)
            return MS_ERR_TIMEOUT;
        char c;
        while (ms_io_read(fd, &c, 1) == 1) {
            if (c == '\n') {
                buf[n] = 0;
                return (int)n;
            }
            if (c != '\r' && n + 1u < size)
                buf[n++] = c;
        }
    }
}

unsigned svc_put_time(uint8_t *out, uint32_t s, int with_seconds)
{
    struct bsp_datetime dt;
    bsp_date_from_secs(s, &dt);
    uint8_t v[6] = {dt.sec, dt.min, dt.hour, dt.day, dt.month, (uint8_t)(dt.year % 100u)};
    unsigned k = 0;
    for (unsigned i = with_seconds ? 0u : 1u; i < 6u; i++, k++)
        dlt_bcd_put(out + k, 1, v[i]);
    return k;
}

int svc_eeprom_rw(int fd, uint32_t addr, void *buf, unsigned len, int write)
{
    drv_seek_t at = {.offset = (int32_t)addr, .whence = DRV_SEEK_SET};
    if (ms_io_ioctl(fd, DRV_IOCTL_SEEK, &at) < 0)
        return MS_ERR_IO;
    int n = write ? ms_io_write(fd, buf, len) : ms_io_read(fd, buf, len);
    return n == (int)len ? MS_OK : MS_ERR_IO;
}

void svc_rec_seal(void *rec, unsigned crc_at)
{
    uint16_t crc = crc16_ccitt(rec, crc_at);
    memcpy((uint8_t *)rec + crc_at, &crc, 2);
}

int svc_rec_valid(const void *rec, uint32_t magic, unsigned crc_at)
{
    uint32_t m;                             /* rec needs no alignment */
    uint16_t crc;
    memcpy(&m, rec, 4);
    memcpy(&crc, (const uint8_t *)rec + crc_at, 2);
    return m == magic && crc == crc16_ccitt(rec, crc_at);
}
