/*
 * What the storage drivers add to the RTOS IO system. The VFS (rtos/src/ms_io.c) has
 * open/close/read/write/ioctl/unlink/mkdir hooks but no lseek, stat or readdir, so the
 * drivers offer those through ioctl on an open descriptor:
 *
 *   drv_seek_t s = {.offset = 0x100, .whence = DRV_SEEK_SET};
 *   ms_io_ioctl(fd, DRV_IOCTL_SEEK, &s);      // s.result = the new position
 *   drv_stat_t st; ms_io_ioctl(fd, DRV_IOCTL_STAT, &st);
 *
 * /dev/eeprom and /dev/nor0 keep the position in the file (f->pos) like a regular file;
 * files under /nor also answer DRV_IOCTL_SYNC, and a directory opened with
 * O_RDONLY | DRV_O_DIRECTORY returns one drv_dirent_t per read() (0 at the end).
 */
#ifndef DRV_IO_H
#define DRV_IO_H

#include <stdint.h>
#include "ms_driver.h"

#define DRV_SEEK_SET 0
#define DRV_SEEK_CUR 1
#define DRV_SEEK_END 2

typedef struct {
    int32_t offset;
    int32_t whence;   /* DRV_SEEK_* */
    int32_t result;   /* new position from the start */
} drv_seek_t;

#define DRV_TYPE_FILE 1
#define DRV_TYPE_DIR 2
#define DRV_TYPE_DEVICE 3

typedef struct {
    uint32_t size;        /* bytes (device: capacity) */
    uint32_t block_size;  /* erase unit (EEPROM: page), 0 when not applicable */
    uint8_t type;         /* DRV_TYPE_* */
} drv_stat_t;

#define DRV_NAME_MAX 32u
typedef struct {
    uint32_t size;
    uint8_t type;         /* DRV_TYPE_FILE or DRV_TYPE_DIR */
    char name[DRV_NAME_MAX];
} drv_dirent_t;

#define DRV_IOCTL_SEEK 0x4401    /* drv_seek_t * */
#define DRV_IOCTL_STAT 0x4402    /* drv_stat_t * */
#define DRV_IOCTL_SYNC 0x4403    /* no argument: flush a file to flash */
#define DRV_IOCTL_ERASE 0x4404   /* uint32_t *: device offset of the sector to erase (/dev/nor0) */

#define DRV_O_DIRECTORY 0x10000  /* ms_io_open flag for directories under a littlefs mount */

/* The argument of a DRV_IOCTL_* is the caller's own memory: MS_OK, else MS_ERR_FAULT (a
 * process handing a pointer into kernel memory or another process's window). */
static inline int drv_ioctl_arg_ok(int cmd, void *arg)
{
    size_t n = cmd == DRV_IOCTL_SEEK ? sizeof(drv_seek_t) : cmd == DRV_IOCTL_STAT ? sizeof(drv_stat_t)
             : cmd == DRV_IOCTL_ERASE ? sizeof(uint32_t) : 0u;
    return ms_uaccess(arg, n, 1);
}

/* Position arithmetic shared by the devices: new position or MS_ERR_INVAL. */
static inline int drv_seek(uint32_t *pos, uint32_t size, drv_seek_t *s)
{
    int64_t base = s->whence == DRV_SEEK_SET ? 0 : s->whence == DRV_SEEK_CUR ? (int64_t)*pos
                 : s->whence == DRV_SEEK_END ? (int64_t)size : -1;
    if (base < 0)
        return MS_ERR_INVAL;
    int64_t p = base + s->offset;
    if (p < 0 || p > (int64_t)size)
        return MS_ERR_INVAL;
    *pos = (uint32_t)p;
    s->result = (int32_t)p;
    return MS_OK;
}

#endif
