/*
 * Semaphores (counting, direct hand-off to the most urgent waiter), mutexes
 * (recursive, priority inheritance: an owner runs at the priority of its most
 * urgent waiter, transitively along a chain of owners), event flags (any/all,
 * optional consume) and message queues (fixed-size messages, FIFO), all with
 * tick timeouts.
 */
#include <string.h>
#include "ms_kernel.h"
#include "ms_ring.h"
#include "soc.h"

typedef struct {
    ms_waitq_t wq;
    uint32_t count, max;
} ms_sem_t;

struct ms_mutex {
    ms_waitq_t wq;
    ms_thread_t *owner;
    uint32_t depth;
    struct ms_mutex *next_held;
    uint8_t owner_died;      /* last owner killed holding it, no waiter told yet */
};
typedef struct ms_mutex ms_mutex_t;

typedef struct {
    ms_waitq_t wq;
    uint32_t flags;
} ms_event_t;

typedef struct {
    ms_waitq_t rx_wq, tx_wq;
    ms_msgring_t ring;
    ms_process_t *mem_owner;
} ms_mq_t;

/* Creates a kernel object: process limit, kernel memory, handle. */
static ms_handle_t obj_new(int type, size_t size, void **out)
{
    ms_process_t *p = ms_cur_proc();
    if (p && p->nkobjs >= p->desc->max_kobjs)
        return MS_ERR_LIMIT;
    void *obj = ms_kobj_zalloc(size);
    if (!obj)
        return MS_ERR_NOMEM;
    ms_handle_t h = ms_kobj_alloc(type, obj, p);
    if (h < 0) {
        ms_kobj_mfree(obj);
        return h;
    }
    if (p)
        p->nkobjs++;
    *out = obj;
    return h;
}

/* ---- semaphores --------------------------------------------------------- */

ms_handle_t ms_sem_create(const char *name, unsigned init, unsigned max)
{
    MS_SYSCALL(ms_handle_t, SYS_SEM_CREATE, name, init, max, 0);
    (void)name;
    if (!max || init > max)
        return MS_ERR_INVAL;
    ms_sem_t *sem;
    ms_handle_t h = obj_new(MS_KOBJ_SEM, sizeof *sem, (void **)&sem);
    if (h >= 0) {
        sem->count = init;
        sem->max = max;
    }
    return h;
}

int ms_sem_wait(ms_handle_t h, ms_tick_t timeout)
{
    MS_SYSCALL(int, SYS_SEM_WAIT, h, timeout, 0, 0);
    ms_sem_t *sem = ms_kobj_get(h, MS_KOBJ_SEM);
    if (!sem)
        return MS_ERR_HANDLE;
    uint32_t s = ms_lock();
    if (sem->count) {
        sem->count--;
        ms_unlock(s);
        return MS_OK;
    }
    return ms_waitq_block(&sem->wq, timeout, s); /* a post hands the unit over */
}

int ms_sem_post(ms_handle_t h)
{
    MS_SYSCALL(int, SYS_SEM_POST, h, 0, 0, 0);
    ms_sem_t *sem = ms_kobj_get(h, MS_KOBJ_SEM);
    if (!sem)
        return MS_ERR_HANDLE;
    int r = MS_OK;
    uint32_t s = ms_lock();
    if (sem->wq.head)
        ms_wake(sem->wq.head, MS_OK);
    else if (sem->count < sem->max)
        sem->count++;
    else
        r = MS_ERR_LIMIT;
    ms_unlock(s);
    return r;
}

/* ---- mutexes ------------------------------------------------------------ */

/* Most urgent of base and the waiters of every mutex t holds. */
int ms_mutex_waiter_prio(const ms_thread_t *t, unsigned base)
{
    unsigned p = base;
    for (const ms_mutex_t *m = t->held; m; m = m->next_held)
        if (m->wq.head && m->wq.head->prio < p)
            p = m->wq.head->prio;
    return (int)p;
}

/* A waiter left m (timeout, kill): the owner may drop its inherited priority. */
void ms_mutex_waiter_left(ms_mutex_t *m)
{
    ms_thread_t *o = m->owner;
    if (o)
        ms_set_eff_prio(o, (unsigned)ms_mutex_waiter_prio(o, o->base_prio));
}

