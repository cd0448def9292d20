/*
 * Cortex-M3/M4F port: PendSV context switch, SVC gate, fault entry.
 * (ARMv7-M B1.5.6-B1.5.8 exception entry/return; PM0214 2.3.7 lazy FP.)
 *
 * Saved context of a thread on its PSP stack, lowest address first:
 *   r4-r11, EXC_RETURN      software part, 9 words
 *   [s16-s31]               only when EXC_RETURN bit 4 = 0 (the thread used FP)
 *   hardware frame          r0-r3, r12, lr, pc, xpsr [, s0-s15, fpscr, pad]
 */
    .syntax unified
    .thumb
    .text

    .global PendSV_Handler
    .type PendSV_Handler, %function
    .thumb_func
PendSV_Handler:
    cpsid   i
    ldr     r2, =ms_current
    ldr     r2, [r2]
    mrs     r0, psp
    cbz     r2, 1f                  /* first switch: nothing to save */
#if defined(__ARM_FP)
    tst     lr, #0x10
    it      eq
    vstmdbeq r0!, {s16-s31}
#endif
    stmdb   r0!, {r4-r11, lr}
1:  bl      ms_switch               /* r0: saved sp in, next thread's sp out */
    ldmia   r0!, {r4-r11, lr}
#if defined(__ARM_FP)
    tst     lr, #0x10
    it      eq
    vldmiaeq r0!, {s16-s31}
#endif
    msr     psp, r0
    isb
    cpsie   i
    bx      lr
    .size PendSV_Handler, . - PendSV_Handler

    .global SVC_Handler
    .type SVC_Handler, %function
    .thumb_func
SVC_Handler:
    tst     lr, #4
    ite     eq
    mrseq   r0, msp
    mrsne   r0, psp
    mov     r1, lr
    push    {r4, lr}
    bl      ms_svc_c                /* r0: the EXC_RETURN to leave with */
    pop     {r4, lr}
    bx      r0
    .size SVC_Handler, . - SVC_Handler

/* Runs a system call privileged in thread mode: r0-r3 arguments, r12 the
 * kernel function. The stack is 8-byte aligned for the call (AAPCS). */
    .global ms_syscall_tramp
    .type ms_syscall_tramp, %function
    .thumb_func
ms_syscall_tramp:
    push    {r4, r5}
    mov     r4, sp
    bic     r5, r4, #7
    mov     sp, r5
    blx     r12
    mov     sp, r4
    pop     {r4, r5}
    svc     #1                      /* back to the caller, unprivileged */
    b       .
    .size ms_syscall_tramp, . - ms_syscall_tramp

    .global HardFault_Handler
    .global MemManage_Handler
    .global BusFault_Handler
    .global UsageFault_Handler
    .type HardFault_Handler, %function
    .type MemManage_Handler, %function
    .type BusFault_Handler, %function
    .type UsageFault_Handler, %function
    .thumb_func
HardFault_Handler:
    .thumb_func
MemManage_Handler:
    .thumb_func
BusFault_Handler:
    .thumb_func
UsageFault_Handler:
    tst     lr, #4
    ite     eq
    mrseq   r0, msp
    mrsne   r0, psp
    mov     r1, lr
    b       ms_fault_c
    .size HardFault_Handler, . - HardFault_Handler
    .ltorg
