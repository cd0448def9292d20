/*
 * Periodic callback from a general-purpose timer (TIM2-TIM4; RM0008 §15 / RM0430 §18):
 * CK_CNT = TIMCLK / (PSC + 1) with PSC chosen for a 1 MHz count (TIMCLK is 2 x PCLK1 when
 * APB1 is divided), ARR = period - 1 (preloaded, ARPE), UG loads both, URS keeps UG from
 * raising UIF; each update event runs the callback from the interrupt handler. A driver can
 * also claim a timer whole (bsp_tim_claim: 1 MHz count, its own handler at its own priority),
 * as the USART frame receiver does for its silence timer.
 */
#include "bsp_priv.h"

struct tim_cb {
    tim_regs_t *r;
    void (*fn)(void *);
    void *arg;
    void (*isr)(void *);    /* a claiming driver's own handler (bsp_tim_claim) */
};
static struct tim_cb g_tim[5];

int bsp_timer_start(int n, uint32_t period_us, void (*fn)(void *arg), void *arg)
{
    if (n < 2 || n > 4 || !fn || period_us == 0)
        return BSP_ERR_INVAL;
    tim_regs_t *r;
    int irqn;
    uint32_t clk;
    int e = bsp_fam_tim(n, &r, &irqn, &clk);
    if (e)
        return e;
    uint32_t psc = clk / 1000000u, ticks = period_us;
    while (ticks > 0x10000u) {                 /* 16-bit ARR: count slower */
        ticks /= 2;
        psc *= 2;
    }
    if (psc == 0 || psc > 0x10000u)
        return BSP_ERR_INVAL;
    r->CR1 = 0;
    g_tim[n].r = r;
    g_tim[n].fn = fn;
    g_tim[n].arg = arg;
    g_tim[n].isr = 0;
    r->PSC = psc - 1u;
    r->ARR = ticks - 1u;
    r->CR1 = TIM_CR1_URS | TIM_CR1_ARPE;
    r->EGR = TIM_EGR_UG;
    r->SR = 0;
    r->DIER = TIM_DIER_UIE;
    nvic_set_priority(irqn, BSP_IRQ_PRIO_TIM);
    nvic_clear_pending(irqn);
    nvic_enable(irqn);
    r->CR1 |= TIM_CR1_CEN;
    return 0;
}

void bsp_timer_stop(int n)
{
    if (n < 2 || n > 4 || !g_tim[n].r)
        return;
    g_tim[n].r->CR1 = 0;
    g_tim[n].r->DIER = 0;
    g_tim[n].fn = 0;
}

int bsp_tim_claim(int n, void (*isr)(void *arg), void *arg, uint32_t prio, tim_regs_t **regs)
{
    if (n < 2 || n > 4 || !isr)
        return BSP_ERR_INVAL;
    tim_regs_t *r;
    int irqn;
    uint32_t clk;
    int e = bsp_fam_tim(n, &r, &irqn, &clk);
    if (e)
        return e;
    if (clk % 1000000u || clk / 1000000u > 0x10000u)
        return BSP_ERR_INVAL;
    r->CR1 = 0;
    r->DIER = 0;
    g_tim[n].r = r;
    g_tim[n].fn = 0;
    g_tim[n].isr = isr;
    g_tim[n].arg = arg;
    r->PSC = clk / 1000000u - 1u;
    r->CR1 = TIM_CR1_URS;
    r->EGR = TIM_EGR_UG;                /* load PSC; URS: no UIF for it */
    r->SR = 0;
    nvic_set_priority(irqn, prio);
    nvic_clear_pending(irqn);
    nvic_enable(irqn);
    *regs = r;
    return 0;
}

static void tim_isr(int n)
{
    tim_regs_t *r = g_tim[n].r;
    if (!r)
        return;
    if (g_tim[n].isr) {
        g_tim[n].isr(g_tim[n].arg);
        return;
    }
    if (r->SR & TIM_SR_UIF) {
        r->SR = ~TIM_SR_UIF;
        if (g_tim[n].fn)
            g_tim[n].fn(g_tim[n].arg);
    }
}

void TIM2_IRQHandler(void) { tim_isr(2); }
void TIM3_IRQHandler(void) { tim_isr(3); }
void TIM4_IRQHandler(void) { tim_isr(4); }
