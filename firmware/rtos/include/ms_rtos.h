/*
 * metersim RTOS: the kernel API of the management-unit platform (threads,
 * processes as resource groups, semaphores, mutexes with priority
 * inheritance, event flags, message queues, soft timers, an IO system with
 * device nodes and mount points, named pipes and shared memory).
 *
 * Conventions: every call returns an int; >= 0 is success (a handle, a count
 * or a file descriptor), < 0 one of the MS_ERR_* codes. Timeouts are in ticks
 * (MS_TICK_HZ per second), MS_NO_WAIT or MS_WAIT_FOREVER. The same calls work
 * from kernel threads (privileged, direct calls) and from process threads
 * (unprivileged; each call enters the kernel through SVC).
 */
#ifndef MS_RTOS_H
#define MS_RTOS_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include "ms_config.h"

typedef int ms_handle_t;
typedef uint32_t ms_tick_t;

#define MS_WAIT_FOREVER 0xFFFFFFFFu
#define MS_NO_WAIT 0u

/* ---- error codes ------------------------------------------------------- */
#define MS_OK 0
#define MS_OWNER_DIED 1       /* mutex taken, but its last owner was killed holding it */
#define MS_ERR_PERM (-1)      /* the process lacks the permission */
#define MS_ERR_NOENT (-2)     /* no such path / name */
#define MS_ERR_SRCH (-3)      /* no such thread or process */
#define MS_ERR_IO (-5)
#define MS_ERR_BADF (-9)      /* bad file descriptor */
#define MS_ERR_AGAIN (-11)    /* would block (MS_NO_WAIT, O_NONBLOCK) */
#define MS_ERR_NOMEM (-12)    /* heap or memory limit exhausted */
#define MS_ERR_FAULT (-14)    /* bad address */
#define MS_ERR_BUSY (-16)
#define MS_ERR_EXIST (-17)
#define MS_ERR_NODEV (-19)
#define MS_ERR_INVAL (-22)
#define MS_ERR_NOSPC (-28)
#define MS_ERR_PIPE (-32)
#define MS_ERR_NOSYS (-38)
#define MS_ERR_LIMIT (-40)    /* per-process limit (threads, objects, files) */
#define MS_ERR_HANDLE (-41)   /* stale or foreign handle */
#define MS_ERR_ISR (-42)      /* not allowed in an interrupt handler */
#define MS_ERR_DEADLK (-45)
#define MS_ERR_TIMEOUT (-110)
#define MS_ERR_DELETED (-111) /* the object was deleted while waiting */

const char *ms_strerror(int err);

/* ---- kernel start-up --------------------------------------------------- */
/* pool: memory for thread stacks, process heaps and IPC buffers. */
void ms_rtos_init(uint32_t core_hz, void *pool, size_t pool_size);
__attribute__((noreturn)) void ms_rtos_start(void);
ms_tick_t ms_tick_get(void);
uint32_t ms_ms_to_ticks(uint32_t ms);

/* ---- threads ----------------------------------------------------------- */
typedef void (*ms_thread_entry_t)(void *arg);
#define MS_THREAD_SLICE_DEFAULT 0u
/* Ready at once / created suspended (start it with ms_thread_resume). */
ms_handle_t ms_thread_create(const char *name, ms_thread_entry_t entry, void *arg,
                             uint32_t stack_size, unsigned prio, ms_tick_t slice);
ms_handle_t ms_thread_init(const char *name, ms_thread_entry_t entry, void *arg,
                           uint32_t stack_size, unsigned prio, ms_tick_t slice);
ms_handle_t ms_thread_self(void);
int ms_thread_kill(ms_handle_t tid);
__attribute__((noreturn)) void ms_thread_exit(void);
int ms_thread_suspend(ms_handle_t tid);
int ms_thread_resume(ms_handle_t tid);
int ms_thread_yield(void);
int ms_thread_sleep(ms_tick_t ticks);
int ms_thread_sleep_ms(uint32_t ms);
int ms_thread_set_prio(ms_handle_t tid, unsigned prio);
int ms_thread_get_prio(ms_handle_t tid);   /* effective (possibly inherited) */

