/*
 * Cortex-M3 / Cortex-M4F core registers and intrinsics (ARMv7-M).
 *
 * Addresses and bit positions follow the ARMv7-M Architecture Reference Manual
 * (B3.2 System Control Space, B3.3 SysTick, B3.4 NVIC, C1.8 DWT) and ST's
 * programming manuals PM0056 (STM32F1, Cortex-M3) and PM0214 (STM32F4, Cortex-M4).
 * STM32 parts implement 4 NVIC priority bits (the upper nibble of each byte).
 * Shared by every STM32 family in bsp/; no vendor headers.
 */
#ifndef CORTEX_M_H
#define CORTEX_M_H

#include <stdint.h>

#define CM_PRIO_BITS 4u /* STM32: priority field is bits [7:4] */
#define CM_PRIO(level) ((uint8_t)((level) << (8u - CM_PRIO_BITS)))

/* ---- SysTick (0xE000E010) ---------------------------------------------- */
typedef struct {
    volatile uint32_t CSR;   /* 0x00 control and status */
    volatile uint32_t RVR;   /* 0x04 reload value (24 bit) */
    volatile uint32_t CVR;   /* 0x08 current value, any write clears */
    volatile uint32_t CALIB; /* 0x0C calibration */
} systick_regs_t;
#define SYSTICK ((systick_regs_t *)0xE000E010u)
#define SYSTICK_CSR_ENABLE (1u << 0)
#define SYSTICK_CSR_TICKINT (1u << 1)
#define SYSTICK_CSR_CLKSOURCE (1u << 2) /* 1 = core clock, 0 = external (HCLK/8 on STM32) */
#define SYSTICK_CSR_COUNTFLAG (1u << 16)

/* ---- NVIC (0xE000E100) ------------------------------------------------- */
typedef struct {
    volatile uint32_t ISER[8]; /* 0x000 set-enable */
    uint32_t reserved0[24];
    volatile uint32_t ICER[8]; /* 0x080 clear-enable */
    uint32_t reserved1[24];
    volatile uint32_t ISPR[8]; /* 0x100 set-pending */
    uint32_t reserved2[24];
    volatile uint32_t ICPR[8]; /* 0x180 clear-pending */
    uint32_t reserved3[24];
    volatile uint32_t IABR[8]; /* 0x200 active bit */
    uint32_t reserved4[56];
    volatile uint8_t IPR[240]; /* 0x300 priority, one byte per IRQ */
} nvic_regs_t;
#define NVIC ((nvic_regs_t *)0xE000E100u)
#define NVIC_STIR (*(volatile uint32_t *)0xE000EF00u) /* software trigger */

/* ---- System control block (0xE000ED00) --------------------------------- */
typedef struct {
    volatile uint32_t CPUID;  /* 0x00 */
    volatile uint32_t ICSR;   /* 0x04 interrupt control and state */
    volatile uint32_t VTOR;   /* 0x08 vector table offset */
    volatile uint32_t AIRCR;  /* 0x0C application interrupt and reset control */
    volatile uint32_t SCR;    /* 0x10 system control */
    volatile uint32_t CCR;    /* 0x14 configuration and control */
    volatile uint8_t SHPR[12];/* 0x18 system handler priority, exceptions 4..15 */
    volatile uint32_t SHCSR;  /* 0x24 system handler control and state */
    volatile uint32_t CFSR;   /* 0x28 configurable fault status (MMFSR|BFSR|UFSR) */
    volatile uint32_t HFSR;   /* 0x2C hard fault status */
    volatile uint32_t DFSR;   /* 0x30 debug fault status */
    volatile uint32_t MMFAR;  /* 0x34 MemManage fault address */
    volatile uint32_t BFAR;   /* 0x38 BusFault address */
    volatile uint32_t AFSR;   /* 0x3C auxiliary fault status */
    uint32_t reserved0[18];   /* 0x40..0x84 feature registers */
    volatile uint32_t CPACR;  /* 0x88 coprocessor access control */
} scb_regs_t;
#define SCB ((scb_regs_t *)0xE000ED00u)

#define SCB_ICSR_PENDSVSET (1u << 28)
#define SCB_ICSR_PENDSVCLR (1u << 27)
#define SCB_ICSR_PENDSTSET (1u << 26)
#define SCB_ICSR_PENDSTCLR (1u << 25)
#define SCB_ICSR_VECTACTIVE_MASK 0x1FFu

