/*
 * Priority inversion, with and without priority inheritance.
 * L (prio 30) takes the lock and works 20 ticks inside it. H (prio 10) wakes
 * at +5 ticks and wants the lock; M (prio 20) wakes at +6 ticks and works 100
 * ticks. With a mutex, L inherits H's priority, M cannot preempt it, and H
 * waits at most the critical section. With a plain binary semaphore (no
 * inheritance) M runs first and H waits for M's work too. Lines:
 *   "<kind>: L prio inside = N"       L's effective priority after H blocked
 *   "<kind>: H waited N ticks"
 *   "<kind>: M done at tick N, H got lock at tick N"
 */
#include "rtos_test.h"

#define CS_TICKS 20u
#define M_TICKS 100u

static int g_use_mutex;
static ms_handle_t g_lock, g_done;
static volatile ms_tick_t g_h_got, g_m_done;
static const char *g_kind;

static void take(void) { CHECK((g_use_mutex ? ms_mutex_lock(g_lock, MS_WAIT_FOREVER) : ms_sem_wait(g_lock, MS_WAIT_FOREVER)) == MS_OK, "take"); }
static void give(void) { CHECK((g_use_mutex ? ms_mutex_unlock(g_lock) : ms_sem_post(g_lock)) == MS_OK, "give"); }

static void low(void *arg)
{
    (void)arg;
    take();
    ms_printk("%s: L locked at tick %u\n", g_kind, (unsigned)ms_tick_get());
    rtos_work(8); /* H blocks on the lock meanwhile */
    ms_printk("%s: L prio inside = %d\n", g_kind, ms_thread_get_prio(ms_thread_self()));
    rtos_work(CS_TICKS - 8u);
    give();
    ms_sem_post(g_done);
}

static void medium(void *arg)
{
    (void)arg;
    ms_thread_sleep(6);
    rtos_work(M_TICKS);
    g_m_done = ms_tick_get();
    ms_sem_post(g_done);
}

static void high(void *arg)
{
    (void)arg;
    ms_thread_sleep(5);
    ms_tick_t t0 = ms_tick_get();
    take();
    g_h_got = ms_tick_get();
    give();
    ms_printk("%s: H waited %u ticks\n", g_kind, (unsigned)(g_h_got - t0));
    ms_sem_post(g_done);
}

static void scenario(int use_mutex)
{
    g_use_mutex = use_mutex;
    g_kind = use_mutex ? "mutex" : "semaphore";
    g_lock = use_mutex ? ms_mutex_create("lock") : ms_sem_create("lock", 1, 1);
    CHECK(g_lock > 0, "lock create %d", g_lock);
    /* main (prio 2) creates all three, then sleeps: L runs first. */
    CHECK(ms_thread_create("H", high, 0, 512, 10, 0) > 0, "create H");
    CHECK(ms_thread_create("M", medium, 0, 512, 20, 0) > 0, "create M");
    CHECK(ms_thread_create("L", low, 0, 512, 30, 0) > 0, "create L");
    for (int i = 0; i < 3; i++)
        CHECK(ms_sem_wait(g_done, 1000) == MS_OK, "%s scenario did not finish", g_kind);
    ms_printk("%s: M done at tick %u, H got lock at tick %u\n", g_kind, (unsigned)g_m_done, (unsigned)g_h_got);
    CHECK(ms_object_delete(g_lock) == MS_OK, "delete lock");
    ms_thread_sleep(2); /* let idle reap the threads */
}

static void body(void *arg)
{
    (void)arg;
    g_done = ms_sem_create("done", 0, 3);
    scenario(1);
    scenario(0);
    rtos_pass();
}

int main(void) { rtos_test_run("rtos_pi", body, 2); }