/* ---- processes --------------------------------------------------------- */
typedef struct {
    uint32_t start, size;
} ms_addr_range_t;

#define MS_PERM_PRIV (1u << 0)     /* privileged calls: devices, mounts, processes, timers */
#define MS_PERM_EEPROM_RD (1u << 1)
#define MS_PERM_EEPROM_WR (1u << 2)

typedef struct {
    const char *name;
    ms_thread_entry_t entry;
    void *arg;
    uint8_t prio;          /* main thread priority (and the best the process may use) */
    uint8_t mem_order;     /* heap = 2^mem_order KiB (stacks come from it too) */
    uint16_t stack_size;   /* main thread stack */
    uint8_t max_threads;
    uint8_t max_kobjs;     /* semaphores, mutexes, events, queues, timers */
    uint8_t max_files;
    uint32_t perms;        /* MS_PERM_* */
    ms_addr_range_t eeprom[MS_EEPROM_RANGES];
    /* A fixed RAM window (separately linked images, see ms_loader): its base, aligned to its
     * size (a power of two >= 4 KiB), and the bytes at its start the image's .data/.bss use;
     * the rest is the process heap. mem_base 0: a window of 2^mem_order KiB from the pool
     * (at least MS_MPU_MIN_WINDOW and aligned to its size when the MPU isolates processes). */
    uint32_t mem_base, mem_size, mem_static;
} ms_process_desc_t;

ms_handle_t ms_process_create(const ms_process_desc_t *desc);
ms_handle_t ms_process_self(void);          /* 0 for kernel threads */
int ms_process_kill(ms_handle_t pid);
__attribute__((noreturn)) void ms_process_exit(int code);
ms_handle_t ms_process_find(const char *name);
/* For drivers: may the calling process access EEPROM [addr, addr+len)? */
int ms_process_check_eeprom(uint32_t addr, uint32_t len, int write);
/* Process heap (kernel threads: the memory pool). */
void *ms_malloc(size_t size);
int ms_free(void *ptr);

/* Processes for `ps`: memory window and use, limits and current counts. */
typedef struct {
    char name[MS_NAME_MAX];
    ms_handle_t pid;
    uint32_t mem_base, mem_size, mem_used;  /* window; used = static data + heap in use */
    uint32_t perms;
    uint8_t prio, isolated;
    uint8_t nthreads, max_threads, nkobjs, max_kobjs, nfiles, max_files;
} ms_proc_info_t;
int ms_proc_list(ms_proc_info_t *out, int max);
/* Whether the MPU isolates processes: on wherever the core has one (ms_rtos_init
 * says so on the console); off on the STM32F103, which has none. */
int ms_isolation_enabled(void);

/* ---- kernel event log (faults, refused images, ...) --------------------- */
#define MS_EV_FAULT 1           /* a = faulting address (or 0), b = pc, code = exception number;
                                 * code 0: stack overflow, a = sp */
#define MS_EV_IMAGE_REFUSED 2   /* code = MS_IMG_* check that failed, a = image address */
#define MS_EV_PROCESS_START 3   /* a = window base, b = window size */
typedef struct {
    uint32_t seq;                /* 1, 2, ...: older records are overwritten */
    ms_tick_t tick;
    uint16_t kind, code;
    uint32_t a, b;
    char name[MS_NAME_MAX];      /* process or image */
} ms_evlog_rec_t;
/* Records still held, oldest first; returns how many were copied. */
int ms_evlog_read(ms_evlog_rec_t *out, int max);
const char *ms_evlog_kind_name(int kind);

/* ---- synchronisation --------------------------------------------------- */
ms_handle_t ms_sem_create(const char *name, unsigned init, unsigned max);
int ms_sem_wait(ms_handle_t sem, ms_tick_t timeout);
int ms_sem_post(ms_handle_t sem);           /* also from interrupt handlers */

