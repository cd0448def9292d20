/*
 * The flashfs reader and image checks (firmware/image) against a flashfs packed by
 * metersim's Python packer in the firmware build (image/tests/mk_test_flashfs.py), linked at
 * 0x08040000: mount, iteration, find, start parameters, each damaged file refused for the
 * right field, a damaged table refused, and CRC-32 / SHA-256 against their standard vectors.
 */
#include "ms_flashfs.h"
#include "ms_image.h"
#include "test.h"

extern const uint8_t test_flashfs[];

static void expect(const char *name, int want)
{
    const void *data;
    uint32_t size;
    if (ms_flashfs_find(name, &data, &size) != 0)
        test_fail("%s not found", name);
    int r = ms_image_check(data, size, (uint32_t)data, MS_IMAGE_APP);
    con_printf("check %s: %s\n", name, ms_image_check_name(r));
    if (r != want)
        test_fail("%s: check gave %s, expected %s", name, ms_image_check_name(r),
                  ms_image_check_name(want));
}

int main(void)
{
    test_begin("img_flashfs");
    static const uint8_t abc_sha[32] = {
        0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae,
        0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61,
        0xf2, 0x00, 0x15, 0xad};
    uint8_t d[32];
    ms_sha256_t s;
    ms_sha256_init(&s);
    ms_sha256_update(&s, "abc", 3);
    ms_sha256_final(&s, d);
    for (int i = 0; i < 32; i++)
        if (d[i] != abc_sha[i])
            test_fail("sha256(abc) byte %d: %02x", i, d[i]);
    if (ms_crc32(0, "123456789", 9) != 0xCBF43926u)
        test_fail("crc32(123456789) = %08x", (unsigned)ms_crc32(0, "123456789", 9));
    con_printf("crc32 and sha256 vectors ok\n");

    if ((uint32_t)test_flashfs != MS_FLASHFS_BASE)
        test_fail("flashfs linked at %08x", (unsigned)(uint32_t)test_flashfs);
    const char *why;
    if (ms_flashfs_status(&why) != 0)
        test_fail("flashfs does not mount: %s", why);
    uint32_t it = 0, n = 0;
    const ms_flashfs_entry_t *e;
    while (ms_flashfs_next(&it, &e) == 0) {
        con_printf("file %s at %08x size %u flags %u\n", e->name,
                       (unsigned)(MS_FLASHFS_BASE + e->offset), (unsigned)e->size,
                       (unsigned)e->flags);
        n++;
    }
    if (n != 8)
        test_fail("%u files listed, expected 8", (unsigned)n);

    const void *data;
    uint32_t size;
    if (ms_flashfs_find("app_c", &data, &size) != MS_FLASHFS_ERR_NOENT)
        test_fail("app_c found");
    if (ms_flashfs_find("app_", &data, &size) != MS_FLASHFS_ERR_NOENT)
        test_fail("a prefix of a name found");

    expect("app_a", MS_IMAGE_OK);
    expect("app_b", MS_IMAGE_OK);
    expect("bad_magic", MS_IMAGE_BAD_MAGIC);
    expect("bad_hdr", MS_IMAGE_BAD_HDR_CRC);
    expect("bad_len", MS_IMAGE_BAD_LENGTH);
    expect("bad_place", MS_IMAGE_BAD_PLACE);
    expect("bad_crc", MS_IMAGE_BAD_CRC);

    ms_flashfs_find("app_a", &data, &size);
    const ms_image_hdr_t *h = data;
    con_printf("app_a version %u.%u.%u ram %08x+%x entry %08x\n", (unsigned)(h->version >> 16),
                   (unsigned)(h->version >> 8 & 0xFFu), (unsigned)(h->version & 0xFFu),
                   (unsigned)h->ram_base, (unsigned)h->ram_size, (unsigned)h->entry);
    if (h->version != 0x010203u || h->ram_size != 0x2000u || h->length != 1000u)
        test_fail("app_a header fields");

    if (ms_flashfs_find("start.par", &data, &size) != 0 ||
        ms_image_check(data, size, (uint32_t)data, MS_IMAGE_PARAMS) != MS_IMAGE_OK)
        test_fail("start.par missing or bad");
    const ms_start_rec_t *rec;
    uint32_t count;
    if (ms_start_params(data, &rec, &count) != 0 || count != 2)
        test_fail("start.par records");
    for (uint32_t i = 0; i < count; i++)
        con_printf("start %s prio %u auto %u threads %u files %u stack %u perms %x "
                       "eeprom %x+%x %x+%x\n", rec[i].file, rec[i].prio, rec[i].autostart,
                       rec[i].max_threads, rec[i].max_files, rec[i].stack_size,
                       (unsigned)rec[i].perms, (unsigned)rec[i].eeprom[0].start,
                       (unsigned)rec[i].eeprom[0].size, (unsigned)rec[i].eeprom[1].start,
                       (unsigned)rec[i].eeprom[1].size);
    if (rec[0].prio != 20 || rec[0].max_threads != 3 || rec[0].stack_size != 2048 ||
        rec[0].eeprom[0].start != 0x1000u || rec[1].autostart != 0 || rec[1].perms != 6u)
        test_fail("start.par values");

    /* a damaged table is refused: a copy with one name byte changed */
    static uint8_t copy[16 + 8 * 32];
    for (unsigned i = 0; i < sizeof copy; i++)
        copy[i] = test_flashfs[i];
    copy[16 + 32 + 3] ^= 0x20;
    ms_flashfs_t fs;
    if (ms_flashfs_mount(&fs, copy, sizeof copy, &why) == 0)
        test_fail("damaged table mounted");
    con_printf("damaged table: %s\n", why);
    copy[16 + 32 + 3] ^= 0x20;
    copy[0] = 0;
    if (ms_flashfs_mount(&fs, copy, sizeof copy, &why) == 0)
        test_fail("bad magic mounted");
    con_printf("damaged superblock: %s\n", why);
    test_pass();
}
