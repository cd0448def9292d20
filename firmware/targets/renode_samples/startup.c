/* Start-up for the Renode-suite samples: vector table (core exceptions and the 82 STM32F4
 * interrupts, enough for the F103's 60 and the F072's 32); the reset handler is
 * bsp/cortex_m/reset_min.c. A program defines the handlers it uses; the others are a dead loop
 * metersim reports as a fault. */
#include <stdint.h>

extern uint32_t _estack;
void Reset_Handler(void);
void Default_Handler(void);

#define WEAK_DEFAULT __attribute__((weak, alias("Default_Handler")))
#include "sample.h"

void SysTick_Handler(void) WEAK_DEFAULT;
void TIM2_IRQHandler(void) WEAK_DEFAULT;
void TIM4_IRQHandler(void) WEAK_DEFAULT;
void USART2_IRQHandler(void) WEAK_DEFAULT;
void EXTI0_IRQHandler(void) WEAK_DEFAULT;
void EXTI0_1_IRQHandler(void) WEAK_DEFAULT;
void EXTI15_10_IRQHandler(void) WEAK_DEFAULT;
void RTC_Alarm_IRQHandler(void) WEAK_DEFAULT;

void Default_Handler(void)
{
    for (;;) {
    }
}

#define IRQ(n) [16 + (n)]
__attribute__((section(".isr_vector"), used))
static void (*const vectors[16 + 82])(void) = {
    [0] = (void (*)(void))&_estack,
    [1] = Reset_Handler,
    [2] = Default_Handler,       /* NMI */
    [3] = Default_Handler,       /* HardFault */
    [4] = Default_Handler,       /* MemManage */
    [5] = Default_Handler,       /* BusFault */
    [6] = Default_Handler,       /* UsageFault */
    [11] = Default_Handler,      /* SVCall */
    [14] = Default_Handler,      /* PendSV */
    [15] = SysTick_Handler,
    IRQ(5) = EXTI0_1_IRQHandler,  /* F0 (the F1/F4 have RCC there, unused) */
    IRQ(6) = EXTI0_IRQHandler,
    IRQ(28) = TIM2_IRQHandler,
    IRQ(30) = TIM4_IRQHandler,
    IRQ(38) = USART2_IRQHandler,
    IRQ(40) = EXTI15_10_IRQHandler,
    IRQ(41) = RTC_Alarm_IRQHandler,
};
