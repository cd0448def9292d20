/* Kernel internals shared by the kernel's source files (not an API). */
#ifndef MS_KERNEL_H
#define MS_KERNEL_H

#include "ms_rtos.h"
#include "ms_driver.h"
#include "ms_bitmap.h"
#include "ms_heap.h"
#include "ms_tlist.h"
#include "ms_syscall.h"

#define MS_CONTAINER_OF(p, type, member) ((type *)(void *)((char *)(p) - __builtin_offsetof(type, member)))
#define MS_MAX_PROCS 6u
#define MS_STACK_FILL 0xA5A5A5A5u
#define MS_STACK_CANARY 0x5AFE57ACu

typedef struct ms_process ms_process_t;
struct ms_mutex;

typedef struct ms_thread {
    uint32_t sp;                  /* saved PSP */
    uint32_t *stack_base;         /* lowest word: the canary */
    uint32_t stack_size;
    struct ms_thread *rq_next, *rq_prev;   /* ready queue (circular) */
    struct ms_thread *wq_next;    /* wait queue */
    ms_waitq_t *wq;               /* queue the thread waits on */
    ms_tnode_t tnode;             /* timeout / sleep deadline */
    ms_process_t *proc;           /* 0 = kernel thread */
    struct ms_mutex *held;        /* mutexes owned */
    struct ms_mutex *wait_mutex;  /* mutex being waited for (priority inheritance) */
    struct ms_thread *all_next;   /* every live thread (ps) / zombie list */
    uint32_t sys_pc, sys_lr;      /* caller context during a syscall (no kernel stack) */
    uint32_t *kstack;             /* isolated process threads: the stack their system calls
                                   * run on, in kernel memory (MS_KSTACK_SIZE bytes) */
    uint32_t *sys_frame;          /* during a system call on kstack: the caller's frame */
    uint32_t sys_exc_return;      /* ... and the EXC_RETURN that returns to it */
    uint32_t wait_arg, wait_arg2;
    int wait_result;
    ms_tick_t slice, slice_left;
    ms_handle_t handle;
    uint8_t prio, base_prio, state, npriv, in_syscall, suspend_req;
    char name[MS_NAME_MAX];
} ms_thread_t;

struct ms_process {
    const ms_process_desc_t *desc; /* = &desc_copy: the creator's descriptor, copied */
    ms_process_desc_t desc_copy;
    char name[MS_NAME_MAX];
    ms_heap_t heap;
    void *mem;                    /* the window's block in the pool (0: a fixed window) */
    uint32_t win_base, win_size;  /* the RAM window (one MPU region when isolated) */
    ms_addr_range_t maps[MS_MPU_MAPS]; /* shared memories mapped into it */
    uint8_t nmaps;
    uint8_t maps_ro;              /* bit i: maps[i] is read-only */
    ms_handle_t handle;
    uint8_t slot;                 /* 1..MS_MAX_PROCS */
    uint8_t nthreads, nkobjs, nfiles;
    uint8_t nrefs;                /* threads not yet reaped (their stacks are in the heap) */
    uint8_t dying, cleaned;
    int exit_code;
};

/* Kernel object table: handles = generation << 8 | index. */
enum { MS_KOBJ_FREE, MS_KOBJ_THREAD, MS_KOBJ_PROCESS, MS_KOBJ_SEM, MS_KOBJ_MUTEX,
       MS_KOBJ_EVENT, MS_KOBJ_MQ, MS_KOBJ_TIMER };

extern ms_thread_t *volatile ms_current;
extern volatile ms_tick_t ms_ticks;
/* The tick count now: ms_ticks, brought up to date first while the tickless
 * idle's armed wrap is pending (read the tick through this, not ms_ticks). */
ms_tick_t ms_tick_now(void);
extern ms_heap_t ms_kheap, ms_pool;
extern ms_process_t *ms_procs[MS_MAX_PROCS];

static inline uint32_t ms_lock(void) { return ms_irq_lock(); }
static inline void ms_unlock(uint32_t s) { ms_irq_unlock(s); }
static inline __attribute__((always_inline)) int ms_in_isr(void)
{
    uint32_t v;
    __asm__ volatile("mrs %0, ipsr" : "=r"(v));
    return v != 0;
}
static inline __attribute__((always_inline)) int ms_user_mode(void)
{
    uint32_t c, i;
    __asm__ volatile("mrs %0, control\n\tmrs %1, ipsr" : "=r"(c), "=r"(i));
    return (c & 1u) && !i;
}

