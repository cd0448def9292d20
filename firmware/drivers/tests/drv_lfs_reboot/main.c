/*
 * drv_lfs_reboot: littlefs on the NOR through /nor, across a software reset.
 *
 * First boot (blank chip: the mount formats it): mkdir /nor/logs, write /nor/logs/a.txt (text),
 * /nor/data.bin (3000 bytes: more than the 128-byte cache, so littlefs gives it data blocks),
 * /nor/tmp.txt then unlink it, /nor/boot.txt last; print "wrote <name> <size> <crc>" per
 * file, "rebooting" and reset with SYSRESETREQ (bsp_reboot).
 * Second boot (boot.txt found): read every file back, print "read <name> <size> <crc> ok",
 * list /nor with DRV_O_DIRECTORY ("dir <type> <name> <size>"), seek into data.bin and stat
 * it, then PASS. tmp.txt must be gone.
 * Contents: data.bin byte i = (i * 7 + i / 256) & 0xFF; a.txt = "hello littlefs <part>\n"
 * repeated 3 times.
 */
#include <string.h>
#include "drv_test.h"
#include "soc.h"

#define DATA_SIZE 3000u
#define CHUNK 250u
static char g_text[96];

static uint8_t data_byte(uint32_t i) { return (uint8_t)(i * 7u + i / 256u); }

static void data_chunk(uint8_t *b, uint32_t at, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        b[i] = data_byte(at + i);
}

static unsigned text_pattern(void)
{
    unsigned n = 0;
    for (int k = 0; k < 3; k++) {
        const char *s = "hello littlefs " SOC_PART_NAME "\n";
        while (*s)
            g_text[n++] = *s++;
    }
    return n;
}

/* Writes `len` bytes from `data`, or of the data.bin pattern when data is NULL, in chunks. */
static void write_file(const char *path, const void *data, uint32_t len)
{
    uint8_t chunk[CHUNK];
    int fd = ms_io_open(path, O_WRONLY | O_CREAT | O_TRUNC, 0);
    CHECK(fd >= 0, "open %s %d", path, fd);
    uint32_t crc = 0;
    for (uint32_t at = 0; at < len;) {
        uint32_t n = len - at < CHUNK ? len - at : CHUNK;
        if (data)
            memcpy(chunk, (const uint8_t *)data + at, n);
        else
            data_chunk(chunk, at, n);
        int r = ms_io_write(fd, chunk, n);
        CHECK(r == (int)n, "write %s %d", path, r);
        crc = drv_crc32(crc, chunk, n);
        at += n;
    }
    int r = ms_io_close(fd);
    CHECK(r == 0, "close %s %d", path, r);
    ms_printk("wrote %s %u %08x\n", path, (unsigned)len, (unsigned)crc);
}

static void read_file(const char *path, const void *want, uint32_t len)
{
    uint8_t got[CHUNK], exp[CHUNK];
    int fd = ms_io_open(path, O_RDONLY, 0);
    CHECK(fd >= 0, "open %s %d", path, fd);
    uint32_t n = 0, crc = 0;
    int r;
    while ((r = ms_io_read(fd, got, CHUNK)) > 0) {
        CHECK(n + (uint32_t)r <= len, "%s longer than %u", path, (unsigned)len);
        if (want)
            memcpy(exp, (const uint8_t *)want + n, (uint32_t)r);
        else
            data_chunk(exp, n, (uint32_t)r);
        CHECK(memcmp(got, exp, (uint32_t)r) == 0, "%s differs after byte %u", path, (unsigned)n);
        crc = drv_crc32(crc, got, (uint32_t)r);
        n += (uint32_t)r;
    }
    CHECK(r == 0, "read %s %d", path, r);
    ms_io_close(fd);
    CHECK(n == len, "%s has %u bytes", path, (unsigned)n);
    ms_printk("read %s %u %08x ok\n", path, (unsigned)n, (unsigned)crc);
}

static void first_boot(void)
{
    int r = ms_io_mkdir("/nor/logs", 0);
    CHECK(r == 0, "mkdir %d", r);
    CHECK(ms_io_mkdir("/nor/logs", 0) == MS_ERR_EXIST, "mkdir twice");
    write_file("/nor/logs/a.txt", g_text, text_pattern());
    write_file("/nor/data.bin", 0, DATA_SIZE);
    write_file("/nor/tmp.txt", "temporary", 9);
    r = ms_io_unlink("/nor/tmp.txt");
    CHECK(r == 0, "unlink %d", r);
    CHECK(ms_io_open("/nor/tmp.txt", O_RDONLY, 0) == MS_ERR_NOENT, "tmp.txt still there");
    write_file("/nor/boot.txt", "1", 1);
    ms_printk("used blocks %d\n", lfs_port_used_blocks(&g_lfs));
    ms_printk("rebooting\n");
    drv_console_drain();
    bsp_reboot();
}

static void second_boot(void)
{
    read_file("/nor/logs/a.txt", g_text, text_pattern());
    read_file("/nor/data.bin", 0, DATA_SIZE);
    CHECK(ms_io_open("/nor/tmp.txt", O_RDONLY, 0) == MS_ERR_NOENT, "tmp.txt came back");
    int fd = ms_io_open("/nor", O_RDONLY | DRV_O_DIRECTORY, 0);
    CHECK(fd >= 0, "opendir %d", fd);
    drv_dirent_t de;
    int r;
    while ((r = ms_io_read(fd, &de, sizeof de)) == (int)sizeof de)
        ms_printk("dir %s %s %u\n", de.type == DRV_TYPE_DIR ? "d" : "f", de.name, (unsigned)de.size);
    CHECK(r == 0, "readdir %d", r);
    ms_io_close(fd);
    /* lseek + fstat through ioctl */
    fd = ms_io_open("/nor/data.bin", O_RDONLY, 0);
    drv_seek_t s = {-10, DRV_SEEK_END, 0};
    CHECK(ms_io_ioctl(fd, DRV_IOCTL_SEEK, &s) == 0 && s.result == (int32_t)DATA_SIZE - 10, "seek");
    uint8_t tail[10], want[10];
    data_chunk(want, DATA_SIZE - 10, 10);
    CHECK(ms_io_read(fd, tail, 10) == 10 && memcmp(tail, want, 10) == 0, "tail");
    drv_stat_t st;
    CHECK(ms_io_ioctl(fd, DRV_IOCTL_STAT, &st) == 0 && st.size == DATA_SIZE, "fstat");
    ms_io_close(fd);
    drv_dirent_t info;
    CHECK(lfs_port_stat(&g_lfs, "logs", &info) == 0 && info.type == DRV_TYPE_DIR, "stat logs");
    ms_printk("seek and stat ok\n");
    drv_pass();
}

static void body(void *arg)
{
    (void)arg;
    drv_storage_init(0);
    int m = drv_lfs_mount();
    ms_printk("lfs mount: %s\n", m == 1 ? "formatted" : "ok");
    drv_dirent_t info;
    if (lfs_port_stat(&g_lfs, "boot.txt", &info) == 0)
        second_boot();
    first_boot();
}

int main(void) { drv_test_run("drv_lfs_reboot", body, 3072); }
