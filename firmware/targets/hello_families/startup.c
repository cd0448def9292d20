/* Minimal ARMv6-M/v7-M/v8-M start-up: vector table (SP, reset, NMI, HardFault); the reset
 * handler is bsp/cortex_m/reset_min.c. Faults stop in a loop metersim reports as a fault. */
#include <stdint.h>

extern uint32_t _estack;
void Reset_Handler(void);
void Fault_Handler(void);

void Fault_Handler(void)
{
    for (;;) {
    }
}

__attribute__((section(".isr_vector"), used))
static const void *const vectors[4] = {
    &_estack, (const void *)Reset_Handler, (const void *)Fault_Handler,
    (const void *)Fault_Handler,
};
