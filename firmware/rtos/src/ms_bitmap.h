/*
 * Ready bitmap for 64 priorities (0 = most urgent). Priority p is bit 31-(p%32)
 * of word p/32, so the most urgent ready priority is one CLZ away: the
 * Cortex-M3/M4 CLZ instruction (ARMv7-M A7.7.24) on the target,
 * __builtin_clz on the host tests.
 */
#ifndef MS_BITMAP_H
#define MS_BITMAP_H

#include <stdint.h>

typedef struct {
    uint32_t w[2];
} ms_bitmap_t;

static inline void ms_bitmap_set(ms_bitmap_t *b, unsigned p) { b->w[p >> 5] |= 0x80000000u >> (p & 31u); }
static inline void ms_bitmap_clear(ms_bitmap_t *b, unsigned p) { b->w[p >> 5] &= ~(0x80000000u >> (p & 31u)); }
static inline int ms_bitmap_test(const ms_bitmap_t *b, unsigned p) { return (b->w[p >> 5] >> (31u - (p & 31u))) & 1u; }

/* Most urgent set priority, or -1 when empty. */
static inline __attribute__((always_inline)) int ms_bitmap_highest(const ms_bitmap_t *b)
{
    if (b->w[0])
        return __builtin_clz(b->w[0]);
    if (b->w[1])
        return 32 + __builtin_clz(b->w[1]);
    return -1;
}

#endif
