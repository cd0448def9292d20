/*
 * SPI master, polled (RM0008 §25.3.3-25.3.5 / RM0430 §29.3.3-29.3.5): 8-bit frames, MSB
 * first, software NSS (SSM=SSI=1, so MODF cannot trigger), baud prescaler the smallest
 * fPCLK / 2^(BR+1) not above max_hz. Each byte: wait TXE, write DR, wait RXNE, read DR;
 * at the end wait until BSY clears (§25.3.8) so the caller may release its chip select.
 */
#include "bsp_priv.h"

#define SPI_MAX 3
static spi_regs_t *g_spi[SPI_MAX + 1];
#define SPI_BYTE_TIMEOUT_US 1000u

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

int bsp_spi_xfer(int n, const uint8_t *tx, uint8_t *rx, unsigned len)
{
    if (n < 1 || n > SPI_MAX || !g_spi[n])
        return BSP_ERR_NODEV;
    spi_regs_t *r = g_spi[n];
    while (r->SR & SPI_SR_RXNE)
        (void)r->DR;                           /* stale byte from an earlier transfer */
    for (unsigned i = 0; i < len; i++) {
        if (bsp_wait_bits(&r->SR, SPI_SR_TXE, SPI_SR_TXE, SPI_BYTE_TIMEOUT_US, 0))
            return BSP_ERR_TIMEOUT;
        r->DR = tx ? tx[i] : 0xFFu;
        if (bsp_wait_bits(&r->SR, SPI_SR_RXNE, SPI_SR_RXNE, SPI_BYTE_TIMEOUT_US, 0))
            return BSP_ERR_TIMEOUT;
        uint8_t b = (uint8_t)r->DR;
        if (rx)
            rx[i] = b;
    }
    if (bsp_wait_bits(&r->SR, SPI_SR_BSY, 0, SPI_BYTE_TIMEOUT_US, 0))
        return BSP_ERR_TIMEOUT;
    return 0;
}

/* Transmit only (RM0008 §25.3.5, "transmit-only procedure"): wait TXE, write DR, for every
 * byte, without waiting for each received byte; then wait until BSY clears and drop the
 * received data and the overrun it caused (read DR, then SR). Half the register accesses of
 * bsp_spi_xfer per byte, and no gap between bytes: for display and buffer writes. */
int bsp_spi_write(int n, const uint8_t *tx, unsigned len)
{
    if (n < 1 || n > SPI_MAX || !g_spi[n])
        return BSP_ERR_NODEV;
    spi_regs_t *r = g_spi[n];
    for (unsigned i = 0; i < len; i++) {
        if (bsp_wait_bits(&r->SR, SPI_SR_TXE, SPI_SR_TXE, SPI_BYTE_TIMEOUT_US, 0))
            return BSP_ERR_TIMEOUT;
        r->DR = tx[i];
    }
    if (bsp_wait_bits(&r->SR, SPI_SR_TXE, SPI_SR_TXE, SPI_BYTE_TIMEOUT_US, 0) ||
        bsp_wait_bits(&r->SR, SPI_SR_BSY, 0, SPI_BYTE_TIMEOUT_US, 0))
        return BSP_ERR_TIMEOUT;
    (void)r->DR;
    (void)r->SR;
    return 0;
}
