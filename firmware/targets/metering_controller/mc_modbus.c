/* Modbus RTU slave (see mc_modbus.h). Pure logic: no hardware access, host-testable. */
#include "mc_modbus.h"
#include <string.h>
#include "mc_crc.h"

static uint16_t get16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }

static int finish(uint8_t *reply, int n)
{
    uint16_t crc = mc_crc16(reply, (unsigned)n);
    reply[n] = (uint8_t)crc;            /* CRC low byte first */
    reply[n + 1] = (uint8_t)(crc >> 8);
    return n + 2;
}

static int exception(struct mb_slave *s, uint8_t *reply, uint8_t fn, int code)
{
    s->c.exceptions++;
    reply[1] = (uint8_t)(fn | 0x80u);
    reply[2] = (uint8_t)code;
    return finish(reply, 3);
}

int mb_process(struct mb_slave *s, const uint8_t *f, int len, uint8_t *reply)
{
    if (len < 4 || len > (int)MB_ADU_MAX) {
        if (len != 0)
            s->c.crc_errors++;
        return 0;
    }
    uint16_t crc = (uint16_t)(f[len - 2] | (f[len - 1] << 8));
    if (mc_crc16(f, (unsigned)len - 2u) != crc) {
        s->c.crc_errors++;
        return 0;
    }
    s->c.bus_msgs++;
    uint8_t addr = f[0], fn = f[1];
    int bcast = addr == 0;
    if (!bcast && addr != s->addr)
        return 0;
    s->c.slave_msgs++;
    const uint8_t *d = f + 2;
    int dlen = len - 4;
    uint16_t regs[125];
    int r;
    reply[0] = s->addr;
    switch (fn) {
    case 0x03:
    case 0x04: {
        if (bcast)
            return 0;
        if (dlen != 4)
            return exception(s, reply, fn, MB_EX_ILLEGAL_VALUE);
        uint16_t start = get16(d), count = get16(d + 2);
        if (count < 1 || count > 125)
            return exception(s, reply, fn, MB_EX_ILLEGAL_VALUE);
        if ((uint32_t)start + count > 0x10000u)
            return exception(s, reply, fn, MB_EX_ILLEGAL_ADDRESS);
        r = s->ops->read(s->ctx, fn == 0x04, start, count, regs);
        if (r)
            return exception(s, reply, fn, r);
        reply[1] = fn;
        reply[2] = (uint8_t)(2u * count);
        for (unsigned i = 0; i < count; i++)
            put16(reply + 3 + 2 * i, regs[i]);
        return finish(reply, 3 + 2 * count);
    }
    case 0x06: {
        if (dlen != 4)
            return bcast ? 0 : exception(s, reply, fn, MB_EX_ILLEGAL_VALUE);
        regs[0] = get16(d + 2);
        r = s->ops->write(s->ctx, get16(d), 1, regs, bcast);
        if (bcast)
            return 0;
        if (r)
            return exception(s, reply, fn, r);
        memcpy(reply + 1, f + 1, 5);    /* echo of the request */
        return finish(reply, 6);
    }
    case 0x10: {
        if (dlen < 5)
            return bcast ? 0 : exception(s, reply, fn, MB_EX_ILLEGAL_VALUE);
        uint16_t start = get16(d), count = get16(d + 2);
        uint8_t bytes = d[4];
        if (count < 1 || count > 123 || bytes != 2u * count || dlen != 5 + bytes)
            return bcast ? 0 : exception(s, reply, fn, MB_EX_ILLEGAL_VALUE);
        if ((uint32_t)start + count > 0x10000u)
            return bcast ? 0 : exception(s, reply, fn, MB_EX_ILLEGAL_ADDRESS);
        for (unsigned i = 0; i < count; i++)
            regs[i] = get16(d + 5 + 2 * i);
        r = s->ops->write(s->ctx, start, count, regs, bcast);
        if (bcast)
            return 0;
        if (r)
            return exception(s, reply, fn, r);
        memcpy(reply + 1, f + 1, 5);    /* function, start, count */
        return finish(reply, 6);
    }
    case 0x08: {
        if (bcast)
            return 0;
        if (dlen < 2)
            return exception(s, reply, fn, MB_EX_ILLEGAL_VALUE);
        uint16_t sub = get16(d);
        uint16_t v;
        switch (sub) {
        case 0x00:                      /* return query data: the request, echoed */
            memcpy(reply + 1, f + 1, (unsigned)len - 3u);
            return finish(reply, len - 2);
        case 0x0A:                      /* clear counters */
            memset(&s->c, 0, sizeof s->c);
            memcpy(reply + 1, f + 1, (unsigned)len - 3u);
            return finish(reply, len - 2);
        case 0x0B: v = s->c.bus_msgs; break;
        case 0x0C: v = s->c.crc_errors; break;
        case 0x0D: v = s->c.exceptions; break;
        default:
            return exception(s, reply, fn, MB_EX_ILLEGAL_FUNCTION);
        }
        if (dlen != 4)
            return exception(s, reply, fn, MB_EX_ILLEGAL_VALUE);
        reply[1] = fn;
        put16(reply + 2, sub);
        put16(reply + 4, v);
        return finish(reply, 6);
    }
    default:
        if (bcast)
            return 0;
        return exception(s, reply, fn, MB_EX_ILLEGAL_FUNCTION);
    }
}
