/*
 * littlefs block device on a W25Q window and its IO-system file system. See lfs_port.h.
 */
#include <string.h>
#include "lfs_port.h"
#include "ms_driver.h"

int lfs_port_errno(int e)
{
    if (e >= 0)
        return e;
    switch (e) {
    case LFS_ERR_IO: return MS_ERR_IO;
    case LFS_ERR_CORRUPT: return MS_ERR_IO;
    case LFS_ERR_NOENT: return MS_ERR_NOENT;
    case LFS_ERR_EXIST: return MS_ERR_EXIST;
    case LFS_ERR_NOTDIR: return MS_ERR_INVAL;
    case LFS_ERR_ISDIR: return MS_ERR_INVAL;
    case LFS_ERR_NOTEMPTY: return MS_ERR_BUSY;
    case LFS_ERR_BADF: return MS_ERR_BADF;
    case LFS_ERR_FBIG: return MS_ERR_NOSPC;
    case LFS_ERR_INVAL: return MS_ERR_INVAL;
    case LFS_ERR_NOSPC: return MS_ERR_NOSPC;
    case LFS_ERR_NOMEM: return MS_ERR_NOMEM;
    case LFS_ERR_NAMETOOLONG: return MS_ERR_INVAL;
    default: return MS_ERR_IO;
    }
}

/* ---- block device ------------------------------------------------------------------------ */
static int bd_read(const struct lfs_config *c, lfs_block_t block, lfs_off_t off, void *buf,
                   lfs_size_t size)
{
    lfs_port_t *p = c->context;
    int r = w25q_read(p->nor, p->offset + block * c->block_size + off, buf, size);
    if (r < 0)
        p->io_errors++;
    return r < 0 ? LFS_ERR_IO : 0;
}

static int bd_prog(const struct lfs_config *c, lfs_block_t block, lfs_off_t off,
                   const void *buf, lfs_size_t size)
{
    lfs_port_t *p = c->context;
    int r = w25q_program(p->nor, p->offset + block * c->block_size + off, buf, size);
    if (r < 0)
        p->io_errors++;
    return r < 0 ? LFS_ERR_IO : 0;
}

static int bd_erase(const struct lfs_config *c, lfs_block_t block)
{
    lfs_port_t *p = c->context;
    int r = w25q_erase(p->nor, p->offset + block * c->block_size, W25Q_SECTOR_SIZE);
    if (r < 0)
        p->io_errors++;
    return r < 0 ? LFS_ERR_IO : 0;
}

static int bd_sync(const struct lfs_config *c)
{
    (void)c;
    return 0;   /* every program and erase has completed (WIP polled) when it returns */
}

int lfs_port_init(lfs_port_t *p, w25q_t *nor, uint32_t offset, uint32_t block_count)
{
    if (!nor || offset % W25Q_SECTOR_SIZE || block_count < 2u ||
        offset > nor->size || block_count > (nor->size - offset) / W25Q_SECTOR_SIZE)
        return MS_ERR_INVAL;
    memset(p, 0, sizeof *p);
    p->nor = nor;
    p->offset = offset;
    struct lfs_config *c = &p->cfg;
    c->context = p;
    c->read = bd_read;
    c->prog = bd_prog;
    c->erase = bd_erase;
    c->sync = bd_sync;
    c->read_size = LFS_PORT_READ_SIZE;
    c->prog_size = LFS_PORT_PROG_SIZE;
    c->block_size = W25Q_SECTOR_SIZE;
    c->block_count = block_count;
    c->block_cycles = LFS_PORT_BLOCK_CYCLES;
    c->cache_size = LFS_PORT_CACHE_SIZE;
    c->lookahead_size = LFS_PORT_LOOKAHEAD_SIZE;
    c->metadata_max = LFS_PORT_METADATA_MAX;
    c->read_buffer = p->read_buf;
    c->prog_buffer = p->prog_buf;
    c->lookahead_buffer = p->lookahead;
    c->disk_version = LFS_DISK_VERSION;   /* the version littlefs-python writes and reads */
    p->lock = ms_mutex_create("lfs");
    return p->lock < 0 ? p->lock : MS_OK;
}

static void lock(lfs_port_t *p) { ms_mutex_lock(p->lock, MS_WAIT_FOREVER); }
static void unlock(lfs_port_t *p) { ms_mutex_unlock(p->lock); }

int lfs_port_format(lfs_port_t *p)
{
    lock(p);
    int r = p->mounted ? LFS_ERR_INVAL : lfs_format(&p->lfs, &p->cfg);
    unlock(p);
    return lfs_port_errno(r);
}