ms_handle_t ms_mutex_create(const char *name);
int ms_mutex_lock(ms_handle_t mutex, ms_tick_t timeout);  /* recursive for the owner */
int ms_mutex_unlock(ms_handle_t mutex);

#define MS_EVENT_ANY 0u
#define MS_EVENT_ALL 1u
#define MS_EVENT_CLEAR 2u           /* consume the matched flags */
ms_handle_t ms_event_create(const char *name, uint32_t init);
int ms_event_wait(ms_handle_t ev, uint32_t mask, unsigned opt, ms_tick_t timeout,
                  uint32_t *got);
int ms_event_set(ms_handle_t ev, uint32_t flags);
int ms_event_clear(ms_handle_t ev, uint32_t flags);

ms_handle_t ms_mq_create(const char *name, uint32_t msg_size, uint32_t count);
int ms_mq_send(ms_handle_t mq, const void *msg, ms_tick_t timeout);
int ms_mq_recv(ms_handle_t mq, void *msg, ms_tick_t timeout);

typedef void (*ms_timer_fn_t)(void *arg);
ms_handle_t ms_timer_create(const char *name, ms_timer_fn_t fn, void *arg);
int ms_timer_start(ms_handle_t timer, ms_tick_t delay, ms_tick_t period); /* period 0: one-shot */
int ms_timer_stop(ms_handle_t timer);

int ms_object_delete(ms_handle_t h);        /* any semaphore/mutex/event/queue/timer */

/* ---- IO system --------------------------------------------------------- */
#define O_ACCMODE 3
#define O_RDONLY 0
#define O_WRONLY 1
#define O_RDWR 2
#define O_CREAT 0x0040
#define O_EXCL 0x0080
#define O_TRUNC 0x0200
#define O_APPEND 0x0400
#define O_NONBLOCK 0x0800

#define MS_POLLIN 0x1
#define MS_POLLOUT 0x4
#define MS_POLLERR 0x8
#define MS_POLLHUP 0x10

typedef struct ms_file ms_file_t;
struct ms_file {
    const struct ms_io_node *node;
    void *priv;            /* per-open state of the driver or file system */
    uint32_t pos;
    uint16_t flags;
    uint8_t owner;         /* process slot + 1, 0 = kernel */
    uint8_t used;
};

typedef struct {
    int (*open)(void *ctx, ms_file_t *f, int flags);
    int (*close)(void *ctx, ms_file_t *f);
    int (*read)(void *ctx, ms_file_t *f, void *buf, size_t len);
    int (*write)(void *ctx, ms_file_t *f, const void *buf, size_t len);
    int (*ioctl)(void *ctx, ms_file_t *f, int cmd, void *arg);
    int (*poll)(void *ctx, ms_file_t *f, int events);   /* ready events now */
} ms_io_dev_ops_t;

typedef struct {
    int (*open)(void *ctx, ms_file_t *f, const char *rel_path, int flags, int mode);
    int (*close)(void *ctx, ms_file_t *f);
    int (*read)(void *ctx, ms_file_t *f, void *buf, size_t len);
    int (*write)(void *ctx, ms_file_t *f, const void *buf, size_t len);
    int (*ioctl)(void *ctx, ms_file_t *f, int cmd, void *arg);
    int (*unlink)(void *ctx, const char *rel_path);
    int (*mkdir)(void *ctx, const char *rel_path, int mode);
} ms_io_fs_ops_t;

int ms_io_device_register(const char *path, const ms_io_dev_ops_t *ops, void *ctx);
int ms_io_device_unregister(const char *path);
int ms_io_mount(const char *path, const ms_io_fs_ops_t *ops, void *ctx);
int ms_io_unmount(const char *path);

