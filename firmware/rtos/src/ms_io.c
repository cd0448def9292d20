/*
 * IO system: one name space of device nodes and mount points (ms_path.c), a
 * global table of open files (descriptor = index) each owned by a process or
 * by the kernel, POSIX-like open flags, and select over descriptors. A driver
 * registers a node with ms_io_device_register(path, &ops, ctx); a file system
 * mounts with ms_io_mount(path, &fs_ops, ctx) and receives paths relative to
 * its mount point.
 */
#include <string.h>
#include "ms_kernel.h"
#include "ms_path.h"

static struct ms_io_node g_nodes[MS_MAX_NODES];
static ms_file_t g_files[MS_MAX_FILES];
static ms_waitq_t g_select_wq;
static volatile uint32_t g_poll_gen;
/* The select()-able descriptors (below 32) open on each node: when a device says which node's
 * readiness changed (ms_io_poll_notify_node), only the waiters with one of these in their sets
 * are polled, and only on these descriptors. Changed with the lock held. */
static ms_fdset_t g_node_fds[MS_MAX_NODES];
static ms_fdset_t g_open_fds;   /* the descriptors below 32 in use, on any node */

static inline unsigned node_index(const struct ms_io_node *n) { return (unsigned)(n - g_nodes); }
static inline ms_fdset_t fd_bit(unsigned fd) { return fd < 32u ? 1u << fd : 0u; }

#define FS_PATH_MAX 64u

void ms_io_init(void)
{
    memset(g_nodes, 0, sizeof g_nodes);
    memset(g_files, 0, sizeof g_files);
    memset(g_node_fds, 0, sizeof g_node_fds);
    g_open_fds = 0;
    ms_waitq_init(&g_select_wq);
}

static int add_node(const char *path, int kind, const void *ops, void *ctx)
{
    char norm[MS_PATH_MAX];
    if (!ops || ms_path_normalize(path, norm, sizeof norm) < 0)
        return MS_ERR_INVAL;
    uint32_t s = ms_lock();
    struct ms_io_node *free_node = 0;
    for (unsigned i = 0; i < MS_MAX_NODES; i++) {
        if (g_nodes[i].kind == MS_NODE_FREE) {
            if (!free_node)
                free_node = &g_nodes[i];
        } else if (strcmp(g_nodes[i].path, norm) == 0) {
            ms_unlock(s);
            return MS_ERR_EXIST;
        }
    }
    if (!free_node) {
        ms_unlock(s);
        return MS_ERR_NOSPC;
    }
    memcpy(free_node->path, norm, sizeof norm);
    free_node->ops = ops;
    free_node->ctx = ctx;
    free_node->kind = (unsigned char)kind;
    ms_unlock(s);
    return MS_OK;
}

static int remove_node(const char *path, int kind)
{
    char norm[MS_PATH_MAX];
    if (ms_path_normalize(path, norm, sizeof norm) < 0)
        return MS_ERR_INVAL;
    uint32_t s = ms_lock();
    for (unsigned i = 0; i < MS_MAX_NODES; i++) {
        struct ms_io_node *n = &g_nodes[i];
        if (n->kind != kind || strcmp(n->path, norm) != 0)
            continue;
        for (unsigned f = 0; f < MS_MAX_FILES; f++)
            if (g_files[f].used && g_files[f].node == n) {
                ms_unlock(s);
                return MS_ERR_BUSY;
            }
        const void *ops = n->ops;
        void *ctx = n->ctx;
        n->kind = MS_NODE_FREE;
        ms_unlock(s);
        if (kind == MS_NODE_DEVICE)
            ms_ipc_device_removed(ops, ctx);    /* nothing can reach ctx any more */
        return MS_OK;
    }
    ms_unlock(s);
    return MS_ERR_NOENT;
}

int ms_io_device_register(const char *path, const ms_io_dev_ops_t *ops, void *ctx)
{
    MS_SYSCALL(int, SYS_IO_DEV_REGISTER, path, ops, ctx, 0);
    return add_node(path, MS_NODE_DEVICE, ops, ctx);
}

