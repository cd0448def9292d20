/*
 * /nor: littlefs on the W25Q64's 0x200000..0x7FFFFF (docs/meter_flash_layout.md, "NOR flash"),
 * mounted in the IO system for the processes (the basic app's freeze backups).
 *
 * littlefs runs on the caller's stack and wants about 1.5 KiB of it (drivers/lfs_port.h); a
 * system call of an isolated process runs on its thread's kernel stack, MS_KSTACK_SIZE (1 KiB)
 * on the F4. So /nor is a proxy: each file operation is handed to one kernel thread, "nor_fs",
 * with a stack of its own, which calls the littlefs port and hands the result back; the caller
 * waits. The caller's data crosses through a kernel buffer, copied in the caller's own system
 * call (its window is mapped there), so the worker touches kernel memory only. One request at a
 * time (the port serialises littlefs anyway).
 *
 * The worker mounts at start: a mount that fails on a blank window (both superblock sectors
 * erased) formats it; one that fails on written data does not (it would erase what a cut left:
 * the console says so and /nor stays absent).
 */
#include <string.h>
#include "bsp.h"
#include "lfs_port.h"
#include "ms_driver.h"
#include "ms_rtos.h"
#include "w25q.h"
#include "nor_fs.h"

#define NOR_SPI 1
#define NOR_SPI_HZ 25000000u
#define NOR_CS BSP_PIN(0, 4)
#define LFS_OFFSET 0x200000u
#define LFS_BLOCKS ((0x800000u - LFS_OFFSET) / W25Q_SECTOR_SIZE)
#define WORKER_STACK 3072u
#define BOUNCE 256u

enum { OP_OPEN, OP_CLOSE, OP_READ, OP_WRITE, OP_IOCTL, OP_UNLINK, OP_MKDIR };

static w25q_t g_nor;
static lfs_port_t g_lfs;
static const ms_io_fs_ops_t *g_port;        /* the port's own ops, called by the worker */
static ms_handle_t g_lock = -1, g_go = -1, g_done = -1, g_ready = -1;
static struct {
    int op, flags, mode, cmd, r;
    ms_file_t *f;
    const char *rel;
    size_t len;
    void *arg;
} g_req;
static union {
    uint8_t b[BOUNCE];
    drv_seek_t seek;
    drv_stat_t stat;
    drv_dirent_t dirent;
} g_buf;

static int blank_window(void)
{
    uint8_t b[64];
    for (uint32_t blk = 0; blk < 2u; blk++) {
        if (w25q_read(&g_nor, LFS_OFFSET + blk * W25Q_SECTOR_SIZE, b, sizeof b) < 0)
            return 0;
        for (unsigned i = 0; i < sizeof b; i++)
            if (b[i] != 0xFFu)
                return 0;
    }
    return 1;
}

static int mount(void)
{
    int r = bsp_spi_init(NOR_SPI, NOR_SPI_HZ, 0);
    if (r == 0)
        r = w25q_init(&g_nor, NOR_SPI, NOR_CS);
    if (r == 0)
        r = lfs_port_init(&g_lfs, &g_nor, LFS_OFFSET, LFS_BLOCKS);
    if (r < 0)
        return r;
    int formatted = 0;
    r = lfs_port_mount(&g_lfs, 0);
    if (r < 0 && blank_window()) {
        formatted = 1;
        r = lfs_port_mount(&g_lfs, 1);
    }
    if (r < 0)
        return r;
    g_port = lfs_port_ops();
    ms_printk("meter: littlefs on NOR 0x%06x..0x7FFFFF at /nor%s\n", (unsigned)LFS_OFFSET,
              formatted ? " (blank: formatted)" : "");
    return 0;
}

static void worker(void *arg)
{
    (void)arg;
    int r = mount();
    if (r < 0)
        ms_printk("meter: no /nor: littlefs not mounted (%d)\n", r);
    ms_sem_post(g_ready);
    if (r < 0)
        return;
    for (;;) {
        ms_sem_wait(g_go, MS_WAIT_FOREVER);
        void *ctx = &g_lfs;
        switch (g_req.op) {
        case OP_OPEN: r = g_port->open(ctx, g_req.f, g_req.rel, g_req.flags, g_req.mode); break;
        case OP_CLOSE: r = g_port->close(ctx, g_req.f); break;
        case OP_READ: r = g_port->read(ctx, g_req.f, g_buf.b, g_req.len); break;
        case OP_WRITE: r = g_port->write(ctx, g_req.f, g_buf.b, g_req.len); break;
        case OP_IOCTL: r = g_port->ioctl(ctx, g_req.f, g_req.cmd, g_req.arg); break;
        case OP_UNLINK: r = g_port->unlink(ctx, g_req.rel); break;
        default: r = g_port->mkdir(ctx, g_req.rel, g_req.mode); break;
        }
        g_req.r = r;
        ms_sem_post(g_done);
    }
}

/* The request in g_req, run by the worker; the caller holds g_lock. */
static int call(int op)
{
    g_req.op = op;
    ms_sem_post(g_go);
    ms_sem_wait(g_done, MS_WAIT_FOREVER);
    return g_req.r;
}

