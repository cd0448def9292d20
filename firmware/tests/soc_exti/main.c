/*
 * soc_exti: external interrupts from GPIO inputs through the port selector (AFIO_EXTICR on
 * the F1, RM0008 §9.4.3-6; SYSCFG_EXTICR on the F4, RM0430 §7.2.3-6) and the EXTI edge
 * detectors (RM0008 §10.2 / RM0430 §10.3: RTSR/FTSR select the edge, IMR unmasks, PR is
 * cleared by writing 1).
 *   PC13: input with pull-down, EXTI13 on the rising edge only  -> EXTI15_10 vector
 *   PA0:  input with pull-up,   EXTI0 on the falling edge only  -> EXTI0 vector
 * The handlers queue (line, pin level); main prints each event as soon as it is queued,
 * sleeping in WFI in between:
 *   ready
 *   exti13 rising, pc13=1
 *   exti0 falling, pa0=0
 *   ...
 *   events <n>                  (after a 50 ms quiet spell following the last event)
 *   PASS
 * SysTick (1 ms) only measures the quiet spell.
 */
#include "../soc_common/soc_test.h"

#define QUEUE 32u
static volatile uint8_t g_line[QUEUE], g_level[QUEUE];
static volatile uint32_t g_head, g_ms;

static void push(uint8_t line, uint8_t level)
{
    uint32_t h = g_head;
    if (h < QUEUE) {
        g_line[h] = line;
        g_level[h] = level;
    }
    g_head = h + 1u;
}

void EXTI15_10_IRQHandler(void)
{
    if (EXTI->PR & (1u << 13)) {
        EXTI->PR = 1u << 13;
        push(13, (uint8_t)((GPIOC->IDR >> 13) & 1u));
    }
}

void EXTI0_IRQHandler(void)
{
    if (EXTI->PR & 1u) {
        EXTI->PR = 1u;
        push(0, (uint8_t)(GPIOA->IDR & 1u));
    }
}

void SysTick_Handler(void) { g_ms++; }

int main(void)
{
    test_begin("soc_exti");
    soc_gpio_clocks();
#if defined(SOC_FAMILY_STM32F4)
    RCC->APB2ENR |= RCC_APB2ENR_SYSCFGEN;
    (void)RCC->APB2ENR;
    soc_pin_mode(GPIOC, 13, GPIO_MODE_IN, 0, 0, GPIO_PULL_DOWN);
    soc_pin_mode(GPIOA, 0, GPIO_MODE_IN, 0, 0, GPIO_PULL_UP);
    SYSCFG->EXTICR[3] = (SYSCFG->EXTICR[3] & ~(0xFu << 4)) | (2u << 4);  /* line 13: port C */
    SYSCFG->EXTICR[0] = (SYSCFG->EXTICR[0] & ~0xFu) | 0u;               /* line 0: port A */
#else
    GPIOC->BRR = 1u << 13;                 /* CNF=10 input with ODR=0: pull-down */
    GPIOA->BSRR = 1u << 0;                 /* ODR=1: pull-up */
    soc_pin_cfg(GPIOC, 13, GPIO_CFG_INPUT_PULL);
    soc_pin_cfg(GPIOA, 0, GPIO_CFG_INPUT_PULL);
    AFIO->EXTICR[3] = (AFIO->EXTICR[3] & ~(0xFu << 4)) | (2u << 4);
    AFIO->EXTICR[0] = (AFIO->EXTICR[0] & ~0xFu) | 0u;
#endif
    EXTI->RTSR = (EXTI->RTSR | (1u << 13)) & ~1u;
    EXTI->FTSR = (EXTI->FTSR | 1u) & ~(1u << 13);
    EXTI->PR = (1u << 13) | 1u;
    EXTI->IMR |= (1u << 13) | 1u;
    nvic_set_priority(EXTI15_10_IRQn, 3);
    nvic_set_priority(EXTI0_IRQn, 3);
    nvic_enable(EXTI15_10_IRQn);
    nvic_enable(EXTI0_IRQn);
    if (((GPIOC->IDR >> 13) & 1u) != 0 || (GPIOA->IDR & 1u) != 1)
        test_fail("idle levels pc13=%u pa0=%u, expected 0 and 1",
                  (unsigned)((GPIOC->IDR >> 13) & 1u), (unsigned)(GPIOA->IDR & 1u));
    systick_start(SOC_RESET_HCLK_HZ / 1000u, 1);
    con_puts("ready\n");

    uint32_t shown = 0, last_ms = g_ms;
    int seen_any = 0;
    for (;;) {
        cm_wfi();
        while (shown < g_head && shown < QUEUE) {
            uint8_t line = g_line[shown], level = g_level[shown];
            if (line == 13)
                con_printf("exti13 rising, pc13=%u\n", level);
            else
                con_printf("exti0 falling, pa0=%u\n", level);
            shown++;
            seen_any = 1;
            last_ms = g_ms;
        }
        if (seen_any && g_ms - last_ms >= 50u)
            break;
        if (g_ms > 10000u)
            test_fail("no events within 10 s");
    }
    systick_stop();
    con_printf("events %u\n", (unsigned)g_head);
    if (g_head > QUEUE)
        test_fail("event queue overflow");
    test_pass();
}
