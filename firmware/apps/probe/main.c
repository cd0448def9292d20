/*
 * App "probe": what an unprivileged app may and may not do. Its start parameters allow
 * 2 threads, 2 kernel objects and 1 open file. It prints "probe: <what> -> <result>" for
 *   - a second thread (ok) and a third (MS_ERR_LIMIT), a third kernel object (MS_ERR_LIMIT),
 *     a second open file (MS_ERR_LIMIT);
 *   - system calls handed pointers that are not its own: kernel RAM to write into (a queue
 *     message, thread records) or to read from (the console), and another app's window
 *     (MS_ERR_FAULT each, and nothing lands there);
 *   - killing or suspending a kernel thread (its handle from ms_ps): MS_ERR_SRCH;
 *   - a heap block header of its own forged to link into kernel RAM (its heap lies in its
 *     window, headers included): the kernel's allocator stops there (malloc returns NULL);
 * then the message it tried to have written into the kernel is still in its queue, and it
 * prints "probe: alive <n>" every 500 ms.
 */
#include <string.h>
#include "app.h"

#define KERNEL_RAM ((void *)0x20000100u)     /* the kernel's data (docs/meter_flash_layout.md) */
#define COUNTER_WINDOW ((void *)0x20020000u) /* app "counter"'s window */
static const char k_pattern[16] = "PROBE-PATTERN-1";

extern uint32_t __bss_end[];   /* where the kernel starts the app's heap (ms_loader.h) */

/* Rewrites the first free block's header (size, tag, next_free) so that the free list runs
 * into kernel RAM, asks for memory, and puts the header back: the result of the request. */
static int malloc_through_forged_link(void)
{
    uint32_t *b = __bss_end;
    for (int n = 0; b[1] != 0 && n < 64; n++)   /* tag 0: free */
        b = (uint32_t *)((char *)b + b[0]);
    uint32_t size = b[0], next = b[2];
    b[0] = 16u;                                /* too small for the request: follow the link */
    b[2] = (uint32_t)(uintptr_t)KERNEL_RAM;
    void *m = ms_malloc(64);
    b[0] = size;
    b[2] = next;
    return m ? 0 : MS_ERR_NOMEM;
}

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
    ms_thread_info_t ps[8];
    int n = ms_ps(ps, 8);
    ms_handle_t timer = 0;
    for (int i = 0; i < n; i++)
        if (strcmp(ps[i].name, "timer") == 0 && strcmp(ps[i].process, "kernel") == 0)
            timer = ps[i].tid;
    report("kill kernel thread", timer ? ms_thread_kill(timer) : -999);
    report("suspend kernel thread", timer ? ms_thread_suspend(timer) : -999);
    report("malloc through a forged heap link", malloc_through_forged_link());
    void *m = ms_malloc(64);
    report("malloc after the header is back", m ? 0 : MS_ERR_NOMEM);
    ms_free(m);
    for (unsigned n = 1;; n++) {
        ms_thread_sleep_ms(500);
        ms_printk("probe: alive %u\n", n);
    }
}
