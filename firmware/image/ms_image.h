/*
 * Image header, CRC-32 and SHA-256 of the management unit's images (docs/meter_flash_layout.md):
 * every RTOS, service, app and start-parameter image starts with a 96-byte header. The
 * bootloader checks the RTOS image with it, the RTOS's loader checks services and apps, the
 * upgrade path checks an image received into NOR. No dependency on the RTOS or the BSP.
 */
#ifndef MS_IMAGE_H
#define MS_IMAGE_H

#include <stdint.h>

#define MS_IMAGE_MAGIC 0x4D49534Du          /* "MSIM" */
#define MS_IMAGE_HDR_VERSION 1u
#define MS_IMAGE_HDR_SIZE 96u
#define MS_IMAGE_FLAG_XIP 1u                /* executable in place */

enum ms_image_kind { MS_IMAGE_RTOS = 1, MS_IMAGE_SERVICE = 2, MS_IMAGE_APP = 3,
                     MS_IMAGE_PARAMS = 4 };

typedef struct __attribute__((packed)) {
    uint32_t magic;
    uint8_t kind;
    uint8_t hdr_version;
    uint16_t flags;
    uint32_t version;        /* major << 16 | minor << 8 | patch */
    uint32_t load_addr;      /* flash address of the header as linked */
    uint32_t entry;          /* Thumb address (bit 0 set) */
    uint32_t length;         /* payload bytes after the header */
    uint32_t crc32;          /* CRC-32 of the payload */
    uint32_t ram_base;
    uint32_t ram_size;
    char name[16];           /* NUL-padded */
    uint8_t sha256[32];      /* SHA-256 of the payload */
    uint8_t reserved[8];
    uint32_t hdr_crc32;      /* CRC-32 of bytes 0..91 */
} ms_image_hdr_t;

_Static_assert(sizeof(ms_image_hdr_t) == MS_IMAGE_HDR_SIZE, "image header is 96 bytes");

/* What ms_image_check() found, in the order it checks (0 = the image is good). */
enum ms_image_result {
    MS_IMAGE_OK = 0,
    MS_IMAGE_BAD_MAGIC,        /* not an image: magic is not "MSIM" */
    MS_IMAGE_BAD_HDR_VERSION,  /* a header format this code does not know */
    MS_IMAGE_BAD_HDR_CRC,      /* header bytes 0..91 damaged */
    MS_IMAGE_BAD_LENGTH,       /* payload longer than the space it is in (truncated) */
    MS_IMAGE_BAD_PLACE,        /* linked for another address than where it is */
    MS_IMAGE_BAD_KIND,         /* not the kind the caller wants */
    MS_IMAGE_BAD_CRC,          /* payload CRC-32 differs */
    MS_IMAGE_BAD_SHA256,       /* payload SHA-256 differs */
};

/* CRC-32 (IEEE 802.3 reflected, as zlib.crc32): start with crc = 0, chain calls. */
uint32_t ms_crc32(uint32_t crc, const void *buf, uint32_t len);

typedef struct {
    uint32_t state[8];
    uint64_t bytes;
    uint8_t block[64];
    uint32_t fill;
} ms_sha256_t;
void ms_sha256_init(ms_sha256_t *s);
void ms_sha256_update(ms_sha256_t *s, const void *data, uint32_t len);
void ms_sha256_final(ms_sha256_t *s, uint8_t digest[32]);

/* Header checks only (magic, hdr_version, hdr_crc32, length <= capacity - 96, placement when
 * run_addr != 0, kind when kind != 0): for images read piecewise (NOR), whose payload digests
 * are then computed by the caller and given to ms_image_check_digests(). */
int ms_image_check_header(const ms_image_hdr_t *h, uint32_t capacity, uint32_t run_addr,
                          unsigned kind);
int ms_image_check_digests(const ms_image_hdr_t *h, uint32_t crc32, const uint8_t sha256[32]);
/* Every check of an image in memory, `capacity` bytes available from `image` (header
 * included). run_addr: the address it runs at, checked against load_addr (0: not checked);
 * kind: the expected kind (0: any). Returns an enum ms_image_result. */
int ms_image_check(const void *image, uint32_t capacity, uint32_t run_addr, unsigned kind);
/* "magic", "hdr_version", ... "sha256": the field a result names ("ok" for 0). */
const char *ms_image_check_name(int result);
/* The payload, right after the header. */
static inline const uint8_t *ms_image_payload(const ms_image_hdr_t *h)
{
    return (const uint8_t *)h + MS_IMAGE_HDR_SIZE;
}

/* ---- start parameters (payload of the image of kind MS_IMAGE_PARAMS, "start.par") ---- */
typedef struct __attribute__((packed)) {
    char file[20];           /* flashfs name of the image, NUL-padded */
    uint8_t prio;            /* main thread priority, 0 highest .. 63 */
    uint8_t autostart;
    uint8_t max_threads;
    uint8_t max_kobjs;
    uint8_t max_files;
    uint8_t reserved0;
    uint16_t stack_size;     /* main thread stack, bytes */
    uint32_t perms;          /* MS_PERM_* */
    struct { uint32_t start, size; } eeprom[2];
    uint8_t reserved1[16];
} ms_start_rec_t;

_Static_assert(sizeof(ms_start_rec_t) == 64, "start-parameter record is 64 bytes");

/* The records of a checked start-parameter image; MS_IMAGE_BAD_KIND when h is not one,
 * MS_IMAGE_BAD_LENGTH when its payload is not a whole number of records. */
int ms_start_params(const ms_image_hdr_t *h, const ms_start_rec_t **recs, uint32_t *count);

/* The reset cause, from the bootloader to the RTOS image. The bootloader reads RCC_CSR's
 * reset flags and clears them (RMVF), so that the next reset shows only its own flags; it
 * hands them on in a backup-domain word (bsp_backup_write(MS_BOOT_CAUSE_WORD): RTC_BKP9R on
 * the F413, kept across resets): MS_BOOT_CAUSE_MAGIC | the flags RCC_CSR[31:24] (BSP_RESET_*
 * >> 24). The RTOS image takes the word and writes it 0, so a value is used once; without the
 * magic (the image started by a debugger, not the bootloader) it reads RCC_CSR itself. */
#define MS_BOOT_CAUSE_WORD 8u
#define MS_BOOT_CAUSE_MAGIC 0xBC00u
#define MS_BOOT_CAUSE_MAGIC_MASK 0xFF00u

#endif
