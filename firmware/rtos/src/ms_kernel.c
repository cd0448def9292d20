/*
 * Kernel core: threads, the 64-level bitmap scheduler (preemptive, round-robin
 * slices among equal priorities), the tick with tickless idle, the kernel
 * object table, stack checks and the SVC system-call gate.
 *
 * Architecture references: ARMv7-M ARM B1.5 (exceptions, EXC_RETURN, frames),
 * B1.4.4 (CONTROL.nPRIV/SPSEL), B3.3 (SysTick); PM0056/PM0214 4.4.3 (ICSR
 * PENDSVSET/PENDSTSET), 2.3.7 (FP context, EXC_RETURN bit 4).
 *
 * Locking: kernel data is changed with PRIMASK set (ms_lock). A context switch
 * is a pended PendSV at the lowest priority, taken as soon as the lock drops.
 */
#include <string.h>
#include "ms_kernel.h"
#include "mpu.h"
#include "soc.h"

ms_thread_t *volatile ms_current;
volatile ms_tick_t ms_ticks;
ms_heap_t ms_kheap, ms_pool;
ms_process_t *ms_procs[MS_MAX_PROCS];

static uint8_t g_kheap_mem[MS_KHEAP_SIZE] __attribute__((aligned(8)));
static ms_thread_t *g_ready[MS_PRIO_COUNT];
static ms_bitmap_t g_bitmap;
static ms_tlist_t g_timeouts;
static ms_thread_t *g_all;
static ms_thread_t *g_zombies;
static ms_thread_t *g_idle;
static uint32_t g_tick_cycles;  /* SysTick counter clocks per tick */
static uint8_t g_st_ref;        /* SysTick counts the reference clock (HCLK/8), not the core's */
static uint8_t g_started;
/* the armed tickless sleep (see "tick and tickless idle") */
static struct {
    uint8_t armed;
    ms_tick_t base;  /* ms_ticks when armed: the grid's origin */
    ms_tick_t wrap;  /* the handler of the armed wrap counts this tick */
} g_st;
static void st_regrid(void);
static void st_deadline_set(ms_tick_t deadline);

typedef struct {
    void *ptr;
    uint16_t gen;
    uint8_t type;
    uint8_t owner;   /* process slot, 0 = kernel */
} ms_kslot_t;
static ms_kslot_t g_kobj[MS_MAX_KOBJ];

/* ====================================================================== */
/* scheduler                                                               */

void ms_ready(ms_thread_t *t)
{
    unsigned p = t->prio;
    t->state = MS_STATE_READY;
    t->slice_left = t->slice;
    ms_thread_t *h = g_ready[p];
    if (!h) {
        g_ready[p] = t->rq_next = t->rq_prev = t;
        ms_bitmap_set(&g_bitmap, p);
    } else {
        t->rq_next = h;
        t->rq_prev = h->rq_prev;
        h->rq_prev->rq_next = t;
        h->rq_prev = t;
        if (g_st.armed)
            st_regrid(); /* two ready at one priority: round robin needs the tick */
    }
}

void ms_unready(ms_thread_t *t)
{
    unsigned p = t->prio;
    if (t->rq_next == t) {
        g_ready[p] = 0;
        ms_bitmap_clear(&g_bitmap, p);
    } else {
        t->rq_prev->rq_next = t->rq_next;
        t->rq_next->rq_prev = t->rq_prev;
        if (g_ready[p] == t)
            g_ready[p] = t->rq_next;
    }
    t->rq_next = t->rq_prev = 0;
}

static inline int is_ready(const ms_thread_t *t) { return t->state == MS_STATE_READY || t->state == MS_STATE_RUNNING; }

void ms_reschedule(void)
{
    if (!g_started)
        return;
    int p = ms_bitmap_highest(&g_bitmap);
    if (p >= 0 && g_ready[p] != ms_current)
        SCB->ICSR = SCB_ICSR_PENDSVSET;
}

static void waitq_insert(ms_waitq_t *wq, ms_thread_t *t)
{
    ms_thread_t **link = &wq->head;
    while (*link && (*link)->prio <= t->prio)
        link = &(*link)->wq_next;
    t->wq_next = *link;
    *link = t;
    t->wq = wq;
}

void ms_waitq_remove(ms_thread_t *t)
{
    if (!t->wq)
        return;
    for (ms_thread_t **link = &t->wq->head; *link; link = &(*link)->wq_next) {
        if (*link == t) {
            *link = t->wq_next;
            break;
        }
    }
    t->wq = 0;
    t->wq_next = 0;
}

void ms_set_eff_prio(ms_thread_t *t, unsigned prio)
{
    if (t->prio == prio)
        return;
    if (is_ready(t)) {
        int was_head = g_ready[t->prio] == t;
        ms_unready(t);
        t->prio = (uint8_t)prio;
        unsigned left = t->slice_left;
        ms_ready(t);
        t->slice_left = left;
        if (was_head && t == ms_current)
            g_ready[prio] = t; /* a running thread keeps the CPU among its new equals */
        if (t == ms_current)
            t->state = MS_STATE_RUNNING;
    } else if (t->wq) {
        ms_waitq_t *wq = t->wq;
        ms_waitq_remove(t);
        t->prio = (uint8_t)prio;
        waitq_insert(wq, t);
    } else {
        t->prio = (uint8_t)prio;
    }
}

void ms_wake(ms_thread_t *t, int result)
{
    ms_waitq_remove(t);
    ms_tlist_remove(&t->tnode);
    t->wait_result = result;
    if (t->wait_mutex) {
        struct ms_mutex *m = t->wait_mutex;
        t->wait_mutex = 0;
        ms_mutex_waiter_left(m);
    }
    if (t->suspend_req) {
        t->suspend_req = 0;
        t->state = MS_STATE_SUSPENDED;
    } else {
        ms_ready(t);
    }
    ms_reschedule();
}

int ms_block_current(ms_waitq_t *wq, ms_tick_t timeout, uint32_t s, int state)
{
    ms_thread_t *t = ms_current;
    if (ms_in_isr() || !t) {
        ms_unlock(s);
        return MS_ERR_ISR;
    }
    if (timeout == MS_NO_WAIT) {
        ms_unlock(s);
        return MS_ERR_AGAIN;
    }
    ms_unready(t);
    t->state = (uint8_t)state;
    t->wait_result = 0;
    if (wq)
        waitq_insert(wq, t);
    if (timeout != MS_WAIT_FOREVER) {
        ms_tick_t deadline = ms_tick_now() + timeout;
        ms_tlist_insert(&g_timeouts, &t->tnode, deadline);
        st_deadline_set(deadline);
    }
    SCB->ICSR = SCB_ICSR_PENDSVSET;
    ms_unlock(s); /* the switch happens here */
    return t->wait_result;
}

int ms_waitq_block(ms_waitq_t *wq, ms_tick_t timeout, uint32_t s)
{
    return ms_block_current(wq, timeout, s, MS_STATE_BLOCKED);
}

int ms_waitq_wake_one(ms_waitq_t *wq, int result)
{
    uint32_t s = ms_lock();
    ms_thread_t *t = wq->head;
    if (t)
        ms_wake(t, result);
    ms_unlock(s);
    return t != 0;
}

int ms_waitq_wake_all(ms_waitq_t *wq, int result)
{
    int n = 0;
    uint32_t s = ms_lock();
    while (wq->head) {
        ms_wake(wq->head, result);
        n++;
    }
    ms_unlock(s);
    return n;
}

ms_tick_t ms_remaining(ms_tick_t deadline, ms_tick_t timeout)
{
    if (timeout == MS_WAIT_FOREVER || timeout == MS_NO_WAIT)
        return timeout;
    int32_t left = (int32_t)(deadline - ms_tick_now());
    return left > 0 ? (ms_tick_t)left : MS_NO_WAIT;
}

