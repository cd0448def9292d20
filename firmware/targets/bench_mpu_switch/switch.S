/*
 * Context switch for bench_mpu_switch: `svc 0` starts thread 0, `svc 1`
 * yields (pends PendSV); PendSV saves r4-r11 and EXC_RETURN on the thread's
 * PSP stack and calls switch_to(), which may reprogram the MPU for the
 * incoming thread, as an RTOS with process isolation does.
 */
    .syntax unified
    .thumb
    .text

    .global SVC_Handler
    .type SVC_Handler, %function
    .thumb_func
SVC_Handler:
    mrs     r0, psp
    tst     lr, #4
    it      eq
    mrseq   r0, msp
    ldr     r1, [r0, #24]
    ldrb    r1, [r1, #-2]
    cbnz    r1, 1f
    bl      first_thread_sp
    ldmia   r0!, {r4-r11, lr}
    msr     psp, r0
    movs    r0, #1
    msr     control, r0
    isb
    bx      lr
1:  ldr     r0, =0xE000ED04         /* ICSR.PENDSVSET */
    mov     r1, #0x10000000
    str     r1, [r0]
    bx      lr
    .size SVC_Handler, . - SVC_Handler

    .global PendSV_Handler
    .type PendSV_Handler, %function
    .thumb_func
PendSV_Handler:
    mrs     r0, psp
    stmdb   r0!, {r4-r11, lr}
    bl      switch_to
    ldmia   r0!, {r4-r11, lr}
    msr     psp, r0
    bx      lr
    .size PendSV_Handler, . - PendSV_Handler
