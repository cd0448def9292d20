/* Upgrade journal and NOR image checks (see ms_upgrade.h). */
#include "ms_upgrade.h"

#define RECS_PER_SECTOR (MS_UPG_SECTOR / MS_UPG_REC_SIZE)

const char *ms_upg_state_name(uint32_t state)
{
    static const char *const names[] = {"idle", "pending", "backed-up", "trial", "trying",
                                        "confirmed", "rejected", "rolled-back", "aborted"};
    return state < sizeof names / sizeof names[0] ? names[state] : "unknown";
}

static int rec_valid(const ms_upg_rec_t *r)
{
    return r->magic == MS_UPG_REC_MAGIC && ms_crc32(0, r, MS_UPG_REC_SIZE - 4u) == r->crc;
}

static int rec_erased(const ms_upg_rec_t *r)
{
    const uint8_t *b = (const uint8_t *)r;
    for (unsigned i = 0; i < MS_UPG_REC_SIZE; i++)
        if (b[i] != 0xFFu)
            return 0;
    return 1;
}

/* Scan both sectors: the latest valid record, the sector it is in and the index after the
 * last written (non-erased) slot of that sector. */
static int scan(const ms_upg_nor_t *nor, ms_upg_rec_t *latest, unsigned *sector, unsigned *next)
{
    ms_upg_rec_t r;
    latest->seq = 0;
    latest->state = MS_UPG_IDLE;
    *sector = 0;
    *next = 0;
    for (unsigned s = 0; s < MS_UPG_JOURNAL_SECTORS; s++) {
        unsigned used = 0;
        int best_here = 0;
        for (unsigned i = 0; i < RECS_PER_SECTOR; i++) {
            int e = nor->read(nor->ctx, MS_UPG_JOURNAL + s * MS_UPG_SECTOR + i * MS_UPG_REC_SIZE,
                              &r, sizeof r);
            if (e)
                return e;
            /* records are only appended: the first blank slot ends the sector's log (a
             * record torn by a power cut is not blank, so it is skipped, not overwritten) */
            if (rec_erased(&r))
                break;
            used = i + 1u;
            if (rec_valid(&r) && r.seq > latest->seq) {
                *latest = r;
                best_here = 1;
            }
        }
        if (best_here) {
            *sector = s;
            *next = used;
        }
    }
    return 0;
}

int ms_upg_latest(const ms_upg_nor_t *nor, ms_upg_rec_t *rec)
{
    unsigned s, n;
    return scan(nor, rec, &s, &n);
}

int ms_upg_append(const ms_upg_nor_t *nor, ms_upg_rec_t *rec)
{
    ms_upg_rec_t latest;
    unsigned s, next;
    int e = scan(nor, &latest, &s, &next);
    if (e)
        return e;
    if (latest.seq == 0u) {
        /* no valid record: start over in an erased sector 0 */
        s = 0;
        next = 0;
        e = nor->erase(nor->ctx, MS_UPG_JOURNAL);
        if (e)
            return e;
    } else if (next >= RECS_PER_SECTOR) {
        /* full: move to the other sector; the records here stand until one is written there */
        s = (s + 1u) % MS_UPG_JOURNAL_SECTORS;
        next = 0;
        e = nor->erase(nor->ctx, MS_UPG_JOURNAL + s * MS_UPG_SECTOR);
        if (e)
            return e;
    }
    rec->magic = MS_UPG_REC_MAGIC;
    rec->seq = latest.seq + 1u;
    rec->crc = ms_crc32(0, rec, MS_UPG_REC_SIZE - 4u);
    return nor->program(nor->ctx, MS_UPG_JOURNAL + s * MS_UPG_SECTOR + next * MS_UPG_REC_SIZE,
                        rec, sizeof *rec);
}

int ms_upg_nor_crc(const ms_upg_nor_t *nor, uint32_t addr, uint32_t len, uint32_t *crc)
{
    uint8_t buf[256];
    uint32_t c = 0;
    while (len) {
        uint32_t n = len < sizeof buf ? len : sizeof buf;
        int e = nor->read(nor->ctx, addr, buf, n);
        if (e)
            return e;
        c = ms_crc32(c, buf, n);
        addr += n;
        len -= n;
    }
    *crc = c;
    return 0;
}

int ms_upg_check_nor(const ms_upg_nor_t *nor, uint32_t addr, uint32_t capacity,
                     uint32_t run_addr, unsigned kind, ms_image_hdr_t *hdr, uint32_t *crc_all)
{
    int e = nor->read(nor->ctx, addr, hdr, sizeof *hdr);
    if (e)
        return e;
    int r = ms_image_check_header(hdr, capacity, run_addr, kind);
    if (r != MS_IMAGE_OK)
        return r;
    uint8_t buf[256];
    ms_sha256_t s;
    uint8_t digest[32];
    uint32_t crc = 0, len = hdr->length, at = addr + MS_IMAGE_HDR_SIZE;
    ms_sha256_init(&s);
    while (len) {
        uint32_t n = len < sizeof buf ? len : sizeof buf;
        e = nor->read(nor->ctx, at, buf, n);
        if (e)
            return e;
        crc = ms_crc32(crc, buf, n);
        ms_sha256_update(&s, buf, n);
        at += n;
        len -= n;
    }
    ms_sha256_final(&s, digest);
    r = ms_image_check_digests(hdr, crc, digest);
    if (r == MS_IMAGE_OK && crc_all)
        e = ms_upg_nor_crc(nor, addr, MS_IMAGE_HDR_SIZE + hdr->length, crc_all);
    return e ? e : r;
}

int ms_upg_nor_erase(const ms_upg_nor_t *nor, uint32_t addr, uint32_t len)
{
    for (uint32_t a = addr & ~(MS_UPG_SECTOR - 1u); a < addr + len; a += MS_UPG_SECTOR) {
        int e = nor->erase(nor->ctx, a);
        if (e)
            return e;
    }
    return 0;
}

int ms_upg_stage(const ms_upg_nor_t *nor, const char *file, uint32_t dest, uint32_t extent)
{
    ms_image_hdr_t h;
    ms_upg_rec_t rec = {0};
    uint32_t crc;
    uint32_t cap = extent < MS_UPG_SLOT_SIZE ? extent : MS_UPG_SLOT_SIZE;
    int r = ms_upg_check_nor(nor, MS_UPG_DOWNLOAD, cap, dest, 0, &h, &crc);
    if (r)
        return r;
    if (h.kind != MS_IMAGE_APP && h.kind != MS_IMAGE_SERVICE)
        return MS_IMAGE_BAD_KIND;
    rec.state = MS_UPG_PENDING;
    rec.dest = dest;
    rec.extent = extent;
    rec.new_len = MS_IMAGE_HDR_SIZE + h.length;
    rec.new_crc = crc;
    for (unsigned i = 0; i < sizeof rec.file - 1u && file[i]; i++)
        rec.file[i] = file[i];
    return ms_upg_append(nor, &rec);
}

int ms_upg_report_start(const ms_upg_nor_t *nor, uint32_t dest, int ok)
{
    ms_upg_rec_t rec;
    int e = ms_upg_latest(nor, &rec);
    if (e)
        return e;
    if (rec.state != MS_UPG_TRYING || rec.dest != dest)
        return 0;
    rec.state = ok ? MS_UPG_CONFIRMED : MS_UPG_REJECTED;
    e = ms_upg_append(nor, &rec);
    return e ? e : 1;
}
