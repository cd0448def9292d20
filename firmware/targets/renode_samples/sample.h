/* What the Renode-suite samples share: registers of the STM32F072, F103, F4, F746 and L072
 * (selected by -DFAMILY_F0, F1, F4, F7 or L0), the console (USART1 on the F0 and F7, USART2
 * or LPUART1 on the L0, USART2 on the others; 115200 8N1 from the reset clock: HSI, 8 MHz on
 * the F0/F1, 16 MHz on the F4/F7, MSI 2.097 MHz on the L0, no prescalers) and a millisecond
 * count from SysTick. */
#ifndef SAMPLE_H
#define SAMPLE_H

#include <stdint.h>

#define REG(addr) (*(volatile uint32_t *)(addr))

#if defined(FAMILY_F0)
#define HCLK_HZ        8000000u
#define RCC_BASE       0x40021000u
#define RCC_AHBENR     REG(RCC_BASE + 0x14u)
#define RCC_APB2ENR    REG(RCC_BASE + 0x18u)
#elif defined(FAMILY_F7)
#define HCLK_HZ        16000000u
#define RCC_BASE       0x40023800u
#define RCC_AHB1ENR    REG(RCC_BASE + 0x30u)
#define RCC_APB2ENR    REG(RCC_BASE + 0x44u)
#elif defined(FAMILY_L0)
#define HCLK_HZ        2097000u               /* MSI range 5 after reset */
#define RCC_BASE       0x40021000u
#define RCC_IOPENR     REG(RCC_BASE + 0x2Cu)
#define RCC_APB1ENR    REG(RCC_BASE + 0x38u)
#elif defined(FAMILY_F1)
#define HCLK_HZ        8000000u
#define RCC_BASE       0x40021000u
#define RCC_APB2ENR    REG(RCC_BASE + 0x18u)
#define RCC_APB1ENR    REG(RCC_BASE + 0x1Cu)
#elif defined(FAMILY_F4)
#define HCLK_HZ        16000000u
#define RCC_BASE       0x40023800u
#define RCC_AHB1ENR    REG(RCC_BASE + 0x30u)
#define RCC_APB1ENR    REG(RCC_BASE + 0x40u)
#define RCC_CSR        REG(RCC_BASE + 0x74u)
#define RCC_BDCR       REG(RCC_BASE + 0x70u)
#else
#error "build with -DFAMILY_F0, F1, F4, F7 or L0"
#endif

#if defined(FAMILY_F0) || defined(FAMILY_F7) || defined(FAMILY_L0)
/* The ISR/RDR/TDR register layout (RM0091 27.8, RM0385 31.8, RM0367 24.8): USART1 on the F0
 * (PA9/PA10) and F7 (PA9/PB7), USART2 (PA2/PA3) or LPUART1 (-DCONSOLE_LPUART1) on the L0. */
#if defined(FAMILY_F0)
#define USART_BASE     0x40013800u
#elif defined(FAMILY_F7)
#define USART_BASE     0x40011000u
#elif defined(CONSOLE_LPUART1)
#define USART_BASE     0x40004800u
#else
#define USART_BASE     0x40004400u
#endif
#define USART_CR1      REG(USART_BASE + 0x00u)
#define USART_BRR      REG(USART_BASE + 0x0Cu)
#define USART_SR       REG(USART_BASE + 0x1Cu)
#define USART_RDR      REG(USART_BASE + 0x24u)
#define USART_TDR      REG(USART_BASE + 0x28u)
#define USART_CR1_ON   ((1u << 0) | (1u << 3) | (1u << 2))   /* UE | TE | RE */
#else
/* USART2 (PA2/PA3), the SR/DR register layout of the F1 and F4. */
#define USART_BASE     0x40004400u
#define USART_SR       REG(USART_BASE + 0x00u)
#define USART_RDR      REG(USART_BASE + 0x04u)
#define USART_TDR      REG(USART_BASE + 0x04u)
#define USART_BRR      REG(USART_BASE + 0x08u)
#define USART_CR1      REG(USART_BASE + 0x0Cu)
#define USART_CR1_ON   ((1u << 13) | (1u << 3) | (1u << 2))  /* UE | TE | RE */
#endif
#define USART_SR_RXNE  (1u << 5)
#define USART_SR_TC    (1u << 6)
#define USART_SR_TXE   (1u << 7)

#define NVIC_ISER(n)   REG(0xE000E100u + 4u * (n))
#define SYST_CSR       REG(0xE000E010u)
#define SYST_RVR       REG(0xE000E014u)
#define SYST_CVR       REG(0xE000E018u)

static inline void nvic_enable(unsigned irq)
{
    NVIC_ISER(irq / 32u) = 1u << (irq % 32u);
}

/* Interrupt handlers a sample may define (startup.c has the vector table). */
void SysTick_Handler(void);
void TIM2_IRQHandler(void);
void TIM4_IRQHandler(void);
void USART2_IRQHandler(void);
void EXTI0_IRQHandler(void);
void EXTI0_1_IRQHandler(void);
void EXTI15_10_IRQHandler(void);
void RTC_Alarm_IRQHandler(void);

void console_init(void);
void put_char(char c);
void put_str(const char *s);
void put_line(const char *s);
void put_uint(uint32_t v);
/* The next received character (polled), or -1 when none is waiting. */
int get_char(void);
/* SysTick period in ms (-DTICK_MS=10 where a coarser count will do: fewer interrupts). */
#ifndef TICK_MS
#define TICK_MS 1u
#endif
/* Milliseconds since ticks_start(), counted by the SysTick interrupt. */
void ticks_start(void);
uint32_t ticks_ms(void);
void delay_ms(uint32_t ms);

#endif
