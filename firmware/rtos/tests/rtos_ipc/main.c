/*
 * Pipes, select and shared memory between two processes.
 * The kernel creates /dev/pipe0 (prod -> cons), /dev/pipe1 (cons -> prod) and
 * /dev/shm0, then starts processes "prod" and "cons" (unprivileged threads).
 * - both print "<name> control nPRIV=1" (they run unprivileged);
 * - prod writes "msg k" every 10 ticks and prints "prod sent msg k";
 *   cons waits in select (timeout 500 ticks) and prints "cons got msg k";
 * - prod selects on /dev/pipe1 with a 20-tick timeout while nothing comes:
 *   "prod select timeout 0 after N ticks";
 * - the kernel owns /dev/shm0 and grants prod read/write, cons read only: prod fills it
 *   through its address; cons reads it with ms_io_read: "cons shm 'hello from prod'",
 *   and may not write it (MS_ERR_PERM);
 * - cons answers "ack" on pipe1: "prod got ack".
 */
#include <string.h>
#include "rtos_test.h"

/* The processes get the kernel's "done" semaphore as their argument: with the
 * MPU they cannot read the kernel's variables. */
static void prod_main(void *arg)
{
    ms_printk("prod control nPRIV=%u\n", (unsigned)(cm_get_control() & 1u));
    int w = ms_io_open("/dev/pipe0", O_WRONLY, 0);
    int r = ms_io_open("/dev/pipe1", O_RDONLY, 0);
    int shm = ms_io_open("/dev/shm0", O_RDWR, 0);
    if (w < 0 || r < 0 || shm < 0)
        rtos_fail("prod open %d %d %d", w, r, shm);
    ms_fdset_t rd = 0;
    MS_FD_SET(r, &rd);
    ms_tick_t t0 = ms_tick_get();
    int n = ms_io_select(r + 1, &rd, 0, 20);
    ms_printk("prod select timeout %d after %u ticks\n", n, (unsigned)(ms_tick_get() - t0));
    char *mem = 0;
    if (ms_io_ioctl(shm, MS_IOCTL_SHM_GET_ADDR, &mem) != MS_OK || !mem)
        rtos_fail("shm map");
    strcpy(mem, "hello from prod");
    for (unsigned k = 1; k <= 5; k++) {
        char msg[8] = "msg 0";
        msg[4] = (char)('0' + k);
        ms_thread_sleep(10);
        ms_printk("prod sent %s\n", msg);
        if (ms_io_write(w, msg, 6) != 6)
            rtos_fail("prod write");
    }
    rd = 0;
    MS_FD_SET(r, &rd);
    n = ms_io_select(r + 1, &rd, 0, 500);
    char ack[8] = {0};
    if (n != 1 || !MS_FD_ISSET(r, &rd) || ms_io_read(r, ack, sizeof ack) != 4)
        rtos_fail("prod ack select %d", n);
    ms_printk("prod got %s\n", ack);
    ms_sem_post((ms_handle_t)(uintptr_t)arg);
}

static void cons_main(void *arg)
{
    ms_printk("cons control nPRIV=%u\n", (unsigned)(cm_get_control() & 1u));
    int r = ms_io_open("/dev/pipe0", O_RDONLY, 0);
    int w = ms_io_open("/dev/pipe1", O_WRONLY, 0);
    int shm = ms_io_open("/dev/shm0", O_RDWR, 0);      /* the grant, not the flags, decides */
    if (r < 0 || w < 0 || shm < 0)
        rtos_fail("cons open %d %d %d", r, w, shm);
    for (unsigned k = 1; k <= 5;) {
        ms_fdset_t rd = 0;
        MS_FD_SET(r, &rd);
        int n = ms_io_select(r + 1, &rd, 0, 500);
        if (n != 1 || !MS_FD_ISSET(r, &rd))
            rtos_fail("cons select %d", n);
        char buf[6];
        if (ms_io_read(r, buf, sizeof buf) != 6)
            rtos_fail("cons read");
        ms_printk("cons got %s\n", buf);
        k++;
    }
    char text[32] = {0};
    ms_io_read(shm, text, 15);
    ms_printk("cons shm '%s'\n", text);
    if (ms_io_write(shm, "x", 1) != MS_ERR_PERM)
        rtos_fail("cons wrote a shared memory granted read-only");
    if (ms_io_write(w, "ack", 4) != 4)
        rtos_fail("cons write");
    ms_sem_post((ms_handle_t)(uintptr_t)arg);
}

static ms_process_desc_t prod = {
    .name = "prod", .entry = prod_main, .prio = 20, .mem_order = 2, .stack_size = 1024,
    .max_threads = 2, .max_kobjs = 4, .max_files = 4,
};
static ms_process_desc_t cons = {
    .name = "cons", .entry = cons_main, .prio = 20, .mem_order = 2, .stack_size = 1024,
    .max_threads = 2, .max_kobjs = 4, .max_files = 4,
};

static void body(void *arg)
{
    (void)arg;
    ms_handle_t done = ms_sem_create("done", 0, 2);
    prod.arg = cons.arg = (void *)(uintptr_t)done;
    CHECK(ms_pipe_dev_create("/dev/pipe0", 64) == MS_OK, "pipe0");
    CHECK(ms_pipe_dev_create("/dev/pipe1", 64) == MS_OK, "pipe1");
    CHECK(ms_shm_dev_create("/dev/shm0", 128) == MS_OK, "shm0");
    CHECK(ms_pipe_dev_create("/dev/pipe0", 64) == MS_ERR_EXIST, "duplicate pipe accepted");
    ms_handle_t pc = ms_process_create(&cons), pp = ms_process_create(&prod);
    CHECK(pc > 0 && pp > 0, "create cons and prod");
    int shm = ms_io_open("/dev/shm0", O_RDWR, 0);     /* they start once this thread waits */
    ms_shm_grant_t rw = {pp, MS_SHM_READ | MS_SHM_WRITE}, ro = {pc, MS_SHM_READ};
    CHECK(ms_io_ioctl(shm, MS_IOCTL_SHM_GRANT, &rw) == MS_OK &&
          ms_io_ioctl(shm, MS_IOCTL_SHM_GRANT, &ro) == MS_OK, "shm grants");
    for (int i = 0; i < 2; i++)
        CHECK(ms_sem_wait(done, 2000) == MS_OK, "processes did not finish");
    ms_thread_sleep(5);
    CHECK(ms_process_find("prod") == MS_ERR_NOENT, "prod still listed after exit");
    rtos_pass();
}

int main(void) { rtos_test_run("rtos_ipc", body, 2); }