int ms_io_device_unregister(const char *path)
{
    MS_SYSCALL(int, SYS_IO_DEV_UNREGISTER, path, 0, 0, 0);
    return remove_node(path, MS_NODE_DEVICE);
}

int ms_io_mount(const char *path, const ms_io_fs_ops_t *ops, void *ctx)
{
    MS_SYSCALL(int, SYS_IO_MOUNT, path, ops, ctx, 0);
    return add_node(path, MS_NODE_MOUNT, ops, ctx);
}

int ms_io_unmount(const char *path)
{
    MS_SYSCALL(int, SYS_IO_UNMOUNT, path, 0, 0, 0);
    return remove_node(path, MS_NODE_MOUNT);
}

static struct ms_io_node *resolve(const char *path, char *norm, const char **rest)
{
    if (!path || ms_path_normalize(path, norm, FS_PATH_MAX) < 0)
        return 0;
    return ms_path_lookup(g_nodes, MS_MAX_NODES, norm, rest);
}

static uint8_t owner_tag(void)
{
    ms_process_t *p = ms_cur_proc();
    return p ? p->slot : 0;
}

/* Open and the caller's (`me`: owner_tag()) */
static inline int file_mine(const ms_file_t *f, uint8_t me)
{
    return f->used && !(me && f->owner != me); /* not another process's descriptor */
}

static ms_file_t *file_get(int fd)
{
    if (fd < 0 || fd >= (int)MS_MAX_FILES)
        return 0;
    ms_file_t *f = &g_files[fd];
    return file_mine(f, owner_tag()) ? f : 0;
}

int ms_io_open(const char *path, int flags, int mode)
{
    MS_SYSCALL(int, SYS_IO_OPEN, path, flags, mode, 0);
    char norm[FS_PATH_MAX];
    const char *rest = 0;
    struct ms_io_node *n = resolve(path, norm, &rest);
    if (!n)
        return path && path[0] == '/' ? MS_ERR_NOENT : MS_ERR_INVAL;
    if (n->kind == MS_NODE_DEVICE && (flags & O_CREAT) && (flags & O_EXCL))
        return MS_ERR_EXIST;
    ms_process_t *p = ms_cur_proc();
    uint32_t s = ms_lock();
    if (p && p->nfiles >= p->desc->max_files) {
        ms_unlock(s);
        return MS_ERR_LIMIT;
    }
    /* select() sets are 32 bits (ms_fdset_t): a file that can be polled takes the lowest free
     * descriptor and must get one below 32; a device that cannot (a clock, a relay, an EEPROM
     * opened for one transfer) takes the highest free one, so those never crowd the pollable. */
    int fd = -1;
    int pollable = n->kind != MS_NODE_DEVICE || ((const ms_io_dev_ops_t *)n->ops)->poll != 0;
    for (unsigned k = 0; k < MS_MAX_FILES; k++) {
        unsigned i = pollable ? k : MS_MAX_FILES - 1u - k;
        if (!g_files[i].used) {
            fd = (int)i;
            break;
        }
    }
    if (pollable && fd >= 32)
        fd = -1;
    if (fd < 0) {
        ms_unlock(s);
        return MS_ERR_LIMIT;
    }
    ms_file_t *f = &g_files[fd];
    memset(f, 0, sizeof *f);
    f->used = 1;
    f->node = n;
    f->flags = (uint16_t)flags;
    f->owner = p ? p->slot : 0;
    if (p)
        p->nfiles++;
    g_node_fds[node_index(n)] |= fd_bit((unsigned)fd);
    g_open_fds |= fd_bit((unsigned)fd);
    ms_unlock(s);
    int r;
    if (n->kind == MS_NODE_DEVICE) {
        const ms_io_dev_ops_t *ops = n->ops;
        r = ops->open ? ops->open(n->ctx, f, flags) : MS_OK;
    } else {
        const ms_io_fs_ops_t *ops = n->ops;
        r = ops->open ? ops->open(n->ctx, f, rest, flags, mode) : MS_ERR_NOSYS;
    }
    if (r < 0) {
        s = ms_lock();
        f->used = 0;
        g_node_fds[node_index(n)] &= ~fd_bit((unsigned)fd);
        g_open_fds &= ~fd_bit((unsigned)fd);
        if (p && p->nfiles)
            p->nfiles--;
        ms_unlock(s);
        return r;
    }
    return fd;
}

