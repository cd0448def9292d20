/*
 * What device drivers (BSP, devices) use besides ms_rtos.h: the kernel lock
 * and wait queues, so a driver's read can block until its interrupt handler
 * has data, plus ms_io_poll_notify() for select.
 *
 *   uint32_t s = ms_irq_lock();
 *   while (!data_ready(dev)) {
 *       int r = ms_waitq_block(&dev->rx_wq, timeout, s);   // unlocks, sleeps
 *       if (r < 0) return r;                               // MS_ERR_TIMEOUT ...
 *       s = ms_irq_lock();
 *   }
 *   ... ms_irq_unlock(s);
 * and in the interrupt handler: ms_waitq_wake_all(&dev->rx_wq, 0); ms_io_poll_notify();
 */
#ifndef MS_DRIVER_H
#define MS_DRIVER_H

#include "ms_rtos.h"

struct ms_thread;
typedef struct {
    struct ms_thread *head;   /* most urgent waiter first, FIFO among equals */
} ms_waitq_t;

static inline uint32_t ms_irq_lock(void)
{
    uint32_t s;
    __asm__ volatile("mrs %0, primask\n\tcpsid i" : "=r"(s)::"memory");
    return s;
}
static inline void ms_irq_unlock(uint32_t s) { __asm__ volatile("msr primask, %0" ::"r"(s) : "memory"); }

static inline void ms_waitq_init(ms_waitq_t *wq) { wq->head = 0; }
/* Call with the lock held (s from ms_irq_lock); returns with it released.
 * Result: what the waker passed, MS_ERR_TIMEOUT, or MS_ERR_AGAIN for MS_NO_WAIT. */
int ms_waitq_block(ms_waitq_t *wq, ms_tick_t timeout, uint32_t s);
int ms_waitq_wake_one(ms_waitq_t *wq, int result);   /* 1 if a thread was woken */
int ms_waitq_wake_all(ms_waitq_t *wq, int result);   /* number woken */
/* Memory for driver buffers from the kernel's memory pool. */
void *ms_pool_alloc(size_t size);
void ms_pool_free(void *ptr);
/* User pointers in a driver's ioctl: MS_OK when the calling process may read (write = 0)
 * or write [ptr, ptr+len), else MS_ERR_FAULT (always MS_OK for kernel threads and without
 * MPU isolation). */
int ms_uaccess(const void *ptr, size_t len, int write);
/* A record in the kernel event log (MS_EV_*; kernel modules such as the loader). */
void ms_evlog_add(int kind, int code, const char *name, uint32_t a, uint32_t b);

#endif
