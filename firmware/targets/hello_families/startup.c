/* Minimal ARMv6-M/v7-M/v8-M start-up: vector table (SP, reset, NMI, HardFault), .data copy,
 * .bss clear, main. Faults stop in a loop metersim reports as a fault. */
#include <stdint.h>

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;
int main(void);
void Reset_Handler(void);
void Fault_Handler(void);

void Reset_Handler(void)
{
    uint32_t *src = &_sidata;
    for (uint32_t *dst = &_sdata; dst < &_edata;) {
        *dst++ = *src++;
    }
    for (uint32_t *dst = &_sbss; dst < &_ebss;) {
        *dst++ = 0;
    }
    main();
    for (;;) {
    }
}

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
