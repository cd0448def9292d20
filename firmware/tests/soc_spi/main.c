/*
 * soc_spi: SPI1 master (software NSS: SSM = SSI = 1) exchanging 16 bytes full duplex with
 * a device selected by PA4 (GPIO output, active low). The test's device is an 8-bit shift
 * register looped from MOSI to MISO: each byte clocked in comes back during the next one,
 * so byte i read equals byte i-1 written (the first one: the last byte of the previous
 * transfer, 0x00 after power-up).
 *
 * Per RM0008 §25.3.5 / RM0430 §29.3.9 the transmit buffer is kept full (DR written as soon
 * as TXE is set, before the previous frame ends) so frames follow each other without gaps;
 * the transfer is timed with DWT CYCCNT from the first DR write to BSY = 0. SPI1 is on APB2
 * and runs at the reset clock here (PCLK2 = HSI): f_SCK = PCLK2 / 2^(BR+1).
 *
 * Prints, for BR = 3 (/16) and BR = 6 (/128):
 *   div <d>: 16 bytes in <cycles> cycles, echo ok
 * then PASS; FAIL when the echo differs or the time is more than 2 % off 16 x 8 x d cycles.
 */
#include "../soc_common/soc_test.h"

#define NBYTES 16u

static uint8_t g_prev;  /* last byte the shift register holds */

static void cs(int level)
{
    GPIOA->BSRR = level ? (1u << 4) : (1u << (4 + 16));
}

static void setup(void)
{
    RCC->APB2ENR |= RCC_APB2ENR_SPI1EN;
    (void)RCC->APB2ENR;
    GPIOA->BSRR = 1u << 4;                        /* CS high before it becomes an output */
#if defined(SOC_FAMILY_STM32F4)
    soc_pin_mode(GPIOA, 4, GPIO_MODE_OUT, 0, 0, 0);
    soc_pin_mode(GPIOA, 5, GPIO_MODE_AF, SPI1_AF, 0, 0);   /* SCK */
    soc_pin_mode(GPIOA, 6, GPIO_MODE_AF, SPI1_AF, 0, 0);   /* MISO */
    soc_pin_mode(GPIOA, 7, GPIO_MODE_AF, SPI1_AF, 0, 0);   /* MOSI */
#else
    soc_pin_cfg(GPIOA, 4, GPIO_CFG_OUT_PP_2MHZ);
    soc_pin_cfg(GPIOA, 5, GPIO_CFG_AF_PP_50MHZ);
    soc_pin_cfg(GPIOA, 6, GPIO_CFG_INPUT_FLOATING);
    soc_pin_cfg(GPIOA, 7, GPIO_CFG_AF_PP_50MHZ);
#endif
}

static void transfer(unsigned br, uint8_t seed)
{
    uint8_t tx[NBYTES], rx[NBYTES];
    for (unsigned i = 0; i < NBYTES; i++)
        tx[i] = (uint8_t)(seed + 37u * i);
    SPI1->CR1 = 0;
    SPI1->CR1 = SPI_CR1_MSTR | SPI_CR1_SSM | SPI_CR1_SSI | (br << SPI_CR1_BR_POS);
    SPI1->CR1 |= SPI_CR1_SPE;
    cs(0);
    uint32_t t0 = DWT_CYCCNT;
    SPI1->DR = tx[0];
    for (unsigned i = 0; i < NBYTES; i++) {
        if (i + 1u < NBYTES) {
            while (!(SPI1->SR & SPI_SR_TXE))
                ;
            SPI1->DR = tx[i + 1u];
        }
        while (!(SPI1->SR & SPI_SR_RXNE))
            ;
        rx[i] = (uint8_t)SPI1->DR;
    }
    while (SPI1->SR & SPI_SR_BSY)
        ;
    uint32_t cycles = DWT_CYCCNT - t0;
    cs(1);
    SPI1->CR1 &= ~SPI_CR1_SPE;

    unsigned div = 2u << br;
    for (unsigned i = 0; i < NBYTES; i++) {
        uint8_t want = i ? tx[i - 1u] : g_prev;
        if (rx[i] != want)
            test_fail("div %u: byte %u read 0x%02x, expected 0x%02x", div, i, rx[i], want);
    }
    g_prev = tx[NBYTES - 1u];
    con_printf("div %u: 16 bytes in %u cycles, echo ok\n", div, (unsigned)cycles);
    /* PCLK2 = HCLK here, so one SCK period is `div` core cycles. */
    uint32_t expected = NBYTES * 8u * div;
    if (SPI1->SR & (SPI_SR_OVR | SPI_SR_MODF))
        test_fail("div %u: SR 0x%02x has OVR/MODF", div, (unsigned)SPI1->SR);
    if (cycles + expected / 50u < expected || cycles > expected + expected / 50u)
        test_fail("div %u: %u cycles, expected %u", div, (unsigned)cycles, (unsigned)expected);
}

int main(void)
{
    test_begin("soc_spi");
    dwt_cyccnt_start();
    soc_gpio_clocks();
    setup();
    g_prev = 0x00;
    transfer(3, 0x11);
    transfer(6, 0xA5);
    test_pass();
}