/* Stack overflow: the saved/live sp below the canary, or a canary word
 * overwritten. Checked at every switch, on every tick and as a system call
 * enters. A process thread's own stack under MPU isolation could only have
 * overrun memory of its own process: that process ends (report, event) and the
 * system runs on; anything else is a kernel panic.
 *
 * The check runs a few hundred times a second, so it is inline and straight
 * (the canary words compared in one unrolled pass); what follows a failed
 * check is out of line. */
static inline __attribute__((always_inline)) int canary_ok(const uint32_t *base)
{
    uint32_t diff = 0;
#pragma GCC unroll 8
    for (unsigned i = 0; i < MS_STACK_CANARY_WORDS; i++)
        diff |= base[i] ^ MS_STACK_CANARY;
    return diff == 0;
}

static inline __attribute__((always_inline)) int sp_ok(const uint32_t *base, uint32_t sp)
{
    return sp >= (uint32_t)(uintptr_t)(base + MS_STACK_CANARY_WORDS);
}

/* The check failed on the thread's own stack (`own`) or on its system-call stack. */
static __attribute__((noinline, cold)) void stack_overflow(ms_thread_t *t, uint32_t sp, int own)
{
    uint32_t *base = own ? t->stack_base : t->kstack;
    uint32_t size = own ? t->stack_size : MS_KSTACK_SIZE;
    if (own && t->proc && ms_isolation_enabled()) {
        ms_printk("process '%s' killed: stack overflow in thread '%s' (sp 0x%08x, stack 0x%08x-0x%08x)\n",
                  t->proc->name, t->name, (unsigned)sp, (unsigned)(uintptr_t)base,
                  (unsigned)((uintptr_t)base + size));
        ms_evlog_add(MS_EV_FAULT, 0, t->proc->name, sp, 0);
        ms_process_fault_kill(t->proc);
        ms_console_flush_isr();
        return;
    }
    ms_panic("stack overflow in thread '%s' (sp 0x%08x, stack 0x%08x-0x%08x)", t->name, (unsigned)sp,
             (unsigned)(uintptr_t)base, (unsigned)((uintptr_t)base + size));
}

static inline __attribute__((always_inline)) void stack_check(ms_thread_t *t, uint32_t sp)
{
    int kernel_stack = t->in_syscall && t->kstack; /* in a system call, on its kernel stack */
    if (!canary_ok(t->stack_base) || (!kernel_stack && !sp_ok(t->stack_base, sp)))
        stack_overflow(t, sp, 1);
    else if (kernel_stack && (!canary_ok(t->kstack) || !sp_ok(t->kstack, sp)))
        stack_overflow(t, sp, 0);
}

/* Called by PendSV (interrupts masked) with the outgoing thread's PSP. */
uint32_t ms_switch(uint32_t sp)
{
    ms_thread_t *cur = ms_current;
    if (cur) {
        cur->sp = sp;
        if (cur->state != MS_STATE_DEAD)
            stack_check(cur, sp); /* may end cur's process */
        if (cur->state == MS_STATE_DEAD) {
            cur->all_next = g_zombies;
            g_zombies = cur;
        } else if (cur->state == MS_STATE_RUNNING) {
            cur->state = MS_STATE_READY;
        }
    }
    ms_thread_t *next = g_ready[ms_bitmap_highest(&g_bitmap)];
    next->state = MS_STATE_RUNNING;
    ms_current = next;
    if (next->proc)
        ms_mpu_switch(next->proc);
    uint32_t c = cm_get_control();
    c = (c & ~CONTROL_NPRIV) | (next->npriv ? CONTROL_NPRIV : 0u);
    __asm__ volatile("msr control, %0" ::"r"(c) : "memory");
    return next->sp;
}

/* ====================================================================== */
/* tick and tickless idle                                                  */

static void tick_announce(void)
{
    ms_tnode_t *n;
    while ((n = ms_tlist_pop_expired(&g_timeouts, ms_ticks)) != 0) {
        ms_thread_t *t = MS_CONTAINER_OF(n, ms_thread_t, tnode);
        ms_wake(t, t->state == MS_STATE_SLEEPING ? 0 : MS_ERR_TIMEOUT);
    }
}

/* Tickless idle. SysTick is never stopped: a stopped counter loses the
 * cycles of the code that reprograms it on every sleep and every early wake,
 * and the tick drifts behind real time with each interrupt that ends a sleep.
 * Instead the counter keeps counting and its next wrap is moved with
 * systick_retarget(), which accounts for every cycle up to the CVR write.
 * Tick boundaries stay on the grid of the last tick counted (`ticks` * P
 * cycles after it), so the counter always tells how many boundaries passed.
 *
 * RVR only takes effect when the counter reloads (ARMv7-M B3.3.1): a
 * retarget writes the one-off period to RVR, clears CVR (the counter reloads
 * on its next clock) and then puts the tick period back in RVR for every wrap
 * after that one, so the SysTick handler never touches the counter.
 *
 * Armed sleep (g_st): once the idle has moved the wrap to the tick `wrap`
 * (the earliest deadline), the wrap stays there until it comes, whatever
 * wakes the core in between. An interrupt that ends the WFI early costs no
 * SysTick access: ms_ticks is brought up to date from CVR only when someone
 * reads the tick (ms_tick_now), and the idle goes back to sleep on the same
 * wrap when nothing earlier is due. The periodic tick comes back (regrid)
 * only when something needs it: a timeout earlier than the wrap, or two
 * ready threads of one priority (round robin). A deadline later than the
 * wrap (a timeout pushed back) keeps the armed wrap: it comes, counts its
 * tick, and the idle arms the next one. */

/* Cycles the code between reading CVR in C and the retarget's own CVR sample
 * may take (lock held, so nothing interrupts it); a boundary closer than that
 * is not reprogrammed around. Generous for flash wait states. In SysTick
 * counter clocks, like every count here: core cycles, or on the reference
 * clock (g_st_ref) 8 of them each, 2048 core cycles. */
#define ST_MARGIN_CYCLES 256u

/* SysTick clocks between the CVR sample and the CVR clear in
 * systick_retarget(): three single-cycle instructions (add, str, str) on the
 * core clock; PPB accesses have no wait states. */
#define ST_RETARGET_CYCLES 3u

/* Make the next SysTick wrap come `cycles` counter clocks after the moment
 * CVR read `cvr_then` (counter running, no wrap in between, lock held). The
 * cycles from that read until now are measured by sampling CVR again right
 * before the clear, so the only fixed cost is the three instructions from
 * that sample to the clear. */
static void systick_retarget_core(uint32_t cvr_then, uint32_t cycles)
{
    /* wrap after RVR+1 clocks from the clear, which happens
     * (cvr_then - cvr_now) + ST_RETARGET_CYCLES clocks after `cvr_then` */
    uint32_t base = cycles - cvr_then - ST_RETARGET_CYCLES - 1u;
    uint32_t tmp;
    __asm__ volatile(
        "ldr  %[t], [%[st], #8]\n\t"   /* CVR now */
        "add  %[t], %[t], %[b]\n\t"
        "str  %[t], [%[st], #4]\n\t"   /* RVR: this one period */
        "str  %[z], [%[st], #8]\n\t"   /* clear CVR: reload on the next clock */
        : [t] "=&r"(tmp)
        : [st] "r"(SYSTICK), [b] "r"(base), [z] "r"(0u)
        : "memory");
    (void)SYSTICK->CVR;               /* the reload has happened: now RVR is free */
    SYSTICK->RVR = g_tick_cycles - 1u; /* every later period: one tick */
}

