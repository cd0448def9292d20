/*
 * mstest: unit tests that run on the target (the emulated board or the real one).
 *
 *     #include "mstest.h"
 *     MSTEST(ring, wraps_in_fifo_order) {
 *         MST_EQ(ms_ring_put(&r, "abc", 3), 3);
 *         MST_STR_EQ(out, "abc");
 *     }
 *     int main(void) { ... mstest_run_all("unit_ring"); }
 *
 * Each MSTEST(suite, name) puts a descriptor in the linker section `mstest_cases` (no
 * registration call, no list to maintain); mstest_run_all() runs them in source order (by file,
 * then line; a case must not rely on another having run). The
 * first failed assertion ends its case (longjmp back to the runner) and the next case runs.
 *
 * Console protocol, one line each (what metersim's pytest collector reads):
 *     mstest begin <image> <cases>
 *     mstest case <suite>.<name> PASS
 *     mstest case <suite>.<name> FAIL <file>:<line>: <message>
 *     mstest done <image> passed <n> failed <n>
 * Descriptors are plain data (suite, name, function, file, line), so a host tool lists the
 * cases of an image from its ELF without running it.
 */
#ifndef MSTEST_H
#define MSTEST_H

#include <stdint.h>

typedef struct mstest_case {
    const char *suite;
    const char *name;
    void (*fn)(void);
    const char *file;
    uint32_t line;
} mstest_case_t;

#define MSTEST(suite, name)                                                                   \
    static void mstest_##suite##_##name(void);                                              \
    __attribute__((used, section("mstest_cases"), aligned(4)))                              \
    static const mstest_case_t mstest_case_##suite##_##name =                               \
        {#suite, #name, mstest_##suite##_##name, __FILE__, __LINE__};                       \
    static void mstest_##suite##_##name(void)

/* Runs every case, prints the result lines; returns the number of failed cases. */
int mstest_run_all(const char *image);

/* Ends the running case as failed (called by the assertion macros). */
__attribute__((noreturn, format(printf, 3, 4)))
void mstest_fail(const char *file, int line, const char *fmt, ...);

#define MST_TRUE(cond)                                                                        \
    do { if (!(cond)) mstest_fail(__FILE__, __LINE__, "expected %s", #cond); } while (0)

/* Integers (up to 32 bits; signed and unsigned both print in decimal and hex). */
#define MST_EQ(a, b)  MSTEST_CMP_(a, b, ==)
#define MST_NE(a, b)  MSTEST_CMP_(a, b, !=)
#define MST_LT(a, b)  MSTEST_CMP_(a, b, <)
#define MST_LE(a, b)  MSTEST_CMP_(a, b, <=)
#define MST_GT(a, b)  MSTEST_CMP_(a, b, >)
#define MST_GE(a, b)  MSTEST_CMP_(a, b, >=)
#define MSTEST_CMP_(a, b, op)                                                                 \
    do {                                                                                      \
        int32_t a_ = (int32_t)(a), b_ = (int32_t)(b);                                         \
        if (!(a_ op b_))                                                                      \
            mstest_fail(__FILE__, __LINE__, "expected %s %s %s, got %d (0x%x) and %d (0x%x)", \
                        #a, #op, #b, (int)a_, (unsigned)a_, (int)b_, (unsigned)b_);           \
    } while (0)

/* Pointers (NULL or not, equal or not). */
#define MST_PTR_EQ(a, b)                                                                      \
    do {                                                                                      \
        const void *a_ = (a), *b_ = (b);                                                      \
        if (a_ != b_)                                                                         \
            mstest_fail(__FILE__, __LINE__, "expected %s == %s, got 0x%x and 0x%x", #a, #b,   \
                        (unsigned)(uintptr_t)a_, (unsigned)(uintptr_t)b_);                    \
    } while (0)

#define MST_STR_EQ(a, b)                                                                      \
    do {                                                                                      \
        const char *a_ = (a), *b_ = (b);                                                      \
        if (!mstest_str_eq_(a_, b_))                                                          \
            mstest_fail(__FILE__, __LINE__, "expected %s == %s, got \"%s\" and \"%s\"", #a,   \
                        #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)");                          \
    } while (0)

/* Byte buffers: the first differing offset and its bytes. */
#define MST_MEM_EQ(a, b, n)                                                                   \
    do {                                                                                      \
        int at_ = mstest_mem_diff_((a), (b), (n));                                            \
        if (at_ >= 0)                                                                         \
            mstest_fail(__FILE__, __LINE__, "expected %s == %s (%u bytes), differ at %d: "    \
                        "0x%x and 0x%x", #a, #b, (unsigned)(n), at_,                          \
                        ((const uint8_t *)(a))[at_], ((const uint8_t *)(b))[at_]);            \
    } while (0)

int mstest_str_eq_(const char *a, const char *b);
int mstest_mem_diff_(const void *a, const void *b, uint32_t n);

#endif
