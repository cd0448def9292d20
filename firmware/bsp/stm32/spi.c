/*
 * SPI master, polled (RM0008 §25.3.3-25.3.5 / RM0430 §29.3.3-29.3.5): 8-bit frames, MSB
 * first, software NSS (SSM=SSI=1, so MODF cannot trigger), baud prescaler the smallest
 * fPCLK / 2^(BR+1) not above max_hz.
 *
 * Waiting for a flag: SR alone is polled in a tight loop first (a frame lasts 16 to 1,024
 * core cycles on these buses), and only a flag that takes longer than SPI_QUICK_POLLS looks
 * starts the timed wait (bsp_wait_bits, DWT CYCCNT). Timing every wait cost a CTRL and
 * several CYCCNT reads per byte, more than SR itself (and metersim's core skips a tight
 * loop on one status register ahead to the flag after a few looks). Spinning a frame's
 * cycles before the first look would save SR reads but spend up to 1,024 instructions a
 * byte on the ADE7753 bus. One frame at a time in bsp_spi_xfer: once its
 * RXNE is seen the Tx buffer is empty again, so the next byte needs no TXE look, and a slow
 * reader (an interrupt, a higher thread) cannot overrun a byte it has not read. At the end
 * BSY must be clear (§25.3.8) before the caller releases its chip select: the SR value that
 * showed the last byte's RXNE usually shows that already.
 */
#include "bsp_priv.h"

#define SPI_MAX 3
static spi_regs_t *g_spi[SPI_MAX + 1];
#define SPI_BYTE_TIMEOUT_US 1000u
#define SPI_QUICK_POLLS 16u

int bsp_spi_init(int n, uint32_t max_hz, int mode)
{
    if (n < 1 || n > SPI_MAX || mode < 0 || mode > 3 || !max_hz)
        return BSP_ERR_INVAL;
    spi_regs_t *r;
    uint32_t pclk;
    int err = bsp_fam_spi(n, &r, &pclk);
    if (err)
        return err;
    unsigned br = 0;
    while (br < 7 && (pclk >> (br + 1)) > max_hz)
        br++;
    r->CR1 = 0;
    r->CR2 = 0;
    r->CR1 = SPI_CR1_MSTR | SPI_CR1_SSM | SPI_CR1_SSI | (br << SPI_CR1_BR_POS) |
             ((mode & 2) ? SPI_CR1_CPOL : 0u) | ((mode & 1) ? SPI_CR1_CPHA : 0u);
    r->CR1 |= SPI_CR1_SPE;
    g_spi[n] = r;
    return 0;
}

/* SR once `mask` reads `want` (header comment), or 0 with *late set after the timeout. */
static uint32_t wait_sr(spi_regs_t *r, uint32_t mask, uint32_t want, int *late)
{
    for (unsigned i = 0; i < SPI_QUICK_POLLS; i++) {
        uint32_t sr = r->SR;
        if ((sr & mask) == want)
            return sr;
    }
    if (bsp_wait_bits(&r->SR, mask, want, SPI_BYTE_TIMEOUT_US, 0)) {
        *late = 1;
        return 0;
    }
    return r->SR;
}

int bsp_spi_xfer(int n, const uint8_t *tx, uint8_t *rx, unsigned len)
{
    if (n < 1 || n > SPI_MAX || !g_spi[n])
        return BSP_ERR_NODEV;
    spi_regs_t *r = g_spi[n];
    int late = 0;
    uint32_t sr = r->SR;
    while (sr & SPI_SR_RXNE) {
        (void)r->DR;                           /* stale byte from an earlier transfer */
        sr = r->SR;
    }
    if (!(sr & SPI_SR_TXE))
        sr = wait_sr(r, SPI_SR_TXE, SPI_SR_TXE, &late);
    for (unsigned i = 0; i < len && !late; i++) {
        r->DR = tx ? tx[i] : 0xFFu;
        sr = wait_sr(r, SPI_SR_RXNE, SPI_SR_RXNE, &late);
        if (late)
            break;
        uint8_t b = (uint8_t)r->DR;
        if (rx)
            rx[i] = b;
    }
    if (!late && (sr & SPI_SR_BSY))
        wait_sr(r, SPI_SR_BSY, 0, &late);
    return late ? BSP_ERR_TIMEOUT : 0;
}

/* Transmit only (RM0008 §25.3.5, "transmit-only procedure"): wait TXE, write DR, for every
 * byte, without waiting for each received byte; then wait until BSY clears and drop the
 * received data and the overrun it caused (read DR, then SR). No gap between bytes: for
 * display and buffer writes. */
int bsp_spi_write(int n, const uint8_t *tx, unsigned len)
{
    if (n < 1 || n > SPI_MAX || !g_spi[n])
        return BSP_ERR_NODEV;
    spi_regs_t *r = g_spi[n];
    int late = 0;
    for (unsigned i = 0; i < len && !late; i++) {
        wait_sr(r, SPI_SR_TXE, SPI_SR_TXE, &late);
        if (!late)
            r->DR = tx[i];
    }
    if (!late)
        wait_sr(r, SPI_SR_TXE | SPI_SR_BSY, SPI_SR_TXE, &late);
    if (late)
        return BSP_ERR_TIMEOUT;
    (void)r->DR;
    (void)r->SR;
    return 0;
}
