/*
 * Independent watchdog (RM0008 §19 / RM0430 §17), reset cause (RCC_CSR flags) and software
 * reset (AIRCR.SYSRESETREQ, ARMv7-M B3.2.6).
 */
#include "bsp_priv.h"

#if defined(SOC_FAMILY_STM32F1)
#define LSI_HZ 40000u                          /* DS5319 Table 25, typical */
#else
#define LSI_HZ 32000u                          /* DS11581, typical */
#endif

void bsp_iwdg_start(uint32_t timeout_ms)
{
    /* Smallest prescaler (4 << PR) whose 12-bit reload reaches the timeout. */
    unsigned pr = 0;
    uint64_t ticks;
    for (;;) {
        ticks = (uint64_t)timeout_ms * LSI_HZ / 1000u / (4u << pr);
        if (ticks <= 0x1000u || pr == 6)
            break;
        pr++;
    }
    if (ticks > 0x1000u)
        ticks = 0x1000u;
    if (ticks == 0)
        ticks = 1;
    IWDG->KR = IWDG_KEY_START;         /* starts the LSI as well */
    IWDG->KR = IWDG_KEY_UNLOCK;
    IWDG->PR = pr;
    IWDG->RLR = (uint32_t)ticks - 1u;
    bsp_wait_bits(&IWDG->SR, 3u, 0u, 1000u, 0);   /* PVU/RVU: values taken over */
    IWDG->KR = IWDG_KEY_RELOAD;
}

void bsp_iwdg_refresh(void) { IWDG->KR = IWDG_KEY_RELOAD; }

/* Backup data words (bsp.h): the family's backup-domain registers, skipping the first. */
#if defined(SOC_FAMILY_STM32F1)
#define BACKUP_REG(n) (BKP->DR[(n) + 1u])
#else
#define BACKUP_REG(n) (RTC->BKPR[(n) + 1u])
#endif

int bsp_backup_read(unsigned n)
{
    return n < BSP_BACKUP_WORDS ? (int)(BACKUP_REG(n) & 0xFFFFu) : BSP_ERR_INVAL;
}

int bsp_backup_write(unsigned n, uint16_t v)
{
    if (n >= BSP_BACKUP_WORDS)
        return BSP_ERR_INVAL;
    BACKUP_REG(n) = v;
    return 0;
}

static uint32_t g_cause;
static uint8_t g_cause_read;

uint32_t bsp_reset_cause(void)
{
    /* Read once per boot and cleared (RMVF), so the next reset reports only its own cause;
     * later calls return the same value. */
    if (!g_cause_read) {
        volatile uint32_t *csr = &RCC->CSR;
        g_cause = *csr & RCC_CSR_FLAGS;
        *csr |= RCC_CSR_RMVF;
        g_cause_read = 1;
    }
    return g_cause;
}

const char *bsp_reset_cause_name(uint32_t c)
{
    if (c & BSP_RESET_LPWR)
        return "low-power";
    if (c & BSP_RESET_WWDG)
        return "window-watchdog";
    if (c & BSP_RESET_IWDG)
        return "watchdog";
    if (c & BSP_RESET_SOFT)
        return "software";
    if (c & BSP_RESET_POR)
        return "power-on";
    if (c & BSP_RESET_BOR)
        return "brown-out";
    if (c & BSP_RESET_PIN)
        return "pin";
    return "unknown";
}

void bsp_reboot(void)
{
    /* Leave the thread stack for the main stack first (privileged thread callers): a core
     * reset restores CONTROL anyway, and metersim's engine (which at the time of writing
     * keeps CONTROL.SPSEL across a reset) then also starts on the MSP. */
    cm_disable_irq();
    if (cm_get_ipsr() == 0 && !(cm_get_control() & CONTROL_NPRIV))
        cm_set_control(0);
    cm_dsb();
    SCB->AIRCR = SCB_AIRCR_VECTKEY | (SCB->AIRCR & SCB_AIRCR_PRIGROUP_MASK) | SCB_AIRCR_SYSRESETREQ;
    cm_dsb();
    for (;;)
        ;
}