/* Passes m on to its most urgent waiter, which gets `result` (MS_OWNER_DIED when
 * `from` was killed holding it: what m guards may be half updated). */
static void mutex_give(ms_mutex_t *m, ms_thread_t *from, int result)
{
    for (ms_mutex_t **link = &from->held; *link; link = &(*link)->next_held) {
        if (*link == m) {
            *link = m->next_held;
            break;
        }
    }
    m->next_held = 0;
    ms_set_eff_prio(from, (unsigned)ms_mutex_waiter_prio(from, from->base_prio));
    ms_thread_t *w = m->wq.head;
    m->owner = w;
    m->depth = w ? 1u : 0u;
    m->owner_died = !w && result == MS_OWNER_DIED;
    if (w) {
        w->wait_mutex = 0;
        m->next_held = w->held;
        w->held = m;
        ms_wake(w, result);
        ms_set_eff_prio(w, (unsigned)ms_mutex_waiter_prio(w, w->prio));
    }
}

/* t is being killed: every mutex it holds goes on, marked owner-died. */
void ms_mutex_release_all(ms_thread_t *t)
{
    while (t->held)
        mutex_give(t->held, t, MS_OWNER_DIED);
}

static int mutex_lock(ms_mutex_t *m, ms_tick_t timeout)
{
    ms_thread_t *me = ms_current;
    if (ms_in_isr() || !me)
        return MS_ERR_ISR;
    uint32_t s = ms_lock();
    if (!m->owner) {
        m->owner = me;
        m->depth = 1;
        m->next_held = me->held;
        me->held = m;
        int r = m->owner_died ? MS_OWNER_DIED : MS_OK;
        m->owner_died = 0;
        ms_unlock(s);
        return r;
    }
    if (m->owner == me) {
        m->depth++;
        ms_unlock(s);
        return MS_OK;
    }
    if (timeout == MS_NO_WAIT) {
        ms_unlock(s);
        return MS_ERR_AGAIN;
    }
    /* Priority inheritance along the chain of owners. */
    ms_thread_t *o = m->owner;
    for (int depth = 0; o && o->prio > me->prio && depth < 8; depth++) {
        ms_set_eff_prio(o, me->prio);
        if (o->state != MS_STATE_BLOCKED || !o->wait_mutex)
            break;
        if (o->wait_mutex->owner == me) {
            ms_unlock(s);
            return MS_ERR_DEADLK;
        }
        o = o->wait_mutex->owner;
    }
    me->wait_mutex = m;
    return ms_waitq_block(&m->wq, timeout, s);
}

static int mutex_unlock(ms_mutex_t *m)
{
    ms_thread_t *me = ms_current;
    if (ms_in_isr() || !me)
        return MS_ERR_ISR;
    uint32_t s = ms_lock();
    if (m->owner != me) {
        ms_unlock(s);
        return MS_ERR_PERM;
    }
    if (--m->depth == 0)
        mutex_give(m, me, MS_OK);
    ms_reschedule();
    ms_unlock(s);
    return MS_OK;
}

ms_handle_t ms_mutex_create(const char *name)
{
    MS_SYSCALL(ms_handle_t, SYS_MUTEX_CREATE, name, 0, 0, 0);
    (void)name;
    ms_mutex_t *m;
    return obj_new(MS_KOBJ_MUTEX, sizeof *m, (void **)&m);
}

int ms_mutex_lock(ms_handle_t h, ms_tick_t timeout)
{
    MS_SYSCALL(int, SYS_MUTEX_LOCK, h, timeout, 0, 0);
    ms_mutex_t *m = ms_kobj_get(h, MS_KOBJ_MUTEX);
    return m ? mutex_lock(m, timeout) : MS_ERR_HANDLE;
}

int ms_mutex_unlock(ms_handle_t h)
{
    MS_SYSCALL(int, SYS_MUTEX_UNLOCK, h, 0, 0, 0);
    ms_mutex_t *m = ms_kobj_get(h, MS_KOBJ_MUTEX);
    return m ? mutex_unlock(m) : MS_ERR_HANDLE;
}

