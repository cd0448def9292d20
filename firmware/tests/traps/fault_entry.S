/*
 * UsageFault entry for traps: hand the stacked frame to C (tail branch keeps
 * LR = EXC_RETURN). Each probe is one instruction at a known address.
 */
    .syntax unified
    .thumb
    .text

    .global UsageFault_Handler
    .type UsageFault_Handler, %function
    .thumb_func
UsageFault_Handler:
    tst     lr, #4
    ite     eq
    mrseq   r0, msp
    mrsne   r0, psp
    b       usagefault_c
    .size UsageFault_Handler, . - UsageFault_Handler

/* uint32_t probe_sdiv(uint32_t n, uint32_t d) */
    .global probe_sdiv
    .global probe_sdiv_insn
    .type probe_sdiv, %function
    .thumb_func
probe_sdiv:
probe_sdiv_insn:
    sdiv    r0, r0, r1
    bx      lr
    .size probe_sdiv, . - probe_sdiv

/* uint32_t probe_udiv(uint32_t n, uint32_t d) */
    .global probe_udiv
    .type probe_udiv, %function
    .thumb_func
probe_udiv:
    udiv    r0, r0, r1
    bx      lr
    .size probe_udiv, . - probe_udiv

/* uint32_t probe_ldr(const void *p): a word load, any alignment */
    .global probe_ldr
    .global probe_ldr_insn
    .type probe_ldr, %function
    .thumb_func
probe_ldr:
probe_ldr_insn:
    ldr     r0, [r0]
    bx      lr
    .size probe_ldr, . - probe_ldr

/* void probe_strh(void *p, uint32_t v): a halfword store, any alignment */
    .global probe_strh
    .type probe_strh, %function
    .thumb_func
probe_strh:
    strh    r1, [r0]
    bx      lr
    .size probe_strh, . - probe_strh

/* uint32_t probe_ldrex(const void *p) */
    .global probe_ldrex
    .global probe_ldrex_insn
    .type probe_ldrex, %function
    .thumb_func
probe_ldrex:
probe_ldrex_insn:
    ldrex   r0, [r0]
    bx      lr
    .size probe_ldrex, . - probe_ldrex

/* void probe_vadd(void): vadd.f32 s0, s0, s1 (encoded, so the M3 build assembles it) */
    .global probe_vadd
    .global probe_vadd_insn
    .type probe_vadd, %function
    .thumb_func
probe_vadd:
probe_vadd_insn:
    .inst.w 0xee300a20
    bx      lr
    .size probe_vadd, . - probe_vadd
