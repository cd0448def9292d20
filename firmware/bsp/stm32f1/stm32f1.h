/*
 * STM32F1 register map used by metersim firmware (no vendor headers): the IP blocks' register
 * layouts (bsp/stm32/regs/, one header per block), their addresses on this family and the
 * interrupt list. The BSP, the drivers and the test programs all take their registers from
 * here (through "soc.h").
 *
 * Source: RM0008 (STM32F101/102/103/105/107) rev 21: memory map (§3.3, Table 3), vector
 * table (§10.1.2, table 63 for medium/high-density parts). Reset clock: HSI 8 MHz, AHB/APB
 * prescalers 1. Parts: STM32F103xB (RB: medium density, 43 IRQs) and STM32F103xE-class high
 * density (RC: 60 IRQs). Pins (DS5319 Table 5, default functions): USART1 TX/RX PA9/PA10,
 * USART2 PA2/PA3, SPI1 NSS/SCK/MISO/MOSI PA4..PA7, I2C1 SCL/SDA PB6/PB7.
 */
#ifndef STM32F1_H
#define STM32F1_H

#include <stdint.h>
#include "../stm32/regs/afio_f1.h"
#include "../stm32/regs/dma_f1.h"
#include "../stm32/regs/exti.h"
#include "../stm32/regs/flash_f1.h"
#include "../stm32/regs/gpio_f1.h"
#include "../stm32/regs/i2c.h"
#include "../stm32/regs/iwdg.h"
#include "../stm32/regs/pwr.h"
#include "../stm32/regs/rcc_f1.h"
#include "../stm32/regs/rtc_f1.h"
#include "../stm32/regs/spi.h"
#include "../stm32/regs/tim.h"
#include "../stm32/regs/usart.h"
#include "../stm32/apb1_map.h"

#define STM32F1_HSI_HZ 8000000u
#define IWDG_LSI_HZ 40000u  /* LSI typical, DS5319 Table 25 */

/* ---- Memory map ---- */
#define FLASH_BASE 0x08000000u
#define SRAM_BASE 0x20000000u
#define FSMC_BANK1_BASE 0x60000000u

/* APB1: the blocks of apb1_map.h (same addresses on the F4), and the backup registers */
#define BKP ((bkp_regs_t *)0x40006C00u)
/* APB2 */
#define AFIO ((afio_regs_t *)0x40010000u)
#define EXTI ((exti_regs_t *)0x40010400u)
#define GPIO_PORT(n) ((gpio_regs_t *)(0x40010800u + 0x400u * (n)))     /* A = 0 */
#define GPIOA GPIO_PORT(0)
#define GPIOB GPIO_PORT(1)
#define GPIOC GPIO_PORT(2)
#define SPI1 ((spi_regs_t *)0x40013000u)
#define USART1 ((usart_regs_t *)0x40013800u)
/* AHB */
#define DMA1 ((dma_regs_t *)0x40020000u)
#define RCC ((rcc_regs_t *)0x40021000u)
#define FLASHIF ((flashif_regs_t *)0x40022000u)

/*
 * Interrupt list: X(name, irqn). Drives the IRQn enum and the vector table
 * (bsp/cortex_m/startup.c).
 */
#define STM32F1_IRQS_MD(X) \
    X(WWDG, 0) X(PVD, 1) X(TAMPER, 2) X(RTC, 3) X(FLASH, 4) X(RCC, 5) X(EXTI0, 6) \
    X(EXTI1, 7) X(EXTI2, 8) X(EXTI3, 9) X(EXTI4, 10) X(DMA1_Channel1, 11) \
    X(DMA1_Channel2, 12) X(DMA1_Channel3, 13) X(DMA1_Channel4, 14) X(DMA1_Channel5, 15) \
    X(DMA1_Channel6, 16) X(DMA1_Channel7, 17) X(ADC1_2, 18) X(USB_HP_CAN1_TX, 19) \
    X(USB_LP_CAN1_RX0, 20) X(CAN1_RX1, 21) X(CAN1_SCE, 22) X(EXTI9_5, 23) X(TIM1_BRK, 24) \
    X(TIM1_UP, 25) X(TIM1_TRG_COM, 26) X(TIM1_CC, 27) X(TIM2, 28) X(TIM3, 29) X(TIM4, 30) \
    X(I2C1_EV, 31) X(I2C1_ER, 32) X(I2C2_EV, 33) X(I2C2_ER, 34) X(SPI1, 35) X(SPI2, 36) \
    X(USART1, 37) X(USART2, 38) X(USART3, 39) X(EXTI15_10, 40) X(RTCAlarm, 41) \
    X(USBWakeUp, 42)

#if defined(STM32F103xB)
#define SOC_PART_NAME "STM32F103RB"
#define SOC_IRQ_COUNT 43
#define SOC_IRQ_LIST(X) STM32F1_IRQS_MD(X)
#elif defined(STM32F103xE)
#define SOC_PART_NAME "STM32F103RC"
#define SOC_IRQ_COUNT 60
#define SOC_IRQ_LIST(X) STM32F1_IRQS_MD(X) \
    X(TIM8_BRK, 43) X(TIM8_UP, 44) X(TIM8_TRG_COM, 45) X(TIM8_CC, 46) X(ADC3, 47) \
    X(FSMC, 48) X(SDIO, 49) X(TIM5, 50) X(SPI3, 51) X(UART4, 52) X(UART5, 53) X(TIM6, 54) \
    X(TIM7, 55) X(DMA2_Channel1, 56) X(DMA2_Channel2, 57) X(DMA2_Channel3, 58) \
    X(DMA2_Channel4_5, 59)
#else
#error "define STM32F103xB or STM32F103xE"
#endif

#define SOC_IRQN_ENUM(name, n) name##_IRQn = n,
typedef enum { SOC_IRQ_LIST(SOC_IRQN_ENUM) } soc_irqn_t;
#undef SOC_IRQN_ENUM

#endif /* STM32F1_H */
