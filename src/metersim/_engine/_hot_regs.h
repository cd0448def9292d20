/*
 * Hot registers: MMIO reads (and some writes) answered in C from the models' own state (see _hot_regs.c).
 * The block clock's MMIO trampoline (_block_clock.c) asks here first, during a fast slice,
 * once the access's exact instruction count is known.
 */
#ifndef METERSIM_HOT_REGS_H
#define METERSIM_HOT_REGS_H

#include <stdint.h>

typedef int (*hr_reg_read_fn)(void *uc, int regid, void *value);

/* A read through the trampoline `tramp` at `offset` in its range, of `size` bytes, by the
 * instruction at `pc`, the `exec`-th of the running fast slice (the access included): 1 with
 * `*value` set if answered here, 0 if the model's Python read must answer it. */
int hr_read(const void *tramp, void *uc, hr_reg_read_fn reg_read, uint64_t exec, uint32_t pc,
            uint64_t offset, unsigned size, uint64_t *value);

/* A write of `value` through `tramp` (the rest as for hr_read), inside the access (the block
 * clock counts it as in an MMIO callback: an exception it pends can end the slice after it):
 * 1 if applied here, 0 if the model's Python write must make it, -1 in verify mode when C
 * would have applied it: the Python write makes it, then hr_write_check compares. */
int hr_write(const void *tramp, void *uc, hr_reg_read_fn reg_read, uint64_t exec, uint32_t pc,
             uint64_t offset, unsigned size, uint64_t value);
void hr_write_check(const void *tramp);

#endif
