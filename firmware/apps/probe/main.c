/*
 * App "probe": what an unprivileged app may and may not do. Its start parameters allow
 * 2 threads, 2 kernel objects and 1 open file. It prints "probe: <what> -> <result>" for
 *   - a second thread (ok) and a third (MS_ERR_LIMIT), a third kernel object (MS_ERR_LIMIT),
 *     a second open file (MS_ERR_LIMIT);
 *   - system calls handed pointers that are not its own: kernel RAM to write into (a queue
 *     message, thread records) or to read from (the console), and another app's window
 *     (MS_ERR_FAULT each, and nothing lands there);
 * then the message it tried to have written into the kernel is still in its queue, and it
 * prints "probe: alive <n>" every 500 ms.
 */
#include <string.h>
#include "app.h"

#define KERNEL_RAM ((void *)0x20000100u)     /* the kernel's data (docs/meter_flash_layout.md) */
#define COUNTER_WINDOW ((void *)0x20020000u) /* app "counter"'s window */
static const char k_pattern[16] = "PROBE-PATTERN-1";

static void worker(void *arg)
{
    (void)arg;
    for (;;)
        ms_thread_sleep(MS_WAIT_FOREVER);
}

static void report(const char *what, int r) { ms_printk("probe: %s -> %d\n", what, r); }

int main(void)
{
    report("thread 2", ms_thread_create("worker", worker, 0, 512, 30, 0) > 0 ? 0 : -999);
    report("thread 3", ms_thread_create("worker2", worker, 0, 512, 30, 0));
    ms_handle_t mq = ms_mq_create("mq", sizeof k_pattern, 2);
    report("kobj 1", mq > 0 ? 0 : mq);
    report("kobj 2", ms_sem_create("s", 0, 1) > 0 ? 0 : -999);
    report("kobj 3", ms_sem_create("s2", 0, 1));
    int fd = ms_io_open("/dev/ttyS1", O_WRONLY, 0);
    report("file 1", fd >= 0 ? 0 : fd);
    report("file 2", ms_io_open("/dev/ttyS1", O_WRONLY, 0));

    ms_mq_send(mq, k_pattern, MS_NO_WAIT);
    report("mq_recv into kernel ram", ms_mq_recv(mq, KERNEL_RAM, MS_NO_WAIT));
    report("mq_recv into counter", ms_mq_recv(mq, COUNTER_WINDOW, MS_NO_WAIT));
    report("ps into kernel ram", ms_ps(KERNEL_RAM, 4));
    report("kwrite from kernel ram", ms_kwrite(KERNEL_RAM, 32));
    report("kwrite from counter", ms_kwrite(COUNTER_WINDOW, 4));
    report("write from kernel ram", ms_io_write(fd, KERNEL_RAM, 16));
    char back[sizeof k_pattern] = {0};
    int r = ms_mq_recv(mq, back, MS_NO_WAIT);
    report("message kept", r == MS_OK && memcmp(back, k_pattern, sizeof back) == 0 ? 0 : -999);
    for (unsigned n = 1;; n++) {
        ms_thread_sleep_ms(500);
        ms_printk("probe: alive %u\n", n);
    }
}
