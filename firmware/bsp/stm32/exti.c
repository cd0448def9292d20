/*
 * Pin interrupts and the PVD power-fail interrupt through the EXTI (RM0008 §10.2 /
 * RM0430 §10.3): line x follows pin x of the port chosen in AFIO_EXTICR (F1) or
 * SYSCFG_EXTICR (F4); RTSR/FTSR select the edges, IMR unmasks, PR (write 1) acknowledges.
 * NVIC: lines 0-4 have their own vectors, 5-9 share EXTI9_5, 10-15 share EXTI15_10;
 * line 16 is the PVD output (PVD vector), rising when VDD falls below the PLS threshold.
 */
#include "bsp_priv.h"

struct pin_cb {
    void (*fn)(void *);
    void *arg;
};
static struct pin_cb g_cb[16];
static struct pin_cb g_pvd;

static int line_irqn(unsigned line)
{
    if (line <= 4)
        return EXTI0_IRQn + (int)line;
    return line <= 9 ? EXTI9_5_IRQn : EXTI15_10_IRQn;
}

int bsp_pin_irq_attach(bsp_pin_t pin, enum bsp_edge edge, void (*fn)(void *arg), void *arg)
{
    unsigned line = pin & 15u, port = pin >> 4;
    uint32_t bit = 1u << line;
    if (pin == BSP_PIN_NONE || port > 7 || (edge & ~3) != 0)
        return BSP_ERR_INVAL;
    uint32_t s = bsp_irq_lock();
    EXTI->IMR &= ~bit;
    if (!fn || !edge) {                        /* detach */
        g_cb[line].fn = 0;
        bsp_irq_unlock(s);
        return 0;
    }
    if (g_cb[line].fn && g_cb[line].arg != arg && g_cb[line].fn != fn) {
        bsp_irq_unlock(s);
        return BSP_ERR_BUSY;                   /* one pin per line number */
    }
    g_cb[line].fn = fn;
    g_cb[line].arg = arg;
    bsp_fam_exti_route(line, port);
    if (edge & BSP_EDGE_RISING)
        EXTI->RTSR |= bit;
    else
        EXTI->RTSR &= ~bit;
    if (edge & BSP_EDGE_FALLING)
        EXTI->FTSR |= bit;
    else
        EXTI->FTSR &= ~bit;
    EXTI->PR = bit;
    EXTI->IMR |= bit;
    int irqn = line_irqn(line);
    nvic_set_priority(irqn, BSP_IRQ_PRIO_EXTI);
    nvic_enable(irqn);
    bsp_irq_unlock(s);
    return 0;
}

static void dispatch(unsigned first, unsigned last)
{
    uint32_t pr = EXTI->PR;
    for (unsigned line = first; line <= last; line++) {
        uint32_t bit = 1u << line;
        if (!(pr & bit))
            continue;
        EXTI->PR = bit;
        if (g_cb[line].fn)
            g_cb[line].fn(g_cb[line].arg);
    }
}

void EXTI0_IRQHandler(void) { dispatch(0, 0); }
void EXTI1_IRQHandler(void) { dispatch(1, 1); }
void EXTI2_IRQHandler(void) { dispatch(2, 2); }
void EXTI3_IRQHandler(void) { dispatch(3, 3); }
void EXTI4_IRQHandler(void) { dispatch(4, 4); }
void EXTI9_5_IRQHandler(void) { dispatch(5, 9); }
void EXTI15_10_IRQHandler(void) { dispatch(10, 15); }

int bsp_pvd_attach(unsigned level, void (*fn)(void *arg), void *arg)
{
    if (level > 7)
        return BSP_ERR_INVAL;
    const uint32_t bit = 1u << EXTI_LINE_PVD;
    bsp_fam_pwr_clock();
    uint32_t s = bsp_irq_lock();
    g_pvd.fn = fn;
    g_pvd.arg = arg;
    uint32_t cr = PWR->CR & ~(7u << PWR_CR_PLS_POS);
    PWR->CR = cr | (level << PWR_CR_PLS_POS) | PWR_CR_PVDE;
    EXTI->RTSR |= bit;                     /* PVDO rises: VDD fell below the threshold */
    EXTI->FTSR &= ~bit;
    EXTI->PR = bit;
    if (fn)
        EXTI->IMR |= bit;
    else
        EXTI->IMR &= ~bit;
    nvic_set_priority(PVD_IRQn, BSP_IRQ_PRIO_PVD);
    if (fn)
        nvic_enable(PVD_IRQn);
    bsp_irq_unlock(s);
    /* Already below the threshold: report it now rather than never. */
    if (fn && (PWR->CSR & PWR_CSR_PVDO))
        nvic_set_pending(PVD_IRQn);
    return 0;
}

int bsp_pvd_below(void) { return (PWR->CSR & PWR_CSR_PVDO) != 0; }

void PVD_IRQHandler(void)
{
    EXTI->PR = 1u << EXTI_LINE_PVD;
    if (g_pvd.fn)
        g_pvd.fn(g_pvd.arg);
}
