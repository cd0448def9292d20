/*
 * W25Qxx NOR driver: JEDEC probe, reads, page programs, sector/block erases with timed WIP
 * polling, and a raw-sector device node. See w25q.h for the data sheet rules.
 */
#include <string.h>
#include "w25q.h"
#include "drv_io.h"

#define CMD_WRSR 0x01u
#define CMD_PP 0x02u
#define CMD_READ 0x03u
#define CMD_RDSR1 0x05u
#define CMD_WREN 0x06u
#define CMD_SE 0x20u
#define CMD_BE32 0x52u
#define CMD_BE64 0xD8u
#define CMD_JEDEC 0x9Fu
#define CMD_RPD 0xABu
#define SR1_BUSY 0x01u
#define SR1_WEL 0x02u

#define TPP_MAX_MS 3u
#define TSE_MAX_MS 400u
#define TBE32_MAX_MS 1600u
#define TBE64_MAX_MS 2000u

static void select(w25q_t *d) { bsp_pin_write(d->cs, 0); }
static void deselect(w25q_t *d) { bsp_pin_write(d->cs, 1); }

static int cmd_addr(w25q_t *d, uint8_t cmd, uint32_t addr)
{
    uint8_t h[4] = {cmd, (uint8_t)(addr >> 16), (uint8_t)(addr >> 8), (uint8_t)addr};
    return bsp_spi_xfer(d->bus, h, 0, 4);
}

static int simple(w25q_t *d, uint8_t cmd)
{
    select(d);
    int r = bsp_spi_xfer(d->bus, &cmd, 0, 1);
    deselect(d);
    return r;
}

static int read_sr1(w25q_t *d, uint8_t *sr)
{
    uint8_t tx[2] = {CMD_RDSR1, 0xFF}, rx[2];
    select(d);
    int r = bsp_spi_xfer(d->bus, tx, rx, 2);
    deselect(d);
    *sr = rx[1];
    return r;
}

/* Poll BUSY until clear, sleeping one tick between polls: even a page program (tPP 0.4 ms
 * typical) would otherwise cost hundreds of status reads, and the SPI bus is the bottleneck
 * of every other thread too. sleep = 0 spins (for callers that may not block). */
static int wait_idle(w25q_t *d, uint32_t limit_ms, int sleep)
{
    ms_tick_t t0 = ms_tick_get(), limit = ms_ms_to_ticks(limit_ms) + 1u;
    for (;;) {
        uint8_t sr;
        int r = read_sr1(d, &sr);
        d->busy_polls++;
        if (r < 0)
            return r;
        if (!(sr & SR1_BUSY))
            return MS_OK;
        if (ms_tick_get() - t0 > limit)
            return MS_ERR_TIMEOUT;
        if (sleep)
            ms_thread_sleep(1);
    }
}

static int write_enable(w25q_t *d)
{
    int r = simple(d, CMD_WREN);
    if (r < 0)
        return r;
    uint8_t sr;
    r = read_sr1(d, &sr);
    if (r < 0)
        return r;
    return sr & SR1_WEL ? MS_OK : MS_ERR_IO;   /* no chip, or it ignored us */
}

int w25q_init(w25q_t *dev, int bus, bsp_pin_t cs)
{
    memset(dev, 0, sizeof *dev);
    dev->bus = bus;
    dev->cs = cs;
    bsp_pin_write(cs, 1);
    bsp_pin_config(cs, BSP_PIN_OUTPUT, 0);
    bsp_pin_write(cs, 1);
    simple(dev, CMD_RPD);               /* leave power-down, should the chip be in it */
    /* An erase may still run from before an MCU reset (the chip is not reset with the MCU)
     * and a busy chip ignores the ID command: wait first (no chip: SR1 reads FFh, BUSY). */
    int r = wait_idle(dev, TBE64_MAX_MS, 1);
    if (r < 0)
        return r == MS_ERR_TIMEOUT ? MS_ERR_NODEV : r;
    uint8_t tx[4] = {CMD_JEDEC, 0xFF, 0xFF, 0xFF}, rx[4];
    select(dev);
    r = bsp_spi_xfer(bus, tx, rx, 4);
    deselect(dev);
    if (r < 0)
        return r;
    memcpy(dev->jedec, rx + 1, 3);
    if (rx[1] != 0xEF || rx[2] != 0x40 || rx[3] < 0x10 || rx[3] > 0x19)
        return MS_ERR_NODEV;
    dev->size = 1u << rx[3];
    dev->lock = ms_mutex_create("nor");
    return dev->lock < 0 ? dev->lock : MS_OK;
}

static int in_range(const w25q_t *d, uint32_t addr, uint32_t len)
{
    return addr <= d->size && len <= d->size - addr;
}

int w25q_read(w25q_t *dev, uint32_t addr, void *buf, uint32_t len)
{
    if (!in_range(dev, addr, len))
        return MS_ERR_INVAL;
    if (!len)
        return 0;
    ms_mutex_lock(dev->lock, MS_WAIT_FOREVER);
    select(dev);
    int r = cmd_addr(dev, CMD_READ, addr);
    if (r >= 0)
        r = bsp_spi_xfer(dev->bus, 0, buf, len);
    deselect(dev);
    ms_mutex_unlock(dev->lock);
    return r < 0 ? r : (int)len;
}

