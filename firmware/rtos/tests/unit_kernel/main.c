/*
 * On-target unit tests of the kernel's objects through its API (mstest), run
 * from a kernel thread of the live kernel: semaphores, mutexes, event flags,
 * message queues, timers, pipes and shared memory, handles after deletion.
 * One result line per case on the console.
 */
#include "mstest.h"
#include "mstest_rtos.h"
#include "rtos_test.h"

MSTEST(sem, counts_up_to_max_and_times_out)
{
    ms_handle_t s = ms_sem_create("s", 1, 2);
    MST_GT(s, 0);
    MST_EQ(ms_sem_wait(s, MS_NO_WAIT), MS_OK);
    MST_EQ(ms_sem_wait(s, MS_NO_WAIT), MS_ERR_AGAIN);
    ms_tick_t t0 = ms_tick_get();
    MST_EQ(ms_sem_wait(s, 5), MS_ERR_TIMEOUT);
    MST_GE(ms_tick_get() - t0, 5);                          /* waited the whole timeout */
    MST_EQ(ms_sem_post(s), MS_OK);
    MST_EQ(ms_sem_post(s), MS_OK);
    MST_NE(ms_sem_post(s), MS_OK);                          /* beyond max */
    MST_EQ(ms_object_delete(s), MS_OK);
}

MSTEST(mutex, recursive_for_its_owner)
{
    ms_handle_t m = ms_mutex_create("m");
    MST_GT(m, 0);
    MST_EQ(ms_mutex_lock(m, MS_NO_WAIT), MS_OK);
    MST_EQ(ms_mutex_lock(m, MS_NO_WAIT), MS_OK);
    MST_EQ(ms_mutex_unlock(m), MS_OK);
    MST_EQ(ms_mutex_unlock(m), MS_OK);
    MST_NE(ms_mutex_unlock(m), MS_OK);                      /* not held any more */
    MST_EQ(ms_object_delete(m), MS_OK);
}

MSTEST(event, any_all_and_clear)
{
    uint32_t got = 0;
    ms_handle_t e = ms_event_create("e", 0x1);
    MST_GT(e, 0);
    MST_EQ(ms_event_wait(e, 0x3, MS_EVENT_ALL, MS_NO_WAIT, &got), MS_ERR_AGAIN);
    MST_EQ(ms_event_wait(e, 0x3, MS_EVENT_ANY, MS_NO_WAIT, &got), MS_OK);
    MST_EQ(got & 0x3, 0x1);
    MST_EQ(ms_event_set(e, 0x2), MS_OK);
    MST_EQ(ms_event_wait(e, 0x3, MS_EVENT_ALL | MS_EVENT_CLEAR, MS_NO_WAIT, &got), MS_OK);
    MST_EQ(ms_event_wait(e, 0x3, MS_EVENT_ANY, MS_NO_WAIT, &got), MS_ERR_AGAIN);  /* consumed */
    MST_EQ(ms_object_delete(e), MS_OK);
}

MSTEST(mq, fifo_and_full)
{
    uint32_t v;
    ms_handle_t q = ms_mq_create("q", sizeof v, 2);
    MST_GT(q, 0);
    v = 11; MST_EQ(ms_mq_send(q, &v, MS_NO_WAIT), MS_OK);
    v = 22; MST_EQ(ms_mq_send(q, &v, MS_NO_WAIT), MS_OK);
    v = 33; MST_EQ(ms_mq_send(q, &v, MS_NO_WAIT), MS_ERR_AGAIN);
    MST_EQ(ms_mq_recv(q, &v, MS_NO_WAIT), MS_OK);
    MST_EQ(v, 11);
    MST_EQ(ms_mq_recv(q, &v, MS_NO_WAIT), MS_OK);
    MST_EQ(v, 22);
    MST_EQ(ms_mq_recv(q, &v, MS_NO_WAIT), MS_ERR_AGAIN);
    MST_EQ(ms_object_delete(q), MS_OK);
}

static volatile unsigned g_fired;
static void on_timer(void *arg) { (void)arg; g_fired++; }

MSTEST(timer, periodic_fires_each_period_until_stopped)
{
    g_fired = 0;
    ms_handle_t t = ms_timer_create("t", on_timer, 0);
    MST_GT(t, 0);
    MST_EQ(ms_timer_start(t, 10, 10), MS_OK);
    ms_thread_sleep(35);
    MST_EQ(g_fired, 3);                                     /* at 10, 20 and 30 ticks */
    MST_EQ(ms_timer_stop(t), MS_OK);
    ms_thread_sleep(20);
    MST_EQ(g_fired, 3);
    MST_EQ(ms_object_delete(t), MS_OK);
}

