/* The thread's floating-point loop, in fp_work.S. */
#ifndef FP_WORK_H
#define FP_WORK_H

#include <stdint.h>

uint32_t fp_work(const uint32_t *in, uint32_t *out, volatile uint32_t *irqs, uint32_t target);

#endif
