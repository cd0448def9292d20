/*
 * littlefs on a W25Q NOR chip, mounted in the RTOS IO system.
 *
 * Block device: one littlefs block = one 4 KiB sector (20h erase) of a window
 * [offset, offset + block_count * 4096) of the chip; reads are 03h reads, programs are page
 * programs split at 256-byte pages (w25q.c). The geometry below is the whole on-disk contract:
 * a host mounts the same image with littlefs-python using the same values
 * (block_size 4096, read_size LFS_PORT_READ_SIZE, prog_size LFS_PORT_PROG_SIZE, the block
 * count, disk version 2.1). littlefs itself comes from the littlefs-python sdist pinned in
 * pyproject.toml (see fetch_littlefs.py), built with LFS_MULTIVERSION like the host's module,
 * and the port formats with disk_version = LFS_DISK_VERSION of those sources.
 *
 * IO system (ms_io_mount): open/close/read/write/unlink/mkdir map to littlefs; the RTOS VFS has
 * no lseek/stat/readdir hooks, so they are ioctls (drv_io.h): DRV_IOCTL_SEEK, DRV_IOCTL_STAT
 * (fstat), DRV_IOCTL_SYNC, and directories opened with O_RDONLY | DRV_O_DIRECTORY read as
 * drv_dirent_t records. Kernel threads may also call lfs_port_stat() by path.
 *
 * Every call holds the port's mutex (littlefs is not re-entrant) and runs on the caller's stack:
 * threads that use /nor need about 1.5 KiB of stack for littlefs on top of their own use.
 */
#ifndef LFS_PORT_H
#define LFS_PORT_H

#include <stdint.h>
#include "lfs.h"
#include "drv_io.h"
#include "w25q.h"

#define LFS_PORT_READ_SIZE 16u
#define LFS_PORT_PROG_SIZE 16u
#define LFS_PORT_CACHE_SIZE 128u
#define LFS_PORT_LOOKAHEAD_SIZE 16u
#define LFS_PORT_BLOCK_CYCLES 500
/* Metadata logs are compacted at 1 KiB instead of the whole 4 KiB sector: every open and
 * commit re-reads the log of its directory, so a short log keeps SPI traffic per file
 * operation small (littlefs's metadata_max; readers need not know it). */
#define LFS_PORT_METADATA_MAX 1024u
#ifndef LFS_PORT_MAX_OPEN
#define LFS_PORT_MAX_OPEN 4u
#endif

typedef struct {
    uint8_t used, is_dir;
    union {
        lfs_file_t file;
        lfs_dir_t dir;
    } u;
    struct lfs_file_config fcfg;
    uint8_t cache[LFS_PORT_CACHE_SIZE];
} lfs_port_file_t;

typedef struct {
    w25q_t *nor;
    uint32_t offset;          /* byte offset of block 0 on the chip */
    lfs_t lfs;
    struct lfs_config cfg;
    ms_handle_t lock;
    uint8_t mounted;
    uint8_t read_buf[LFS_PORT_CACHE_SIZE];
    uint8_t prog_buf[LFS_PORT_CACHE_SIZE];
    uint32_t lookahead[LFS_PORT_LOOKAHEAD_SIZE / 4u];
    lfs_port_file_t files[LFS_PORT_MAX_OPEN];
    uint32_t io_errors;       /* block-device errors seen (for diagnostics) */
} lfs_port_t;

/* offset: sector aligned; block_count: sectors given to littlefs. */
int lfs_port_init(lfs_port_t *p, w25q_t *nor, uint32_t offset, uint32_t block_count);
int lfs_port_format(lfs_port_t *p);
/* Mount; with format_if_needed a blank or foreign window is formatted first.
 * Returns 0 mounted, 1 formatted and mounted, < 0 an MS_ERR_* code. */
int lfs_port_mount(lfs_port_t *p, int format_if_needed);
int lfs_port_unmount(lfs_port_t *p);
/* Make the mounted file system visible at `path` (e.g. "/nor") in the IO system. */
int lfs_port_register(lfs_port_t *p, const char *path);
/* The port's IO-system file system operations (ctx: the lfs_port_t), for a mount of its own
 * (the meter's /nor calls them from a kernel thread with a stack big enough for littlefs). */
const ms_io_fs_ops_t *lfs_port_ops(void);
/* Path relative to the file system root ("dir/name"). */
int lfs_port_stat(lfs_port_t *p, const char *path, drv_dirent_t *out);
/* Blocks in use (littlefs traversal), or < 0. */
int lfs_port_used_blocks(lfs_port_t *p);
/* littlefs error code -> MS_ERR_* code. */
int lfs_port_errno(int lfs_err);

#endif
