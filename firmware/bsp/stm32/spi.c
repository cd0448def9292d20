/*
 * SPI master, polled (RM0008 §25.3.3-25.3.5 / RM0430 §29.3.3-29.3.5): 8-bit frames, MSB
 * first, software NSS (SSM=SSI=1, so MODF cannot trigger), baud prescaler the smallest
 * fPCLK / 2^(BR+1) not above max_hz.
 *
 * Waiting: a frame lasts 8 SCK periods, a number of core cycles known from the prescaler, so
 * after writing DR the driver spins that long without touching the bus (bsp_spin, as the I2C
 * driver does per SCL period) and then looks at SR once: the flag it waits for is normally
 * set by then. Only if it is not does it poll SR (with a timeout in spun frames: time spent
 * in interrupts or other threads makes it longer, never shorter). On the slow ADE7753 bus
 * (562.5 kHz, 1,024 cycles a frame) polling from the write on cost a dozen SR and cycle
 * counter reads per byte; this way a byte of bsp_spi_xfer costs DR, SR, DR.
 * At the end of a transfer BSY must be clear (§25.3.8) before the caller releases its chip
 * select; the SR value that showed the last byte's flag usually shows that already.
 */
#include "bsp_priv.h"

#define SPI_MAX 3
static spi_regs_t *g_spi[SPI_MAX + 1];
static uint32_t g_frame_loops[SPI_MAX + 1];     /* bsp_spin() iterations per 8-bit frame */
static uint32_t g_timeout_frames[SPI_MAX + 1];  /* SPI_TIMEOUT_US in frames */
#define SPI_TIMEOUT_US 1000u                    /* a flag this late: the SPI is stuck */

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
    /* 8 SCK periods of 2^(BR+1) PCLK cycles, in HCLK cycles */
    uint64_t frame_cycles = ((uint64_t)8u << (br + 1u)) * bsp_hclk_hz() / pclk;
    g_frame_loops[n] = bsp_spin_loops_for((uint32_t)frame_cycles);
    uint32_t frames = (uint32_t)((uint64_t)SPI_TIMEOUT_US * (pclk >> (br + 1u)) / 8000000u);
    g_timeout_frames[n] = frames > 2u ? frames : 2u;
    return 0;
}

/* SR once `mask` reads `want` (checked at once, then once per spun frame), or 0 with
 * *timed_out set. */
static uint32_t wait_sr(int n, uint32_t mask, uint32_t want, int *timed_out)
{
    spi_regs_t *r = g_spi[n];
    for (uint32_t i = 0;; i++) {
        uint32_t sr = r->SR;
        if ((sr & mask) == want)
            return sr;
        if (i >= g_timeout_frames[n]) {
            *timed_out = 1;
            return 0;
        }
        bsp_spin(g_frame_loops[n]);
    }
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
        sr = wait_sr(n, SPI_SR_TXE, SPI_SR_TXE, &late);
    /* One frame at a time: once its RXNE is seen the Tx buffer is empty again (the next
     * byte needs no TXE look), and a slow reader (an interrupt, a higher thread) cannot
     * overrun a byte it has not read. */
    for (unsigned i = 0; i < len && !late; i++) {
        r->DR = tx ? tx[i] : 0xFFu;
        bsp_spin(g_frame_loops[n]);
        sr = wait_sr(n, SPI_SR_RXNE, SPI_SR_RXNE, &late);
        uint8_t b = (uint8_t)r->DR;
        if (rx)
            rx[i] = b;
    }
    if (!late && (sr & SPI_SR_BSY))
        wait_sr(n, SPI_SR_BSY, 0, &late);
    return late ? BSP_ERR_TIMEOUT : 0;
}

/* Transmit only (RM0008 §25.3.5, "transmit-only procedure"): wait TXE, write DR, for every
 * byte, without waiting for each received byte; then wait until BSY clears and drop the
 * received data and the overrun it caused (read DR, then SR). No gap between bytes: the
 * first goes to the shift register at once, each later one waits in the Tx buffer for the
 * frame before it, so from the third byte on TXE is looked at a frame after the last write.
 * For display and buffer writes. */
int bsp_spi_write(int n, const uint8_t *tx, unsigned len)
{
    if (n < 1 || n > SPI_MAX || !g_spi[n])
        return BSP_ERR_NODEV;
    spi_regs_t *r = g_spi[n];
    int late = 0;
    for (unsigned i = 0; i < len && !late; i++) {
        if (i >= 2u)
            bsp_spin(g_frame_loops[n]);
        wait_sr(n, SPI_SR_TXE, SPI_SR_TXE, &late);
        if (!late)
            r->DR = tx[i];
    }
    if (!late && len)
        bsp_spin(g_frame_loops[n] * (len >= 2u ? 2u : 1u));   /* the last two frames */
    if (!late)
        wait_sr(n, SPI_SR_TXE | SPI_SR_BSY, SPI_SR_TXE, &late);
    if (late)
        return BSP_ERR_TIMEOUT;
    (void)r->DR;
    (void)r->SR;
    return 0;
}
