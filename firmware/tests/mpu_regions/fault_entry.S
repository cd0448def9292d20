/*
 * Exception entry stubs for mpu_regions: hand the stacked frame (MSP or PSP,
 * per EXC_RETURN bit 2) to C; the tail branch keeps LR = EXC_RETURN.
 * Probes are single 16-bit loads/stores at known addresses.
 */
    .syntax unified
    .thumb
    .text

    .macro frame_to_c name, target
    .global \name
    .type \name, %function
    .thumb_func
\name:
    tst     lr, #4
    ite     eq
    mrseq   r0, msp
    mrsne   r0, psp
    b       \target
    .size \name, . - \name
    .endm

    frame_to_c MemManage_Handler, memmanage_c
    frame_to_c SVC_Handler, svc_c

/* uint32_t probe_read(const volatile uint32_t *addr) */
    .global probe_read
    .type probe_read, %function
    .thumb_func
probe_read:
    movs    r1, #0
    ldr     r1, [r0]
    mov     r0, r1
    bx      lr
    .size probe_read, . - probe_read

/* void probe_write(volatile uint32_t *addr, uint32_t value) */
    .global probe_write
    .type probe_write, %function
    .thumb_func
probe_write:
    str     r1, [r0]
    bx      lr
    .size probe_write, . - probe_write

/* uint32_t answer(void): position-independent code that main copies into RAM.
 * answer_code is a plain label (no Thumb bit): the bytes, not a function. */
    .global answer_code
    .global answer_code_end
answer_code:
    movs    r0, #42
    bx      lr
answer_code_end:

/* void launch_unpriv_psp(void (*fn)(void), uint32_t psp): thread mode,
 * unprivileged, on PSP; fn does not return. */
    .global launch_unpriv_psp
    .type launch_unpriv_psp, %function
    .thumb_func
launch_unpriv_psp:
    msr     psp, r1
    movs    r2, #3
    msr     control, r2
    isb
    bx      r0
    .size launch_unpriv_psp, . - launch_unpriv_psp
