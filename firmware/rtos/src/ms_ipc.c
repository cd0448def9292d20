/*
 * IPC devices used through the IO calls:
 * - named pipes (ms_pipe_dev_create): a byte ring; read blocks until data,
 *   write blocks until everything is stored (O_NONBLOCK: MS_ERR_AGAIN instead),
 *   poll reports MS_POLLIN with data and MS_POLLOUT with room;
 * - shared memory (ms_shm_dev_create): a zeroed region owned by its creator; read/write
 *   at the file position, MS_IOCTL_SHM_GET_ADDR hands out the address to use it directly,
 *   MS_IOCTL_SHM_GRANT lets another process in (an MPU region of its own, read-only or
 *   read/write); without a grant neither the file nor the memory is open to a process.
 * Buffers come from the kernel's memory pool.
 */
#include <string.h>
#include "ms_kernel.h"
#include "ms_ring.h"

typedef struct {
    ms_ring_t ring;
    ms_waitq_t rd_wq, wr_wq;
} ms_pipe_t;

static int pipe_read(void *ctx, ms_file_t *f, void *buf, size_t len)
{
    ms_pipe_t *p = ctx;
    if (!len)
        return 0;
    for (;;) {
        uint32_t s = ms_lock();
        if (ms_ring_used(&p->ring)) {
            uint32_t n = ms_ring_get(&p->ring, buf, (uint32_t)len);
            while (p->wr_wq.head)
                ms_wake(p->wr_wq.head, MS_OK);
            ms_unlock(s);
            ms_io_poll_notify_node(f->node);
            return (int)n;
        }
        int r = ms_waitq_block(&p->rd_wq, (f->flags & O_NONBLOCK) ? MS_NO_WAIT : MS_WAIT_FOREVER, s);
        if (r < 0)
            return r;
    }
}

static int pipe_write(void *ctx, ms_file_t *f, const void *buf, size_t len)
{
    ms_pipe_t *p = ctx;
    const uint8_t *src = buf;
    size_t done = 0;
    while (done < len) {
        uint32_t s = ms_lock();
        uint32_t n = ms_ring_put(&p->ring, src + done, (uint32_t)(len - done));
        if (n) {
            done += n;
            while (p->rd_wq.head)
                ms_wake(p->rd_wq.head, MS_OK);
            ms_unlock(s);
            ms_io_poll_notify_node(f->node);
            continue;
        }
        if (f->flags & O_NONBLOCK) {
            ms_unlock(s);
            break;
        }
        int r = ms_waitq_block(&p->wr_wq, MS_WAIT_FOREVER, s);
        if (r < 0)
            return done ? (int)done : r;
    }
    return done ? (int)done : MS_ERR_AGAIN;
}

static int pipe_ioctl(void *ctx, ms_file_t *f, int cmd, void *arg)
{
    ms_pipe_t *p = ctx;
    (void)f;
    if (cmd == MS_IOCTL_FIONREAD && arg) {
        *(int *)arg = (int)ms_ring_used(&p->ring);
        return MS_OK;
    }
    return MS_ERR_INVAL;
}

static int pipe_poll(void *ctx, ms_file_t *f, int events)
{
    ms_pipe_t *p = ctx;
    (void)f;
    int r = 0;
    if (ms_ring_used(&p->ring))
        r |= MS_POLLIN;
    if (ms_ring_space(&p->ring))
        r |= MS_POLLOUT;
    return r & events;
}

static const ms_io_dev_ops_t g_pipe_ops = {
    .read = pipe_read, .write = pipe_write, .ioctl = pipe_ioctl, .poll = pipe_poll,
};

/* A device node was unregistered (ms_io_device_unregister: no file was open on it): a pipe's
 * ring goes back to the pool. */
void ms_ipc_device_removed(const void *ops, void *ctx)
{
    if (ops == &g_pipe_ops)
        ms_pool_free(ctx);
}

