/*
 * Thread-side FP workload for fpu_preserve (Cortex-M4F only).
 *
 * uint32_t fp_work(const uint32_t in[33], uint32_t out[34],
 *                  volatile uint32_t *irqs, uint32_t target)
 * Loads s0-s31 from in[0..31] and FPSCR from in[32], then loops
 *     s27 = s25 + s26                 (result depends on the rounding mode)
 * until *irqs >= target; stores s0-s31 to out[0..31], FPSCR to out[32], the
 * iteration count to out[33]; restores FPSCR to 0 and s16-s31 (AAPCS).
 */
    .syntax unified
    .thumb
    .text
    .global fp_work
    .type fp_work, %function
    .thumb_func
fp_work:
    push    {r4, lr}
    vpush   {s16-s31}
    vldmia  r0, {s0-s31}
    ldr     r12, [r0, #128]
    vmsr    fpscr, r12
    movs    r4, #0
1:  vadd.f32 s27, s25, s26
    adds    r4, #1
    ldr     r12, [r2]
    cmp     r12, r3
    blo     1b
    vstmia  r1, {s0-s31}
    vmrs    r12, fpscr
    str     r12, [r1, #128]
    str     r4, [r1, #132]
    mov     r12, #0
    vmsr    fpscr, r12
    vpop    {s16-s31}
    pop     {r4, pc}
    .size fp_work, . - fp_work