/* The console lock: a mutex that is no kernel object. A thread holding it may be
 * blocked in the console driver mid-line (a full transmit ring), so a line written
 * from an exception handler (a fault report) must not reach the driver then: it
 * would cut that line and take the transmitter from under the blocked writer. It
 * waits here until the holder's write ends (or the holder is killed) and goes out
 * whole, in thread context. */
static ms_mutex_t g_console_mutex;
static char g_console_held[MS_CONSOLE_DEFER_BYTES];
static uint32_t g_console_held_len, g_console_dropped;
static uint8_t g_console_midline;   /* the last character written was no newline */

static void console_put(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        g_console_midline = p[i] != '\n';   /* before: a writer may be killed in ms_kputc */
        ms_kputc(p[i]);
    }
}

static void console_defer(const char *p, size_t len)
{
    uint32_t s = ms_lock();
    for (size_t i = 0; i < len; i++) {
        if (g_console_held_len < sizeof g_console_held)
            g_console_held[g_console_held_len++] = p[i];
        else
            g_console_dropped++;
    }
    ms_unlock(s);
}

/* Writes out the deferred lines, a piece at a time (the lock is not held while
 * writing, so a handler may append meanwhile). */
static void console_flush_deferred(void)
{
    for (int first = 1;; first = 0) {
        char piece[32];
        uint32_t s = ms_lock();
        uint32_t n = g_console_held_len < sizeof piece ? g_console_held_len : (uint32_t)sizeof piece;
        memcpy(piece, g_console_held, n);
        memmove(g_console_held, g_console_held + n, g_console_held_len - n);
        g_console_held_len -= n;
        uint32_t dropped = n ? 0u : g_console_dropped;
        if (!n)
            g_console_dropped = 0;
        ms_unlock(s);
        if (!n) {
            if (dropped) {
                char line[48];
                int k = ms_snprintf(line, sizeof line, "console: %u deferred bytes lost\n", (unsigned)dropped);
                console_put(line, k < (int)sizeof line ? (size_t)k : sizeof line - 1u);
            }
            return;
        }
        if (first && g_console_midline)
            console_put("\n", 1);   /* a killed writer's line stays cut: the report on a line of its own */
        console_put(piece, n);
    }
}

int ms_kwrite(const void *buf, size_t len)
{
    MS_SYSCALL(int, SYS_KWRITE, buf, len, 0, 0);
    const char *p = buf;
    if (!ms_current || ms_in_isr()) {
        uint32_t s = ms_lock();
        int held = g_console_mutex.owner != 0;
        if (held)
            console_defer(p, len);
        ms_unlock(s);
        if (!held)
            console_put(p, len);
        return (int)len;
    }
    int r = mutex_lock(&g_console_mutex, MS_WAIT_FOREVER);
    int locked = r == MS_OK || r == MS_OWNER_DIED;   /* unlocked (a deadlock) it still writes */
    if (r == MS_OWNER_DIED && g_console_midline)
        console_put("\n", 1);      /* the killed writer's line stays cut; this one starts afresh */
    if (locked)
        console_flush_deferred();   /* left by a handler while a killed writer held it */
    console_put(p, len);
    if (locked) {
        console_flush_deferred();
        mutex_unlock(&g_console_mutex);
    }
    return (int)len;
}

/* A handler (the fault handler, after killing a process) deferred a line and the
 * console may be free now: write it out when nobody holds the lock. */
void ms_console_flush_isr(void)
{
    uint32_t s = ms_lock();
    int free_now = g_console_mutex.owner == 0;
    ms_unlock(s);
    if (free_now)
        console_flush_deferred();
}

void ms_console_init(void)
{
    memset(&g_console_mutex, 0, sizeof g_console_mutex);
    g_console_held_len = g_console_dropped = 0;
    g_console_midline = 0;
}

/* ---- event flags -------------------------------------------------------- */

static int event_match(uint32_t flags, uint32_t mask, unsigned opt)
{
    return (opt & MS_EVENT_ALL) ? (flags & mask) == mask : (flags & mask) != 0;
}

