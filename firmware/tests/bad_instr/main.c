/*
 * Undefined instruction: executes UDF #0 (0xDE00). The core raises UsageFault
 * UNDEFINSTR (CFSR bit 16); UsageFault is not enabled in SHCSR, so it
 * escalates to HardFault (HFSR.FORCED). No handler of its own: the weak
 * default `b .` loop catches it and the engine must stop with a fault report.
 * PASS is never printed.
 */
#include "test.h"

int main(void)
{
    test_begin("bad_instr");
    con_puts("about to execute udf\n");
    con_flush();
    __asm__ volatile(".short 0xDE00" ::: "memory");
    test_fail("udf executed without a fault");
}
