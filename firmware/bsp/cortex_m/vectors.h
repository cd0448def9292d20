/*
 * The handlers of the vector table (bsp/cortex_m/startup.c) and the program entry it calls.
 * Every handler is a weak alias of Default_Handler; a program overrides one by defining a
 * function of the same name. Included by soc.h after the family header (SOC_IRQ_LIST).
 */
#ifndef VECTORS_H
#define VECTORS_H

int main(void);

void Reset_Handler(void);
void Default_Handler(void);
void NMI_Handler(void);
void HardFault_Handler(void);
void MemManage_Handler(void);
void BusFault_Handler(void);
void UsageFault_Handler(void);
void SVC_Handler(void);
void DebugMon_Handler(void);
void PendSV_Handler(void);
void SysTick_Handler(void);

#define VECTORS_IRQ_HANDLER(name, n) void name##_IRQHandler(void);
SOC_IRQ_LIST(VECTORS_IRQ_HANDLER)
#undef VECTORS_IRQ_HANDLER

#endif