int ms_io_creat(const char *path, int mode) { return ms_io_open(path, O_WRONLY | O_CREAT | O_TRUNC, mode); }

/* The entry points devices and file systems share: the same signatures in both ops tables. */
struct file_ops {
    int (*close)(void *ctx, ms_file_t *f);
    int (*read)(void *ctx, ms_file_t *f, void *buf, size_t len);
    int (*write)(void *ctx, ms_file_t *f, const void *buf, size_t len);
    int (*ioctl)(void *ctx, ms_file_t *f, int cmd, void *arg);
};

static struct file_ops file_ops(const struct ms_io_node *n)
{
    if (n->kind == MS_NODE_DEVICE) {
        const ms_io_dev_ops_t *o = n->ops;
        return (struct file_ops){o->close, o->read, o->write, o->ioctl};
    }
    const ms_io_fs_ops_t *o = n->ops;
    return (struct file_ops){o->close, o->read, o->write, o->ioctl};
}

/* The caller's open file `fd` for a read or write: not opened for the other direction only
 * (`denied` O_WRONLY / O_RDONLY), and a buffer unless len is 0. 0 or an MS_ERR_ code. */
static int file_for_transfer(int fd, int denied, const void *buf, size_t len, ms_file_t **out)
{
    ms_file_t *f = file_get(fd);
    if (!f || (f->flags & O_ACCMODE) == denied)
        return MS_ERR_BADF;
    if (!buf && len)
        return MS_ERR_FAULT;
    *out = f;
    return MS_OK;
}

static int file_close(ms_file_t *f)
{
    const struct ms_io_node *n = f->node;
    struct file_ops ops = file_ops(n);
    int r = ops.close ? ops.close(n->ctx, f) : MS_OK;
    uint32_t s = ms_lock();
    if (f->owner && ms_procs[f->owner - 1u] && ms_procs[f->owner - 1u]->nfiles)
        ms_procs[f->owner - 1u]->nfiles--;
    f->used = 0;
    g_node_fds[node_index(n)] &= ~fd_bit((unsigned)(f - g_files));
    g_open_fds &= ~fd_bit((unsigned)(f - g_files));
    ms_unlock(s);
    return r;
}

int ms_io_close(int fd)
{
    MS_SYSCALL(int, SYS_IO_CLOSE, fd, 0, 0, 0);
    ms_file_t *f = file_get(fd);
    return f ? file_close(f) : MS_ERR_BADF;
}

void ms_io_close_all(ms_process_t *p)
{
    for (unsigned i = 0; i < MS_MAX_FILES; i++)
        if (g_files[i].used && g_files[i].owner == p->slot)
            file_close(&g_files[i]);
}

int ms_io_read(int fd, void *buf, size_t len)
{
    MS_SYSCALL(int, SYS_IO_READ, fd, buf, len, 0);
    ms_file_t *f;
    int e = file_for_transfer(fd, O_WRONLY, buf, len, &f);
    if (e)
        return e;
    struct file_ops ops = file_ops(f->node);
    return ops.read ? ops.read(f->node->ctx, f, buf, len) : MS_ERR_NOSYS;
}

int ms_io_write(int fd, const void *buf, size_t len)
{
    MS_SYSCALL(int, SYS_IO_WRITE, fd, buf, len, 0);
    ms_file_t *f;
    int e = file_for_transfer(fd, O_RDONLY, buf, len, &f);
    if (e)
        return e;
    struct file_ops ops = file_ops(f->node);
    return ops.write ? ops.write(f->node->ctx, f, buf, len) : MS_ERR_NOSYS;
}