int ms_io_open(const char *path, int flags, int mode);
int ms_io_creat(const char *path, int mode);
int ms_io_close(int fd);
int ms_io_read(int fd, void *buf, size_t len);
int ms_io_write(int fd, const void *buf, size_t len);
int ms_io_ioctl(int fd, int cmd, void *arg);
int ms_io_unlink(const char *path);
int ms_io_mkdir(const char *path, int mode);

typedef uint32_t ms_fdset_t;                /* bit n = descriptor n (n < 32) */
#define MS_FD_SET(fd, set) (*(set) |= 1u << (fd))
#define MS_FD_ISSET(fd, set) ((*(set) >> (fd)) & 1u)
/* Waits until a descriptor in rd is readable or in wr writable; rewrites the
 * sets to the ready ones and returns how many are ready (0 on timeout). */
int ms_io_select(int nfds, ms_fdset_t *rd, ms_fdset_t *wr, ms_tick_t timeout);

/* Drivers: wake threads blocked in ms_io_select (call when readiness changes;
 * safe in interrupt handlers). */
void ms_io_poll_notify(void);

/* ---- IPC devices ------------------------------------------------------- */
int ms_pipe_dev_create(const char *path, uint32_t size);
/* Shared memory: the creating process (or the kernel) owns it and may read and write it; any
 * other process only as the owner grants (MS_IOCTL_SHM_GRANT). A grant maps the region into
 * the grantee through the MPU (read-only or read/write); file reads and writes follow the
 * same rights (MS_ERR_PERM). The address is no secret: without a grant, touching the region
 * is a MemManage fault that ends the process. */
int ms_shm_dev_create(const char *path, uint32_t size);
#define MS_IOCTL_FIONREAD 0x541B            /* int *: bytes readable now */
#define MS_IOCTL_SHM_GET_ADDR 0x5301        /* void **: the shared region (mapped when allowed) */
#define MS_IOCTL_SHM_GET_SIZE 0x5302        /* uint32_t * */
#define MS_IOCTL_SHM_GRANT 0x5303           /* const ms_shm_grant_t *: owner only */
#define MS_IOCTL_SHM_ACCESS 0x5304          /* uint32_t *: the caller's MS_SHM_* rights */
#define MS_SHM_READ 1u
#define MS_SHM_WRITE 2u
#define MS_SHM_GRANTS 6u                    /* grants per shared memory */
typedef struct {
    ms_handle_t pid;                        /* the process let in */
    uint32_t access;                        /* MS_SHM_READ | MS_SHM_WRITE; 0 takes it back */
} ms_shm_grant_t;

/* ---- diagnostics ------------------------------------------------------- */
typedef struct {
    uint32_t total, free, min_free;  /* bytes */
    uint32_t used_blocks, free_blocks, largest_free;
} ms_heap_stats_t;
int ms_kheap_stats(ms_heap_stats_t *kernel, ms_heap_stats_t *pool);

#define MS_STATE_READY 0
#define MS_STATE_RUNNING 1
#define MS_STATE_BLOCKED 2
#define MS_STATE_SLEEPING 3
#define MS_STATE_SUSPENDED 4
#define MS_STATE_DEAD 5
typedef struct {
    char name[MS_NAME_MAX];
    char process[MS_NAME_MAX];
    ms_handle_t tid;
    uint8_t prio, base_prio, state, privileged;
    uint32_t stack_size, stack_used;  /* bytes; used = high-water mark */
} ms_thread_info_t;
int ms_ps(ms_thread_info_t *out, int max);
const char *ms_state_name(int state);

/* Console: the BSP provides ms_kputc (a weak default discards output). */
void ms_kputc(char c);
void ms_kputs(const char *s);
int ms_kwrite(const void *buf, size_t len);   /* one atomic console write */
int ms_printk(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* printf subset into buf (always terminated); the length it wanted, like vsnprintf. */
int ms_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int ms_snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
__attribute__((noreturn, format(printf, 1, 2))) void ms_panic(const char *fmt, ...);

#endif
