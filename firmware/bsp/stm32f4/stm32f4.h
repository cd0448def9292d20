/*
 * STM32F4 register map used by metersim firmware (no vendor headers): the IP blocks' register
 * layouts (bsp/stm32/regs/, one header per block), their addresses on this family, the
 * alternate functions of the default pins and the interrupt list. The BSP, the drivers and
 * the test programs all take their registers from here (through "soc.h").
 *
 * Sources: RM0430 (STM32F413/423) rev 8 and RM0090 (STM32F405/407): memory map (2.2), vector
 * tables (10.2, table 40 / table 61). Reset clock: HSI 16 MHz, AHB/APB prescalers 1.
 * Alternate functions (DS11581 Table 12): USART1 PA9/PA10 and USART2 PA2/PA3 AF7, SPI1
 * PA5/PA6/PA7 AF5, I2C1 PB6/PB7 AF4.
 * Parts: STM32F413xx (STM32F413RG, 102 IRQs) and STM32F405xx (QEMU netduinoplus2, 82 IRQs).
 */
#ifndef STM32F4_H
#define STM32F4_H

#include <stdint.h>
#include "../stm32/regs/dma_f4.h"
#include "../stm32/regs/exti.h"
#include "../stm32/regs/flash_f4.h"
#include "../stm32/regs/gpio_f4.h"
#include "../stm32/regs/i2c.h"
#include "../stm32/regs/iwdg.h"
#include "../stm32/regs/pwr.h"
#include "../stm32/regs/rcc_f4.h"
#include "../stm32/regs/rtc_f4.h"
#include "../stm32/regs/spi.h"
#include "../stm32/regs/syscfg_f4.h"
#include "../stm32/regs/tim.h"
#include "../stm32/regs/usart.h"
#include "../stm32/apb1_map.h"

#define STM32F4_HSI_HZ 16000000u
#define IWDG_LSI_HZ 32000u  /* LSI typical, DS11581 'LSI oscillator characteristics' */

/* ---- Memory map ---- */
#define FLASH_BASE 0x08000000u
#define SRAM1_BASE 0x20000000u
#define FSMC_BANK1_BASE 0x60000000u

/* APB1: the blocks of apb1_map.h (same addresses on the F1) */
/* APB2 */
#define USART1 ((usart_regs_t *)0x40011000u)
#define USART6 ((usart_regs_t *)0x40011400u)
#define UART5 ((usart_regs_t *)0x40005000u)   /* APB1, F4 only here */
#define SPI1 ((spi_regs_t *)0x40013000u)
#define SYSCFG ((syscfg_regs_t *)0x40013800u)
#define EXTI ((exti_regs_t *)0x40013C00u)
/* AHB1 */
#define GPIO_PORT(n) ((gpio_regs_t *)(0x40020000u + 0x400u * (n)))     /* A = 0 */
#define GPIOA GPIO_PORT(0)
#define GPIOB GPIO_PORT(1)
#define GPIOC GPIO_PORT(2)
#define RCC ((rcc_regs_t *)0x40023800u)
#define DMA1 ((dma_regs_t *)0x40026000u)
#define FLASHIF ((flashif_regs_t *)0x40023C00u)

/* I2C v1 on the F4 has one register more than on the F1 (regs/i2c.h): FLTR, noise filters. */
#define I2C_FLTR(i2c) (*(volatile uint32_t *)((uintptr_t)(i2c) + 0x24u))

/* Alternate functions of the default pins */
#define USART1_AF 7u
#define USART2_AF 7u
#define SPI1_AF 5u
#define I2C1_AF 4u

/*
 * Interrupt list: X(name, irqn). Drives the IRQn enum and the vector table
 * (bsp/cortex_m/startup.c), so both always agree. Missing numbers are reserved.
 */