#define SCB_AIRCR_VECTKEY (0x05FAu << 16)
#define SCB_AIRCR_PRIGROUP_POS 8u
#define SCB_AIRCR_PRIGROUP_MASK (7u << 8)
#define SCB_AIRCR_SYSRESETREQ (1u << 2)

#define SCB_SCR_SLEEPDEEP (1u << 2)
#define SCB_CCR_STKALIGN (1u << 9)
#define SCB_CCR_DIV_0_TRP (1u << 4)
#define SCB_CCR_UNALIGN_TRP (1u << 3)

#define SCB_SHCSR_MEMFAULTENA (1u << 16)
#define SCB_SHCSR_BUSFAULTENA (1u << 17)
#define SCB_SHCSR_USGFAULTENA (1u << 18)

/* CFSR: MMFSR [7:0], BFSR [15:8], UFSR [31:16] */
#define SCB_CFSR_IBUSERR (1u << 8)
#define SCB_CFSR_PRECISERR (1u << 9)
#define SCB_CFSR_IMPRECISERR (1u << 10)
#define SCB_CFSR_BFARVALID (1u << 15)
#define SCB_CFSR_UNDEFINSTR (1u << 16)
#define SCB_CFSR_INVSTATE (1u << 17)
#define SCB_CFSR_NOCP (1u << 19)
#define SCB_CFSR_DIVBYZERO (1u << 25)
#define SCB_HFSR_FORCED (1u << 30)

#define SCB_CPACR_CP10_CP11_FULL (0xFu << 20)

/* System handler priority slots in SHPR[] (exception number - 4) */
#define SHPR_MEMMANAGE 0
#define SHPR_BUSFAULT 1
#define SHPR_USAGEFAULT 2
#define SHPR_SVCALL 7
#define SHPR_PENDSV 10
#define SHPR_SYSTICK 11

/* ---- FPU (Cortex-M4F) -------------------------------------------------- */
#define FPU_FPCCR (*(volatile uint32_t *)0xE000EF34u)
#define FPU_FPCAR (*(volatile uint32_t *)0xE000EF38u)
#define FPU_FPDSCR (*(volatile uint32_t *)0xE000EF3Cu)
#define FPU_FPCCR_ASPEN (1u << 31)
#define FPU_FPCCR_LSPEN (1u << 30)

/* ---- DWT cycle counter ------------------------------------------------- */
#define DEMCR (*(volatile uint32_t *)0xE000EDFCu)
#define DEMCR_TRCENA (1u << 24)
#define DWT_CTRL (*(volatile uint32_t *)0xE0001000u)
#define DWT_CYCCNT (*(volatile uint32_t *)0xE0001004u)
#define DWT_CTRL_CYCCNTENA (1u << 0)

/* ---- Exception numbers and EXC_RETURN ---------------------------------- */
#define EXC_NMI 2
#define EXC_HARDFAULT 3
#define EXC_MEMMANAGE 4
#define EXC_BUSFAULT 5
#define EXC_USAGEFAULT 6
#define EXC_SVCALL 11
#define EXC_PENDSV 14
#define EXC_SYSTICK 15
#define EXC_IRQ0 16

#define EXC_RETURN_THREAD_PSP 0xFFFFFFFDu
#define EXC_RETURN_THREAD_MSP 0xFFFFFFF9u
#define EXC_RETURN_HANDLER 0xFFFFFFF1u
#define EXC_RETURN_BASIC_FRAME (1u << 4) /* 0 = extended (FP) frame stacked */

/* CONTROL bits */
#define CONTROL_NPRIV (1u << 0)
#define CONTROL_SPSEL (1u << 1)
#define CONTROL_FPCA (1u << 2)

/* ---- Intrinsics --------------------------------------------------------- */
static inline void cm_enable_irq(void) { __asm__ volatile("cpsie i" ::: "memory"); }
static inline void cm_disable_irq(void) { __asm__ volatile("cpsid i" ::: "memory"); }
static inline void cm_wfi(void) { __asm__ volatile("wfi" ::: "memory"); }
static inline void cm_dsb(void) { __asm__ volatile("dsb" ::: "memory"); }
static inline void cm_isb(void) { __asm__ volatile("isb" ::: "memory"); }

