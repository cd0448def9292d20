/*
 * The kernel API for separately linked apps: each call is `svc #0` with its number
 * (rtos/include/ms_syscall.h) in r12, the way kernel-image code enters the kernel from
 * unprivileged mode (MS_SYSCALL). The kernel checks every pointer against the caller's
 * window; a bad one gives MS_ERR_FAULT.
 */
#include "app.h"
#include "ms_syscall.h"

#define sys ms_svc_call
#define P(x) ((uint32_t)(uintptr_t)(x))

int ms_kwrite(const void *buf, size_t len) { return (int)sys(SYS_KWRITE, P(buf), len, 0, 0); }

ms_handle_t ms_thread_create(const char *name, ms_thread_entry_t entry, void *arg,
                             uint32_t stack_size, unsigned prio, ms_tick_t slice)
{
    ms_thread_attr_t a = {name, entry, arg, stack_size, prio, slice, 1};
    return (ms_handle_t)sys(SYS_THREAD_CREATE, P(&a), 0, 0, 0);
}

int ms_thread_sleep(ms_tick_t ticks) { return (int)sys(SYS_THREAD_SLEEP, ticks, 0, 0, 0); }
/* The kernel's conversion, without its 64-bit division (a library call of some 40 instructions,
 * made for every wait an app's module sets up) when the tick is a whole number of kHz: the
 * result, ms x ticks per ms, is the same to the bit, wrapping included. */
uint32_t ms_ms_to_ticks(uint32_t ms)
{
#if MS_TICK_HZ % 1000u == 0
    return ms * (MS_TICK_HZ / 1000u);
#else
    return (uint32_t)(((uint64_t)ms * MS_TICK_HZ + 999u) / 1000u);
#endif
}
int ms_thread_sleep_ms(uint32_t ms) { return ms_thread_sleep(ms_ms_to_ticks(ms)); }
ms_tick_t ms_tick_get(void) { return sys(SYS_TICK_GET, 0, 0, 0, 0); }
ms_handle_t ms_process_self(void) { return (ms_handle_t)sys(SYS_PROCESS_SELF, 0, 0, 0, 0); }

void ms_process_exit(int code)
{
    sys(SYS_PROCESS_EXIT, (uint32_t)code, 0, 0, 0);
    for (;;)
        ;
}

ms_handle_t ms_sem_create(const char *name, unsigned init, unsigned max)
{
    return (ms_handle_t)sys(SYS_SEM_CREATE, P(name), init, max, 0);
}
ms_handle_t ms_mq_create(const char *name, uint32_t msg_size, uint32_t count)
{
    return (ms_handle_t)sys(SYS_MQ_CREATE, P(name), msg_size, count, 0);
}
int ms_mq_send(ms_handle_t mq, const void *msg, ms_tick_t timeout)
{
    return (int)sys(SYS_MQ_SEND, (uint32_t)mq, P(msg), timeout, 0);
}
int ms_mq_recv(ms_handle_t mq, void *msg, ms_tick_t timeout)
{
    return (int)sys(SYS_MQ_RECV, (uint32_t)mq, P(msg), timeout, 0);
}
int ms_io_open(const char *path, int flags, int mode) { return (int)sys(SYS_IO_OPEN, P(path), (uint32_t)flags, (uint32_t)mode, 0); }
int ms_io_close(int fd) { return (int)sys(SYS_IO_CLOSE, (uint32_t)fd, 0, 0, 0); }
int ms_io_read(int fd, void *buf, size_t len) { return (int)sys(SYS_IO_READ, (uint32_t)fd, P(buf), len, 0); }
int ms_io_write(int fd, const void *buf, size_t len) { return (int)sys(SYS_IO_WRITE, (uint32_t)fd, P(buf), len, 0); }
int ms_io_mkdir(const char *path, int mode) { return (int)sys(SYS_IO_MKDIR, P(path), (uint32_t)mode, 0, 0); }
void *ms_malloc(size_t size) { return (void *)(uintptr_t)sys(SYS_MALLOC, size, 0, 0, 0); }
int ms_free(void *ptr) { return (int)sys(SYS_FREE, P(ptr), 0, 0, 0); }
int ms_thread_kill(ms_handle_t tid) { return (int)sys(SYS_THREAD_KILL, (uint32_t)tid, 0, 0, 0); }
int ms_thread_suspend(ms_handle_t tid) { return (int)sys(SYS_THREAD_SUSPEND, (uint32_t)tid, 0, 0, 0); }
int ms_ps(ms_thread_info_t *out, int max) { return (int)sys(SYS_PS, P(out), (uint32_t)max, 0, 0); }
int ms_io_ioctl(int fd, int cmd, void *arg) { return (int)sys(SYS_IO_IOCTL, (uint32_t)fd, (uint32_t)cmd, P(arg), 0); }
int ms_io_select(int nfds, ms_fdset_t *rd, ms_fdset_t *wr, ms_tick_t timeout)
{
    return (int)sys(SYS_IO_SELECT, (uint32_t)nfds, P(rd), P(wr), timeout);
}
ms_handle_t ms_thread_self(void) { return (ms_handle_t)sys(SYS_THREAD_SELF, 0, 0, 0, 0); }
ms_handle_t ms_mutex_create(const char *name) { return (ms_handle_t)sys(SYS_MUTEX_CREATE, P(name), 0, 0, 0); }
int ms_mutex_lock(ms_handle_t m, ms_tick_t timeout) { return (int)sys(SYS_MUTEX_LOCK, (uint32_t)m, timeout, 0, 0); }
int ms_mutex_unlock(ms_handle_t m) { return (int)sys(SYS_MUTEX_UNLOCK, (uint32_t)m, 0, 0, 0); }