ms_handle_t ms_event_create(const char *name, uint32_t init)
{
    MS_SYSCALL(ms_handle_t, SYS_EVENT_CREATE, name, init, 0, 0);
    (void)name;
    ms_event_t *e;
    ms_handle_t h = obj_new(MS_KOBJ_EVENT, sizeof *e, (void **)&e);
    if (h >= 0)
        e->flags = init;
    return h;
}

static int event_wait(ms_handle_t h, uint32_t mask, unsigned opt, ms_tick_t timeout, uint32_t *got)
{
    ms_event_t *e = ms_kobj_get(h, MS_KOBJ_EVENT);
    if (!e)
        return MS_ERR_HANDLE;
    if (!mask)
        return MS_ERR_INVAL;
    uint32_t s = ms_lock();
    if (event_match(e->flags, mask, opt)) {
        uint32_t m = e->flags & mask;
        if (opt & MS_EVENT_CLEAR)
            e->flags &= ~m;
        ms_unlock(s);
        if (got)
            *got = m;
        return MS_OK;
    }
    ms_thread_t *me = ms_current;
    if (me) {
        me->wait_arg = mask;
        me->wait_arg2 = opt;
    }
    int r = ms_waitq_block(&e->wq, timeout, s);
    if (r == MS_OK && got)
        *got = me->wait_arg; /* the setter stored the matched flags */
    return r;
}

int ms_event_wait_packed(const uint32_t *a)
{
    if (ms_uaccess((void *)(uintptr_t)a[4], 4, 1) != MS_OK)
        return MS_ERR_FAULT;
    return event_wait((ms_handle_t)a[0], a[1], a[2], a[3], (uint32_t *)(uintptr_t)a[4]);
}

int ms_event_wait(ms_handle_t h, uint32_t mask, unsigned opt, ms_tick_t timeout, uint32_t *got)
{
    if (ms_user_mode()) {
        uint32_t a[5] = {(uint32_t)h, mask, opt, timeout, (uint32_t)(uintptr_t)got};
        return (int)ms_svc(SYS_EVENT_WAIT, (uint32_t)(uintptr_t)a, 0, 0, 0);
    }
    return event_wait(h, mask, opt, timeout, got);
}

int ms_event_set(ms_handle_t h, uint32_t flags)
{
    MS_SYSCALL(int, SYS_EVENT_SET, h, flags, 0, 0);
    ms_event_t *e = ms_kobj_get(h, MS_KOBJ_EVENT);
    if (!e)
        return MS_ERR_HANDLE;
    uint32_t s = ms_lock();
    e->flags |= flags;
    ms_thread_t *t = e->wq.head;
    while (t) {
        ms_thread_t *next = t->wq_next;
        if (event_match(e->flags, t->wait_arg, t->wait_arg2)) {
            uint32_t m = e->flags & t->wait_arg;
            if (t->wait_arg2 & MS_EVENT_CLEAR)
                e->flags &= ~m;
            t->wait_arg = m;
            ms_wake(t, MS_OK);
        }
        t = next;
    }
    ms_unlock(s);
    return MS_OK;
}

int ms_event_clear(ms_handle_t h, uint32_t flags)
{
    MS_SYSCALL(int, SYS_EVENT_CLEAR, h, flags, 0, 0);
    ms_event_t *e = ms_kobj_get(h, MS_KOBJ_EVENT);
    if (!e)
        return MS_ERR_HANDLE;
    uint32_t s = ms_lock();
    e->flags &= ~flags;
    ms_unlock(s);
    return MS_OK;
}

/* ---- message queues ----------------------------------------------------- */

ms_handle_t ms_mq_create(const char *name, uint32_t msg_size, uint32_t count)
{
    MS_SYSCALL(ms_handle_t, SYS_MQ_CREATE, name, msg_size, count, 0);
    (void)name;
    if (!msg_size || !count || msg_size > 1024u || count > 1024u)
        return MS_ERR_INVAL;
    ms_process_t *p = ms_cur_proc();
    uint32_t s = ms_lock();
    void *buf = ms_heap_alloc(p ? &p->heap : &ms_pool, msg_size * count, 4);
    ms_unlock(s);
    if (!buf)
        return MS_ERR_NOMEM;
    ms_mq_t *q;
    ms_handle_t h = obj_new(MS_KOBJ_MQ, sizeof *q, (void **)&q);
    if (h < 0) {
        s = ms_lock();
        ms_heap_free(p ? &p->heap : &ms_pool, buf);
        ms_unlock(s);
        return h;
    }
    q->mem_owner = p;
    ms_msgring_init(&q->ring, buf, msg_size, count);
    return h;
}

