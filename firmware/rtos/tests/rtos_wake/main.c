/*
 * Tickless idle ended early by an external interrupt, over and over: the
 * tick count must keep time with the core clock through every early wake.
 *
 * PA0 is an input with a pull-down; EXTI0 interrupts on its rising edges
 * (RM0430 §7.2.3 SYSCFG_EXTICR1 / RM0008 §9.4.3 AFIO_EXTICR1 select port A;
 * RM0430 §10.3 / RM0008 §10.2: RTSR selects the edge, IMR unmasks, PR is
 * cleared by writing 1). The test bench pulses PA0 at irregular times while
 * the main thread sleeps until 1000 ticks after a tick it printed, in two
 * phases:
 *   quiet:  the handler only notes the tick; the idle thread goes straight
 *           back to its tickless sleep;
 *   thread: the handler posts a semaphore; a worker thread notes the tick
 *           (a context switch between the wake and the next sleep).
 * Lines per phase (P = quiet or thread):
 *   P sleep from tick T0
 *   P woke at tick T          (T0 + 1000)
 *   P edges N
 *   P ticks d1 d2 ... d16     (the tick seen at each edge, minus T0; 16 a line)
 * then PASS. "ready" comes first, once the pin is set up.
 */
#include "rtos_test.h"
#include "../../../tests/soc_common/soc_test.h"

#define MAX_EDGES 200u

static volatile ms_tick_t g_edge_tick[MAX_EDGES];
static volatile uint32_t g_edges;
static volatile int g_thread_phase;
static ms_handle_t g_sem;

static void note(ms_tick_t t)
{
    uint32_t k = g_edges;
    if (k < MAX_EDGES)
        g_edge_tick[k] = t;
    g_edges = k + 1u;
}

void EXTI0_IRQHandler(void)
{
    if (!(EXTI->PR & 1u))
        return;
    EXTI->PR = 1u;
    if (g_thread_phase)
        ms_sem_post(g_sem);
    else
        note(ms_tick_get());
}

static void worker(void *arg)
{
    (void)arg;
    for (;;) {
        CHECK(ms_sem_wait(g_sem, MS_WAIT_FOREVER) == MS_OK, "sem wait");
        note(ms_tick_get());
    }
}

static void pin_setup(void)
{
    soc_gpio_clocks();
#if defined(SOC_FAMILY_STM32F4)
    RCC->APB2ENR |= RCC_APB2ENR_SYSCFGEN;
    (void)RCC->APB2ENR;
    soc_pin_mode(GPIOA, 0, GPIO_MODE_IN, 0, 0, GPIO_PULL_DOWN);
    SYSCFG->EXTICR[0] &= ~0xFu;  /* line 0: port A */
#else
    GPIOA->BRR = 1u;             /* CNF=10 with ODR=0: pull-down */
    soc_pin_cfg(GPIOA, 0, GPIO_CFG_INPUT_PULL);
    AFIO->EXTICR[0] &= ~0xFu;
#endif
    EXTI->RTSR |= 1u;
    EXTI->FTSR &= ~1u;
    EXTI->PR = 1u;
    EXTI->IMR |= 1u;
    nvic_set_priority(EXTI0_IRQn, 5);
    nvic_enable(EXTI0_IRQn);
}

static void phase(const char *name)
{
    g_edges = 0;
    ms_thread_sleep(1); /* start right after a tick */
    ms_tick_t t0 = ms_tick_get();
    ms_printk("%s sleep from tick %u\n", name, (unsigned)t0);
    /* until tick t0 + 1000 (the polled console took a few ticks) */
    CHECK(ms_thread_sleep(t0 + 1000u - ms_tick_get()) == MS_OK, "sleep");
    ms_tick_t t1 = ms_tick_get();
    ms_printk("%s woke at tick %u\n", name, (unsigned)t1);
    CHECK(t1 - t0 == 1000u, "%s slept %u ticks", name, (unsigned)(t1 - t0));
    uint32_t n = g_edges;
    ms_printk("%s edges %u\n", name, (unsigned)n);
    CHECK(n <= MAX_EDGES, "%s: %u edges, room for %u", name, (unsigned)n, MAX_EDGES);
    for (uint32_t k = 0; k < n; k++) {
        if (k % 16u == 0)
            ms_printk("%s ticks", name);
        ms_printk(" %u", (unsigned)(g_edge_tick[k] - t0));
        if (k % 16u == 15u || k + 1u == n)
            ms_printk("\n");
    }
}

static void body(void *arg)
{
    (void)arg;
    g_sem = ms_sem_create("edge", 0, MAX_EDGES);
    CHECK(g_sem > 0, "sem create");
    CHECK(ms_thread_create("worker", worker, 0, 512, 1, 0) > 0, "create worker");
    pin_setup();
    ms_printk("ready\n");
    ms_thread_sleep(50);
    phase("quiet");
    g_thread_phase = 1;
    ms_thread_sleep(50);
    phase("thread");
    rtos_pass();
}

int main(void) { rtos_test_run("rtos_wake", body, 2); }