int lfs_port_mount(lfs_port_t *p, int format_if_needed)
{
    lock(p);
    int formatted = 0;
    int r = p->mounted ? 0 : lfs_mount(&p->lfs, &p->cfg);
    if (r < 0 && format_if_needed) {
        r = lfs_format(&p->lfs, &p->cfg);
        if (r == 0)
            r = lfs_mount(&p->lfs, &p->cfg);
        formatted = r == 0;
    }
    if (r == 0)
        p->mounted = 1;
    unlock(p);
    return r < 0 ? lfs_port_errno(r) : formatted;
}

int lfs_port_unmount(lfs_port_t *p)
{
    lock(p);
    int r = 0;
    for (unsigned i = 0; i < LFS_PORT_MAX_OPEN; i++)
        if (p->files[i].used)
            r = LFS_ERR_INVAL;       /* files still open */
    if (r == 0 && p->mounted) {
        r = lfs_unmount(&p->lfs);
        p->mounted = 0;
    }
    unlock(p);
    return lfs_port_errno(r);
}

static const char *fs_path(const char *rel) { return rel && *rel ? rel : "/"; }

static void to_dirent(const struct lfs_info *info, drv_dirent_t *out)
{
    out->size = info->type == LFS_TYPE_REG ? info->size : 0;
    out->type = info->type == LFS_TYPE_DIR ? DRV_TYPE_DIR : DRV_TYPE_FILE;
    size_t n = strlen(info->name);
    if (n >= DRV_NAME_MAX)
        n = DRV_NAME_MAX - 1u;
    memcpy(out->name, info->name, n);
    out->name[n] = '\0';
}

int lfs_port_stat(lfs_port_t *p, const char *path, drv_dirent_t *out)
{
    struct lfs_info info;
    lock(p);
    int r = p->mounted ? lfs_stat(&p->lfs, fs_path(path), &info) : LFS_ERR_INVAL;
    unlock(p);
    if (r == 0)
        to_dirent(&info, out);
    return lfs_port_errno(r);
}

int lfs_port_used_blocks(lfs_port_t *p)
{
    lock(p);
    int r = p->mounted ? (int)lfs_fs_size(&p->lfs) : LFS_ERR_INVAL;
    unlock(p);
    return lfs_port_errno(r);
}

/* ---- IO-system file system --------------------------------------------------------------- */
static int lfs_flags(int flags)
{
    int acc = flags & O_ACCMODE;
    int f = acc == O_RDONLY ? LFS_O_RDONLY : acc == O_WRONLY ? LFS_O_WRONLY : LFS_O_RDWR;
    if (flags & O_CREAT)
        f |= LFS_O_CREAT;
    if (flags & O_EXCL)
        f |= LFS_O_EXCL;
    if (flags & O_TRUNC)
        f |= LFS_O_TRUNC;
    if (flags & O_APPEND)
        f |= LFS_O_APPEND;
    return f;
}

static int fs_open(void *ctx, ms_file_t *f, const char *rel, int flags, int mode)
{
    (void)mode;
    lfs_port_t *p = ctx;
    lock(p);
    lfs_port_file_t *pf = 0;
    for (unsigned i = 0; i < LFS_PORT_MAX_OPEN; i++)
        if (!p->files[i].used) {
            pf = &p->files[i];
            break;
        }
    int r;
    if (!p->mounted)
        r = LFS_ERR_INVAL;
    else if (!pf)
        r = LFS_ERR_NOMEM;
    else if (flags & DRV_O_DIRECTORY) {
        r = (flags & O_ACCMODE) == O_RDONLY ? lfs_dir_open(&p->lfs, &pf->u.dir, fs_path(rel))
                                            : LFS_ERR_ISDIR;
        pf->is_dir = 1;
    } else {
        memset(&pf->fcfg, 0, sizeof pf->fcfg);
        pf->fcfg.buffer = pf->cache;
        r = lfs_file_opencfg(&p->lfs, &pf->u.file, fs_path(rel), lfs_flags(flags), &pf->fcfg);
        pf->is_dir = 0;
    }
    if (r == 0) {
        pf->used = 1;
        f->priv = pf;
    }
    unlock(p);
    return r == LFS_ERR_NOMEM ? MS_ERR_LIMIT : lfs_port_errno(r);
}

static int fs_close(void *ctx, ms_file_t *f)
{
    lfs_port_t *p = ctx;
    lfs_port_file_t *pf = f->priv;
    lock(p);
    int r = pf->is_dir ? lfs_dir_close(&p->lfs, &pf->u.dir) : lfs_file_close(&p->lfs, &pf->u.file);
    pf->used = 0;                /* closed even on error: littlefs releases the file */
    unlock(p);
    return lfs_port_errno(r);
}

