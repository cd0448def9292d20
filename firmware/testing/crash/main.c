/*
 * mstest's crash check (bare metal): the second case writes to an address
 * with nothing behind it, so the core faults in the middle of the run. What a
 * user must see: the first case passed, the second failed with the fault
 * report, the third did not run. The fault here is intended.
 */
#include "mstest.h"
#include "test.h"

MSTEST(crash, passes_before_the_fault)
{
    MST_EQ(2 + 2, 4);
}

MSTEST(crash, writes_where_nothing_is_mapped)
{
    *(volatile uint32_t *)0x5FFFFFF0u = 0xDEADBEEFu;   /* no memory or peripheral there */
}

MSTEST(crash, never_runs)
{
    MST_EQ(1, 1);
}

int main(void)
{
    test_begin("mstest_crash");
    mstest_run_all("mstest_crash");
    test_halt();
}
