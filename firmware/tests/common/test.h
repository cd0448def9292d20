/*
 * Shared frame of the engine test programs: a banner line
 * "test <name> on <part> (<core>)", then the program's lines, then exactly one
 * final line "PASS" or "FAIL <reason>", after which the core sleeps in a
 * `wfi` loop so an emulator can stop at that line.
 */
#ifndef TEST_H
#define TEST_H

#include <stdint.h>
#include "console.h"
#include "soc.h"

#if defined(__ARM_FP)
#define CORE_NAME "Cortex-M4F"
#elif defined(__ARM_ARCH_7EM__)
#define CORE_NAME "Cortex-M4"
#else
#define CORE_NAME "Cortex-M3"
#endif

/* Core clock after reset (HSI; no PLL is configured by these programs). */
#define HCLK_HZ SOC_RESET_HCLK_HZ

void test_begin(const char *name);
__attribute__((noreturn)) void test_pass(void);
__attribute__((noreturn, format(printf, 1, 2))) void test_fail(const char *fmt, ...);
__attribute__((noreturn)) void test_halt(void);

/* String helpers so programs need no libc. */
int str_eq(const char *a, const char *b);

#endif
