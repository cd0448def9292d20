/*
 * Inside the BSP: what the family code (bsp/stm32f1, bsp/stm32f4) provides to the drivers of
 * the IP blocks both families share (bsp/stm32: USART, SPI, I2C, TIM, EXTI, IWDG, PVD, reset),
 * and the waiting helpers those drivers use.
 */
#ifndef BSP_PRIV_H
#define BSP_PRIV_H

#include <stddef.h>
#include "bsp.h"
#include "soc.h"

/* ---- family hooks ---- */
/* Enable the instance's bus clock and route its default pins; fill in its registers, NVIC
 * IRQ number and kernel clock. BSP_ERR_NODEV for an instance the part does not have. */
int bsp_fam_uart(int n, usart_regs_t **regs, int *irqn, uint32_t *pclk_hz);
int bsp_fam_spi(int n, spi_regs_t **regs, uint32_t *pclk_hz);
int bsp_fam_i2c(int n, i2c_regs_t **regs, uint32_t *pclk_hz);
int bsp_fam_tim(int n, tim_regs_t **regs, int *irqn, uint32_t *timclk_hz);
void bsp_fam_pin_od_af(bsp_pin_t pin, unsigned af);   /* open-drain alternate function (I2C) */
void bsp_fam_pin_af_in(bsp_pin_t pin, unsigned af);   /* AF input (F1: floating input) */
void bsp_fam_exti_route(unsigned line, unsigned port); /* AFIO / SYSCFG EXTICR */
void bsp_fam_pwr_clock(void);                          /* RCC PWREN (and BKPEN on F1) */

/* Take TIMn (2..4) for a driver of its own: the interrupt handler calls isr(arg), which reads
 * and clears the flags itself. Counting at 1 MHz (PSC loaded), stopped, interrupt enabled in
 * the NVIC, DIER left 0. BSP_ERR_INVAL for another n. */
int bsp_tim_claim(int n, void (*isr)(void *arg), void *arg, uint32_t prio, tim_regs_t **regs);

/* ---- flash interface (flash.c): what both families' erase and program share ---- */
/* Unlock (the keys only while LOCK is set: a key written while unlocked locks the interface
 * until reset) and clear stale status flags. BSP_ERR_IO when it stays locked. */
int bsp_flash_unlock(void);
/* Wait for BSY to clear (sleeping between polls when timeout_us > 1 ms), then read and clear
 * EOP and the error flags: 0, BSP_ERR_TIMEOUT or BSP_ERR_IO. */
int bsp_flash_finish(uint32_t timeout_us);

/* ---- time and waiting ---- */
/* Microsecond time from the DWT cycle counter (wraps; use differences). */
void bsp_cycles_start(void);
uint32_t bsp_cycles(void);
/* Can the caller sleep on an RTOS primitive (RTOS linked and started, thread context,
 * interrupts enabled)? */
int bsp_os_can_block(void);
/* Give the CPU away for about a tick when a thread can, else spin briefly. */
void bsp_os_pause(void);
/* Busy waits that touch no bus: bsp_spin_loops_for(cycles) converts HCLK cycles into
 * iterations of bsp_spin()'s two-instruction loop (calibrated once with CYCCNT); interrupts
 * taken meanwhile make the wait longer, never shorter. */
uint32_t bsp_spin_loops_for(uint32_t cycles);
void bsp_spin(uint32_t loops);
/* Wait until (*reg & mask) == want, at most timeout_us. 0 or BSP_ERR_TIMEOUT. `sleepy`
 * lets a thread sleep between polls (long waits: oscillators, flash erase). */
int bsp_wait_bits(volatile uint32_t *reg, uint32_t mask, uint32_t want, uint32_t timeout_us,
                  int sleepy);

/* ---- RTOS glue (weak: the BSP also links without the RTOS) ---- */
struct bsp_waitq { void *head; };        /* layout of ms_waitq_t */
int bsp_os_block(struct bsp_waitq *wq, uint32_t timeout_ms, uint32_t primask);
/* bsp_os_wake = bsp_os_wake_waiters (the threads blocked on wq) + bsp_os_poll_notify (the
 * threads in select(), whose descriptors' readiness may have changed). A driver whose event
 * changes no readiness, or wakes no one, calls only the half it needs. */
void bsp_os_wake(struct bsp_waitq *wq);
void bsp_os_wake_waiters(struct bsp_waitq *wq);
void bsp_os_poll_notify(void);
uint32_t bsp_irq_lock(void);
void bsp_irq_unlock(uint32_t s);


#define BSP_IRQ_PRIO_UART 6u
#define BSP_IRQ_PRIO_EXTI 8u
#define BSP_IRQ_PRIO_TIM 9u
/* The USART's Modbus silence timer, above the USART itself: its flags are noted in RAM before
 * the next received byte's handler looks (uart.c) */
#define BSP_IRQ_PRIO_FRAME_TIM 5u
#define BSP_IRQ_PRIO_PVD 2u

#endif
