/*
 * Read-only flash file system of the management unit (flashfs, docs/meter_flash_layout.md):
 * a superblock and a file table at the start of its region (0x08040000 on the meter), the
 * files at the addresses their image headers are linked for, so apps run in place. Nothing
 * is copied: a file is a pointer into flash. No dependency on the RTOS or the BSP.
 */
#ifndef MS_FLASHFS_H
#define MS_FLASHFS_H

#include <stdint.h>

#define MS_FLASHFS_BASE 0x08040000u
#define MS_FLASHFS_SIZE 0x000C0000u          /* 768 KiB: sectors 6..11 */
#define MS_FLASHFS_MAGIC 0x5346534Du         /* "MSFS" */
#define MS_FLASHFS_VERSION 1u
#define MS_FLASHFS_NAME_MAX 20u
#define MS_FLASHFS_FLAG_UPGRADABLE 1u        /* alone in its flash sectors */

/* Error codes, numerically the RTOS's MS_ERR_* (ms_rtos.h). */
#define MS_FLASHFS_ERR_NOENT (-2)            /* no such file */
#define MS_FLASHFS_ERR_IO (-5)               /* no flashfs there, or its table is damaged */
#define MS_FLASHFS_ERR_INVAL (-22)

typedef struct __attribute__((packed)) {
    uint32_t magic;
    uint16_t version;
    uint16_t count;
    uint32_t table_crc;      /* CRC-32 of the count entries */
    uint32_t reserved;
} ms_flashfs_super_t;

typedef struct __attribute__((packed)) {
    char name[MS_FLASHFS_NAME_MAX];     /* NUL-padded */
    uint32_t offset;                    /* from the region's start */
    uint32_t size;                      /* bytes reserved for the file (its extent) */
    uint32_t flags;                     /* MS_FLASHFS_FLAG_* */
} ms_flashfs_entry_t;

_Static_assert(sizeof(ms_flashfs_super_t) == 16, "flashfs superblock is 16 bytes");
_Static_assert(sizeof(ms_flashfs_entry_t) == 32, "flashfs entry is 32 bytes");

typedef struct {
    const uint8_t *base;
    uint32_t size;
    uint32_t count;
    const ms_flashfs_entry_t *table;
} ms_flashfs_t;

/* Check the superblock and the table of the flashfs at base (region of `size` bytes): magic,
 * version, table CRC, every file inside the region and after the table, no two overlapping.
 * 0, or MS_FLASHFS_ERR_IO with *why (if given) naming what is wrong. */
int ms_flashfs_mount(ms_flashfs_t *fs, const void *base, uint32_t size, const char **why);
/* The file `name`: its first byte and its extent. 0 or MS_FLASHFS_ERR_NOENT. */
int ms_flashfs_lookup(const ms_flashfs_t *fs, const char *name, const void **data,
                      uint32_t *size);
/* Entry i (0 .. count-1) or NULL. */
const ms_flashfs_entry_t *ms_flashfs_entry(const ms_flashfs_t *fs, uint32_t i);

/* The system's flashfs (MS_FLASHFS_BASE unless ms_flashfs_use() said otherwise), mounted on
 * first use: */
int ms_flashfs_use(const void *base, uint32_t size);
int ms_flashfs_find(const char *name, const void **data, uint32_t *size);
/* Iteration: *it = 0 first; 0 and the entry while there is one, MS_FLASHFS_ERR_NOENT at the
 * end, MS_FLASHFS_ERR_IO when the flashfs does not mount. */
int ms_flashfs_next(uint32_t *it, const ms_flashfs_entry_t **entry);
/* The system flashfs's mount result (0 or MS_FLASHFS_ERR_IO) and why. */
int ms_flashfs_status(const char **why);

#endif