/* The same on the reference clock (STM32: HCLK/8, a counter clock every 8 core cycles; the
 * 24-bit counter then holds 1.34 s at 100 MHz instead of 167 ms, so a tickless sleep of up to a
 * second is one wrap, not six). Which side of a counter clock a CVR write lands on is not known
 * from one sample, so the clear is put right after a clock: a first loop waits for CVR to
 * change (it reads it every 3 cycles), which leaves most of a counter clock for writing the
 * one-off RVR (known then: the clear will land in the clock after, showing one less); a
 * second loop waits for that clock and the clear follows within 3 cycles, well before the
 * next one 8 cycles on. The one-off RVR must stay until the reload on the counter clock after
 * the clear: CVR reads 0 until then. */
static void systick_retarget_ref(uint32_t cvr_then, uint32_t cycles)
{
    /* a clear in the clock showing v makes the wrap come cycles - cvr_then + v - 1 + 1
     * clocks after cvr_then's: RVR = k + (v + 1), v + 1 being what the first loop saw */
    uint32_t k = cycles - cvr_then - 2u;
    uint32_t t, seen;
    __asm__ volatile(
        "ldr  %[t], [%[st], #8]\n\t"   /* CVR */
        "1:\n\t"
        "ldr  %[s], [%[st], #8]\n\t"
        "cmp  %[s], %[t]\n\t"
        "beq  1b\n\t"                  /* a counter clock has just come */
        "add  %[t], %[s], %[k]\n\t"
        "str  %[t], [%[st], #4]\n\t"   /* RVR: this one period */
        "2:\n\t"
        "ldr  %[t], [%[st], #8]\n\t"
        "cmp  %[t], %[s]\n\t"
        "beq  2b\n\t"                  /* the next one has just come */
        "str  %[z], [%[st], #8]\n\t"   /* clear CVR: reload on the next counter clock */
        : [t] "=&r"(t), [s] "=&r"(seen)
        : [st] "r"(SYSTICK), [k] "r"(k), [z] "r"(0u)
        : "cc", "memory");
    while (SYSTICK->CVR == 0u)
        ;                             /* the reload has happened: now RVR is free */
    SYSTICK->RVR = g_tick_cycles - 1u; /* every later period: one tick */
}

static void systick_retarget(uint32_t cvr_then, uint32_t cycles)
{
    if (g_st_ref)
        systick_retarget_ref(cvr_then, cycles);
    else
        systick_retarget_core(cvr_then, cycles);
}

/* Armed (lock held), CVR read `c`: the ticks counted by now, i.e. the grid
 * boundaries passed since `base`. Also right after the armed wrap while its
 * handler waits for the lock (c then counts the period after it): that tick
 * is the handler's, as in periodic mode. */
static ms_tick_t st_ticks_at(uint32_t c, uint32_t *since)
{
    const uint32_t P = g_tick_cycles;
    *since = (g_st.wrap - g_st.base) * P - c; /* clocks since `base` */
    return g_st.base + *since / P;
}

ms_tick_t ms_tick_now(void)
{
    if (!g_st.armed)
        return ms_ticks;
    uint32_t s = ms_lock();
    if (g_st.armed) {
        uint32_t since;
        ms_tick_t t = st_ticks_at(SYSTICK->CVR, &since);
        if ((int32_t)(t - ms_ticks) > 0)
            ms_ticks = t;
    }
    ms_unlock(s);
    return ms_ticks;
}

/* Armed: back to one wrap per tick, on the same grid. */
static void st_regrid(void)
{
    const uint32_t P = g_tick_cycles;
    uint32_t s = ms_lock(); /* the retarget's timing must not be interrupted */
    uint32_t c = SYSTICK->CVR;
    if (!g_st.armed || c < ST_MARGIN_CYCLES) {
        ms_unlock(s); /* the armed wrap is about to come: its handler disarms */
        return;
    }
    uint32_t since;
    ms_tick_t t = st_ticks_at(c, &since);
    if ((int32_t)(t - ms_ticks) > 0)
        ms_ticks = t;
    uint32_t next = P - since % P; /* clocks to the next boundary */
    g_st.armed = 0;
    if (next < ST_MARGIN_CYCLES) {
        /* Too close to move the wrap onto it: count that tick now (the
         * handler runs as soon as the lock drops) and aim at the one after. */
        next += P;
        SCB->ICSR = SCB_ICSR_PENDSTSET;
    }
    systick_retarget(c, next);
    ms_unlock(s);
}

/* Lock held: a timeout at tick `deadline` was set. Earlier than the armed
 * wrap, it needs the tick back (a thread of higher priority than the one
 * running may wait on it). */
static void st_deadline_set(ms_tick_t deadline)
{
    if (g_st.armed && (int32_t)(deadline - g_st.wrap) < 0)
        st_regrid();
}

/* The idle thread, lock held, nothing due before tick `deadline` (`forever`:
 * no timeout pending) and at least two ticks away as of ms_ticks: arm the
 * wrap on that tick's boundary (or keep the armed one if it comes no later)
 * and WFI. The wrap that ends the sleep counts its tick in the handler, like
 * any other. */
static void tickless_sleep(ms_tick_t deadline, int forever)
{
    const uint32_t P = g_tick_cycles;
    if (g_st.armed && (forever || (int32_t)(deadline - g_st.wrap) >= 0)) {
        cm_wfi(); /* the armed wrap comes first: nothing to reprogram */
        return;
    }
    uint32_t c = SYSTICK->CVR; /* clocks to the next wrap */
    if ((SCB->ICSR & SCB_ICSR_PENDSTSET) || c < ST_MARGIN_CYCLES) {
        cm_wfi(); /* the tick is (about to be) pending anyway */
        return;
    }
    uint32_t next = c; /* clocks to the next tick boundary */
    if (g_st.armed) {  /* an earlier deadline than the armed wrap */
        uint32_t since;
        ms_tick_t t = st_ticks_at(c, &since);
        if ((int32_t)(t - ms_ticks) > 0)
            ms_ticks = t;
        next = P - since % P;
    }
    uint32_t max_ticks = 0xFFFFFFu / P; /* the one-off period must fit RVR */
    int32_t left = forever ? (int32_t)max_ticks : (int32_t)(deadline - ms_ticks);
    uint32_t ticks = left > (int32_t)max_ticks ? max_ticks : (uint32_t)left;
    if (left < 2 || next < ST_MARGIN_CYCLES) {
        if (g_st.armed)
            st_regrid(); /* the next tick (or the one after) is due: tick on */
        else
            cm_wfi();
        return;
    }
    systick_retarget(c, next + (ticks - 1u) * P);
    g_st.base = ms_ticks;
    g_st.wrap = ms_ticks + ticks;
    g_st.armed = 1;
    cm_dsb();
    cm_wfi();
}

void SysTick_Handler(void)
{
    uint32_t s = ms_lock();
    if (g_st.armed) { /* the armed wrap: the ticks since `base` are counted here */
        g_st.armed = 0;
        ms_ticks = g_st.wrap - 1u;
    }
    ms_ticks++;
    ms_thread_t *c = ms_current;
    if (c && c->state == MS_STATE_RUNNING)
        stack_check(c, cm_get_psp());
    tick_announce();
    if (c && c->state == MS_STATE_RUNNING && g_ready[c->prio] == c && c->rq_next != c) {
        if (c->slice_left > 1) {
            c->slice_left--;
        } else {
            c->slice_left = c->slice;
            g_ready[c->prio] = c->rq_next; /* round robin: next equal goes first */
        }
    }
    ms_reschedule();
    ms_unlock(s);
}

static void reap(void)
{
    for (;;) {
        uint32_t s = ms_lock();
        ms_thread_t *z = g_zombies;
        if (!z) {
            ms_unlock(s);
            return;
        }
        g_zombies = z->all_next;
        ms_process_t *p = z->proc;
        if (p)
            ms_heap_free(&p->heap, z->stack_base);
        else
            ms_heap_free(&ms_pool, z->stack_base);
        if (z->kstack)
            ms_heap_free(&ms_pool, z->kstack);
        ms_kobj_release(z->handle);
        ms_heap_free(&ms_kheap, z);
        ms_unlock(s);
        if (p)
            ms_process_thread_gone(p);
    }
}

