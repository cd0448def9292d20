/*
 * STM32F4 internal flash erase/program (RM0430 §3.5-3.6): sector erase (SER, SNB, STRT;
 * sectors 0-3 16 KiB, 4 64 KiB, 5-11 128 KiB), programming with PSIZE x32 for aligned words
 * and x8 for the rest (2.7-3.6 V), LOCK set again afterwards; unlock, BSY (erase sleeps the
 * calling thread: 16 KiB..128 KiB take 0.25..2 s) and the error flags (reported as
 * BSP_ERR_IO and cleared) in ../stm32/flash.c.
 */
#include "bsp_priv.h"
#include "soc.h"

#define FLASH_START 0x08000000u
#define FLASH_SIZE (1024u * 1024u)

static int sector_of(uint32_t off)
{
    if (off < 0x10000u)
        return (int)(off / 0x4000u);
    if (off < 0x20000u)
        return 4;
    return 5 + (int)((off - 0x20000u) / 0x20000u);
}

int bsp_flash_erase(uint32_t addr)
{
    if (addr < FLASH_START || addr >= FLASH_START + FLASH_SIZE)
        return BSP_ERR_INVAL;
    if (bsp_flash_unlock())
        return BSP_ERR_IO;
    int e = bsp_wait_bits(&FLASHIF->SR, FLASH_SR_BSY, 0, 4000000u, 1);
    if (!e) {
        FLASHIF->CR = FLASH_CR_SER | FLASH_CR_PSIZE_X32 |
                       ((uint32_t)sector_of(addr - FLASH_START) << FLASH_CR_SNB_POS);
        FLASHIF->CR |= FLASH_CR_STRT;
        e = bsp_flash_finish(4000000u);        /* 128 KiB x32: 1..2 s (DS11581) */
    }
    FLASHIF->CR = FLASH_CR_LOCK;
    return e;
}

int bsp_flash_program(uint32_t addr, const void *data, unsigned len)
{
    if (addr < FLASH_START || addr + len > FLASH_START + FLASH_SIZE || !data)
        return BSP_ERR_INVAL;
    if (bsp_flash_unlock())
        return BSP_ERR_IO;
    const uint8_t *p = data;
    unsigned i = 0;
    int e = 0;
    while (i < len && !e) {
        if (((addr + i) & 3u) == 0 && len - i >= 4) {
            uint32_t w = (uint32_t)p[i] | ((uint32_t)p[i + 1] << 8) | ((uint32_t)p[i + 2] << 16) |
                         ((uint32_t)p[i + 3] << 24);
            FLASHIF->CR = FLASH_CR_PG | FLASH_CR_PSIZE_X32;
            *(volatile uint32_t *)(addr + i) = w;
            e = bsp_flash_finish(1000u);       /* tPROG 16 us typical */
            if (!e && *(volatile uint32_t *)(addr + i) != w)
                e = BSP_ERR_IO;
            i += 4;
        } else {
            FLASHIF->CR = FLASH_CR_PG | FLASH_CR_PSIZE_X8;
            *(volatile uint8_t *)(addr + i) = p[i];
            e = bsp_flash_finish(1000u);
            if (!e && *(volatile uint8_t *)(addr + i) != p[i])
                e = BSP_ERR_IO;
            i++;
        }
    }
    FLASHIF->CR = FLASH_CR_LOCK;
    return e;
}
