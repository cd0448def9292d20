/*
 * Frame of the RTOS test programs: the console of the engine test frame
 * (tests/common) as the kernel console, a memory pool sized for the part,
 * and a kernel "main" thread that runs the test body and ends with
 * rtos_pass()/rtos_fail(), printing "PASS" or "FAIL <reason>".
 */
#ifndef RTOS_TEST_H
#define RTOS_TEST_H

#include "ms_rtos.h"
#include "test.h"

__attribute__((noreturn)) void rtos_test_run(const char *name, ms_thread_entry_t body, unsigned prio);
__attribute__((noreturn)) void rtos_pass(void);
__attribute__((noreturn, format(printf, 1, 2))) void rtos_fail(const char *fmt, ...);
#define CHECK(cond, ...) do { if (!(cond)) rtos_fail(__VA_ARGS__); } while (0)
/* Busy for `ticks` ticks of this thread's own CPU time (ticks seen running). */
void rtos_work(uint32_t ticks);
/* Threads writing the console sleep this long after each character (0: off). */
void rtos_slow_console(uint32_t ticks_per_char);

#endif
