/*
 * soc_usart_link: two boards with their USART2s cross-connected (TX of one to RX of the
 * other) exchange 16 bytes in lock step. The same image runs on both; pins choose:
 *   PC0 (input, pull-down): low = role A (sends), high = role B (answers)
 *   PC1 (input, pull-down): low = 9600 baud, high = 19200 baud
 * A sends PATTERN[i] and waits (up to 5 ms) for B's answer, PATTERN[i] ^ 0xFF. B answers
 * each byte it receives with that byte ^ 0xFF. Each side reads SR before DR for every
 * received byte and counts FE (framing), ORE (overrun) and NE (noise) as RM0008 §27.6.1 /
 * RM0430 §26.6.1 describe.
 *
 * Prints one of
 *   A: baud <b> sent 16 replies <n> wrong <w> fe <f> ore <o> ne <e>
 *   B: baud <b> received <n> wrong <w> fe <f> ore <o> ne <e>
 * then PASS when every byte arrived intact, else "FAIL link errors" (a baud mismatch between
 * the two boards gives wrong bytes and framing errors instead of clean data).
 */
#include "../soc_common/soc_test.h"

#define NBYTES 16u
static const uint8_t PATTERN[NBYTES] = {0x55, 0xAA, 0x00, 0xFF, 0x01, 0x80, 0x3C, 0xC3,
                                        0x12, 0x34, 0x56, 0x78, 0x9A, 0xBC, 0xDE, 0xF0};

typedef struct {
    unsigned n, wrong, fe, ore, ne;
} link_stats_t;

static void setup(void)
{
    RCC->APB1ENR |= RCC_APB1ENR_USART2EN;
    (void)RCC->APB1ENR;
#if defined(SOC_FAMILY_STM32F4)
    soc_pin_mode(GPIOC, 0, GPIO_MODE_IN, 0, 0, GPIO_PULL_DOWN);
    soc_pin_mode(GPIOC, 1, GPIO_MODE_IN, 0, 0, GPIO_PULL_DOWN);
    soc_pin_mode(GPIOA, 2, GPIO_MODE_AF, USART2_AF, 0, 0);
    soc_pin_mode(GPIOA, 3, GPIO_MODE_AF, USART2_AF, 0, GPIO_PULL_UP);
#else
    GPIOC->ODR &= ~3u;                         /* CNF=10 with ODR=0: pull-down */
    soc_pin_cfg(GPIOC, 0, GPIO_CFG_INPUT_PULL);
    soc_pin_cfg(GPIOC, 1, GPIO_CFG_INPUT_PULL);
    soc_pin_cfg(GPIOA, 2, GPIO_CFG_AF_PP_50MHZ);
    soc_pin_cfg(GPIOA, 3, GPIO_CFG_INPUT_FLOATING);
#endif
}

static void usart2_start(const soc_clocks_t *c, uint32_t baud)
{
    USART2->BRR = (c->pclk1_hz + baud / 2u) / baud;
    USART2->CR1 = USART_CR1_UE | USART_CR1_TE | USART_CR1_RE;
}

/* Waits up to `timeout_us` for a byte; returns -1 on timeout. Counts the error flags. */
static int receive(const soc_clocks_t *c, uint32_t timeout_us, link_stats_t *st)
{
    uint32_t t0 = DWT_CYCCNT, n = timeout_us * (c->hclk_hz / 1000000u);
    for (;;) {
        uint32_t sr = USART2->SR;
        if (sr & (USART_SR_RXNE | USART_SR_ORE)) {
            int v = (int)(USART2->DR & 0xFFu);  /* SR then DR clears FE/NE/ORE */
            st->fe += (sr & USART_SR_FE) ? 1u : 0u;
            st->ore += (sr & USART_SR_ORE) ? 1u : 0u;
            st->ne += (sr & USART_SR_NE) ? 1u : 0u;
            return v;
        }
        if (DWT_CYCCNT - t0 >= n)
            return -1;
    }
}

static void send(uint8_t b)
{
    while (!(USART2->SR & USART_SR_TXE))
        ;
    USART2->DR = b;
}

int main(void)
{
    test_begin("soc_usart_link");
    dwt_cyccnt_start();
    soc_gpio_clocks();
    soc_clocks_t c = soc_clocks_reset();
    setup();
    int role_b = (GPIOC->IDR >> 0) & 1u;
    uint32_t baud = ((GPIOC->IDR >> 1) & 1u) ? 19200u : 9600u;
    usart2_start(&c, baud);
    link_stats_t st = {0, 0, 0, 0, 0};

    if (!role_b) {
        soc_delay_us(&c, 20000);               /* the other board boots and sets up too */
        for (unsigned i = 0; i < NBYTES; i++) {
            send(PATTERN[i]);
            int r = receive(&c, 5000, &st);
            if (r < 0)
                continue;
            st.n++;
            if ((uint8_t)r != (uint8_t)(PATTERN[i] ^ 0xFFu))
                st.wrong++;
        }
        con_printf("A: baud %u sent %u replies %u wrong %u fe %u ore %u ne %u\n",
                   (unsigned)baud, NBYTES, st.n, st.wrong, st.fe, st.ore, st.ne);
        if (st.n != NBYTES)
            st.wrong += NBYTES - st.n;
    } else {
        uint32_t timeout_us = 100000;          /* the first byte comes after A's 20 ms wait */
        while (st.n < NBYTES) {
            int r = receive(&c, timeout_us, &st);
            if (r < 0)
                break;
            send((uint8_t)r ^ 0xFFu);
            if ((uint8_t)r != PATTERN[st.n])
                st.wrong++;
            st.n++;
            timeout_us = 10000;
        }
        con_printf("B: baud %u received %u wrong %u fe %u ore %u ne %u\n", (unsigned)baud,
                   st.n, st.wrong, st.fe, st.ore, st.ne);
        if (st.n != NBYTES)
            st.wrong += NBYTES - st.n;
    }
    while (!(USART2->SR & USART_SR_TC))
        ;
    if (st.wrong || st.fe || st.ore || st.ne)
        test_fail("link errors");
    test_pass();
}