int ms_pipe_dev_create(const char *path, uint32_t size)
{
    MS_SYSCALL(int, SYS_PIPE_CREATE, path, size, 0, 0);
    if (!size || size > 0x10000u)
        return MS_ERR_INVAL;
    ms_pipe_t *p = ms_pool_alloc(sizeof *p + size);
    if (!p)
        return MS_ERR_NOMEM;
    memset(p, 0, sizeof *p);
    ms_ring_init(&p->ring, (uint8_t *)(p + 1), size);
    int r = ms_io_device_register(path, &g_pipe_ops, p);
    if (r < 0)
        ms_pool_free(p);
    return r;
}

typedef struct ms_shm {
    uint32_t size;
    uint8_t *mem;    /* with isolation: a power of two aligned to its size (one MPU region) */
    ms_handle_t owner;                      /* the creating process; 0: the kernel */
    ms_shm_grant_t grants[MS_SHM_GRANTS];
    struct ms_shm *next;                    /* every shared memory, for ms_shm_process_gone */
} ms_shm_t;

static ms_shm_t *g_shms;

/* A process ended: its grants end with it (a grant slot must not outlive its process, nor
 * pass to a later process given the same handle). Its MPU regions go with its record. */
void ms_shm_process_gone(ms_handle_t pid)
{
    uint32_t s = ms_lock();
    for (ms_shm_t *m = g_shms; m; m = m->next)
        for (unsigned i = 0; i < MS_SHM_GRANTS; i++)
            if (m->grants[i].pid == pid)
                m->grants[i].pid = 0;
    ms_unlock(s);
}

static uint8_t *shm_mem(ms_shm_t *m) { return m->mem; }

/* The rights of the caller: the kernel and the owner all, another process what it was granted. */
static uint32_t shm_access(const ms_shm_t *m, const ms_process_t *p)
{
    if (!p || p->handle == m->owner)
        return MS_SHM_READ | MS_SHM_WRITE;
    for (unsigned i = 0; i < MS_SHM_GRANTS; i++)
        if (m->grants[i].pid == p->handle)
            return m->grants[i].access;
    return 0;
}

static int shm_read(void *ctx, ms_file_t *f, void *buf, size_t len)
{
    ms_shm_t *m = ctx;
    if (!(shm_access(m, ms_cur_proc()) & MS_SHM_READ))
        return MS_ERR_PERM;
    if (f->pos >= m->size)
        return 0;
    uint32_t n = m->size - f->pos < len ? m->size - f->pos : (uint32_t)len;
    memcpy(buf, shm_mem(m) + f->pos, n);
    f->pos += n;
    return (int)n;
}

static int shm_write(void *ctx, ms_file_t *f, const void *buf, size_t len)
{
    ms_shm_t *m = ctx;
    if (!(shm_access(m, ms_cur_proc()) & MS_SHM_WRITE))
        return MS_ERR_PERM;
    if (f->pos >= m->size)
        return MS_ERR_NOSPC;
    uint32_t n = m->size - f->pos < len ? m->size - f->pos : (uint32_t)len;
    memcpy(shm_mem(m) + f->pos, buf, n);
    f->pos += n;
    ms_io_poll_notify_node(f->node);
    return (int)n;
}

/* The owner lets process g->pid in (or, with access 0, out again): recorded here for file
 * access and made an MPU region of the grantee at once. */