static void idle_entry(void *arg)
{
    (void)arg;
    for (;;) {
        reap();
        uint32_t s = ms_lock();
        if (ms_bitmap_highest(&g_bitmap) == (int)MS_IDLE_PRIO && !g_zombies) {
            ms_tnode_t *n = ms_tlist_first(&g_timeouts);
            if (!n || g_st.armed || (int32_t)(n->deadline - ms_ticks) >= 2)
                tickless_sleep(n ? n->deadline : 0u, !n);
            else
                cm_wfi();
        }
        ms_unlock(s);
    }
}

ms_tick_t ms_tick_get(void)
{
    MS_SYSCALL(ms_tick_t, SYS_TICK_GET, 0, 0, 0, 0); /* a process cannot read kernel memory */
    return ms_tick_now();
}

uint32_t ms_ms_to_ticks(uint32_t ms)
{
    return (uint32_t)(((uint64_t)ms * MS_TICK_HZ + 999u) / 1000u);
}

/* ====================================================================== */
/* kernel objects                                                          */

ms_process_t *ms_cur_proc(void)
{
    ms_thread_t *t = ms_current;
    return (t && !ms_in_isr()) ? t->proc : 0;
}

void *ms_kobj_zalloc(size_t size)
{
    uint32_t s = ms_lock();
    void *p = ms_heap_alloc(&ms_kheap, (uint32_t)size, 1);
    ms_unlock(s);
    if (p)
        memset(p, 0, size);
    return p;
}

void ms_kobj_mfree(void *p)
{
    uint32_t s = ms_lock();
    ms_heap_free(&ms_kheap, p);
    ms_unlock(s);
}

ms_handle_t ms_kobj_alloc(int type, void *ptr, ms_process_t *owner)
{
    uint32_t s = ms_lock();
    for (unsigned i = 0; i < MS_MAX_KOBJ; i++) {
        ms_kslot_t *k = &g_kobj[i];
        if (k->type != MS_KOBJ_FREE)
            continue;
        k->gen = (uint16_t)((k->gen + 1u) & 0x7FFFu);
        if (!k->gen)
            k->gen = 1;
        k->type = (uint8_t)type;
        k->ptr = ptr;
        k->owner = owner ? owner->slot : 0;
        ms_unlock(s);
        return (ms_handle_t)(((uint32_t)k->gen << 8) | i);
    }
    ms_unlock(s);
    return MS_ERR_NOMEM;
}

static ms_kslot_t *kslot(ms_handle_t h)
{
    if (h <= 0)
        return 0;
    unsigned i = (unsigned)h & 0xFFu;
    if (i >= MS_MAX_KOBJ)
        return 0;
    ms_kslot_t *k = &g_kobj[i];
    if (k->type == MS_KOBJ_FREE || k->gen != ((unsigned)h >> 8))
        return 0;
    return k;
}

void *ms_kobj_get(ms_handle_t h, int type)
{
    ms_kslot_t *k = kslot(h);
    if (!k || (type && k->type != type))
        return 0;
    ms_process_t *p = ms_cur_proc();
    if (p && k->owner != p->slot && !(p->desc->perms & MS_PERM_PRIV)) {
        if (k->owner)
            return 0; /* another process's object */
        /* The kernel's semaphores, queues... are shared on purpose (their handles are handed
         * out); its threads and the other processes are not a process's to touch. */
        if (k->type == MS_KOBJ_THREAD || (k->type == MS_KOBJ_PROCESS && k->ptr != p))
            return 0;
    }
    return k->ptr;
}

void ms_kobj_release(ms_handle_t h)
{
    ms_kslot_t *k = kslot(h);
    if (k) {
        k->type = MS_KOBJ_FREE;
        k->ptr = 0;
    }
}

void ms_kobj_destroy_all(ms_process_t *p)
{
    for (unsigned i = 0; i < MS_MAX_KOBJ; i++) {
        ms_kslot_t *k = &g_kobj[i];
        if (k->owner != p->slot || k->type < MS_KOBJ_SEM)
            continue;
        int type = k->type;
        void *obj = k->ptr;
        k->type = MS_KOBJ_FREE;
        k->ptr = 0;
        ms_sync_object_delete(type, obj);
        if (p->nkobjs)
            p->nkobjs--;
    }
}

int ms_object_delete(ms_handle_t h)
{
    MS_SYSCALL(int, SYS_OBJECT_DELETE, h, 0, 0, 0);
    ms_kslot_t *k = kslot(h);
    if (!k || k->type < MS_KOBJ_SEM || !ms_kobj_get(h, 0))
        return MS_ERR_HANDLE;
    ms_process_t *p = ms_cur_proc();
    if (p && k->owner != p->slot && !(p->desc->perms & MS_PERM_PRIV))
        return MS_ERR_PERM; /* a shared object: only its owner deletes it */
    int type = k->type;
    void *obj = k->ptr;
    uint8_t owner = k->owner;
    ms_kobj_release(h);
    ms_sync_object_delete(type, obj);
    if (owner && ms_procs[owner - 1u] && ms_procs[owner - 1u]->nkobjs)
        ms_procs[owner - 1u]->nkobjs--;
    (void)p;
    return MS_OK;
}

/* ====================================================================== */
/* threads                                                                 */


static void copy_name(char *dst, const char *src)
{
    unsigned i = 0;
    if (src)
        for (; src[i] && i < MS_NAME_MAX - 1u; i++)
            dst[i] = src[i];
    dst[i] = '\0';
}

/* Creates a thread in `proc` (0 = kernel). Process threads run unprivileged. */
static ms_handle_t thread_new(const ms_thread_attr_t *a, ms_process_t *proc)
{
    if (!a->entry || a->prio >= MS_PRIO_COUNT)
        return MS_ERR_INVAL;
    uint32_t size = (a->stack_size + 7u) & ~7u;
    if (size < MS_STACK_MIN)
        size = MS_STACK_MIN;
    if (proc) {
        if (a->prio < proc->desc->prio)
            return MS_ERR_PERM; /* more urgent than the process may run */
        if (proc->nthreads >= proc->desc->max_threads)
            return MS_ERR_LIMIT;
    }
    ms_thread_t *t = ms_kobj_zalloc(sizeof *t);
    if (!t)
        return MS_ERR_NOMEM;
    uint32_t s = ms_lock();
    uint32_t *stack = ms_heap_alloc(proc ? &proc->heap : &ms_pool, size, 2);
    ms_unlock(s);
    if (!stack) {
        ms_kobj_mfree(t);
        return MS_ERR_NOMEM;
    }
    /* An isolated process thread's system calls run on a stack of their own in kernel
     * memory: on its own stack, the process's other threads could rewrite the kernel's
     * return addresses while the call runs privileged. */
    uint32_t *kstack = 0;
    if (proc && ms_isolation_enabled()) {
        kstack = ms_pool_alloc(MS_KSTACK_SIZE);
        if (!kstack) {
            s = ms_lock();
            ms_heap_free(&proc->heap, stack);
            ms_heap_free(&ms_kheap, t);
            ms_unlock(s);
            return MS_ERR_NOMEM;
        }
        for (unsigned i = 0; i < MS_STACK_CANARY_WORDS; i++)
            kstack[i] = MS_STACK_CANARY;
    }
    ms_handle_t h = ms_kobj_alloc(MS_KOBJ_THREAD, t, proc);
    if (h < 0) {
        s = ms_lock();
        ms_heap_free(proc ? &proc->heap : &ms_pool, stack);
        if (kstack)
            ms_heap_free(&ms_pool, kstack);
        ms_heap_free(&ms_kheap, t);
        ms_unlock(s);
        return h;
    }
    t->kstack = kstack;
    for (uint32_t i = 0; i < size / 4u; i++)
        stack[i] = MS_STACK_FILL;
    for (unsigned i = 0; i < MS_STACK_CANARY_WORDS; i++)
        stack[i] = MS_STACK_CANARY;
    uint32_t *sp = stack + size / 4u;
    *--sp = 0x01000000u;                                   /* xPSR: Thumb */
    *--sp = (uint32_t)(uintptr_t)a->entry & ~1u;           /* pc */
    *--sp = (uint32_t)(uintptr_t)ms_thread_exit;           /* lr: returning ends the thread */
    for (int r = 0; r < 4; r++)
        *--sp = 0;                                         /* r12, r3, r2, r1 */
    *--sp = (uint32_t)(uintptr_t)a->arg;                   /* r0 */
    *--sp = EXC_RETURN_THREAD_PSP;                         /* saved EXC_RETURN */
    for (int r = 0; r < 8; r++)
        *--sp = 0;                                         /* r11..r4 */
    t->sp = (uint32_t)(uintptr_t)sp;
    t->stack_base = stack;
    t->stack_size = size;
    t->prio = t->base_prio = (uint8_t)a->prio;
    t->slice = a->slice ? a->slice : MS_DEFAULT_SLICE;
    t->proc = proc;
    t->npriv = proc ? 1u : 0u;
    t->handle = h;
    copy_name(t->name, a->name);
    ms_tnode_init(&t->tnode);
    s = ms_lock();
    t->all_next = g_all;
    g_all = t;
    if (proc) {
        proc->nthreads++;
        proc->nrefs++;
    }
    if (a->start) {
        ms_ready(t);
        ms_reschedule();
    } else {
        t->state = MS_STATE_SUSPENDED;
    }
    ms_unlock(s);
    return h;
}