static inline uint32_t cm_get_primask(void)
{
    uint32_t v;
    __asm__ volatile("mrs %0, primask" : "=r"(v));
    return v;
}
static inline void cm_set_primask(uint32_t v) { __asm__ volatile("msr primask, %0" ::"r"(v) : "memory"); }
static inline uint32_t cm_get_basepri(void)
{
    uint32_t v;
    __asm__ volatile("mrs %0, basepri" : "=r"(v));
    return v;
}
static inline void cm_set_basepri(uint32_t v) { __asm__ volatile("msr basepri, %0" ::"r"(v) : "memory"); }
static inline uint32_t cm_get_control(void)
{
    uint32_t v;
    __asm__ volatile("mrs %0, control" : "=r"(v));
    return v;
}
/* An ISB must follow a CONTROL write before code relies on the new state. */
static inline void cm_set_control(uint32_t v)
{
    __asm__ volatile("msr control, %0\n\tisb" ::"r"(v) : "memory");
}
static inline uint32_t cm_get_ipsr(void)
{
    uint32_t v;
    __asm__ volatile("mrs %0, ipsr" : "=r"(v));
    return v;
}
static inline uint32_t cm_get_psp(void)
{
    uint32_t v;
    __asm__ volatile("mrs %0, psp" : "=r"(v));
    return v;
}
static inline void cm_set_psp(uint32_t v) { __asm__ volatile("msr psp, %0" ::"r"(v) : "memory"); }
static inline uint32_t cm_get_msp(void)
{
    uint32_t v;
    __asm__ volatile("mrs %0, msp" : "=r"(v));
    return v;
}

/* ---- NVIC helpers: irqn >= 0 is an external IRQ, -1..-12 system handlers
 * (CMSIS numbering: SysTick = -1, PendSV = -2, SVCall = -5, BusFault = -11). */
static inline void nvic_enable(int irqn) { NVIC->ISER[(unsigned)irqn >> 5] = 1u << ((unsigned)irqn & 31u); }
static inline void nvic_disable(int irqn) { NVIC->ICER[(unsigned)irqn >> 5] = 1u << ((unsigned)irqn & 31u); }
static inline void nvic_set_pending(int irqn) { NVIC->ISPR[(unsigned)irqn >> 5] = 1u << ((unsigned)irqn & 31u); }
static inline void nvic_clear_pending(int irqn) { NVIC->ICPR[(unsigned)irqn >> 5] = 1u << ((unsigned)irqn & 31u); }
static inline int nvic_is_active(int irqn) { return (NVIC->IABR[(unsigned)irqn >> 5] >> ((unsigned)irqn & 31u)) & 1u; }
static inline int nvic_is_enabled(int irqn) { return (NVIC->ISER[(unsigned)irqn >> 5] >> ((unsigned)irqn & 31u)) & 1u; }
/* level is the 4-bit STM32 priority (0 = most urgent). */
static inline void nvic_set_priority(int irqn, unsigned level)
{
    if (irqn >= 0)
        NVIC->IPR[irqn] = CM_PRIO(level);
    else
        SCB->SHPR[(unsigned)(irqn + 16 - 4)] = CM_PRIO(level);
}
static inline void nvic_set_priority_grouping(unsigned prigroup)
{
    uint32_t v = SCB->AIRCR & ~(SCB_AIRCR_PRIGROUP_MASK | 0xFFFF0000u);
    SCB->AIRCR = v | SCB_AIRCR_VECTKEY | ((prigroup & 7u) << SCB_AIRCR_PRIGROUP_POS);
}

#define SYSTICK_IRQN (-1)
#define PENDSV_IRQN (-2)
#define SVCALL_IRQN (-5)
#define USAGEFAULT_IRQN (-10)
#define BUSFAULT_IRQN (-11)
#define MEMMANAGE_IRQN (-12)

/* Starts SysTick: reload = period in clocks - 1, core = 1 for CLKSOURCE=core. */
static inline void systick_start(uint32_t period_clocks, int core_clock)
{
    SYSTICK->CSR = 0;
    SYSTICK->RVR = period_clocks - 1u;
    SYSTICK->CVR = 0;
    SYSTICK->CSR = SYSTICK_CSR_ENABLE | SYSTICK_CSR_TICKINT | (core_clock ? SYSTICK_CSR_CLKSOURCE : 0u);
}
static inline void systick_stop(void) { SYSTICK->CSR = 0; }

static inline void dwt_cyccnt_start(void)
{
    DEMCR |= DEMCR_TRCENA;
    DWT_CYCCNT = 0;
    DWT_CTRL |= DWT_CTRL_CYCCNTENA;
}

#endif /* CORTEX_M_H */
