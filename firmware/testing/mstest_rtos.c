/*
 * main() of the RTOS's unit-test images (rtos/tests/unit_*): the kernel starts,
 * a kernel thread runs every mstest case, then the RTOS test frame's PASS or
 * FAIL line ends the run.
 */
#include "mstest.h"
#include "mstest_rtos.h"
#include "rtos_test.h"

static const char *g_image;

static void run_cases(void *arg)
{
    (void)arg;
    int failed = mstest_run_all(g_image);
    if (failed)
        rtos_fail("%d unit test case(s) failed", failed);
    rtos_pass();
}

void mstest_rtos_main(const char *image)
{
    g_image = image;
    rtos_test_run(image, run_cases, 2);
}