#define STM32F4_IRQS_COMMON(X) \
    X(WWDG, 0) X(PVD, 1) X(TAMP_STAMP, 2) X(RTC_WKUP, 3) X(FLASH, 4) X(RCC, 5) \
    X(EXTI0, 6) X(EXTI1, 7) X(EXTI2, 8) X(EXTI3, 9) X(EXTI4, 10) \
    X(DMA1_Stream0, 11) X(DMA1_Stream1, 12) X(DMA1_Stream2, 13) X(DMA1_Stream3, 14) \
    X(DMA1_Stream4, 15) X(DMA1_Stream5, 16) X(DMA1_Stream6, 17) X(ADC, 18) \
    X(CAN1_TX, 19) X(CAN1_RX0, 20) X(CAN1_RX1, 21) X(CAN1_SCE, 22) X(EXTI9_5, 23) \
    X(TIM1_BRK_TIM9, 24) X(TIM1_UP_TIM10, 25) X(TIM1_TRG_COM_TIM11, 26) X(TIM1_CC, 27) \
    X(TIM2, 28) X(TIM3, 29) X(TIM4, 30) X(I2C1_EV, 31) X(I2C1_ER, 32) X(I2C2_EV, 33) \
    X(I2C2_ER, 34) X(SPI1, 35) X(SPI2, 36) X(USART1, 37) X(USART2, 38) X(USART3, 39) \
    X(EXTI15_10, 40) X(RTC_Alarm, 41) X(OTG_FS_WKUP, 42) X(TIM8_BRK_TIM12, 43) \
    X(TIM8_UP_TIM13, 44) X(TIM8_TRG_COM_TIM14, 45) X(TIM8_CC, 46) X(DMA1_Stream7, 47) \
    X(FSMC, 48) X(SDIO, 49) X(TIM5, 50) X(SPI3, 51) X(UART4, 52) X(UART5, 53) \
    X(TIM6_DAC, 54) X(TIM7, 55) X(DMA2_Stream0, 56) X(DMA2_Stream1, 57) \
    X(DMA2_Stream2, 58) X(DMA2_Stream3, 59) X(DMA2_Stream4, 60)

#if defined(STM32F413xx)
#define SOC_PART_NAME "STM32F413RG"
#define SOC_IRQ_COUNT 102
#define SOC_IRQ_LIST(X) STM32F4_IRQS_COMMON(X) \
    X(DFSDM1_FLT0, 61) X(DFSDM1_FLT1, 62) X(CAN2_TX, 63) X(CAN2_RX0, 64) X(CAN2_RX1, 65) \
    X(CAN2_SCE, 66) X(OTG_FS, 67) X(DMA2_Stream5, 68) X(DMA2_Stream6, 69) \
    X(DMA2_Stream7, 70) X(USART6, 71) X(I2C3_EV, 72) X(I2C3_ER, 73) X(CAN3_TX, 74) \
    X(CAN3_RX0, 75) X(CAN3_RX1, 76) X(CAN3_SCE, 77) X(RNG, 80) X(FPU, 81) X(UART7, 82) \
    X(UART8, 83) X(SPI4, 84) X(SPI5, 85) X(SAI1, 87) X(UART9, 88) X(UART10, 89) \
    X(QUADSPI, 92) X(FMPI2C1_EV, 95) X(FMPI2C1_ER, 96) X(LPTIM1, 97) \
    X(DFSDM2_FLT0, 98) X(DFSDM2_FLT1, 99) X(DFSDM2_FLT2, 100) X(DFSDM2_FLT3, 101)
#elif defined(STM32F405xx)
#define SOC_PART_NAME "STM32F405RG"
#define SOC_IRQ_COUNT 82
#define SOC_IRQ_LIST(X) STM32F4_IRQS_COMMON(X) \
    X(ETH, 61) X(ETH_WKUP, 62) X(CAN2_TX, 63) X(CAN2_RX0, 64) X(CAN2_RX1, 65) \
    X(CAN2_SCE, 66) X(OTG_FS, 67) X(DMA2_Stream5, 68) X(DMA2_Stream6, 69) \
    X(DMA2_Stream7, 70) X(USART6, 71) X(I2C3_EV, 72) X(I2C3_ER, 73) \
    X(OTG_HS_EP1_OUT, 74) X(OTG_HS_EP1_IN, 75) X(OTG_HS_WKUP, 76) X(OTG_HS, 77) \
    X(DCMI, 78) X(HASH_RNG, 80) X(FPU, 81)
#else
#error "define STM32F413xx or STM32F405xx"
#endif

#define SOC_IRQN_ENUM(name, n) name##_IRQn = n,
typedef enum { SOC_IRQ_LIST(SOC_IRQN_ENUM) } soc_irqn_t;
#undef SOC_IRQN_ENUM

#endif /* STM32F4_H */