static ms_handle_t thread_create_attr(const ms_thread_attr_t *a)
{
    MS_SYSCALL(ms_handle_t, SYS_THREAD_CREATE, a, 0, 0, 0);
    if (a->name && ms_ustr(a->name) != MS_OK)
        return MS_ERR_FAULT;
    return thread_new(a, ms_cur_proc());
}

ms_handle_t ms_thread_create(const char *name, ms_thread_entry_t entry, void *arg,
                             uint32_t stack_size, unsigned prio, ms_tick_t slice)
{
    ms_thread_attr_t a = {name, entry, arg, stack_size, prio, slice, 1};
    return thread_create_attr(&a);
}

ms_handle_t ms_thread_init(const char *name, ms_thread_entry_t entry, void *arg,
                           uint32_t stack_size, unsigned prio, ms_tick_t slice)
{
    ms_thread_attr_t a = {name, entry, arg, stack_size, prio, slice, 0};
    return thread_create_attr(&a);
}

ms_handle_t ms_process_spawn_main(ms_process_t *p)
{
    const ms_process_desc_t *d = p->desc;
    ms_thread_attr_t a = {d->name, d->entry, d->arg, d->stack_size, d->prio, 0, 1};
    return thread_new(&a, p);
}

ms_handle_t ms_thread_self(void)
{
    MS_SYSCALL(ms_handle_t, SYS_THREAD_SELF, 0, 0, 0, 0);
    return ms_current ? ms_current->handle : MS_ERR_SRCH;
}

/* Lock held. Ends thread t wherever it is; its memory is reaped by idle. */
void ms_kill_thread_locked(ms_thread_t *t)
{
    if (t->state == MS_STATE_DEAD)
        return;
    if (is_ready(t))
        ms_unready(t);
    ms_waitq_remove(t);
    ms_tlist_remove(&t->tnode);
    if (t->wait_mutex) {
        struct ms_mutex *m = t->wait_mutex;
        t->wait_mutex = 0;
        ms_mutex_waiter_left(m);
    }
    t->state = MS_STATE_DEAD; /* before the mutexes go: dropping an inherited priority
                                 * must not put it back on a ready queue */
    ms_mutex_release_all(t);
    for (ms_thread_t **link = &g_all; *link; link = &(*link)->all_next) {
        if (*link == t) {
            *link = t->all_next;
            break;
        }
    }
    if (t != ms_current) {
        t->all_next = g_zombies;
        g_zombies = t;
    } else {
        SCB->ICSR = SCB_ICSR_PENDSVSET;
    }
    if (t->proc && t->proc->nthreads)
        t->proc->nthreads--;
    ms_reschedule();
}

int ms_thread_kill(ms_handle_t tid)
{
    MS_SYSCALL(int, SYS_THREAD_KILL, tid, 0, 0, 0);
    ms_thread_t *t = ms_kobj_get(tid, MS_KOBJ_THREAD);
    if (!t)
        return MS_ERR_SRCH;
    if (t == g_idle)
        return MS_ERR_PERM;
    uint32_t s = ms_lock();
    ms_kill_thread_locked(t);
    ms_unlock(s);
    return MS_OK;
}

void ms_thread_exit(void)
{
    if (ms_user_mode())
        ms_svc(SYS_THREAD_EXIT, 0, 0, 0, 0);
    uint32_t s = ms_lock();
    ms_kill_thread_locked(ms_current);
    ms_unlock(s);
    for (;;)
        ; /* not reached: PendSV switched away */
}

int ms_thread_suspend(ms_handle_t tid)
{
    MS_SYSCALL(int, SYS_THREAD_SUSPEND, tid, 0, 0, 0);
    ms_thread_t *t = ms_kobj_get(tid, MS_KOBJ_THREAD);
    if (!t)
        return MS_ERR_SRCH;
    if (t == g_idle)
        return MS_ERR_PERM;
    uint32_t s = ms_lock();
    if (is_ready(t)) {
        ms_unready(t);
        t->state = MS_STATE_SUSPENDED;
        if (t == ms_current)
            SCB->ICSR = SCB_ICSR_PENDSVSET;
    } else if (t->state == MS_STATE_BLOCKED || t->state == MS_STATE_SLEEPING) {
        t->suspend_req = 1;
    }
    ms_unlock(s);
    return MS_OK;
}

int ms_thread_resume(ms_handle_t tid)
{
    MS_SYSCALL(int, SYS_THREAD_RESUME, tid, 0, 0, 0);
    ms_thread_t *t = ms_kobj_get(tid, MS_KOBJ_THREAD);
    if (!t)
        return MS_ERR_SRCH;
    uint32_t s = ms_lock();
    t->suspend_req = 0;
    if (t->state == MS_STATE_SUSPENDED) {
        ms_ready(t);
        ms_reschedule();
    }
    ms_unlock(s);
    return MS_OK;
}

int ms_thread_yield(void)
{
    MS_SYSCALL(int, SYS_THREAD_YIELD, 0, 0, 0, 0);
    uint32_t s = ms_lock();
    ms_thread_t *c = ms_current;
    if (c && g_ready[c->prio] == c && c->rq_next != c) {
        g_ready[c->prio] = c->rq_next;
        c->slice_left = c->slice;
        SCB->ICSR = SCB_ICSR_PENDSVSET;
    }
    ms_unlock(s);
    return MS_OK;
}

int ms_thread_sleep(ms_tick_t ticks)
{
    MS_SYSCALL(int, SYS_THREAD_SLEEP, ticks, 0, 0, 0);
    if (ticks == 0)
        return ms_thread_yield();
    if (ticks == MS_WAIT_FOREVER)
        ticks = 0x7FFFFFFFu;
    return ms_block_current(0, ticks, ms_lock(), MS_STATE_SLEEPING);
}

int ms_thread_sleep_ms(uint32_t ms) { return ms_thread_sleep(ms_ms_to_ticks(ms)); }

