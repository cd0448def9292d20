/*
 * drv_lfs_powercut: writes and closes files on littlefs in a loop, for power-cut tests.
 *
 * Boot: mount /nor (formatting a blank chip), then check the ring files /nor/p0 .. /nor/p3:
 * each holds its sequence number (4 bytes, little endian) followed by a payload generated
 * from that number, so the content proves itself. Prints "check <name> <seq> ok",
 * "check <name> empty" (created, never closed), or "check <name> <seq> BAD" and
 * "resume <seq>" with the next sequence number (one past the largest found).
 * Loop: for seq = resume, resume + 1, ...: name = p<seq % 8>, print "write <name> <seq>",
 * open with O_CREAT | O_TRUNC, write the content in two parts, close, print
 * "closed <name> <crc>" (CRC-32 of the whole file, as zlib.crc32) and wait until the console
 * has sent it, so at most the write after the last reported one is in flight at any time;
 * until LOOP_WRITES files have been written in this boot; then "PASS".
 *
 * Content of seq: 4 bytes seq, then 8 + (seq * 37) % 40 payload bytes x_k >> 24 with
 * x_0 = seq * 2654435761 + 1, x_{k+1} = x_k * 1103515245 + 12345 (mod 2^32).
 * The payload stays under littlefs's inline limit, so files live in the metadata pairs.
 */
#include <string.h>
#include "drv_test.h"

#define RING 4u
#define MAX_FILE 64u
#define LOOP_WRITES 400u

static uint32_t content(uint32_t seq, uint8_t *out)
{
    uint32_t n = 8u + (seq * 37u) % 40u, x = seq * 2654435761u + 1u;
    out[0] = (uint8_t)seq;
    out[1] = (uint8_t)(seq >> 8);
    out[2] = (uint8_t)(seq >> 16);
    out[3] = (uint8_t)(seq >> 24);
    for (uint32_t k = 0; k < n; k++) {
        out[4u + k] = (uint8_t)(x >> 24);
        x = x * 1103515245u + 12345u;
    }
    return 4u + n;
}

static void name_of(char *path, uint32_t k)
{
    memcpy(path, "/nor/p", 6);
    path[6] = (char)('0' + k);
    path[7] = '\0';
}

static uint32_t check_ring(void)
{
    uint8_t got[MAX_FILE + 1], want[MAX_FILE];
    char path[8];
    uint32_t next = 0;
    for (uint32_t k = 0; k < RING; k++) {
        name_of(path, k);
        int fd = ms_io_open(path, O_RDONLY, 0);
        if (fd == MS_ERR_NOENT)
            continue;
        CHECK(fd >= 0, "open %s %d", path, fd);
        int n = ms_io_read(fd, got, sizeof got);
        ms_io_close(fd);
        CHECK(n >= 0, "read %s %d", path, n);
        if (n == 0) {
            ms_printk("check %s empty\n", path + 5);
            continue;
        }
        uint32_t seq = n >= 4 ? got[0] | got[1] << 8 | (uint32_t)got[2] << 16 | (uint32_t)got[3] << 24 : 0;
        uint32_t len = content(seq, want);
        int ok = n >= 4 && (uint32_t)n == len && memcmp(got, want, len) == 0 && seq % RING == k;
        ms_printk("check %s %u %s\n", path + 5, (unsigned)seq, ok ? "ok" : "BAD");
        if (ok && seq + 1u > next)
            next = seq + 1u;
    }
    return next;
}

static void body(void *arg)
{
    (void)arg;
    uint8_t buf[MAX_FILE];
    char path[8];
    drv_storage_init(0);
    int m = drv_lfs_mount();
    ms_printk("lfs mount: %s\n", m == 1 ? "formatted" : "ok");
    uint32_t seq = check_ring();
    ms_printk("resume %u\n", (unsigned)seq);
    for (uint32_t i = 0; i < LOOP_WRITES; i++, seq++) {
        uint32_t k = seq % RING;
        name_of(path, k);
        uint32_t len = content(seq, buf);
        ms_printk("write %s %u\n", path + 5, (unsigned)seq);
        int fd = ms_io_open(path, O_WRONLY | O_CREAT | O_TRUNC, 0);
        CHECK(fd >= 0, "open %s %d", path, fd);
        int r = ms_io_write(fd, buf, 10);
        CHECK(r == 10, "write %s %d", path, r);
        r = ms_io_write(fd, buf + 10, len - 10u);
        CHECK(r == (int)(len - 10u), "write %s %d", path, r);
        r = ms_io_close(fd);
        CHECK(r == 0, "close %s %d", path, r);
        ms_printk("closed %s %08x\n", path + 5, (unsigned)drv_crc32(0, buf, len));
        drv_console_drain();   /* the line is out before the next write starts */
    }
    drv_pass();
}

int main(void) { drv_test_run("drv_lfs_powercut", body, 3072); }