int ms_io_ioctl(int fd, int cmd, void *arg)
{
    MS_SYSCALL(int, SYS_IO_IOCTL, fd, cmd, arg, 0);
    ms_file_t *f = file_get(fd);
    if (!f)
        return MS_ERR_BADF;
    /* the kernel's own commands write a word at arg; drivers check theirs */
    if ((cmd == MS_IOCTL_FIONREAD || cmd == MS_IOCTL_SHM_GET_ADDR || cmd == MS_IOCTL_SHM_GET_SIZE) &&
        ms_uaccess(arg, 4, 1) != MS_OK)
        return MS_ERR_FAULT;
    struct file_ops ops = file_ops(f->node);
    return ops.ioctl ? ops.ioctl(f->node->ctx, f, cmd, arg) : MS_ERR_NOSYS;
}

int ms_io_unlink(const char *path)
{
    MS_SYSCALL(int, SYS_IO_UNLINK, path, 0, 0, 0);
    char norm[FS_PATH_MAX];
    const char *rest = 0;
    struct ms_io_node *n = resolve(path, norm, &rest);
    if (!n)
        return MS_ERR_NOENT;
    if (n->kind != MS_NODE_MOUNT || !*rest)
        return MS_ERR_PERM; /* devices go with ms_io_device_unregister */
    const ms_io_fs_ops_t *ops = n->ops;
    return ops->unlink ? ops->unlink(n->ctx, rest) : MS_ERR_NOSYS;
}

int ms_io_mkdir(const char *path, int mode)
{
    MS_SYSCALL(int, SYS_IO_MKDIR, path, mode, 0, 0);
    char norm[FS_PATH_MAX];
    const char *rest = 0;
    struct ms_io_node *n = resolve(path, norm, &rest);
    if (!n || n->kind != MS_NODE_MOUNT)
        return MS_ERR_NOENT;
    if (!*rest)
        return MS_ERR_EXIST;
    const ms_io_fs_ops_t *ops = n->ops;
    return ops->mkdir ? ops->mkdir(n->ctx, rest, mode) : MS_ERR_NOSYS;
}

static inline __attribute__((always_inline)) int file_poll(const ms_file_t *f, int events)
{
    const struct ms_io_node *n = f->node;
    if (n->kind == MS_NODE_DEVICE) {
        const ms_io_dev_ops_t *ops = n->ops;
        return ops->poll ? ops->poll(n->ctx, (ms_file_t *)f, events) : events; /* no poll: always ready */
    }
    return events; /* regular files never block */
}

/* The events select waits for on descriptor `fd` of the sets. */
static inline int fd_events(ms_fdset_t rd, ms_fdset_t wr, unsigned fd)
{
    return (int)((((rd >> fd) & 1u) ? MS_POLLIN : 0) | (((wr >> fd) & 1u) ? MS_POLLOUT : 0));
}

/* Would select return for these sets now? A closed descriptor counts (select reports it).
 * Visits the set bits only (count trailing zeros), not every descriptor below the highest. */
static int sets_ready(ms_fdset_t want_rd, ms_fdset_t want_wr)
{
    for (ms_fdset_t want = want_rd | want_wr; want; want &= want - 1u) {
        unsigned fd = (unsigned)__builtin_ctz(want);
        if (!g_files[fd].used)
            return 1;
        int ev = fd_events(want_rd, want_wr, fd);
        if (file_poll(&g_files[fd], ev) & (ev | MS_POLLERR | MS_POLLHUP))
            return 1;
    }
    return 0;
}

/* Lock held. The readiness of descriptors `changed` may have changed: wake the threads in
 * select whose own descriptors among them are now ready (each keeps its sets in wait_arg /
 * wait_arg2), not every one of them: a byte on one port must not make every service re-poll
 * its own descriptors (a context switch each). A descriptor closed under a waiter counts as
 * ready at any notify, as it always has. */
