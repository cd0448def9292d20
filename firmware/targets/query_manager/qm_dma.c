/* SPI2 transmit by DMA1 channel 5: see qm_dma.h. */
#include "bsp_priv.h"
#include "ms_rtos.h"
#include "qm_dma.h"

#define DMA1_REGS DMA1                           /* registers: bsp regs/dma_f1.h */
#define TFT_CH 5u                               /* SPI2_TX: RM0008 Table 78 */
#define CH_SHIFT DMA_ISR_SHIFT(TFT_CH)
#define CCR_EN DMA_CCR_EN
#define CCR_TCIE DMA_CCR_TCIE
#define CCR_TEIE DMA_CCR_TEIE
#define CCR_DIR DMA_CCR_DIR                     /* read from memory */
#define CCR_MINC DMA_CCR_MINC
#define CCR_16BIT (DMA_CCR_PSIZE_16 | DMA_CCR_MSIZE_16)
#define ISR_TCIF DMA_ISR_TCIF
#define ISR_TEIF DMA_ISR_TEIF
#define SPI_CR1_DFF (1u << 11)
#define SPI_CR2_TXDMAEN (1u << 1)
#define SPI_DONE_TIMEOUT_US 1000u

static ms_handle_t g_done;
static int g_ready;
static volatile uint32_t g_flags;               /* the channel's flags at its interrupt */

void DMA1_Channel5_IRQHandler(void)
{
    uint32_t f = (DMA1_REGS->ISR >> CH_SHIFT) & 0xFu;
    DMA1_REGS->IFCR = 0xFu << CH_SHIFT;
    if (f & (ISR_TCIF | ISR_TEIF)) {
        g_flags = f;
        ms_sem_post(g_done);
    }
}

int qm_dma_init(void)
{
    RCC->AHBENR |= RCC_AHBENR_DMA1EN;
    g_done = ms_sem_create("dma", 0, 1);
    if (g_done < 0)
        return BSP_ERR_NODEV;
    g_ready = 1;
    nvic_set_priority(DMA1_Channel5_IRQn, BSP_IRQ_PRIO_EXTI);
    nvic_enable(DMA1_Channel5_IRQn);
    return 0;
}

/* One DMA run of count transfers from addr; sleeps until its transfer-complete interrupt. */
static int run(const volatile void *addr, uint32_t count, uint32_t ccr)
{
    dma_ch_t *ch = &DMA1_REGS->CH[TFT_CH - 1u];
    ch->CCR = 0;
    ch->CPAR = (uint32_t)&SPI2->DR;
    ch->CMAR = (uint32_t)addr;
    ch->CNDTR = count;
    g_flags = 0;
    ch->CCR = ccr | CCR_DIR | CCR_TCIE | CCR_TEIE;
    ch->CCR |= CCR_EN;
    /* 16 bits take under 1 us at 18 MHz: the time of the run plus a margin */
    int r = ms_sem_wait(g_done, ms_ms_to_ticks(count / 500u + 20u));
    ch->CCR = 0;
    if (r != 0)
        return BSP_ERR_TIMEOUT;
    return (g_flags & ISR_TEIF) ? BSP_ERR_IO : 0;
}

int qm_tft_bulk(int spi, const uint8_t *buf, uint16_t fill, uint32_t n)
{
    static volatile uint16_t pixel;             /* the source of a fill (no MINC) */
    spi_regs_t *r = SPI2;
    if (spi != 2 || !g_ready)
        return BSP_ERR_INVAL;
    int err = 0;
    if (!buf) {                                 /* 16-bit frames: DFF only while SPE = 0 */
        pixel = fill;
        r->CR1 &= ~SPI_CR1_SPE;
        r->CR1 |= SPI_CR1_DFF;
        r->CR1 |= SPI_CR1_SPE;
    }
    r->CR2 |= SPI_CR2_TXDMAEN;
    for (uint32_t left = buf ? n : n / 2u; left && !err;) {
        uint32_t count = left > 0xFFFFu ? 0xFFFFu : left;
        err = buf ? run(buf, count, CCR_MINC) : run(&pixel, count, CCR_16BIT);
        if (buf)
            buf += count;
        left -= count;
    }
    /* RM0008 §25.3.9: after the last DMA transfer wait TXE = 1, then BSY = 0 */
    if (bsp_wait_bits(&r->SR, SPI_SR_TXE, SPI_SR_TXE, SPI_DONE_TIMEOUT_US, 0) ||
        bsp_wait_bits(&r->SR, SPI_SR_BSY, 0, SPI_DONE_TIMEOUT_US, 0))
        err = err ? err : BSP_ERR_TIMEOUT;
    r->CR2 &= ~SPI_CR2_TXDMAEN;
    (void)r->DR;                                /* transmit only: drop RXNE and the overrun */
    (void)r->SR;
    if (!buf) {
        r->CR1 &= ~SPI_CR1_SPE;
        r->CR1 &= ~SPI_CR1_DFF;
        r->CR1 |= SPI_CR1_SPE;
    }
    return err;
}