static int fs_read(void *ctx, ms_file_t *f, void *buf, size_t len)
{
    lfs_port_t *p = ctx;
    lfs_port_file_t *pf = f->priv;
    int r;
    lock(p);
    if (pf->is_dir) {
        struct lfs_info info;
        if (len < sizeof(drv_dirent_t)) {
            r = LFS_ERR_INVAL;
        } else {
            do
                r = lfs_dir_read(&p->lfs, &pf->u.dir, &info);
            while (r > 0 && info.name[0] == '.' &&
                   (!info.name[1] || (info.name[1] == '.' && !info.name[2])));
            if (r > 0) {
                to_dirent(&info, buf);
                r = (int)sizeof(drv_dirent_t);
            }
        }
    } else {
        r = (int)lfs_file_read(&p->lfs, &pf->u.file, buf, len);
        if (r > 0)
            f->pos += (uint32_t)r;
    }
    unlock(p);
    return lfs_port_errno(r);
}

static int fs_write(void *ctx, ms_file_t *f, const void *buf, size_t len)
{
    lfs_port_t *p = ctx;
    lfs_port_file_t *pf = f->priv;
    if (pf->is_dir)
        return MS_ERR_BADF;
    lock(p);
    int r = (int)lfs_file_write(&p->lfs, &pf->u.file, buf, len);
    if (r > 0)
        f->pos = (uint32_t)lfs_file_tell(&p->lfs, &pf->u.file);
    unlock(p);
    return lfs_port_errno(r);
}

static int fs_ioctl(void *ctx, ms_file_t *f, int cmd, void *arg)
{
    if (drv_ioctl_arg_ok(cmd, arg) != MS_OK)
        return MS_ERR_FAULT;
    lfs_port_t *p = ctx;
    lfs_port_file_t *pf = f->priv;
    int r;
    if (pf->is_dir || (cmd != DRV_IOCTL_SYNC && !arg))
        return pf->is_dir ? MS_ERR_INVAL : MS_ERR_FAULT;
    lock(p);
    switch (cmd) {
    case DRV_IOCTL_SEEK: {
        drv_seek_t *s = arg;
        int whence = s->whence == DRV_SEEK_SET ? LFS_SEEK_SET
                   : s->whence == DRV_SEEK_CUR ? LFS_SEEK_CUR
                   : s->whence == DRV_SEEK_END ? LFS_SEEK_END : -1;
        r = whence < 0 ? LFS_ERR_INVAL : (int)lfs_file_seek(&p->lfs, &pf->u.file, s->offset, whence);
        if (r >= 0) {
            s->result = r;
            f->pos = (uint32_t)r;
            r = 0;
        }
        break;
    }
    case DRV_IOCTL_STAT: {
        drv_stat_t *st = arg;
        r = (int)lfs_file_size(&p->lfs, &pf->u.file);
        if (r >= 0) {
            st->size = (uint32_t)r;
            st->block_size = p->cfg.block_size;
            st->type = DRV_TYPE_FILE;
            r = 0;
        }
        break;
    }
    case DRV_IOCTL_SYNC:
        r = lfs_file_sync(&p->lfs, &pf->u.file);
        break;
    default:
        r = LFS_ERR_INVAL;
    }
    unlock(p);
    return lfs_port_errno(r);
}

static int fs_unlink(void *ctx, const char *rel)
{
    lfs_port_t *p = ctx;
    lock(p);
    int r = p->mounted ? lfs_remove(&p->lfs, fs_path(rel)) : LFS_ERR_INVAL;
    unlock(p);
    return lfs_port_errno(r);
}

static int fs_mkdir(void *ctx, const char *rel, int mode)
{
    (void)mode;
    lfs_port_t *p = ctx;
    lock(p);
    int r = p->mounted ? lfs_mkdir(&p->lfs, fs_path(rel)) : LFS_ERR_INVAL;
    unlock(p);
    return lfs_port_errno(r);
}

static const ms_io_fs_ops_t g_fs_ops = {
    .open = fs_open, .close = fs_close, .read = fs_read, .write = fs_write,
    .ioctl = fs_ioctl, .unlink = fs_unlink, .mkdir = fs_mkdir,
};

int lfs_port_register(lfs_port_t *p, const char *path)
{
    return ms_io_mount(path, &g_fs_ops, p);
}

const ms_io_fs_ops_t *lfs_port_ops(void) { return &g_fs_ops; }
