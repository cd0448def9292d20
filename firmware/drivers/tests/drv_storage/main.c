/*
 * drv_storage: EEPROM and raw NOR round trips through the RTOS IO system.
 *
 *  1. /dev/eeprom: 100 bytes written at 0x1F0 (across the 64-byte pages at 0x200 and 0x240,
 *     so three page writes), read back through a new descriptor after DRV_IOCTL_SEEK;
 *  2. a process allowed EEPROM [0x100, 0x200) read+write: reads/writes inside succeed, a read
 *     crossing 0x200 and a write at 0x300 get MS_ERR_PERM (-1), a process without EEPROM
 *     permission gets -1 for any read;
 *  3. /dev/nor0 (raw sectors after the littlefs area): erase the first sector with
 *     DRV_IOCTL_ERASE, program 600 bytes at 0x80 (three page programs), read them back, and
 *     show that programming over programmed bytes ANDs them (NOR) until the next erase.
 * Lines: "eeprom write 100 at 0x1f0 pages <n> polls <m>", "eeprom readback ok crc <x>",
 * "proc <name> <op> <addr> -> <result>", "nor0 write 600 at 0x80 programs <n>",
 * "nor0 readback ok crc <x>", "nor0 and 0x<byte>", then PASS.
 */
#include <string.h>
#include "drv_test.h"

static uint8_t g_buf[600], g_back[600];

static void fill(uint8_t *b, unsigned n, unsigned seed)
{
    for (unsigned i = 0; i < n; i++)
        b[i] = (uint8_t)(seed + i * 13u + (i >> 3));
}

static int seek(int fd, int32_t off)
{
    drv_seek_t s = {off, DRV_SEEK_SET, -1};
    int r = ms_io_ioctl(fd, DRV_IOCTL_SEEK, &s);
    return r < 0 ? r : s.result;
}

static void eeprom_round_trip(void)
{
    fill(g_buf, 100, 0x41);
    int fd = ms_io_open("/dev/eeprom", O_RDWR, 0);
    CHECK(fd >= 0, "open /dev/eeprom %d", fd);
    drv_stat_t st;
    CHECK(ms_io_ioctl(fd, DRV_IOCTL_STAT, &st) == 0 && st.size == 32768u && st.block_size == 64u,
          "eeprom stat");
    CHECK(seek(fd, 0x1F0) == 0x1F0, "eeprom seek");
    uint32_t pages0 = g_eeprom.page_writes, polls0 = g_eeprom.ack_polls;
    int r = ms_io_write(fd, g_buf, 100);
    CHECK(r == 100, "eeprom write %d", r);
    ms_printk("eeprom write 100 at 0x1f0 pages %u polls %u\n",
              (unsigned)(g_eeprom.page_writes - pages0), (unsigned)(g_eeprom.ack_polls - polls0));
    CHECK(ms_io_close(fd) == 0, "eeprom close");
    fd = ms_io_open("/dev/eeprom", O_RDONLY, 0);
    CHECK(seek(fd, 0x1F0) == 0x1F0, "eeprom seek 2");
    memset(g_back, 0, 100);
    r = ms_io_read(fd, g_back, 100);
    CHECK(r == 100 && memcmp(g_buf, g_back, 100) == 0, "eeprom readback %d", r);
    CHECK(ms_io_write(fd, g_buf, 1) == MS_ERR_BADF, "write on a read-only descriptor");
    ms_io_close(fd);
    ms_printk("eeprom readback ok crc %08x\n", (unsigned)drv_crc32(0, g_back, 100));
}

/* ---- processes with and without EEPROM ranges ---- */
static int proc_op(const char *who, const char *op, uint32_t addr, uint32_t len)
{
    uint8_t b[16];
    int fd = ms_io_open("/dev/eeprom", O_RDWR, 0);
    if (fd < 0)
        return fd;
    drv_seek_t s = {(int32_t)addr, DRV_SEEK_SET, 0};
    int r = ms_io_ioctl(fd, DRV_IOCTL_SEEK, &s);
    if (r == 0) {
        if (op[0] == 'r') {
            r = ms_io_read(fd, b, len);
        } else {
            memset(b, 0x5A, sizeof b);
            r = ms_io_write(fd, b, len);
        }
    }
    ms_io_close(fd);
    ms_printk("proc %s %s 0x%x -> %d\n", who, op, (unsigned)addr, r);
    return r;
}

/* The processes get the "done" semaphore as their argument: with the MPU they cannot read
 * the kernel's variables. */
