/*
 * mstest's own check (bare metal, no RTOS): each assertion kind passes once and
 * fails once, so metersim's tests can see what a user sees for every kind of
 * failure (message, values, file:line). The FAILs here are intended.
 */
#include "mstest.h"
#include "test.h"

static int g_after_failure;

MSTEST(selftest, passes)
{
    uint8_t a[3] = {1, 2, 3}, b[3] = {1, 2, 3};
    MST_TRUE(1 + 1 == 2);
    MST_EQ(-5, -5);
    MST_LT(2, 3);
    MST_STR_EQ("meter", "meter");
    MST_MEM_EQ(a, b, 3);
    MST_PTR_EQ(a, a);
}

MSTEST(selftest, eq_fails_with_both_values)
{
    int energy_Wh = 41;
    MST_EQ(energy_Wh, 42);
    g_after_failure = 1;            /* never reached: the failure ended the case */
}

MSTEST(selftest, str_fails_with_both_strings)
{
    MST_STR_EQ("relay open", "relay closed");
}

MSTEST(selftest, mem_fails_at_first_difference)
{
    static const uint8_t a[4] = {0x68, 0x11, 0x22, 0x16}, b[4] = {0x68, 0x11, 0x23, 0x16};
    MST_MEM_EQ(a, b, 4);
}

MSTEST(selftest, failure_ends_its_case)
{
    MST_EQ(g_after_failure, 0);
}

int main(void)
{
    test_begin("mstest_selftest");
    mstest_run_all("mstest_selftest");
    test_halt();
}
