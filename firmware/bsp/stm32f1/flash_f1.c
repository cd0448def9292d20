/*
 * STM32F1 internal flash erase/program (RM0008 §3.3.3, PM0075 §2.3): page erase (PER, AR,
 * STRT), half-word programming (PG, 16-bit stores to an erased location), LOCK set again
 * afterwards; unlock, BSY and PGERR/WRPRTERR in ../stm32/flash.c. Pages: 1 KiB (medium
 * density, F103RB), 2 KiB (high density).
 */
#include "bsp_priv.h"
#include "soc.h"

#if defined(STM32F103xB)
#define PAGE_SIZE 1024u
#define FLASH_SIZE (128u * 1024u)
#else
#define PAGE_SIZE 2048u
#define FLASH_SIZE (256u * 1024u)
#endif
#define FLASH_START 0x08000000u

int bsp_flash_erase(uint32_t addr)
{
    if (addr < FLASH_START || addr >= FLASH_START + FLASH_SIZE)
        return BSP_ERR_INVAL;
    if (bsp_flash_unlock())
        return BSP_ERR_IO;
    int e = bsp_wait_bits(&FLASHIF->SR, FLASH_SR_BSY, 0, 100000u, 1);
    if (!e) {
        FLASHIF->CR = FLASH_CR_PER;
        FLASHIF->AR = addr & ~(PAGE_SIZE - 1u);
        FLASHIF->CR = FLASH_CR_PER | FLASH_CR_STRT;
        e = bsp_flash_finish(100000u);         /* tERASE 20..40 ms */
    }
    FLASHIF->CR = FLASH_CR_LOCK;
    return e;
}

int bsp_flash_program(uint32_t addr, const void *data, unsigned len)
{
    if ((addr & 1u) || addr < FLASH_START || addr + len > FLASH_START + FLASH_SIZE || !data)
        return BSP_ERR_INVAL;
    if (bsp_flash_unlock())
        return BSP_ERR_IO;
    const uint8_t *p = data;
    int e = 0;
    FLASHIF->CR = FLASH_CR_PG;
    for (unsigned i = 0; i < len && !e; i += 2) {
        uint16_t hw = (uint16_t)(p[i] | ((i + 1 < len ? p[i + 1] : 0xFFu) << 8));
        *(volatile uint16_t *)(addr + i) = hw;
        e = bsp_flash_finish(1000u);           /* tPROG 40..70 us */
        if (!e && *(volatile uint16_t *)(addr + i) != hw)
            e = BSP_ERR_IO;
    }
    FLASHIF->CR = FLASH_CR_LOCK;
    return e;
}
