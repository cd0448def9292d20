/*
 * AT24Cxx driver: page-split writes with ACK polling, random/sequential reads, and the
 * /dev/eeprom node with per-process range checks. See at24c.h for the data sheet rules.
 */
#include <string.h>
#include "at24c.h"
#include "drv_io.h"
#include "ms_driver.h"

#define MAX_PAGE 128u
#define WRITE_CYCLE_MS 5u              /* tWR max, every part in the table */
#define DEFAULT_WRITE_TIMEOUT_MS 10u   /* twice tWR max */

static const struct { const char *name; uint32_t size; uint16_t page; uint8_t abytes; } g_parts[] = {
    {"AT24C02", 256u, 8u, 1u},
    {"AT24C64", 8192u, 32u, 2u},
    {"AT24C128", 16384u, 64u, 2u},
    {"AT24C256", 32768u, 64u, 2u},
    {"AT24C512", 65536u, 128u, 2u},
};

static int str_same(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

/* Wait about `ms` without touching the bus: a thread sleeps (the core may idle); before the
 * scheduler runs, a spin that reads no register (bsp_delay_us up to 100 us spins a loop). */
static void pause_ms(uint32_t ms)
{
    if (ms_thread_sleep(ms_ms_to_ticks(ms)) != MS_ERR_ISR)
        return;
    for (uint32_t i = 0; i < ms * 10u; i++)
        bsp_delay_us(100);
}

/* ACK polling: a busy device NACKs its address. Each poll is a dummy write (word address
 * 0, no data): it starts no write cycle, and it works with I2C masters that cannot send an
 * address-only frame. After a page write of ours the cycle's length is known: `first_ms`
 * (tWR) passes without bus traffic, then the device is polled once a millisecond. */
static int wait_ready(at24c_t *dev, uint32_t first_ms)
{
    static const uint8_t zero[2] = {0, 0};
    uint32_t waited_ms = first_ms;
    if (first_ms)
        pause_ms(first_ms);
    for (;;) {
        dev->ack_polls++;
        int r = bsp_i2c_write(dev->bus, dev->addr7, zero, dev->addr_bytes);
        if (r == 0)
            return MS_OK;
        if (r != BSP_ERR_IO)
            return r;                        /* bus trouble, not a busy device */
        if (waited_ms >= dev->write_timeout_ms)
            return MS_ERR_TIMEOUT;
        pause_ms(1);
        waited_ms++;
    }
}

int at24c_init(at24c_t *dev, int bus, uint8_t addr7, const char *part)
{
    unsigned i;
    for (i = 0; i < sizeof g_parts / sizeof g_parts[0]; i++)
        if (part && str_same(part, g_parts[i].name))
            break;
    if (i == sizeof g_parts / sizeof g_parts[0])
        return MS_ERR_INVAL;
    memset(dev, 0, sizeof *dev);
    dev->bus = bus;
    dev->addr7 = addr7;
    dev->size = g_parts[i].size;
    dev->page_size = g_parts[i].page;
    dev->addr_bytes = g_parts[i].abytes;
    dev->write_timeout_ms = DEFAULT_WRITE_TIMEOUT_MS;
    dev->lock = ms_mutex_create("eeprom");
    if (dev->lock < 0)
        return dev->lock;
    /* A write cycle may still run from before a reset: wait for it like after a write. */
    int r = wait_ready(dev, 0);
    return r == MS_ERR_TIMEOUT ? MS_ERR_NODEV : r;
}

static int check_range(const at24c_t *dev, uint32_t addr, uint32_t len)
{
    if (addr > dev->size || len > dev->size - addr)
        return MS_ERR_INVAL;
    return MS_OK;
}

static unsigned put_addr(const at24c_t *dev, uint8_t *p, uint32_t addr)
{
    if (dev->addr_bytes == 2) {
        p[0] = (uint8_t)(addr >> 8);
        p[1] = (uint8_t)addr;
        return 2;
    }
    p[0] = (uint8_t)addr;
    return 1;
}

int at24c_read(at24c_t *dev, uint32_t addr, void *buf, uint32_t len)
{
    int r = check_range(dev, addr, len);
    if (r < 0 || !len)
        return r < 0 ? r : 0;
    uint8_t a[2];
    unsigned n = put_addr(dev, a, addr);
    ms_mutex_lock(dev->lock, MS_WAIT_FOREVER);
    r = bsp_i2c_write_read(dev->bus, dev->addr7, a, n, buf, len);
    ms_mutex_unlock(dev->lock);
    return r < 0 ? r : (int)len;
}

int at24c_write(at24c_t *dev, uint32_t addr, const void *buf, uint32_t len)
{
    int r = check_range(dev, addr, len);
    if (r < 0 || !len)
        return r < 0 ? r : 0;
    const uint8_t *src = buf;
    uint8_t frame[2u + MAX_PAGE];
    uint32_t done = 0;
    ms_mutex_lock(dev->lock, MS_WAIT_FOREVER);
    while (done < len) {
        uint32_t a = addr + done;
        uint32_t room = dev->page_size - a % dev->page_size;   /* up to the page boundary */
        uint32_t n = len - done < room ? len - done : room;
        unsigned h = put_addr(dev, frame, a);
        memcpy(frame + h, src + done, n);
        r = bsp_i2c_write(dev->bus, dev->addr7, frame, h + n);
        if (r == BSP_ERR_IO) {               /* NACK: still busy from someone's cycle */
            r = wait_ready(dev, 0);
            if (r == 0)
                r = bsp_i2c_write(dev->bus, dev->addr7, frame, h + n);
        }
        if (r < 0)
            break;
        dev->page_writes++;
        r = wait_ready(dev, WRITE_CYCLE_MS); /* the write cycle started at STOP */
        if (r < 0)
            break;
        done += n;
    }
    ms_mutex_unlock(dev->lock);
    return r < 0 ? r : (int)len;
}

/* ---- /dev/eeprom ------------------------------------------------------------------------ */
static int dev_read(void *ctx, ms_file_t *f, void *buf, size_t len)
{
    at24c_t *dev = ctx;
    if (f->pos >= dev->size)
        return 0;
    uint32_t n = len < dev->size - f->pos ? (uint32_t)len : dev->size - f->pos;
    int r = ms_process_check_eeprom(f->pos, n, 0);
    if (r < 0)
        return r;
    r = at24c_read(dev, f->pos, buf, n);
    if (r > 0)
        f->pos += (uint32_t)r;
    return r;
}

static int dev_write(void *ctx, ms_file_t *f, const void *buf, size_t len)
{
    at24c_t *dev = ctx;
    if (f->pos >= dev->size)
        return len ? MS_ERR_NOSPC : 0;
    uint32_t n = len < dev->size - f->pos ? (uint32_t)len : dev->size - f->pos;
    int r = ms_process_check_eeprom(f->pos, n, 1);
    if (r < 0)
        return r;
    r = at24c_write(dev, f->pos, buf, n);
    if (r > 0)
        f->pos += (uint32_t)r;
    return r;
}

static int dev_ioctl(void *ctx, ms_file_t *f, int cmd, void *arg)
{
    if (drv_ioctl_arg_ok(cmd, arg) != MS_OK)
        return MS_ERR_FAULT;
    at24c_t *dev = ctx;
    if (!arg)
        return MS_ERR_FAULT;
    if (cmd == DRV_IOCTL_SEEK)
        return drv_seek(&f->pos, dev->size, arg);
    if (cmd == DRV_IOCTL_STAT) {
        drv_stat_t *st = arg;
        st->size = dev->size;
        st->block_size = dev->page_size;
        st->type = DRV_TYPE_DEVICE;
        return MS_OK;
    }
    return MS_ERR_INVAL;
}

static const ms_io_dev_ops_t g_ops = {
    .read = dev_read, .write = dev_write, .ioctl = dev_ioctl,
};

int at24c_register(at24c_t *dev, const char *path)
{
    return ms_io_device_register(path, &g_ops, dev);
}
