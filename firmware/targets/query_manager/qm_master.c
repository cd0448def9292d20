/* Modbus RTU master frames: see qm_master.h. */
#include "qm_master.h"
#include "mc_crc.h"

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static unsigned finish(uint8_t *adu, unsigned n)
{
    uint16_t crc = mc_crc16(adu, n);
    adu[n] = (uint8_t)crc;                 /* CRC low byte first */
    adu[n + 1] = (uint8_t)(crc >> 8);
    return n + 2;
}

unsigned qm_build_read(uint8_t *adu, uint8_t addr, uint8_t fn, uint16_t start, uint16_t count)
{
    adu[0] = addr;
    adu[1] = fn;
    put16(adu + 2, start);
    put16(adu + 4, count);
    return finish(adu, 6);
}

unsigned qm_build_write(uint8_t *adu, uint8_t addr, uint16_t start, unsigned n, const uint16_t *v)
{
    adu[0] = addr;
    adu[1] = 0x10;
    put16(adu + 2, start);
    put16(adu + 4, (uint16_t)n);
    adu[6] = (uint8_t)(2u * n);
    for (unsigned i = 0; i < n; i++)
        put16(adu + 7 + 2 * i, v[i]);
    return finish(adu, 7 + 2 * n);
}

int qm_check_reply(const uint8_t *req, const uint8_t *rep, unsigned len, uint16_t *out)
{
    if (len < 5 || mc_crc16(rep, len - 2) != (uint16_t)(rep[len - 2] | rep[len - 1] << 8))
        return QM_BAD_CRC;
    if (rep[0] != req[0])
        return QM_BAD_ADDR;
    if (rep[1] == (req[1] | 0x80u))
        return QM_EXCEPTION - rep[2];
    if (rep[1] != req[1])
        return QM_BAD_FUNCTION;
    if (req[1] == 0x03 || req[1] == 0x04) {
        unsigned count = get16(req + 4);
        if (rep[2] != 2u * count || len != 5u + 2u * count)
            return QM_BAD_LENGTH;
        for (unsigned i = 0; i < count; i++)
            out[i] = get16(rep + 3 + 2 * i);
        return 0;
    }
    if (req[1] == 0x10)                    /* echo of start and count */
        return len == 8 && get16(rep + 2) == get16(req + 2) && get16(rep + 4) == get16(req + 4)
                   ? 0 : QM_BAD_LENGTH;
    return 0;
}
