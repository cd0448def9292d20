/* The reset handler of the minimal start-ups (targets/hello_families, targets/renode_samples:
 * programs for parts the BSP does not cover): .data copy, .bss clear, main, then a dead loop.
 * Each program keeps its own vector table; the BSP's full start-up is startup.c. */
#include <stdint.h>

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss;
int main(void);
void Reset_Handler(void);

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