static int shm_grant(ms_shm_t *m, const ms_shm_grant_t *g)
{
    ms_process_t *cur = ms_cur_proc();
    if (cur && cur->handle != m->owner)
        return MS_ERR_PERM;
    ms_process_t *to = ms_kobj_get(g->pid, MS_KOBJ_PROCESS);
    if (!to || g->access & ~(MS_SHM_READ | MS_SHM_WRITE))
        return to ? MS_ERR_INVAL : MS_ERR_SRCH;
    if (to->handle == m->owner)
        return MS_OK;
    unsigned i = 0, free_slot = MS_SHM_GRANTS;
    for (; i < MS_SHM_GRANTS && m->grants[i].pid != g->pid; i++)
        if (!m->grants[i].pid && free_slot == MS_SHM_GRANTS)
            free_slot = i;
    if (i == MS_SHM_GRANTS) {
        if (!g->access)
            return MS_OK;
        if (free_slot == MS_SHM_GRANTS)
            return MS_ERR_LIMIT;
        i = free_slot;
    }
    uint32_t base = (uint32_t)(uintptr_t)shm_mem(m);
    if (!g->access) {
        m->grants[i].pid = 0;
        ms_mpu_unmap(to, base);
        return MS_OK;
    }
    int r = ms_mpu_map(to, base, ms_mpu_region_size(m->size), (g->access & MS_SHM_WRITE) != 0);
    if (r < 0)
        return r;
    m->grants[i].pid = g->pid;
    m->grants[i].access = g->access;
    return MS_OK;
}

static int shm_ioctl(void *ctx, ms_file_t *f, int cmd, void *arg)
{
    ms_shm_t *m = ctx;
    (void)f;
    if (!arg)
        return MS_ERR_FAULT;
    if (cmd == MS_IOCTL_SHM_GET_ADDR) {
        /* the owner's own region: mapped on first use; a grantee's already is */
        ms_process_t *cur = ms_cur_proc();
        if (cur && cur->handle == m->owner) {
            int r = ms_mpu_map(cur, (uint32_t)(uintptr_t)shm_mem(m), ms_mpu_region_size(m->size), 1);
            if (r < 0)
                return r;
        }
        *(void **)arg = shm_mem(m);
        return MS_OK;
    }
    if (cmd == MS_IOCTL_SHM_GET_SIZE) {
        *(uint32_t *)arg = m->size;
        return MS_OK;
    }
    if (cmd == MS_IOCTL_SHM_ACCESS) {
        if (ms_uaccess(arg, sizeof(uint32_t), 1) != MS_OK)
            return MS_ERR_FAULT;
        *(uint32_t *)arg = shm_access(m, ms_cur_proc());
        return MS_OK;
    }
    if (cmd == MS_IOCTL_SHM_GRANT) {
        if (ms_uaccess(arg, sizeof(ms_shm_grant_t), 0) != MS_OK)
            return MS_ERR_FAULT;
        ms_shm_grant_t g;
        memcpy(&g, arg, sizeof g);
        return shm_grant(m, &g);
    }
    return MS_ERR_INVAL;
}

static const ms_io_dev_ops_t g_shm_ops = {
    .read = shm_read, .write = shm_write, .ioctl = shm_ioctl,
};

int ms_shm_dev_create(const char *path, uint32_t size)
{
    MS_SYSCALL(int, SYS_SHM_CREATE, path, size, 0, 0);
    if (!size || size > 0x100000u)
        return MS_ERR_INVAL;
    ms_shm_t *m = ms_pool_alloc(sizeof *m);
    if (!m)
        return MS_ERR_NOMEM;
    uint32_t bytes = ms_isolation_enabled() ? ms_mpu_region_size(size) : size;
    m->mem = ms_isolation_enabled() ? ms_pool_alloc_aligned(bytes) : ms_pool_alloc(bytes);
    if (!m->mem) {
        ms_pool_free(m);
        return MS_ERR_NOMEM;
    }
    memset(m->mem, 0, bytes);
    m->size = size;
    ms_process_t *owner = ms_cur_proc();
    m->owner = owner ? owner->handle : 0;
    memset(m->grants, 0, sizeof m->grants);
    int r = ms_io_device_register(path, &g_shm_ops, m);
    if (r < 0) {
        ms_pool_free(m->mem);
        ms_pool_free(m);
        return r;
    }
    uint32_t s = ms_lock();
    m->next = g_shms;
    g_shms = m;
    ms_unlock(s);
    return r;
}
