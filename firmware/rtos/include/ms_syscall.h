/*
 * The system-call ABI between unprivileged code and the kernel: a process
 * thread executes `svc #0` with the call number in r12 and up to four
 * arguments in r0-r3; the result comes back in r0. Kernel-image code reaches
 * it through the public API (ms_rtos.h, MS_SYSCALL in ms_kernel.h); separately
 * linked apps through their own stubs (firmware/apps/common). The numbers are
 * an ABI: append, never reorder.
 */
#ifndef MS_SYSCALL_H
#define MS_SYSCALL_H

#include "ms_rtos.h"

enum {
    SYS_THREAD_CREATE, SYS_THREAD_SELF, SYS_THREAD_KILL, SYS_THREAD_EXIT, SYS_THREAD_SUSPEND,
    SYS_THREAD_RESUME, SYS_THREAD_YIELD, SYS_THREAD_SLEEP, SYS_THREAD_SET_PRIO, SYS_THREAD_GET_PRIO,
    SYS_PROCESS_CREATE, SYS_PROCESS_SELF, SYS_PROCESS_KILL, SYS_PROCESS_EXIT, SYS_PROCESS_FIND,
    SYS_MALLOC, SYS_FREE,
    SYS_SEM_CREATE, SYS_SEM_WAIT, SYS_SEM_POST, SYS_MUTEX_CREATE, SYS_MUTEX_LOCK, SYS_MUTEX_UNLOCK,
    SYS_EVENT_CREATE, SYS_EVENT_WAIT, SYS_EVENT_SET, SYS_EVENT_CLEAR,
    SYS_MQ_CREATE, SYS_MQ_SEND, SYS_MQ_RECV, SYS_TIMER_CREATE, SYS_TIMER_START, SYS_TIMER_STOP,
    SYS_OBJECT_DELETE,
    SYS_IO_DEV_REGISTER, SYS_IO_DEV_UNREGISTER, SYS_IO_MOUNT, SYS_IO_UNMOUNT,
    SYS_IO_OPEN, SYS_IO_CLOSE, SYS_IO_READ, SYS_IO_WRITE, SYS_IO_IOCTL, SYS_IO_UNLINK, SYS_IO_MKDIR,
    SYS_IO_SELECT, SYS_PIPE_CREATE, SYS_SHM_CREATE,
    SYS_KWRITE, SYS_PS, SYS_KHEAP_STATS, SYS_TICK_GET, SYS_CHECK_EEPROM,
    SYS_PROC_LIST, SYS_EVLOG_READ,
    SYS_COUNT
};

/* One system call: svc #0 with the number in r12, arguments in r0-r3, result in r0. */
static inline uint32_t ms_svc_call(uint32_t nr, uint32_t a, uint32_t b, uint32_t c, uint32_t d)
{
    register uint32_t r0 __asm__("r0") = a;
    register uint32_t r1 __asm__("r1") = b;
    register uint32_t r2 __asm__("r2") = c;
    register uint32_t r3 __asm__("r3") = d;
    register uint32_t r12 __asm__("r12") = nr;
    __asm__ volatile("svc #0" : "+r"(r0), "+r"(r1), "+r"(r2), "+r"(r3), "+r"(r12) : : "memory");
    return r0;
}

/* SYS_THREAD_CREATE's argument. */
typedef struct {
    const char *name;
    ms_thread_entry_t entry;
    void *arg;
    uint32_t stack_size;
    unsigned prio;
    ms_tick_t slice;
    int start;
} ms_thread_attr_t;

#endif
