/*
 * Privilege rules (ARMv7-M B3.2 "System Control Space": unprivileged access to
 * the SCS other than STIR is a BusFault; B1.4.4 CONTROL; PM0214 2.1.3/4.4.9).
 * (a) With BUSFAULTENA set, main drops to unprivileged thread mode
 *     (CONTROL.nPRIV=1) and writes NVIC_ISER0 (0xE000E100): a precise
 *     BusFault. The handler records CFSR and BFAR, clears CFSR, checks the
 *     stacked PC is the faulting STR and steps over it (2 or 4 bytes, from the
 *     first halfword's encoding). The ISER write must have had no effect.
 * (b) `svc 1` returns to privileged mode through the SVC handler.
 * Output:
 *   control nPRIV=1 SPSEL=0
 *   busfault cfsr=0x00008200 bfar=0xe000e100
 *   stacked pc at the faulting store
 *   control nPRIV=0 after svc 1
 *   PASS
 */
#include "fault_entry.h"
#include "test.h"

static volatile uint32_t g_cfsr, g_bfar, g_fault_pc, g_faults, g_svcs;

void busfault_c(uint32_t *frame)
{
    g_cfsr = SCB->CFSR;
    g_bfar = SCB->BFAR; /* read before clearing BFARVALID */
    SCB->CFSR = g_cfsr; /* write-one-to-clear */
    uint32_t pc = frame[6];
    g_fault_pc = pc;
    g_faults++;
    uint16_t first = *(const uint16_t *)(uintptr_t)pc;
    frame[6] = pc + (((first & 0xF800u) >= 0xE800u) ? 4u : 2u); /* 32-bit encodings: 0b11101/0b11110/0b11111 */
}

void svc_c(uint32_t *frame)
{
    uint8_t imm = ((const uint8_t *)(uintptr_t)frame[6])[-2]; /* SVC #imm8 precedes the return address */
    g_svcs++;
    if (imm == 1)
        cm_set_control(cm_get_control() & ~CONTROL_NPRIV);
}

int main(void)
{
    test_begin("unpriv_trap");
    nvic_disable(WWDG_IRQn);
    SCB->SHCSR |= SCB_SHCSR_BUSFAULTENA;
    cm_dsb();
    cm_isb();

    cm_set_control(cm_get_control() | CONTROL_NPRIV);
    uint32_t ctrl = cm_get_control();
    con_printf("control nPRIV=%u SPSEL=%u\n", (unsigned)(ctrl & 1u), (unsigned)((ctrl >> 1) & 1u));
    if (!(ctrl & CONTROL_NPRIV))
        test_fail("CONTROL.nPRIV did not stick");

    unpriv_store(&NVIC->ISER[0], 1u << WWDG_IRQn);
    con_printf("busfault cfsr=0x%08x bfar=0x%08x\n", (unsigned)g_cfsr, (unsigned)g_bfar);
    uint32_t insn = (uint32_t)(uintptr_t)unpriv_store_insn & ~1u;
    if (g_faults != 1)
        test_fail("%u BusFaults for one unprivileged NVIC write", (unsigned)g_faults);
    if (g_fault_pc != insn)
        test_fail("stacked pc 0x%08x, faulting store at 0x%08x", (unsigned)g_fault_pc, (unsigned)insn);
    con_puts("stacked pc at the faulting store\n");

    __asm__ volatile("svc 1" ::: "memory");
    ctrl = cm_get_control();
    con_printf("control nPRIV=%u after svc 1\n", (unsigned)(ctrl & 1u));
    if (g_svcs != 1 || (ctrl & CONTROL_NPRIV))
        test_fail("svc 1 did not restore privilege (svcs=%u)", (unsigned)g_svcs);
    if (nvic_is_enabled(WWDG_IRQn))
        test_fail("unprivileged ISER write took effect");
    if ((g_cfsr & (SCB_CFSR_PRECISERR | SCB_CFSR_BFARVALID)) != (SCB_CFSR_PRECISERR | SCB_CFSR_BFARVALID))
        test_fail("CFSR 0x%08x lacks PRECISERR|BFARVALID", (unsigned)g_cfsr);
    if (g_bfar != (uint32_t)(uintptr_t)&NVIC->ISER[0])
        test_fail("BFAR 0x%08x, expected 0xe000e100", (unsigned)g_bfar);
    test_pass();
}