/* Push (send) or pop (receive) one message, waiting on the other side's progress. */
static int mq_transfer(ms_mq_t *q, void *msg, int send, ms_tick_t timeout)
{
    ms_waitq_t *wait = send ? &q->tx_wq : &q->rx_wq, *peer = send ? &q->rx_wq : &q->tx_wq;
    ms_tick_t deadline = ms_tick_now() + timeout;
    for (;;) {
        uint32_t s = ms_lock();
        if ((send ? ms_msgring_push(&q->ring, msg) : ms_msgring_pop(&q->ring, msg)) == 0) {
            if (peer->head)
                ms_wake(peer->head, MS_OK);
            ms_unlock(s);
            return MS_OK;
        }
        int r = ms_waitq_block(wait, ms_remaining(deadline, timeout), s);
        if (r < 0)
            return r == MS_ERR_AGAIN && timeout != MS_NO_WAIT ? MS_ERR_TIMEOUT : r;
    }
}

int ms_mq_send(ms_handle_t h, const void *msg, ms_tick_t timeout)
{
    MS_SYSCALL(int, SYS_MQ_SEND, h, msg, timeout, 0);
    ms_mq_t *q = ms_kobj_get(h, MS_KOBJ_MQ);
    if (!q)
        return MS_ERR_HANDLE;
    if (ms_uaccess(msg, q->ring.msg_size, 0) != MS_OK)
        return MS_ERR_FAULT;
    return mq_transfer(q, (void *)msg, 1, timeout);   /* push only reads the message */
}

int ms_mq_recv(ms_handle_t h, void *msg, ms_tick_t timeout)
{
    MS_SYSCALL(int, SYS_MQ_RECV, h, msg, timeout, 0);
    ms_mq_t *q = ms_kobj_get(h, MS_KOBJ_MQ);
    if (!q)
        return MS_ERR_HANDLE;
    if (ms_uaccess(msg, q->ring.msg_size, 1) != MS_OK)
        return MS_ERR_FAULT;
    return mq_transfer(q, msg, 0, timeout);
}

/* ---- deletion ----------------------------------------------------------- */

static void wake_deleted(ms_waitq_t *wq)
{
    uint32_t s = ms_lock();
    while (wq->head)
        ms_wake(wq->head, MS_ERR_DELETED);
    ms_unlock(s);
}

void ms_sync_object_delete(int type, void *obj)
{
    switch (type) {
    case MS_KOBJ_SEM:
        wake_deleted(&((ms_sem_t *)obj)->wq);
        break;
    case MS_KOBJ_MUTEX: {
        ms_mutex_t *m = obj;
        uint32_t s = ms_lock();
        if (m->owner) {
            for (ms_mutex_t **link = &m->owner->held; *link; link = &(*link)->next_held)
                if (*link == m) {
                    *link = m->next_held;
                    break;
                }
            ms_thread_t *o = m->owner;
            m->owner = 0;
            while (m->wq.head) {
                m->wq.head->wait_mutex = 0;
                ms_wake(m->wq.head, MS_ERR_DELETED);
            }
            ms_set_eff_prio(o, (unsigned)ms_mutex_waiter_prio(o, o->base_prio));
        }
        ms_unlock(s);
        wake_deleted(&m->wq);
        break;
    }
    case MS_KOBJ_EVENT:
        wake_deleted(&((ms_event_t *)obj)->wq);
        break;
    case MS_KOBJ_MQ: {
        ms_mq_t *q = obj;
        wake_deleted(&q->rx_wq);
        wake_deleted(&q->tx_wq);
        uint32_t s = ms_lock();
        ms_heap_free(q->mem_owner ? &q->mem_owner->heap : &ms_pool, q->ring.buf);
        ms_unlock(s);
        break;
    }
    case MS_KOBJ_TIMER:
        ms_timer_delete(obj);
        break;
    default:
        break;
    }
    ms_kobj_mfree(obj);
}
