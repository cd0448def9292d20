/*
 * Unmapped data access: loads from 0x60000000 (FSMC bank 1; no external memory
 * and the FSMC clock is off). The part answers with a bus error: a precise
 * BusFault (CFSR.PRECISERR|BFARVALID, BFAR=0x60000000); BusFault is not
 * enabled in SHCSR, so it escalates to HardFault (HFSR.FORCED). There is no
 * handler of its own: the weak default `b .` loop catches it, and the engine
 * must stop with a fault report. PASS is never printed.
 */
#include "test.h"

int main(void)
{
    test_begin("bad_access");
    con_puts("about to fault\n");
    con_flush();
    uint32_t v = *(volatile uint32_t *)FSMC_BANK1_BASE;
    test_fail("read 0x%08x from 0x60000000 without a fault", (unsigned)v);
}
