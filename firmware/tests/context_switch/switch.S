/*
 * Context switch for context_switch (ARMv7-M B1.5.6-B1.5.8 exception entry and
 * return; PM0214 2.3.7 FP context).
 *
 * A thread's saved context on its PSP stack, lowest address first:
 *   r4-r11, EXC_RETURN         (software, 9 words)
 *   [s16-s31]                  (software, only if EXC_RETURN bit 4 = 0)
 *   hardware frame             (r0-r3, r12, lr, pc, xpsr [, s0-s15, fpscr, pad])
 * Keeping EXC_RETURN per thread lets one thread use the FPU (extended frames)
 * while the other does not (basic frames).
 */
    .syntax unified
    .thumb
    .text

/* SVC: `svc 0` starts the first thread; other numbers go to svc_c(frame, imm). */
    .global SVC_Handler
    .type SVC_Handler, %function
    .thumb_func
SVC_Handler:
    tst     lr, #4
    ite     eq
    mrseq   r0, msp
    mrsne   r0, psp
    ldr     r1, [r0, #24]           /* stacked pc, just after the svc */
    ldrb    r1, [r1, #-2]           /* svc imm8 */
    cmp     r1, #0
    bne     svc_c
    bl      first_thread_sp         /* r0 = prepared stack of thread A */
    ldmia   r0!, {r4-r11, lr}       /* lr = 0xFFFFFFFD: thread mode, PSP */
    msr     psp, r0
    movs    r0, #1                  /* CONTROL.nPRIV = 1: threads unprivileged */
    msr     control, r0
    isb
    bx      lr
    .size SVC_Handler, . - SVC_Handler

/* PendSV (lowest priority): save the running thread, switch, restore. */
    .global PendSV_Handler
    .type PendSV_Handler, %function
    .thumb_func
PendSV_Handler:
    mrs     r0, psp
    isb
#if defined(__ARM_FP)
    tst     lr, #0x10               /* bit 4 = 0: extended frame was stacked */
    it      eq
    vstmdbeq r0!, {s16-s31}
#endif
    stmdb   r0!, {r4-r11, lr}
    bl      ctx_switch              /* r0 in: saved sp; r0 out: next thread's sp */
    ldmia   r0!, {r4-r11, lr}
#if defined(__ARM_FP)
    tst     lr, #0x10
    it      eq
    vldmiaeq r0!, {s16-s31}
#endif
    msr     psp, r0
    isb
    bx      lr
    .size PendSV_Handler, . - PendSV_Handler

/*
 * uint32_t hold_regs(uint32_t seed, volatile uint32_t *flag, uint32_t seen, uint32_t *fp)
 * Loads r4-r11 with patterns derived from seed (and, when fp != 0 on the M4F,
 * s0-s31 from fp[0..31] and FPSCR from fp[32]), spins until *flag != seen
 * (i.e. the thread was switched out and back in), stores s0-s31/FPSCR back to
 * fp[] and returns 0 if r4-r11 still hold their patterns, else the number of
 * the first bad register.
 */
    .global hold_regs
    .type hold_regs, %function
    .thumb_func
hold_regs:
    push    {r4-r11, lr}
#if defined(__ARM_FP)
    cbz     r3, 2f
    vpush   {s16-s31}
    vldmia  r3, {s0-s31}
    ldr     r12, [r3, #128]
    vmsr    fpscr, r12
2:
#endif
    eor     r4, r0, #0x44444444
    eor     r5, r0, #0x55555555
    eor     r6, r0, #0x66666666
    eor     r7, r0, #0x77777777
    eor     r8, r0, #0x88888888
    eor     r9, r0, #0x99999999
    eor     r10, r0, #0xAAAAAAAA
    eor     r11, r0, #0xBBBBBBBB
1:  ldr     r12, [r1]
    cmp     r12, r2
    beq     1b
#if defined(__ARM_FP)
    cbz     r3, 3f
    vstmia  r3, {s0-s31}
    vmrs    r12, fpscr
    str     r12, [r3, #128]
    mov     r12, #0                 /* back to the AAPCS default mode */
    vmsr    fpscr, r12
    vpop    {s16-s31}
3:
#endif
    movs    r1, #4
    eor     r12, r4, r0
    cmp     r12, #0x44444444
    bne     9f
    movs    r1, #5
    eor     r12, r5, r0
    cmp     r12, #0x55555555
    bne     9f
    movs    r1, #6
    eor     r12, r6, r0
    cmp     r12, #0x66666666
    bne     9f
    movs    r1, #7
    eor     r12, r7, r0
    cmp     r12, #0x77777777
    bne     9f
    movs    r1, #8
    eor     r12, r8, r0
    cmp     r12, #0x88888888
    bne     9f
    movs    r1, #9
    eor     r12, r9, r0
    cmp     r12, #0x99999999
    bne     9f
    movs    r1, #10
    eor     r12, r10, r0
    cmp     r12, #0xAAAAAAAA
    bne     9f
    movs    r1, #11
    eor     r12, r11, r0
    cmp     r12, #0xBBBBBBBB
    bne     9f
    movs    r1, #0
9:  mov     r0, r1
    pop     {r4-r11, pc}
    .size hold_regs, . - hold_regs
