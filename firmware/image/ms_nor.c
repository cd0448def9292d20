/* Polled W25Qxx access (see ms_nor.h). */
#include "ms_nor.h"

static void cs(const ms_nor_t *n, int level) { bsp_pin_write(n->cs, level); }

static int cmd(const ms_nor_t *n, const uint8_t *hdr, unsigned hlen, const uint8_t *tx,
               uint8_t *rx, uint32_t len)
{
    cs(n, 0);
    int r = bsp_spi_xfer(n->bus, hdr, 0, hlen);
    if (r == 0 && len)
        r = bsp_spi_xfer(n->bus, tx, rx, len);
    cs(n, 1);
    return r;
}

static int wait_ready(const ms_nor_t *n, uint32_t max_us)
{
    /* with a coarse clock, "more than max_us passed" needs one step more than max_us */
    uint32_t t0 = n->idle ? n->ms() : 0u, limit_ms = max_us / 1000u + 1u + (n->idle ? n->ms_step : 0u);
    for (uint32_t t_us = 0;;) {
        uint8_t c = 0x05u, sr = 0xFFu;
        int r = cmd(n, &c, 1, 0, &sr, 1);
        if (r)
            return r;
        if (!(sr & 1u))
            return 0;
        if (n->idle) {
            if (n->ms() - t0 > limit_ms)
                return BSP_ERR_TIMEOUT;
            n->idle();
        } else {
            if (t_us > max_us)
                return BSP_ERR_TIMEOUT;
            bsp_delay_us(50);
            t_us += 50u;
        }
    }
}

static int write_enable(const ms_nor_t *n)
{
    uint8_t c = 0x06u;
    return cmd(n, &c, 1, 0, 0, 0);
}

int ms_nor_init(ms_nor_t *n, int bus, bsp_pin_t cs_pin)
{
    n->bus = bus;
    n->cs = cs_pin;
    n->idle = 0;
    n->ms = 0;
    n->ms_step = 0;
    bsp_pin_config(cs_pin, BSP_PIN_OUTPUT, 0);
    bsp_pin_write(cs_pin, 1);
    uint8_t c = 0x9Fu, id[3] = {0};
    int r = cmd(n, &c, 1, 0, id, 3);
    if (r)
        return r;
    if (id[0] != 0xEFu || id[2] < 16u || id[2] > 26u)
        return BSP_ERR_NODEV;
    n->size = 1u << id[2];
    return wait_ready(n, 400000u);    /* an erase interrupted by a reset may still run */
}

int ms_nor_read(const ms_nor_t *n, uint32_t addr, void *buf, uint32_t len)
{
    uint8_t h[4] = {0x03u, (uint8_t)(addr >> 16), (uint8_t)(addr >> 8), (uint8_t)addr};
    return cmd(n, h, 4, 0, buf, len);
}

int ms_nor_program(const ms_nor_t *n, uint32_t addr, const void *buf, uint32_t len)
{
    const uint8_t *p = buf;
    while (len) {
        uint32_t chunk = MS_NOR_PAGE - (addr % MS_NOR_PAGE);
        if (chunk > len)
            chunk = len;
        uint8_t h[4] = {0x02u, (uint8_t)(addr >> 16), (uint8_t)(addr >> 8), (uint8_t)addr};
        int r = write_enable(n);
        if (!r)
            r = cmd(n, h, 4, p, 0, chunk);
        if (!r)
            r = wait_ready(n, 3000u);
        if (r)
            return r;
        addr += chunk;
        p += chunk;
        len -= chunk;
    }
    return 0;
}

int ms_nor_erase_sector(const ms_nor_t *n, uint32_t addr)
{
    uint8_t h[4] = {0x20u, (uint8_t)(addr >> 16), (uint8_t)(addr >> 8), (uint8_t)addr};
    int r = write_enable(n);
    if (!r)
        r = cmd(n, h, 4, 0, 0, 0);
    return r ? r : wait_ready(n, 400000u);
}
