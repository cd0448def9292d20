/*
 * STM32F4 internal flash erase/program (RM0430 §3.5-3.6): unlock with KEYR (only while LOCK
 * is set), sector erase (SER, SNB, STRT; sectors 0-3 16 KiB, 4 64 KiB, 5-11 128 KiB),
 * programming with PSIZE x32 for aligned words and x8 for the rest (2.7-3.6 V), BSY polled
 * with a timeout (erase sleeps the calling thread: 16 KiB..128 KiB take 0.25..2 s),
 * error flags (WRPERR, PGAERR, PGPERR, PGSERR, OPERR) reported as BSP_ERR_IO and cleared,
 * LOCK set again afterwards.
 */
#include "bsp_priv.h"
#include "soc.h"

#define FLASH_START 0x08000000u
#define FLASH_SIZE (1024u * 1024u)
#define ERRORS (FLASH_SR_OPERR | FLASH_SR_WRPERR | FLASH_SR_PGAERR | \
                FLASH_SR_PGPERR | FLASH_SR_PGSERR | FLASH_SR_RDERR)

static int sector_of(uint32_t off)
{
    if (off < 0x10000u)
        return (int)(off / 0x4000u);
    if (off < 0x20000u)
        return 4;
    return 5 + (int)((off - 0x20000u) / 0x20000u);
}

static void unlock(void)
{
    if (FLASHIF->CR & FLASH_CR_LOCK) {
        FLASHIF->KEYR = FLASH_KEY1;
        FLASHIF->KEYR = FLASH_KEY2;
    }
}

static int finish(uint32_t timeout_us)
{
    int e = bsp_wait_bits(&FLASHIF->SR, FLASH_SR_BSY, 0, timeout_us, timeout_us > 1000u);
    uint32_t sr = FLASHIF->SR;
    FLASHIF->SR = sr & (ERRORS | FLASH_SR_EOP);
    if (e)
        return BSP_ERR_TIMEOUT;
    return (sr & ERRORS) ? BSP_ERR_IO : 0;
}

int bsp_flash_erase(uint32_t addr)
{
    if (addr < FLASH_START || addr >= FLASH_START + FLASH_SIZE)
        return BSP_ERR_INVAL;
    unlock();
    if (FLASHIF->CR & FLASH_CR_LOCK)
        return BSP_ERR_IO;
    FLASHIF->SR = ERRORS | FLASH_SR_EOP;   /* stale errors would refuse the operation */
    int e = bsp_wait_bits(&FLASHIF->SR, FLASH_SR_BSY, 0, 4000000u, 1);
    if (!e) {
        FLASHIF->CR = FLASH_CR_SER | FLASH_CR_PSIZE_X32 |
                       ((uint32_t)sector_of(addr - FLASH_START) << FLASH_CR_SNB_POS);
        FLASHIF->CR |= FLASH_CR_STRT;
        e = finish(4000000u);                  /* 128 KiB x32: 1..2 s (DS11581) */
    }
    FLASHIF->CR = FLASH_CR_LOCK;
    return e;
}

int bsp_flash_program(uint32_t addr, const void *data, unsigned len)
{
    if (addr < FLASH_START || addr + len > FLASH_START + FLASH_SIZE || !data)
        return BSP_ERR_INVAL;
    unlock();
    if (FLASHIF->CR & FLASH_CR_LOCK)
        return BSP_ERR_IO;
    FLASHIF->SR = ERRORS | FLASH_SR_EOP;
    const uint8_t *p = data;
    unsigned i = 0;
    int e = 0;
    while (i < len && !e) {
        if (((addr + i) & 3u) == 0 && len - i >= 4) {
            uint32_t w = (uint32_t)p[i] | ((uint32_t)p[i + 1] << 8) | ((uint32_t)p[i + 2] << 16) |
                         ((uint32_t)p[i + 3] << 24);
            FLASHIF->CR = FLASH_CR_PG | FLASH_CR_PSIZE_X32;
            *(volatile uint32_t *)(addr + i) = w;
            e = finish(1000u);                 /* tPROG 16 us typical */
            if (!e && *(volatile uint32_t *)(addr + i) != w)
                e = BSP_ERR_IO;
            i += 4;
        } else {
            FLASHIF->CR = FLASH_CR_PG | FLASH_CR_PSIZE_X8;
            *(volatile uint8_t *)(addr + i) = p[i];
            e = finish(1000u);
            if (!e && *(volatile uint8_t *)(addr + i) != p[i])
                e = BSP_ERR_IO;
            i++;
        }
    }
    FLASHIF->CR = FLASH_CR_LOCK;
    return e;
}