static void wake_selecting(ms_fdset_t changed)
{
    changed |= ~g_open_fds;
    for (ms_thread_t *t = g_select_wq.head, *next; t; t = next) {
        next = t->wq_next;
        ms_fdset_t rd = t->wait_arg & changed, wr = t->wait_arg2 & changed;
        if ((rd | wr) && sets_ready(rd, wr))
            ms_wake(t, MS_OK);
    }
}

/* Readiness changed somewhere (a driver that does not say where: the BSP's tty, a board's
 * keys): every waiter is checked on all its descriptors. */
void ms_io_poll_notify(void)
{
    g_poll_gen++;
    if (!g_select_wq.head)
        return;
    uint32_t s = ms_lock();
    wake_selecting(0xFFFFFFFFu);
    ms_unlock(s);
}

/* The readiness of the files open on node `n` changed (a pipe got data or room): only the
 * descriptors open on it are polled, and only for the threads that wait on one of them. Every
 * readiness change of a pollable device comes with a notify of its own, so a thread whose
 * descriptors are all elsewhere has nothing new to see. */
void ms_io_poll_notify_node(const struct ms_io_node *n)
{
    g_poll_gen++;
    if (!g_select_wq.head)
        return;
    uint32_t s = ms_lock();
    wake_selecting(g_node_fds[node_index(n)]);
    ms_unlock(s);
}

int ms_io_select(int nfds, ms_fdset_t *rd, ms_fdset_t *wr, ms_tick_t timeout)
{
    MS_SYSCALL(int, SYS_IO_SELECT, nfds, rd, wr, timeout);
    if (nfds < 0 || nfds > (int)MS_MAX_FILES || nfds > 32)
        return MS_ERR_INVAL;
    ms_fdset_t in_range = nfds < 32 ? (1u << nfds) - 1u : 0xFFFFFFFFu;
    ms_fdset_t want_rd = (rd ? *rd : 0) & in_range, want_wr = (wr ? *wr : 0) & in_range;
    uint8_t me = owner_tag();
    for (ms_fdset_t want = want_rd | want_wr; want; want &= want - 1u)
        if (!file_mine(&g_files[__builtin_ctz(want)], me))
            return MS_ERR_BADF;
    ms_tick_t deadline = ms_tick_now() + timeout;
    for (;;) {
        uint32_t gen = g_poll_gen;
        ms_fdset_t got_rd = 0, got_wr = 0;
        int ready = 0;
        for (ms_fdset_t want = want_rd | want_wr; want; want &= want - 1u) {
            unsigned fd = (unsigned)__builtin_ctz(want);
            ms_fdset_t bit = 1u << fd;
            int ev = fd_events(want_rd, want_wr, fd);
            int r = file_poll(&g_files[fd], ev);
            if (r & (MS_POLLIN | MS_POLLERR | MS_POLLHUP) & (ev | MS_POLLERR | MS_POLLHUP) && (ev & MS_POLLIN))
                got_rd |= bit;
            if (r & MS_POLLOUT & ev)
                got_wr |= bit;
            if ((got_rd | got_wr) & bit)
                ready++;
        }
        ms_tick_t left = ms_remaining(deadline, timeout);
        if (ready || left == MS_NO_WAIT) {
            if (rd)
                *rd = got_rd;
            if (wr)
                *wr = got_wr;
            return ready;
        }
        uint32_t s = ms_lock();
        if (gen != g_poll_gen) { /* something changed while polling */
            ms_unlock(s);
            continue;
        }
        ms_thread_t *me_t = ms_current;
        if (me_t) {                             /* what the notifies check */
            me_t->wait_arg = want_rd;
            me_t->wait_arg2 = want_wr;
        }
        int r = ms_waitq_block(&g_select_wq, left, s);
        if (r < 0 && r != MS_ERR_TIMEOUT && r != MS_ERR_AGAIN)
            return r;
    }
}