int ms_thread_set_prio(ms_handle_t tid, unsigned prio)
{
    MS_SYSCALL(int, SYS_THREAD_SET_PRIO, tid, prio, 0, 0);
    ms_thread_t *t = ms_kobj_get(tid, MS_KOBJ_THREAD);
    if (!t)
        return MS_ERR_SRCH;
    if (prio >= MS_IDLE_PRIO || t == g_idle)
        return MS_ERR_INVAL;
    ms_process_t *p = ms_cur_proc();
    if (p && prio < p->desc->prio)
        return MS_ERR_PERM;
    uint32_t s = ms_lock();
    t->base_prio = (uint8_t)prio;
    ms_set_eff_prio(t, (unsigned)ms_mutex_waiter_prio(t, prio));
    ms_reschedule();
    ms_unlock(s);
    return MS_OK;
}

int ms_thread_get_prio(ms_handle_t tid)
{
    MS_SYSCALL(int, SYS_THREAD_GET_PRIO, tid, 0, 0, 0);
    ms_thread_t *t = ms_kobj_get(tid, MS_KOBJ_THREAD);
    return t ? t->prio : MS_ERR_SRCH;
}

/* Kills every thread of p (the caller's own thread last). Lock held. */
void ms_process_kill_threads(ms_process_t *p)
{
    ms_thread_t *t = g_all;
    while (t) {
        ms_thread_t *next = t->all_next;
        if (t->proc == p && t != ms_current)
            ms_kill_thread_locked(t);
        t = next;
    }
    if (ms_current && ms_current->proc == p)
        ms_kill_thread_locked(ms_current);
}

/* ====================================================================== */
/* diagnostics                                                             */

const char *ms_state_name(int state)
{
    static const char *const names[] = {"ready", "running", "blocked", "sleeping", "suspended", "dead"};
    return (state >= 0 && state <= MS_STATE_DEAD) ? names[state] : "?";
}

int ms_ps(ms_thread_info_t *out, int max)
{
    MS_SYSCALL(int, SYS_PS, out, max, 0, 0);
    if (max < 0 || max > (int)MS_MAX_KOBJ)
        max = max < 0 ? 0 : (int)MS_MAX_KOBJ;
    if (ms_uaccess(out, (size_t)max * sizeof *out, 1) != MS_OK)
        return MS_ERR_FAULT;
    int n = 0;
    uint32_t s = ms_lock();
    for (ms_thread_t *t = g_all; t && n < max; t = t->all_next, n++) {
        ms_thread_info_t *i = &out[n];
        memcpy(i->name, t->name, MS_NAME_MAX);
        if (t->proc)
            memcpy(i->process, t->proc->name, MS_NAME_MAX);
        else
            copy_name(i->process, "kernel");
        i->tid = t->handle;
        i->prio = t->prio;
        i->base_prio = t->base_prio;
        i->state = t->state;
        i->privileged = !t->proc;
        i->stack_size = t->stack_size;
        uint32_t w = MS_STACK_CANARY_WORDS;
        while (w < t->stack_size / 4u && t->stack_base[w] == MS_STACK_FILL)
            w++;
        i->stack_used = t->stack_size - w * 4u;
    }
    ms_unlock(s);
    return n;
}

static void heap_stats(const ms_heap_t *h, ms_heap_stats_t *st)
{
    st->total = h->size;
    st->free = h->free_bytes;
    st->min_free = h->min_free;
    ms_heap_stats(h, &st->used_blocks, &st->free_blocks, &st->largest_free);
}

int ms_kheap_stats(ms_heap_stats_t *kernel, ms_heap_stats_t *pool)
{
    MS_SYSCALL(int, SYS_KHEAP_STATS, kernel, pool, 0, 0);
    uint32_t s = ms_lock();
    if (kernel)
        heap_stats(&ms_kheap, kernel);
    if (pool)
        heap_stats(&ms_pool, pool);
    ms_unlock(s);
    return MS_OK;
}

void *ms_pool_alloc(size_t size)
{
    uint32_t s = ms_lock();
    void *p = ms_heap_alloc(&ms_pool, (uint32_t)size, 3);
    ms_unlock(s);
    return p;
}

void *ms_pool_alloc_aligned(size_t size)
{
    uint32_t s = ms_lock();
    void *p = ms_heap_alloc_aligned(&ms_pool, (uint32_t)size, (uint32_t)size, 3);
    ms_unlock(s);
    return p;
}

void ms_pool_free(void *ptr)
{
    uint32_t s = ms_lock();
    ms_heap_free(&ms_pool, ptr);
    ms_unlock(s);
}

const char *ms_strerror(int err)
{
    switch (err) {
    case MS_OK: return "ok";
    case MS_OWNER_DIED: return "taken, its last owner was killed holding it";
    case MS_ERR_PERM: return "permission denied";
    case MS_ERR_NOENT: return "no such file or device";
    case MS_ERR_SRCH: return "no such thread or process";
    case MS_ERR_IO: return "i/o error";
    case MS_ERR_BADF: return "bad file descriptor";
    case MS_ERR_AGAIN: return "would block";
    case MS_ERR_NOMEM: return "out of memory";
    case MS_ERR_FAULT: return "bad address";
    case MS_ERR_BUSY: return "busy";
    case MS_ERR_EXIST: return "exists";
    case MS_ERR_NODEV: return "no such device";
    case MS_ERR_INVAL: return "invalid argument";
    case MS_ERR_NOSPC: return "no space";
    case MS_ERR_PIPE: return "broken pipe";
    case MS_ERR_NOSYS: return "no such call";
    case MS_ERR_LIMIT: return "process limit reached";
    case MS_ERR_HANDLE: return "bad handle";
    case MS_ERR_ISR: return "not allowed in an interrupt";
    case MS_ERR_DEADLK: return "deadlock";
    case MS_ERR_TIMEOUT: return "timed out";
    case MS_ERR_DELETED: return "object deleted";
    default: return "unknown error";
    }
}

/* ====================================================================== */
/* system calls                                                            */

