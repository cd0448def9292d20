/*
 * Soft timers: one-shot and periodic, kept in a deadline list and run by the
 * timer thread (priority MS_TIMER_PRIO), which sleeps until the earliest
 * deadline. Periodic timers are re-armed from their previous deadline, so
 * their period does not drift with callback run time.
 */
#include "ms_kernel.h"

typedef struct {
    ms_tnode_t node;
    ms_timer_fn_t fn;
    void *arg;
    ms_tick_t period;
} ms_timer_t;

static ms_tlist_t g_timers;
static ms_waitq_t g_timer_wq;

static void timer_thread(void *arg)
{
    (void)arg;
    for (;;) {
        uint32_t s = ms_lock();
        ms_tnode_t *n = ms_tlist_pop_expired(&g_timers, ms_tick_now());
        if (n) {
            ms_timer_t *t = MS_CONTAINER_OF(n, ms_timer_t, node);
            if (t->period)
                ms_tlist_insert(&g_timers, &t->node, n->deadline + t->period);
            ms_timer_fn_t fn = t->fn;
            void *targ = t->arg;
            ms_unlock(s);
            fn(targ);
            continue;
        }
        n = ms_tlist_first(&g_timers);
        ms_tick_t wait = n ? n->deadline - ms_tick_now() : MS_WAIT_FOREVER;
        ms_waitq_block(&g_timer_wq, wait, s);
    }
}

void ms_timer_init(void)
{
    ms_tlist_init(&g_timers);
    ms_waitq_init(&g_timer_wq);
    int r = ms_thread_create("timer", timer_thread, 0, MS_TIMER_STACK, MS_TIMER_PRIO, 0);
    if (r < 0)
        ms_panic("cannot create the timer thread (%d)", r);
}

ms_handle_t ms_timer_create(const char *name, ms_timer_fn_t fn, void *arg)
{
    MS_SYSCALL(ms_handle_t, SYS_TIMER_CREATE, name, fn, arg, 0);
    (void)name;
    if (!fn)
        return MS_ERR_INVAL;
    ms_process_t *p = ms_cur_proc();
    if (p && p->nkobjs >= p->desc->max_kobjs)
        return MS_ERR_LIMIT;
    ms_timer_t *t = ms_kobj_zalloc(sizeof *t);
    if (!t)
        return MS_ERR_NOMEM;
    ms_handle_t h = ms_kobj_alloc(MS_KOBJ_TIMER, t, p);
    if (h < 0) {
        ms_kobj_mfree(t);
        return h;
    }
    if (p)
        p->nkobjs++;
    ms_tnode_init(&t->node);
    t->fn = fn;
    t->arg = arg;
    return h;
}

int ms_timer_start(ms_handle_t h, ms_tick_t delay, ms_tick_t period)
{
    MS_SYSCALL(int, SYS_TIMER_START, h, delay, period, 0);
    ms_timer_t *t = ms_kobj_get(h, MS_KOBJ_TIMER);
    if (!t)
        return MS_ERR_HANDLE;
    if (!delay || delay > 0x7FFFFFFFu || period > 0x7FFFFFFFu)
        return MS_ERR_INVAL;
    uint32_t s = ms_lock();
    ms_tlist_remove(&t->node);
    t->period = period;
    ms_tlist_insert(&g_timers, &t->node, ms_tick_now() + delay);
    if (g_timer_wq.head)
        ms_wake(g_timer_wq.head, MS_OK); /* re-evaluate the earliest deadline */
    ms_unlock(s);
    return MS_OK;
}

int ms_timer_stop(ms_handle_t h)
{
    MS_SYSCALL(int, SYS_TIMER_STOP, h, 0, 0, 0);
    ms_timer_t *t = ms_kobj_get(h, MS_KOBJ_TIMER);
    if (!t)
        return MS_ERR_HANDLE;
    uint32_t s = ms_lock();
    ms_tlist_remove(&t->node);
    ms_unlock(s);
    return MS_OK;
}

void ms_timer_delete(void *timer)
{
    ms_timer_t *t = timer;
    uint32_t s = ms_lock();
    ms_tlist_remove(&t->node);
    ms_unlock(s);
}