MSTEST(pipe, bytes_through_a_named_pipe)
{
    char out[8];
    int n = 0;
    MST_EQ(ms_pipe_dev_create("/dev/ut_pipe", 16), MS_OK);
    int w = ms_io_open("/dev/ut_pipe", O_WRONLY, 0), r = ms_io_open("/dev/ut_pipe", O_RDONLY | O_NONBLOCK, 0);
    MST_GE(w, 0);
    MST_GE(r, 0);
    MST_EQ(ms_io_write(w, "meter", 5), 5);
    MST_EQ(ms_io_ioctl(r, MS_IOCTL_FIONREAD, &n), MS_OK);
    MST_EQ(n, 5);
    MST_EQ(ms_io_read(r, out, sizeof out), 5);
    MST_MEM_EQ(out, "meter", 5);
    MST_EQ(ms_io_read(r, out, sizeof out), MS_ERR_AGAIN);  /* empty, non-blocking */
    MST_EQ(ms_io_close(w), MS_OK);
    MST_EQ(ms_io_close(r), MS_OK);
    MST_EQ(ms_io_close(r), MS_ERR_BADF);
}

static int ut_read(void *ctx, ms_file_t *f, void *buf, size_t len)
{
    (void)ctx; (void)f; (void)buf;
    return (int)len;
}
static int ut_poll(void *ctx, ms_file_t *f, int events)
{
    (void)ctx; (void)f;
    return events & MS_POLLIN;
}

/* select() sets are 32 bits: a pollable file gets the lowest descriptor (and none at 32 or
 * above), a device without poll (opened for one transfer) the highest, so those never take a
 * descriptor a select() would need. */
MSTEST(io, pollable_files_low_one_transfer_devices_high)
{
    static const ms_io_dev_ops_t plain = {.read = ut_read}, polled = {.read = ut_read, .poll = ut_poll};
    int fds[MS_MAX_FILES], n = 0, fd;
    MST_EQ(ms_io_device_register("/dev/ut_plain", &plain, 0), MS_OK);
    MST_EQ(ms_io_device_register("/dev/ut_polled", &polled, 0), MS_OK);
    int top = ms_io_open("/dev/ut_plain", O_RDONLY, 0);
    MST_EQ(top, (int)MS_MAX_FILES - 1);
    while ((fd = ms_io_open("/dev/ut_polled", O_RDONLY, 0)) >= 0) {
        MST_LT(fd, 32);
        fds[n++] = fd;
    }
    MST_EQ(fd, MS_ERR_LIMIT);
    MST_GE(n, 1);
    MST_EQ(ms_io_close(top), MS_OK);
    while (n)
        MST_EQ(ms_io_close(fds[--n]), MS_OK);
}

/* A thread in select() (priority 3, below the cases' thread) runs one select per post of
 * g_sel_go on the sets in g_sel_want_*, leaving what it returned in g_sel_*. */
static ms_handle_t g_sel_go;
static ms_fdset_t g_sel_want_rd, g_sel_want_wr;
static volatile int g_sel_n;
static volatile ms_fdset_t g_sel_rd, g_sel_wr;
static volatile int g_flag_ready;

static void selector(void *arg)
{
    (void)arg;
    while (ms_sem_wait(g_sel_go, MS_WAIT_FOREVER) == MS_OK) {
        ms_fdset_t rd = g_sel_want_rd, wr = g_sel_want_wr;
        int n = ms_io_select(MS_MAX_FILES < 32u ? (int)MS_MAX_FILES : 32, &rd, &wr, 300);
        g_sel_rd = rd;
        g_sel_wr = wr;
        g_sel_n = n;
    }
}

/* Starts one select and lets the selector block in it. */
static void select_in_thread(ms_fdset_t rd, ms_fdset_t wr)
{
    g_sel_n = -100;
    g_sel_want_rd = rd;
    g_sel_want_wr = wr;
    ms_sem_post(g_sel_go);
    ms_thread_sleep(2);
}

static int flag_poll(void *ctx, ms_file_t *f, int events)
{
    (void)ctx; (void)f;
    return g_flag_ready ? events & MS_POLLIN : 0;
}

