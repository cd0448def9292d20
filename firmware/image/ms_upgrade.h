/*
 * App upgrade through the NOR flash (docs/meter_flash_layout.md, "Upgrade"): the image received
 * (YMODEM on the console) lands in the NOR download slot; the bootloader swaps it into the app's
 * on-chip flashfs extent, keeping the old image in the NOR backup slot; the RTOS confirms the
 * new app when it passes its start check, or rejects it, and the bootloader rolls back.
 *
 * Every step is recorded in a journal of 64-byte records (sequence number + CRC-32) in two
 * alternating NOR sectors, appended only after the step's data is verified; a record cut in
 * the middle fails its CRC and the previous one stands, so a restart after a power cut at any
 * instant redoes the interrupted step from data that is still intact.
 *
 * No dependency on the RTOS or the BSP: NOR access goes through ms_upg_nor_t.
 */
#ifndef MS_UPGRADE_H
#define MS_UPGRADE_H

#include <stdint.h>
#include "ms_image.h"
#include "ms_ymodem.h"

/* NOR layout of the upgrade region (0x100000 .. 0x1FFFFF of the W25Q64) */
#define MS_UPG_JOURNAL 0x100000u           /* two 4 KiB sectors, used alternately */
#define MS_UPG_JOURNAL_SECTORS 2u
#define MS_UPG_DOWNLOAD 0x110000u          /* the image received, waiting to be swapped in */
#define MS_UPG_BACKUP 0x188000u            /* the image it replaced */
#define MS_UPG_SLOT_SIZE 0x78000u          /* 480 KiB each */
#define MS_UPG_SECTOR 4096u

#define MS_UPG_REC_MAGIC 0x4A55534Du       /* "MSUJ" */
#define MS_UPG_REC_SIZE 64u

enum ms_upg_state {
    MS_UPG_IDLE = 0,         /* no journal yet */
    MS_UPG_PENDING = 1,      /* RTOS: new image verified in the download slot, swap it in */
    MS_UPG_BACKED_UP = 2,    /* boot: the old image is in the backup slot (verified) */
    MS_UPG_TRIAL = 3,        /* boot: the new image is in on-chip flash (verified) */
    MS_UPG_TRYING = 4,       /* boot: the RTOS was started with it once; not yet confirmed */
    MS_UPG_CONFIRMED = 5,    /* RTOS: the new app passed its start check */
    MS_UPG_REJECTED = 6,     /* RTOS: the new app failed its start check */
    MS_UPG_ROLLED_BACK = 7,  /* boot: the old image is back in on-chip flash */
    MS_UPG_ABORTED = 8,      /* boot: the download slot did not verify; nothing changed */
};

typedef struct __attribute__((packed)) {
    uint32_t magic;
    uint32_t seq;            /* the highest valid one is the state */
    uint32_t state;          /* enum ms_upg_state */
    uint32_t dest;           /* on-chip flash address of the file (its flashfs extent) */
    uint32_t extent;         /* bytes of that extent */
    uint32_t new_len;        /* bytes of the new image (header + payload) */
    uint32_t new_crc;        /* CRC-32 of those bytes */
    uint32_t old_len;        /* bytes of the old image (0: there was none) */
    uint32_t old_crc;
    char file[20];           /* flashfs name */
    uint8_t reserved[4];
    uint32_t crc;            /* CRC-32 of bytes 0..59 */
} ms_upg_rec_t;

_Static_assert(sizeof(ms_upg_rec_t) == MS_UPG_REC_SIZE, "journal record is 64 bytes");

typedef struct {
    int (*read)(void *ctx, uint32_t addr, void *buf, uint32_t len);
    int (*program)(void *ctx, uint32_t addr, const void *buf, uint32_t len);
    int (*erase)(void *ctx, uint32_t addr);          /* the 4 KiB sector at addr */
    void *ctx;
} ms_upg_nor_t;

const char *ms_upg_state_name(uint32_t state);

/* The latest valid record (state MS_UPG_IDLE, seq 0 when there is none). */
int ms_upg_latest(const ms_upg_nor_t *nor, ms_upg_rec_t *rec);
/* Append rec with the next sequence number (filled in, with magic and crc). */
int ms_upg_append(const ms_upg_nor_t *nor, ms_upg_rec_t *rec);

/* Check an image stored in NOR at addr (at most capacity bytes): every ms_image_check check
 * (the placement against run_addr, the kind against kind when not 0); *hdr gets its header,
 * *crc_all (when given) the CRC-32 of the whole image, header included. */
int ms_upg_check_nor(const ms_upg_nor_t *nor, uint32_t addr, uint32_t capacity,
                     uint32_t run_addr, unsigned kind, ms_image_hdr_t *hdr, uint32_t *crc_all);
/* CRC-32 of len bytes of NOR at addr. */
int ms_upg_nor_crc(const ms_upg_nor_t *nor, uint32_t addr, uint32_t len, uint32_t *crc);
/* Erase the NOR sectors covering [addr, addr + len). */
int ms_upg_nor_erase(const ms_upg_nor_t *nor, uint32_t addr, uint32_t len);

/* RTOS side, after an image landed in the download slot: verify it for the flashfs file
 * `file` whose extent is [dest, dest + extent) (an app or service, linked for dest) and record
 * PENDING. Returns an ms_image_result (> 0) when the image is refused, < 0 on NOR errors. */
int ms_upg_stage(const ms_upg_nor_t *nor, const char *file, uint32_t dest, uint32_t extent);
/* RTOS side, once the app at dest started (ok = it passed its start check) while the journal
 * says TRYING for it: record CONFIRMED or REJECTED. Returns 1 when a record was written. */
int ms_upg_report_start(const ms_upg_nor_t *nor, uint32_t dest, int ok);

/* RTOS side, the console's `upgrade <file>` command: receive an image with YMODEM on `port`
 * (its getc/write/start_tries/ctx; begin and data are this function's) into the download slot,
 * erasing it just ahead of the data, then ms_upg_stage() it for the file at dest. 0: PENDING is
 * recorded, restart to install it; an ms_ymodem_result (< 0) when the transfer failed
 * (*nor_error: the NOR error that made the receiver cancel, if any); MS_UPG_RX_REFUSED_BASE +
 * ms_image_result when the image was refused; MS_UPG_RX_NOR_ERROR when staging failed.
 * name/size: block 0's file name (MS_YMODEM_NAME_MAX bytes) and size. */
#define MS_UPG_RX_REFUSED_BASE 100
#define MS_UPG_RX_NOR_ERROR 99
int ms_upg_receive(const ms_upg_nor_t *nor, const ms_ymodem_io_t *port, const char *file,
                   uint32_t dest, uint32_t extent, char *name, uint32_t *size, int *nor_error);

#endif