/* scheduler (lock held) */
void ms_ready(ms_thread_t *t);
void ms_unready(ms_thread_t *t);
void ms_reschedule(void);
void ms_wake(ms_thread_t *t, int result);
void ms_set_eff_prio(ms_thread_t *t, unsigned prio);
int ms_block_current(ms_waitq_t *wq, ms_tick_t timeout, uint32_t s, int state);
void ms_waitq_remove(ms_thread_t *t);
ms_process_t *ms_cur_proc(void);
ms_tick_t ms_remaining(ms_tick_t deadline, ms_tick_t timeout);

/* objects */
ms_handle_t ms_kobj_alloc(int type, void *ptr, ms_process_t *owner);
void *ms_kobj_get(ms_handle_t h, int type);
void ms_kobj_release(ms_handle_t h);
void *ms_kobj_zalloc(size_t size);
void ms_kobj_mfree(void *p);
void ms_kobj_destroy_all(ms_process_t *p);
void ms_sync_object_delete(int type, void *obj);
void ms_mutex_release_all(ms_thread_t *t);
void ms_mutex_waiter_left(struct ms_mutex *m);   /* a waiter timed out or was killed */
int ms_mutex_waiter_prio(const ms_thread_t *t, unsigned base);
void ms_timer_init(void);
void ms_timer_delete(void *timer);
void ms_io_init(void);
void ms_console_init(void);
void ms_console_flush_isr(void);
int ms_event_wait_packed(const uint32_t *args);   /* SYS_EVENT_WAIT: arguments packed */

/* processes / io */
void ms_io_close_all(ms_process_t *p);
struct ms_io_node;
void ms_io_poll_notify_node(const struct ms_io_node *n); /* only node n's readiness changed */
void ms_shm_process_gone(ms_handle_t pid);   /* pid's grants on every shared memory end */
void ms_ipc_device_removed(const void *ops, void *ctx);  /* a pipe's buffer is freed */
void ms_process_thread_gone(ms_process_t *p);
void ms_kill_thread_locked(ms_thread_t *t);
ms_handle_t ms_process_spawn_main(ms_process_t *p);
void ms_process_kill_threads(ms_process_t *p);
void ms_process_fault_kill(ms_process_t *p);

/* MPU isolation (ms_mpu.c) */
void ms_mpu_init(void);
void ms_mpu_switch(const ms_process_t *p);     /* PendSV: map p's window (p != 0) */
void ms_mpu_forget(const ms_process_t *p);     /* p's record is about to be freed */
int ms_mpu_map(ms_process_t *p, uint32_t base, uint32_t size, int writable); /* a shared memory */
void ms_mpu_unmap(ms_process_t *p, uint32_t base);
uint32_t ms_mpu_window_size(uint32_t bytes);   /* power of two >= MS_MPU_MIN_WINDOW */
uint32_t ms_mpu_region_size(uint32_t bytes);   /* power of two >= 32 */
int ms_ustr(const char *s);                    /* a NUL-terminated string the caller may read */
int ms_uaccess_proc(const ms_process_t *p, const void *ptr, size_t len, int write);
int ms_ustr_proc(const ms_process_t *p, const char *s);
void *ms_pool_alloc_aligned(size_t size);      /* size a power of two, aligned to it */


/* entered from ms_port.S: PendSV (switch), SVC and fault handlers, the syscall return */
uint32_t ms_switch(uint32_t sp);
uint32_t ms_svc_c(uint32_t *frame, uint32_t exc_return);   /* returns the EXC_RETURN to use */
void ms_fault_c(uint32_t *frame, uint32_t exc_return);
void ms_syscall_tramp(void);

/* system calls: a public call made in unprivileged thread mode enters here */
uint32_t ms_svc(uint32_t nr, uint32_t a, uint32_t b, uint32_t c, uint32_t d);
#define MS_SYSCALL(type, nr, a, b, c, d) \
    do { if (ms_user_mode()) return (type)ms_svc((nr), (uint32_t)(a), (uint32_t)(b), (uint32_t)(c), (uint32_t)(d)); } while (0)


#endif