/* Public calls reachable from process threads, by SYS_* number. */
#define SYS(nr, fn) [nr] = (void *)(uintptr_t)(fn)
static void *const g_systab[SYS_COUNT] = {
    SYS(SYS_THREAD_CREATE, thread_create_attr), SYS(SYS_THREAD_SELF, ms_thread_self),
    SYS(SYS_THREAD_KILL, ms_thread_kill), SYS(SYS_THREAD_EXIT, ms_thread_exit),
    SYS(SYS_THREAD_SUSPEND, ms_thread_suspend), SYS(SYS_THREAD_RESUME, ms_thread_resume),
    SYS(SYS_THREAD_YIELD, ms_thread_yield), SYS(SYS_THREAD_SLEEP, ms_thread_sleep),
    SYS(SYS_THREAD_SET_PRIO, ms_thread_set_prio), SYS(SYS_THREAD_GET_PRIO, ms_thread_get_prio),
    SYS(SYS_PROCESS_CREATE, ms_process_create), SYS(SYS_PROCESS_SELF, ms_process_self),
    SYS(SYS_PROCESS_KILL, ms_process_kill), SYS(SYS_PROCESS_EXIT, ms_process_exit),
    SYS(SYS_PROCESS_FIND, ms_process_find), SYS(SYS_MALLOC, ms_malloc), SYS(SYS_FREE, ms_free),
    SYS(SYS_SEM_CREATE, ms_sem_create), SYS(SYS_SEM_WAIT, ms_sem_wait), SYS(SYS_SEM_POST, ms_sem_post),
    SYS(SYS_MUTEX_CREATE, ms_mutex_create), SYS(SYS_MUTEX_LOCK, ms_mutex_lock),
    SYS(SYS_MUTEX_UNLOCK, ms_mutex_unlock), SYS(SYS_EVENT_CREATE, ms_event_create),
    SYS(SYS_EVENT_WAIT, 0), /* 5 arguments: see ms_event_wait */
    SYS(SYS_EVENT_SET, ms_event_set), SYS(SYS_EVENT_CLEAR, ms_event_clear),
    SYS(SYS_MQ_CREATE, ms_mq_create), SYS(SYS_MQ_SEND, ms_mq_send), SYS(SYS_MQ_RECV, ms_mq_recv),
    SYS(SYS_TIMER_CREATE, ms_timer_create), SYS(SYS_TIMER_START, ms_timer_start),
    SYS(SYS_TIMER_STOP, ms_timer_stop), SYS(SYS_OBJECT_DELETE, ms_object_delete),
    SYS(SYS_IO_DEV_REGISTER, ms_io_device_register), SYS(SYS_IO_DEV_UNREGISTER, ms_io_device_unregister),
    SYS(SYS_IO_MOUNT, ms_io_mount), SYS(SYS_IO_UNMOUNT, ms_io_unmount), SYS(SYS_IO_OPEN, ms_io_open),
    SYS(SYS_IO_CLOSE, ms_io_close), SYS(SYS_IO_READ, ms_io_read), SYS(SYS_IO_WRITE, ms_io_write),
    SYS(SYS_IO_IOCTL, ms_io_ioctl), SYS(SYS_IO_UNLINK, ms_io_unlink), SYS(SYS_IO_MKDIR, ms_io_mkdir),
    SYS(SYS_IO_SELECT, ms_io_select), SYS(SYS_PIPE_CREATE, ms_pipe_dev_create),
    SYS(SYS_SHM_CREATE, ms_shm_dev_create), SYS(SYS_KWRITE, ms_kwrite), SYS(SYS_PS, ms_ps),
    SYS(SYS_KHEAP_STATS, ms_kheap_stats), SYS(SYS_TICK_GET, ms_tick_get),
    SYS(SYS_CHECK_EEPROM, ms_process_check_eeprom), SYS(SYS_PROC_LIST, ms_proc_list),
    SYS(SYS_EVLOG_READ, ms_evlog_read),
};
/* Calls a process may make only with MS_PERM_PRIV. */
static const uint8_t g_sys_priv[SYS_COUNT] = {
    [SYS_PROCESS_CREATE] = 1, [SYS_TIMER_CREATE] = 1, [SYS_IO_DEV_REGISTER] = 1,
    [SYS_IO_DEV_UNREGISTER] = 1, [SYS_IO_MOUNT] = 1, [SYS_IO_UNMOUNT] = 1,
    [SYS_PIPE_CREATE] = 1, [SYS_SHM_CREATE] = 1,
};
/* Calls that would run the caller's code privileged (device and file-system
 * operations, timer callbacks in the timer thread): refused to processes when
 * the MPU isolates them, whatever their permissions. */
static const uint8_t g_sys_kernel_code[SYS_COUNT] = {
    [SYS_TIMER_CREATE] = 1, [SYS_IO_DEV_REGISTER] = 1, [SYS_IO_MOUNT] = 1,
};

/* User pointers among the arguments, checked against the caller's memory
 * before the call runs (ms_uaccess): a string, or a buffer read (IN) or written
 * (OUT) by the kernel whose length is fixed or another argument. Pointers
 * inside structures and lengths known only to the callee are checked there. */
#define U_STR 0x4000u
#define U_IN 0x8000u
#define U_OUT 0xC000u
#define U_LEN_ARG(n) (0x2000u | (n))   /* length in argument n; else a fixed size */
static const uint16_t g_sys_args[SYS_COUNT][4] __attribute__((aligned(8))) = {
    [SYS_THREAD_CREATE] = {U_IN | sizeof(ms_thread_attr_t)},
    [SYS_PROCESS_CREATE] = {U_IN | sizeof(ms_process_desc_t)},
    [SYS_PROCESS_FIND] = {U_STR},
    [SYS_EVENT_WAIT] = {U_IN | 20u},
    [SYS_IO_OPEN] = {U_STR}, [SYS_IO_UNLINK] = {U_STR}, [SYS_IO_MKDIR] = {U_STR},
    [SYS_IO_DEV_UNREGISTER] = {U_STR}, [SYS_IO_UNMOUNT] = {U_STR},
    [SYS_IO_READ] = {0, U_OUT | U_LEN_ARG(2)}, [SYS_IO_WRITE] = {0, U_IN | U_LEN_ARG(2)},
    [SYS_IO_SELECT] = {0, U_OUT | 4u, U_OUT | 4u},
    [SYS_PIPE_CREATE] = {U_STR}, [SYS_SHM_CREATE] = {U_STR},
    [SYS_KWRITE] = {U_IN | U_LEN_ARG(1)},
    [SYS_KHEAP_STATS] = {U_OUT | sizeof(ms_heap_stats_t), U_OUT | sizeof(ms_heap_stats_t)},
};

static int sys_args_ok(const ms_process_t *p, unsigned nr, const uint32_t *frame)
{
    uint64_t row; /* the four specs at once: most calls take no pointer */
    memcpy(&row, g_sys_args[nr], sizeof row);
    if (!row)
        return 1;
    for (unsigned i = 0; i < 4; i++) {
        unsigned spec = g_sys_args[nr][i], kind = spec & 0xC000u;
        const void *ptr = (const void *)(uintptr_t)frame[i];
        if (!kind)
            continue;
        if (kind == U_STR) {
            if (ptr && ms_ustr_proc(p, ptr) != MS_OK)
                return 0;
            continue;
        }
        size_t len = (spec & 0x2000u) ? frame[spec & 3u] : (spec & 0x1FFFu);
        if (!ptr && !(spec & 0x2000u))
            continue; /* optional structure */
        if (ms_uaccess_proc(p, ptr, len, kind == U_OUT) != MS_OK)
            return 0;
    }
    return 1;
}

__attribute__((noinline)) uint32_t ms_svc(uint32_t nr, uint32_t a, uint32_t b, uint32_t c, uint32_t d)
{
    return ms_svc_call(nr, a, b, c, d);
}

/* SVC handler body; returns the EXC_RETURN to leave with. svc #0: enter the call
 * in r12 privileged, through ms_syscall_tramp: on the thread's kernel stack when it
 * has one (a fresh basic frame there; the caller's frame stays where it is), else on
 * its own stack (the caller's frame rewritten); svc #1: the trampoline's return. */
