/* Per family: console USART, its RCC clock-enable bit, and the SYSCLK after reset.
 * The console is USART1 on every part: metersim's console (what `metersim run` shows and
 * `Create Terminal Tester` picks without a name) is usart1.
 * Addresses from each family's reference manual memory map (and Renode's .repl for the part). */
#ifndef HELLO_FAMILY_H
#define HELLO_FAMILY_H

#if defined(FAMILY_F0)        /* STM32F072, RM0091: USART1 on APB, HSI 8 MHz */
#define FAMILY_NAME    "stm32f0"
#define USART_BASE     0x40013800u
#define RCC_USART_ENR  0x40021018u    /* RCC_APB2ENR */
#define RCC_USART_EN   (1u << 14)
#define RESET_CLOCK_HZ 8000000u
#elif defined(FAMILY_G0)      /* STM32G071, RM0444: USART1, HSI16 */
#define FAMILY_NAME    "stm32g0"
#define USART_BASE     0x40013800u
#define RCC_USART_ENR  0x40021040u    /* RCC_APBENR2 */
#define RCC_USART_EN   (1u << 14)
#define RESET_CLOCK_HZ 16000000u
#elif defined(FAMILY_L0)      /* STM32L071, RM0367: USART1, MSI 2.097 MHz */
#define FAMILY_NAME    "stm32l0"
#define USART_BASE     0x40013800u
#define RCC_USART_ENR  0x40021034u    /* RCC_APB2ENR */
#define RCC_USART_EN   (1u << 14)
#define RESET_CLOCK_HZ 2097000u
#elif defined(FAMILY_L1)      /* STM32L151, RM0038: USART1 (SR/DR layout), MSI 2.097 MHz */
#define FAMILY_NAME    "stm32l1"
#define USART_V1       1
#define USART_BASE     0x40013800u
#define RCC_USART_ENR  0x40023820u    /* RCC_APB2ENR */
#define RCC_USART_EN   (1u << 14)
#define RESET_CLOCK_HZ 2097000u
#elif defined(FAMILY_L5)      /* STM32L552, RM0438: USART1, MSI 4 MHz */
#define FAMILY_NAME    "stm32l5"
#define USART_BASE     0x40013800u
#define RCC_USART_ENR  0x40021060u    /* RCC_APB2ENR */
#define RCC_USART_EN   (1u << 14)
#define RESET_CLOCK_HZ 4000000u
#elif defined(FAMILY_F7)      /* STM32F746, RM0385: USART1, HSI 16 MHz */
#define FAMILY_NAME    "stm32f7"
#define USART_BASE     0x40011000u
#define RCC_USART_ENR  0x40023844u    /* RCC_APB2ENR */
#define RCC_USART_EN   (1u << 4)
#define RESET_CLOCK_HZ 16000000u
#elif defined(FAMILY_H7)      /* STM32H743, RM0433: USART1, HSI 64 MHz */
#define FAMILY_NAME    "stm32h7"
#define USART_BASE     0x40011000u
#define RCC_USART_ENR  0x580244F0u    /* RCC_APB2ENR */
#define RCC_USART_EN   (1u << 4)
#define RESET_CLOCK_HZ 64000000u
#elif defined(FAMILY_WBA)     /* STM32WBA52, RM0493: USART1, HSI16 */
#define FAMILY_NAME    "stm32wba"
#define USART_BASE     0x40013800u
#define RCC_USART_ENR  0x46020CA4u    /* RCC_APB2ENR */
#define RCC_USART_EN   (1u << 14)
#define RESET_CLOCK_HZ 16000000u
#else
#error "define one FAMILY_xx"
#endif

#ifndef USART_V1
#define USART_V1 0
#endif

#endif
