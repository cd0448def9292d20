/*
 * soc_usart_timing: USART2 (APB1) at 9600 8N1 with BRR computed from the real PCLK1, ten
 * bytes written back to back (DR written whenever TXE is set), timed with DWT CYCCNT from
 * the first DR write until SR.TC (RM0008 §27.3.2 / RM0430 §26.3.2: TC sets after the last
 * stop bit once TXE is set). 10 frames x 10 bits at 9600 baud = 10.417 ms.
 *
 * Done twice: at the reset clock (HSI, PCLK1 = HCLK) and after the PLL switch (PCLK1 =
 * HCLK / 2: 50 MHz on the F413, 36 MHz on the F103), so the second BRR differs.
 *
 * Prints, per phase:
 *   <hsi|pll>: pclk1 <hz> brr <n> 10 bytes in <us> us
 * then PASS, or FAIL when a burst is more than 0.5 % off 100 bit times.
 */
#include "../soc_common/soc_test.h"

#define BAUD 9600u
#define NBYTES 10u

static void usart2_setup(void)
{
#if defined(SOC_FAMILY_STM32F4)
    soc_pin_mode(GPIOA, 2, GPIO_MODE_AF, USART2_AF, 0, 0);          /* TX */
    soc_pin_mode(GPIOA, 3, GPIO_MODE_AF, USART2_AF, 0, GPIO_PULL_UP); /* RX */
#else
    soc_pin_cfg(GPIOA, 2, GPIO_CFG_AF_PP_50MHZ);
    soc_pin_cfg(GPIOA, 3, GPIO_CFG_INPUT_FLOATING);
#endif
    RCC->APB1ENR |= RCC_APB1ENR_USART2EN;
    (void)RCC->APB1ENR;
}

static void burst(const soc_clocks_t *c, const char *label, const char *msg)
{
    uint32_t brr = (c->pclk1_hz + BAUD / 2u) / BAUD;
    USART2->CR1 = 0;
    USART2->BRR = brr;
    USART2->CR1 = USART_CR1_UE | USART_CR1_TE;
    soc_delay_us(c, 2000);          /* TE first sends an idle frame (1.04 ms): let it pass */

    uint32_t t0 = DWT_CYCCNT;
    for (unsigned i = 0; i < NBYTES; i++) {
        while (!(USART2->SR & USART_SR_TXE))
            ;
        USART2->DR = (uint8_t)msg[i];   /* SR read above + DR write also clears TC */
    }
    while (!(USART2->SR & USART_SR_TC))
        ;
    uint32_t us = soc_cycles_to_us(c, DWT_CYCCNT - t0);
    con_printf("%s: pclk1 %u brr %u 10 bytes in %u us\n", label, (unsigned)c->pclk1_hz,
               (unsigned)brr, (unsigned)us);
    /* 100 bit times of fCK / BRR, in us */
    uint32_t expected = (uint32_t)((100ull * brr * 1000000ull + c->pclk1_hz / 2u) / c->pclk1_hz);
    if (us + expected / 200u < expected || us > expected + expected / 200u)
        test_fail("%s burst took %u us, expected %u", label, (unsigned)us, (unsigned)expected);
}

int main(void)
{
    test_begin("soc_usart_timing");
    dwt_cyccnt_start();
    soc_gpio_clocks();
    usart2_setup();
    soc_clocks_t hsi = soc_clocks_reset();
    burst(&hsi, "hsi", "0123456789");
    USART2->CR1 = 0;
    soc_clocks_t pll = soc_clock_pll();
    burst(&pll, "pll", "ABCDEFGHIJ");
    test_pass();
}
