/*
 * Exception entry stubs for unpriv_trap: hand the stacked frame (from MSP or
 * PSP per EXC_RETURN bit 2) to C. A tail branch keeps LR = EXC_RETURN, so the
 * C function's return performs the exception return.
 */
    .syntax unified
    .thumb
    .text

    .global BusFault_Handler
    .type BusFault_Handler, %function
    .thumb_func
BusFault_Handler:
    tst     lr, #4
    ite     eq
    mrseq   r0, msp
    mrsne   r0, psp
    b       busfault_c
    .size BusFault_Handler, . - BusFault_Handler

    .global SVC_Handler
    .type SVC_Handler, %function
    .thumb_func
SVC_Handler:
    tst     lr, #4
    ite     eq
    mrseq   r0, msp
    mrsne   r0, psp
    b       svc_c
    .size SVC_Handler, . - SVC_Handler

/* void unpriv_store(volatile uint32_t *addr, uint32_t value): one 16-bit STR
 * at a known address, so the handler can check the stacked PC. */
    .global unpriv_store
    .global unpriv_store_insn
    .type unpriv_store, %function
    .thumb_func
unpriv_store:
unpriv_store_insn:
    str     r1, [r0]
    bx      lr
    .size unpriv_store, . - unpriv_store