static int px_open(void *ctx, ms_file_t *f, const char *rel, int flags, int mode)
{
    (void)ctx;
    ms_mutex_lock(g_lock, MS_WAIT_FOREVER);
    g_req.f = f, g_req.rel = rel, g_req.flags = flags, g_req.mode = mode;
    int r = call(OP_OPEN);
    ms_mutex_unlock(g_lock);
    return r;
}

static int px_close(void *ctx, ms_file_t *f)
{
    (void)ctx;
    ms_mutex_lock(g_lock, MS_WAIT_FOREVER);
    g_req.f = f;
    int r = call(OP_CLOSE);
    ms_mutex_unlock(g_lock);
    return r;
}

static int px_read(void *ctx, ms_file_t *f, void *buf, size_t len)
{
    (void)ctx;
    if (ms_uaccess(buf, len, 1) != MS_OK)
        return MS_ERR_FAULT;
    size_t done = 0;
    int r = 0;
    ms_mutex_lock(g_lock, MS_WAIT_FOREVER);
    while (done < len) {                    /* a directory entry is one read of its size */
        g_req.f = f, g_req.len = len - done < BOUNCE ? len - done : BOUNCE;
        r = call(OP_READ);
        if (r <= 0)
            break;
        memcpy((uint8_t *)buf + done, g_buf.b, (size_t)r);
        done += (size_t)r;
        if ((size_t)r < g_req.len || r == (int)sizeof(drv_dirent_t))
            break;                          /* end of file, or a directory entry */
    }
    ms_mutex_unlock(g_lock);
    return done ? (int)done : r;
}

static int px_write(void *ctx, ms_file_t *f, const void *buf, size_t len)
{
    (void)ctx;
    if (ms_uaccess(buf, len, 0) != MS_OK)
        return MS_ERR_FAULT;
    size_t done = 0;
    int r = 0;
    ms_mutex_lock(g_lock, MS_WAIT_FOREVER);
    while (done < len) {
        g_req.f = f, g_req.len = len - done < BOUNCE ? len - done : BOUNCE;
        memcpy(g_buf.b, (const uint8_t *)buf + done, g_req.len);
        r = call(OP_WRITE);
        if (r <= 0)
            break;
        done += (size_t)r;
    }
    ms_mutex_unlock(g_lock);
    return done ? (int)done : r;
}

static int px_ioctl(void *ctx, ms_file_t *f, int cmd, void *arg)
{
    (void)ctx;
    size_t n = cmd == DRV_IOCTL_SEEK ? sizeof(drv_seek_t) : cmd == DRV_IOCTL_STAT ? sizeof(drv_stat_t) : 0u;
    if (cmd != DRV_IOCTL_SYNC && (!n || !arg))
        return n ? MS_ERR_FAULT : MS_ERR_INVAL;
    if (n && ms_uaccess(arg, n, 1) != MS_OK)
        return MS_ERR_FAULT;
    ms_mutex_lock(g_lock, MS_WAIT_FOREVER);
    if (n)
        memcpy(g_buf.b, arg, n);
    g_req.f = f, g_req.cmd = cmd, g_req.arg = n ? g_buf.b : 0;
    int r = call(OP_IOCTL);
    if (n && r == 0)
        memcpy(arg, g_buf.b, n);
    ms_mutex_unlock(g_lock);
    return r;
}

static int px_unlink(void *ctx, const char *rel)
{
    (void)ctx;
    ms_mutex_lock(g_lock, MS_WAIT_FOREVER);
    g_req.rel = rel;
    int r = call(OP_UNLINK);
    ms_mutex_unlock(g_lock);
    return r;
}

static int px_mkdir(void *ctx, const char *rel, int mode)
{
    (void)ctx;
    ms_mutex_lock(g_lock, MS_WAIT_FOREVER);
    g_req.rel = rel, g_req.mode = mode;
    int r = call(OP_MKDIR);
    ms_mutex_unlock(g_lock);
    return r;
}

static const ms_io_fs_ops_t g_proxy_ops = {
    .open = px_open, .close = px_close, .read = px_read, .write = px_write,
    .ioctl = px_ioctl, .unlink = px_unlink, .mkdir = px_mkdir,
};

int nor_fs_start(unsigned prio)
{
    g_lock = ms_mutex_create("nor_fs");
    g_go = ms_sem_create("nor_go", 0, 1);
    g_done = ms_sem_create("nor_done", 0, 1);
    g_ready = ms_sem_create("nor_up", 0, 1);
    if (g_lock < 0 || g_go < 0 || g_done < 0 || g_ready < 0 ||
        ms_thread_create("nor_fs", worker, 0, WORKER_STACK, prio, 0) < 0)
        return MS_ERR_NOMEM;
    ms_sem_wait(g_ready, MS_WAIT_FOREVER);  /* mounted (or not) before any process starts */
    return g_port ? ms_io_mount(NOR_FS_PATH, &g_proxy_ops, 0) : MS_ERR_IO;
}