static void app_main(void *arg)
{
    proc_op("app", "read", 0x100, 16);
    proc_op("app", "write", 0x180, 16);
    proc_op("app", "read", 0x1F8, 16);    /* crosses the end of the window */
    proc_op("app", "write", 0x300, 16);
    ms_sem_post((ms_handle_t)(uintptr_t)arg);
}

static void guest_main(void *arg)
{
    proc_op("guest", "read", 0x100, 16);
    ms_sem_post((ms_handle_t)(uintptr_t)arg);
}

static ms_process_desc_t g_app = {
    .name = "app", .entry = app_main, .prio = 20, .mem_order = 1, .stack_size = 768,
    .max_threads = 1, .max_kobjs = 2, .max_files = 2,
    .perms = MS_PERM_EEPROM_RD | MS_PERM_EEPROM_WR,
    .eeprom = {{0x100, 0x100}, {0, 0}},
};
static ms_process_desc_t g_guest = {
    .name = "guest", .entry = guest_main, .prio = 20, .mem_order = 1, .stack_size = 768,
    .max_threads = 1, .max_kobjs = 2, .max_files = 2, .perms = 0,
};

static void processes(void)
{
    ms_handle_t done = ms_sem_create("done", 0, 2);
    g_app.arg = g_guest.arg = (void *)(uintptr_t)done;
    CHECK(ms_process_create(&g_app) >= 0, "app process");
    CHECK(ms_sem_wait(done, ms_ms_to_ticks(2000)) == 0, "app process did not finish");
    CHECK(ms_process_create(&g_guest) >= 0, "guest process");
    CHECK(ms_sem_wait(done, ms_ms_to_ticks(2000)) == 0, "guest process did not finish");
    ms_thread_sleep(5);                      /* let idle reap them */
}

static void nor_round_trip(void)
{
    fill(g_buf, 600, 0x90);
    int fd = ms_io_open("/dev/nor0", O_RDWR, 0);
    CHECK(fd >= 0, "open /dev/nor0 %d", fd);
    drv_stat_t st;
    CHECK(ms_io_ioctl(fd, DRV_IOCTL_STAT, &st) == 0 && st.size == STORAGE_RAW_SIZE &&
          st.block_size == W25Q_SECTOR_SIZE, "nor0 stat");
    uint32_t sector = 0;
    uint32_t erases0 = g_nor.erases;
    int r = ms_io_ioctl(fd, DRV_IOCTL_ERASE, &sector);
    CHECK(r == 0 && g_nor.erases == erases0 + 1u, "nor0 erase %d", r);
    uint32_t bad = 3;
    CHECK(ms_io_ioctl(fd, DRV_IOCTL_ERASE, &bad) == MS_ERR_INVAL, "unaligned erase accepted");
    CHECK(seek(fd, 0x80) == 0x80, "nor0 seek");
    uint32_t prog0 = g_nor.programs;
    r = ms_io_write(fd, g_buf, 600);
    CHECK(r == 600, "nor0 write %d", r);
    ms_printk("nor0 write 600 at 0x80 programs %u\n", (unsigned)(g_nor.programs - prog0));
    CHECK(seek(fd, 0x80) == 0x80, "nor0 seek 2");
    r = ms_io_read(fd, g_back, 600);
    CHECK(r == 600 && memcmp(g_buf, g_back, 600) == 0, "nor0 readback %d", r);
    ms_printk("nor0 readback ok crc %08x\n", (unsigned)drv_crc32(0, g_back, 600));
    /* NOR: a second program without erase can only clear bits. */
    uint8_t a = 0xF0, b = 0x3C, got = 0;
    CHECK(seek(fd, 0x1000 - 1) == 0xFFF, "nor0 seek 3");
    CHECK(ms_io_write(fd, &a, 1) == 1, "program a");
    CHECK(seek(fd, 0xFFF) == 0xFFF && ms_io_write(fd, &b, 1) == 1, "program b");
    CHECK(seek(fd, 0xFFF) == 0xFFF && ms_io_read(fd, &got, 1) == 1, "read and");
    ms_printk("nor0 and 0x%02x\n", got);
    ms_io_close(fd);
}

static void body(void *arg)
{
    (void)arg;
    drv_storage_init(1);
    eeprom_round_trip();
    processes();
    nor_round_trip();
    drv_pass();
}

int main(void) { drv_test_run("drv_storage", body, 2048); }