/* A select() sleeps through readiness changes of descriptors it does not watch, returns when
 * one of its own becomes ready (a pipe written or read, a driver's general notify) and then
 * reports every ready descriptor of its sets, not only the one that woke it. */
MSTEST(io, select_wakes_for_its_own_descriptors_and_reports_all_ready)
{
    static const ms_io_dev_ops_t flag_ops = {.read = ut_read, .poll = flag_poll};
    char buf[16];
    g_flag_ready = 0;
    MST_EQ(ms_pipe_dev_create("/dev/ut_pa", 16), MS_OK);
    MST_EQ(ms_pipe_dev_create("/dev/ut_pb", 16), MS_OK);
    MST_EQ(ms_io_device_register("/dev/ut_flag", &flag_ops, 0), MS_OK);
    int ra = ms_io_open("/dev/ut_pa", O_RDONLY | O_NONBLOCK, 0);
    int wb = ms_io_open("/dev/ut_pb", O_WRONLY, 0);
    int flag = ms_io_open("/dev/ut_flag", O_RDONLY, 0);
    int rb = ms_io_open("/dev/ut_pb", O_RDONLY | O_NONBLOCK, 0);
    int wa = ms_io_open("/dev/ut_pa", O_WRONLY | O_NONBLOCK, 0);
    MST_GE(ra, 0); MST_GE(wb, 0); MST_GE(flag, 0); MST_GE(rb, 0); MST_GE(wa, 0);
    g_sel_go = ms_sem_create("sel_go", 0, 1);
    MST_GT(g_sel_go, 0);
    MST_GT(ms_thread_create("selector", selector, 0, 768, 3, 0), 0);

    /* watching pipe a and the flag device: pipe b's data does not end it, the flag does */
    select_in_thread((1u << ra) | (1u << flag), 0);
    MST_EQ(ms_io_write(wb, "b", 1), 1);
    ms_thread_sleep(2);
    MST_EQ(g_sel_n, -100);
    g_flag_ready = 1;
    ms_io_poll_notify();
    ms_thread_sleep(2);
    MST_EQ(g_sel_n, 1);
    MST_EQ(g_sel_rd, 1u << flag);
    g_flag_ready = 0;
    MST_EQ(ms_io_read(rb, buf, sizeof buf), 1);

    /* both pipes written before it runs: both reported */
    select_in_thread((1u << ra) | (1u << rb), 0);
    MST_EQ(ms_io_write(wa, "a", 1), 1);
    MST_EQ(ms_io_write(wb, "b", 1), 1);
    ms_thread_sleep(2);
    MST_EQ(g_sel_n, 2);
    MST_EQ(g_sel_rd, (1u << ra) | (1u << rb));
    MST_EQ(ms_io_read(ra, buf, sizeof buf), 1);
    MST_EQ(ms_io_read(rb, buf, sizeof buf), 1);

    /* writable: a full pipe becomes writable when its reader takes a byte */
    MST_EQ(ms_io_write(wa, "0123456789abcdef", 16), 16);
    select_in_thread(1u << rb, 1u << wa);
    MST_EQ(g_sel_n, -100);
    MST_EQ(ms_io_read(ra, buf, 1), 1);
    ms_thread_sleep(2);
    MST_EQ(g_sel_n, 1);
    MST_EQ(g_sel_rd, 0u);
    MST_EQ(g_sel_wr, 1u << wa);

    MST_EQ(ms_object_delete(g_sel_go), MS_OK);               /* the selector ends */
    MST_EQ(ms_io_close(ra), MS_OK); MST_EQ(ms_io_close(wa), MS_OK);
    MST_EQ(ms_io_close(rb), MS_OK); MST_EQ(ms_io_close(wb), MS_OK);
    MST_EQ(ms_io_close(flag), MS_OK);
    MST_EQ(ms_io_device_unregister("/dev/ut_pa"), MS_OK);
    MST_EQ(ms_io_device_unregister("/dev/ut_pb"), MS_OK);
    MST_EQ(ms_io_device_unregister("/dev/ut_flag"), MS_OK);
}

MSTEST(handle, stale_after_delete)
{
    ms_handle_t s = ms_sem_create("gone", 0, 1);
    MST_GT(s, 0);
    MST_EQ(ms_object_delete(s), MS_OK);
    MST_EQ(ms_sem_post(s), MS_ERR_HANDLE);
    MST_EQ(ms_object_delete(s), MS_ERR_HANDLE);
}

int main(void) { mstest_rtos_main("unit_kernel"); }