uint32_t ms_svc_c(uint32_t *frame, uint32_t exc_return)
{
    ms_thread_t *t = ms_current;
    uint8_t imm = ((const uint8_t *)(uintptr_t)frame[6])[-2];
    if (!(exc_return & 4u) || !t)
        return exc_return;
    if (imm == 0) {
        uint32_t nr = frame[4];
        int err = 0;
        void *fn = nr < SYS_COUNT ? g_systab[nr] : 0;
        if (nr == SYS_EVENT_WAIT)
            fn = (void *)(uintptr_t)ms_event_wait_packed;
        if (!t->npriv || t->in_syscall)
            err = MS_ERR_PERM;
        else if (!fn)
            err = MS_ERR_NOSYS;
        else if (g_sys_priv[nr] && !(t->proc && (t->proc->desc->perms & MS_PERM_PRIV)))
            err = MS_ERR_PERM;
        else if (g_sys_kernel_code[nr] && ms_isolation_enabled())
            err = MS_ERR_PERM;
        else if (!sys_args_ok(t->proc, nr, frame))
            err = MS_ERR_FAULT;
        if (!err) {
            stack_check(t, (uint32_t)(uintptr_t)frame); /* the caller's stack, as it enters */
            if (t->state == MS_STATE_DEAD)
                err = MS_ERR_SRCH; /* its process just ended: PendSV switches away */
        }
        if (err) {
            frame[0] = (uint32_t)err;
            return exc_return;
        }
        t->in_syscall = 1;
        t->npriv = 0;
        cm_set_control(cm_get_control() & ~CONTROL_NPRIV);
        if (t->kstack) {
            uint32_t *k = t->kstack + MS_KSTACK_SIZE / 4u - 8u;
#pragma GCC unroll 4
            for (int i = 0; i < 4; i++)
                k[i] = frame[i];
            k[4] = (uint32_t)(uintptr_t)fn;
            k[5] = 0;
            k[6] = (uint32_t)(uintptr_t)ms_syscall_tramp & ~1u;
            k[7] = 0x01000000u;
            t->sys_frame = frame;
            t->sys_exc_return = exc_return;
            cm_set_psp((uint32_t)(uintptr_t)k);
            return EXC_RETURN_THREAD_PSP; /* basic frame: the caller's FP state stays in its frame */
        }
        t->sys_pc = frame[6];
        t->sys_lr = frame[5];
        frame[4] = (uint32_t)(uintptr_t)fn;
        frame[6] = (uint32_t)(uintptr_t)ms_syscall_tramp & ~1u;
        frame[7] = (frame[7] & (1u << 9)) | 0x01000000u;
    } else if (imm == 1 && t->in_syscall) {
        t->in_syscall = 0;
        t->npriv = 1;
        cm_set_control(cm_get_control() | CONTROL_NPRIV);
        if (t->kstack) {
            t->sys_frame[0] = frame[0]; /* the result */
            cm_set_psp((uint32_t)(uintptr_t)t->sys_frame);
            return t->sys_exc_return;
        }
        frame[6] = t->sys_pc;
        frame[5] = t->sys_lr;
        frame[7] = (frame[7] & (1u << 9)) | 0x01000000u;
    }
    return exc_return;
}

/* ====================================================================== */
/* faults                                                                  */

/* What a MemManage or BusFault status says, with the faulting address when the
 * core recorded one (MMFAR/BFAR valid); 0 when it did not. */
static const char *fault_kind(uint32_t ipsr, uint32_t cfsr, uint32_t *addr, int *valid)
{
    *valid = 0;
    if (ipsr == 4) {
        if (cfsr & SCB_CFSR_MMARVALID) {
            *addr = SCB->MMFAR;
            *valid = 1;
        }
        if (cfsr & SCB_CFSR_MSTKERR) return "stacking violation";
        if (cfsr & SCB_CFSR_MUNSTKERR) return "unstacking violation";
        if (cfsr & SCB_CFSR_MLSPERR) return "FP state stacking violation";
        if (cfsr & SCB_CFSR_IACCVIOL) return "instruction fetch violation";
        return "data access violation";
    }
    if (ipsr == 5) {
        if (cfsr & SCB_CFSR_BFARVALID) {
            *addr = SCB->BFAR;
            *valid = 1;
        }
        return (cfsr & (1u << 12)) ? "stacking bus error" : "bus error";
    }
    return ipsr == 6 ? "usage fault" : "fault";
}

void ms_fault_c(uint32_t *frame, uint32_t exc_return)
{
    static const char *const names[] = {"", "", "", "HardFault", "MemManage", "BusFault", "UsageFault"};
    uint32_t ipsr = cm_get_ipsr() & 0x1FFu;
    const char *what = ipsr <= 6 ? names[ipsr] : "fault";
    uint32_t cfsr = SCB->CFSR, hfsr = SCB->HFSR;
    ms_thread_t *t = ms_current;
    if ((exc_return & 0xCu) == 0xCu && t && t->proc && !t->in_syscall) {
        /* A process thread faulted: end that process, keep the system. A
         * failed stacking leaves no frame to read the PC from. */
        uint32_t addr = 0;
        int valid;
        const char *kind = fault_kind(ipsr, cfsr, &addr, &valid);
        int stacking = (cfsr & (SCB_CFSR_MSTKERR | (1u << 12))) != 0;
        uint32_t pc = stacking ? 0u : frame[6];
        char at[24] = "", line[192];
        if (valid)
            ms_snprintf(at, sizeof at, " at 0x%08x", (unsigned)addr);
        int n = ms_snprintf(line, sizeof line,
                            "process '%s' killed: %s in thread '%s' at pc 0x%08x (cfsr 0x%08x): %s%s\n",
                            t->proc->name, what, t->name, (unsigned)pc, (unsigned)cfsr, kind, at);
        ms_kwrite(line, n < (int)sizeof line ? (size_t)n : sizeof line - 1u);
        ms_evlog_add(MS_EV_FAULT, (int)ipsr, t->proc->name, addr, pc);
        SCB->CFSR = cfsr;
        SCB->HFSR = hfsr;
        if (stacking) /* PendSV saves the dead thread's registers: onto its own stack */
            cm_set_psp((uint32_t)(uintptr_t)t->stack_base + t->stack_size - 64u);
        ms_process_fault_kill(t->proc);
        ms_console_flush_isr(); /* the report, if it waited for a killed writer */
        return;
    }
    ms_panic("%s in %s '%s': pc 0x%08x lr 0x%08x cfsr 0x%08x hfsr 0x%08x bfar 0x%08x mmfar 0x%08x", what,
             t ? "thread" : "startup", t ? t->name : "main", (unsigned)frame[6], (unsigned)frame[5],
             (unsigned)cfsr, (unsigned)hfsr, (unsigned)SCB->BFAR, (unsigned)SCB->MMFAR);
}

/* ====================================================================== */
/* start-up                                                                */

void ms_rtos_init(uint32_t core_hz, void *pool, size_t pool_size)
{
    ms_mpu_init();
    ms_heap_init(&ms_kheap, g_kheap_mem, sizeof g_kheap_mem);
    ms_heap_init(&ms_pool, pool, (uint32_t)pool_size);
    ms_tlist_init(&g_timeouts);
    /* SysTick on the reference clock (HCLK/8 on the STM32s) when a tick is a whole number of
     * its clocks: a tickless sleep then lasts up to 2^24 of them (1.34 s at 100 MHz) */
    g_st_ref = core_hz % (8u * MS_TICK_HZ) == 0u;
    g_tick_cycles = g_st_ref ? core_hz / 8u / MS_TICK_HZ : core_hz / MS_TICK_HZ;
    ms_io_init();
    ms_console_init();
    ms_thread_attr_t idle = {"idle", idle_entry, 0, MS_IDLE_STACK, MS_IDLE_PRIO, 0, 1};
    ms_handle_t h = thread_new(&idle, 0);
    if (h < 0)
        ms_panic("cannot create the idle thread (%d)", h);
    g_idle = ms_kobj_get(h, MS_KOBJ_THREAD);
    ms_timer_init();
}

void ms_rtos_start(void)
{
    cm_disable_irq();
    nvic_set_priority(PENDSV_IRQN, 15);
    nvic_set_priority(SYSTICK_IRQN, 14);
    nvic_set_priority(SVCALL_IRQN, 13);
    SCB->SHCSR |= SCB_SHCSR_MEMFAULTENA | SCB_SHCSR_BUSFAULTENA | SCB_SHCSR_USGFAULTENA;
    ms_current = 0;
    g_started = 1;
    SYSTICK->CSR = 0;
    SYSTICK->RVR = g_tick_cycles - 1u;
    SYSTICK->CVR = 0;
    SYSTICK->CSR = (g_st_ref ? 0u : SYSTICK_CSR_CLKSOURCE) | SYSTICK_CSR_TICKINT |
                   SYSTICK_CSR_ENABLE;
    SCB->ICSR = SCB_ICSR_PENDSVSET;
    cm_dsb();
    cm_enable_irq();
    for (;;)
        ; /* not reached: PendSV starts the most urgent thread */
}