int w25q_program(w25q_t *dev, uint32_t addr, const void *buf, uint32_t len)
{
    if (!in_range(dev, addr, len))
        return MS_ERR_INVAL;
    const uint8_t *src = buf;
    uint32_t done = 0;
    int r = MS_OK;
    ms_mutex_lock(dev->lock, MS_WAIT_FOREVER);
    while (done < len) {
        uint32_t a = addr + done;
        uint32_t room = W25Q_PAGE_SIZE - a % W25Q_PAGE_SIZE;
        uint32_t n = len - done < room ? len - done : room;
        r = write_enable(dev);
        if (r < 0)
            break;
        select(dev);
        r = cmd_addr(dev, CMD_PP, a);
        if (r >= 0)
            r = bsp_spi_xfer(dev->bus, src + done, 0, n);
        deselect(dev);                   /* the program starts at /CS high */
        if (r < 0)
            break;
        dev->programs++;
        r = wait_idle(dev, TPP_MAX_MS, 1);
        if (r < 0)
            break;
        done += n;
    }
    ms_mutex_unlock(dev->lock);
    return r < 0 ? r : (int)len;
}

int w25q_erase(w25q_t *dev, uint32_t addr, uint32_t size)
{
    uint8_t cmd;
    uint32_t limit;
    if (size == W25Q_SECTOR_SIZE)
        cmd = CMD_SE, limit = TSE_MAX_MS;
    else if (size == W25Q_BLOCK32_SIZE)
        cmd = CMD_BE32, limit = TBE32_MAX_MS;
    else if (size == W25Q_BLOCK64_SIZE)
        cmd = CMD_BE64, limit = TBE64_MAX_MS;
    else
        return MS_ERR_INVAL;
    if (addr % size || !in_range(dev, addr, size))
        return MS_ERR_INVAL;
    ms_mutex_lock(dev->lock, MS_WAIT_FOREVER);
    int r = write_enable(dev);
    if (r >= 0) {
        select(dev);
        r = cmd_addr(dev, cmd, addr);
        deselect(dev);
    }
    if (r >= 0) {
        dev->erases++;
        r = wait_idle(dev, limit, 1);
    }
    ms_mutex_unlock(dev->lock);
    return r;
}

/* ---- raw-sector device node -------------------------------------------------------------- */
static int part_read(void *ctx, ms_file_t *f, void *buf, size_t len)
{
    w25q_part_t *p = ctx;
    if (f->pos >= p->size)
        return 0;
    uint32_t n = len < p->size - f->pos ? (uint32_t)len : p->size - f->pos;
    int r = w25q_read(p->dev, p->offset + f->pos, buf, n);
    if (r > 0)
        f->pos += (uint32_t)r;
    return r;
}

static int part_write(void *ctx, ms_file_t *f, const void *buf, size_t len)
{
    w25q_part_t *p = ctx;
    if (f->pos >= p->size)
        return len ? MS_ERR_NOSPC : 0;
    uint32_t n = len < p->size - f->pos ? (uint32_t)len : p->size - f->pos;
    int r = w25q_program(p->dev, p->offset + f->pos, buf, n);
    if (r > 0)
        f->pos += (uint32_t)r;
    return r;
}

static int part_ioctl(void *ctx, ms_file_t *f, int cmd, void *arg)
{
    if (drv_ioctl_arg_ok(cmd, arg) != MS_OK)
        return MS_ERR_FAULT;
    w25q_part_t *p = ctx;
    if (!arg)
        return MS_ERR_FAULT;
    switch (cmd) {
    case DRV_IOCTL_SEEK:
        return drv_seek(&f->pos, p->size, arg);
    case DRV_IOCTL_STAT: {
        drv_stat_t *st = arg;
        st->size = p->size;
        st->block_size = W25Q_SECTOR_SIZE;
        st->type = DRV_TYPE_DEVICE;
        return MS_OK;
    }
    case DRV_IOCTL_ERASE: {
        uint32_t off = *(const uint32_t *)arg;
        if ((f->flags & O_ACCMODE) == O_RDONLY)
            return MS_ERR_BADF;
        if (off % W25Q_SECTOR_SIZE || off >= p->size)
            return MS_ERR_INVAL;
        return w25q_erase(p->dev, p->offset + off, W25Q_SECTOR_SIZE);
    }
    default:
        return MS_ERR_INVAL;
    }
}

static const ms_io_dev_ops_t g_part_ops = {
    .read = part_read, .write = part_write, .ioctl = part_ioctl,
};

int w25q_register(w25q_part_t *part, const char *path)
{
    if (!part->dev || part->offset % W25Q_SECTOR_SIZE || part->size % W25Q_SECTOR_SIZE ||
        !in_range(part->dev, part->offset, part->size))
        return MS_ERR_INVAL;
    return ms_io_device_register(path, &g_part_ops, part);
}
