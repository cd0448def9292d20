/*
 * The flash interface sequence the STM32F1 (RM0008 §3.3.3, PM0075 §2.3) and F4 (RM0430
 * §3.5-3.6) share: KEYR unlock, BSY polled with a timeout, EOP and the error flags read and
 * cleared (write 1). Erase and programming themselves are per family (stm32f1/flash_f1.c,
 * stm32f4/flash_f4.c).
 */
#include "bsp_priv.h"

int bsp_flash_unlock(void)
{
    if (FLASHIF->CR & FLASH_CR_LOCK) {
        FLASHIF->KEYR = FLASH_KEY1;
        FLASHIF->KEYR = FLASH_KEY2;
    }
    if (FLASHIF->CR & FLASH_CR_LOCK)
        return BSP_ERR_IO;
    FLASHIF->SR = FLASH_SR_ERRORS | FLASH_SR_EOP;   /* stale errors would refuse the operation */
    return 0;
}

int bsp_flash_finish(uint32_t timeout_us)
{
    int e = bsp_wait_bits(&FLASHIF->SR, FLASH_SR_BSY, 0, timeout_us, timeout_us > 1000u);
    uint32_t sr = FLASHIF->SR;
    FLASHIF->SR = sr & (FLASH_SR_ERRORS | FLASH_SR_EOP);
    if (e)
        return BSP_ERR_TIMEOUT;
    return (sr & FLASH_SR_ERRORS) ? BSP_ERR_IO : 0;
}
