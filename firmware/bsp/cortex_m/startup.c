/*
 * Reset code and vector table for STM32 Cortex-M3/M4F parts (ARMv7-M B1.5.3:
 * word 0 = initial MSP, word 1 = reset vector, then one handler per exception
 * number; IRQn n sits at index 16 + n). The IRQ list comes from the family's
 * SOC_IRQ_LIST in soc.h, so the table always has the part's full length.
 *
 * Every handler (declared in vectors.h) is a weak alias of Default_Handler, a `b .` loop: a program
 * overrides a handler just by defining a function with the same name. An
 * unhandled exception therefore parks the core where a debugger or emulator
 * can read IPSR and the fault status registers.
 */
#include <stdint.h>
#include "soc.h"

extern uint32_t _estack;                  /* top of RAM (linker) */
extern uint32_t _sidata, _sdata, _edata;  /* .data load and run addresses */
extern uint32_t _sbss, _ebss;
extern void (*__init_array_start[])(void);
extern void (*__init_array_end[])(void);

void Default_Handler(void)
{
    __asm__ volatile("b .");
}

#define WEAK_DEFAULT __attribute__((weak, alias("Default_Handler")))
void NMI_Handler(void) WEAK_DEFAULT;
void HardFault_Handler(void) WEAK_DEFAULT;
void MemManage_Handler(void) WEAK_DEFAULT;
void BusFault_Handler(void) WEAK_DEFAULT;
void UsageFault_Handler(void) WEAK_DEFAULT;
void SVC_Handler(void) WEAK_DEFAULT;
void DebugMon_Handler(void) WEAK_DEFAULT;
void PendSV_Handler(void) WEAK_DEFAULT;
void SysTick_Handler(void) WEAK_DEFAULT;

#define DECLARE_IRQ_HANDLER(name, n) void name##_IRQHandler(void) WEAK_DEFAULT;
SOC_IRQ_LIST(DECLARE_IRQ_HANDLER)

typedef void (*vector_t)(void);

#define IRQ_VECTOR(name, n) [EXC_IRQ0 + (n)] = name##_IRQHandler,
__attribute__((section(".isr_vector"), used))
const vector_t g_vectors[EXC_IRQ0 + SOC_IRQ_COUNT] = {
    [0] = (vector_t)(uintptr_t)&_estack,
    [1] = Reset_Handler,
    [EXC_NMI] = NMI_Handler,
    [EXC_HARDFAULT] = HardFault_Handler,
    [EXC_MEMMANAGE] = MemManage_Handler,
    [EXC_BUSFAULT] = BusFault_Handler,
    [EXC_USAGEFAULT] = UsageFault_Handler,
    [EXC_SVCALL] = SVC_Handler,
    [12] = DebugMon_Handler,
    [EXC_PENDSV] = PendSV_Handler,
    [EXC_SYSTICK] = SysTick_Handler,
    SOC_IRQ_LIST(IRQ_VECTOR)
};

void Reset_Handler(void)
{
    uint32_t *src = &_sidata;
    for (uint32_t *dst = &_sdata; dst < &_edata;)
        *dst++ = *src++;
    for (uint32_t *dst = &_sbss; dst < &_ebss;)
        *dst++ = 0;
#if defined(__ARM_FP)
    /* Hard-float code needs CP10/CP11 before its first FP instruction. */
    SCB->CPACR |= SCB_CPACR_CP10_CP11_FULL;
    cm_dsb();
    cm_isb();
#endif
    for (void (**fn)(void) = __init_array_start; fn < __init_array_end; fn++)
        (*fn)();
    main();
    for (;;)
        cm_wfi();
}
