/*
 * STM32F1 register definitions used by metersim firmware (no vendor headers).
 *
 * Source: RM0008 (STM32F101/102/103/105/107): memory map (3.3), RCC (7.3:
 * APB2ENR 0x18), GPIO (9.2: CRL/CRH 4 bits per pin, MODE[1:0] + CNF[1:0]),
 * USART (27.6: SR, DR, BRR, CR1), vector table (10.1.2, table 63 for
 * medium/high-density parts). Reset clock: HSI 8 MHz, AHB/APB prescalers 1.
 * Parts: STM32F103xB (RB: medium density, 43 IRQs) and STM32F103xE-class high
 * density (RC: 60 IRQs).
 */
#ifndef STM32F1_H
#define STM32F1_H

#include <stdint.h>

#define STM32F1_HSI_HZ 8000000u

/* ---- Memory map ---- */
#define FLASH_BASE 0x08000000u
#define SRAM_BASE 0x20000000u
#define FSMC_BANK1_BASE 0x60000000u

/* ---- RCC (0x40021000) ---- */
typedef struct {
    volatile uint32_t CR;       /* 0x00 */
    volatile uint32_t CFGR;     /* 0x04 */
    volatile uint32_t CIR;      /* 0x08 */
    volatile uint32_t APB2RSTR; /* 0x0C */
    volatile uint32_t APB1RSTR; /* 0x10 */
    volatile uint32_t AHBENR;   /* 0x14 */
    volatile uint32_t APB2ENR;  /* 0x18 */
    volatile uint32_t APB1ENR;  /* 0x1C */
    volatile uint32_t BDCR;     /* 0x20 */
    volatile uint32_t CSR;      /* 0x24 */
} rcc_regs_t;
#define RCC ((rcc_regs_t *)0x40021000u)
#define RCC_APB2ENR_AFIOEN (1u << 0)
#define RCC_APB2ENR_IOPAEN (1u << 2)
#define RCC_APB2ENR_USART1EN (1u << 14)

/* ---- GPIO (GPIOA 0x40010800, 0x400 apart) ---- */
typedef struct {
    volatile uint32_t CR[2]; /* 0x00 CRL pins 0-7, 0x04 CRH pins 8-15, 4 bits/pin */
    volatile uint32_t IDR;   /* 0x08 */
    volatile uint32_t ODR;   /* 0x0C */
    volatile uint32_t BSRR;  /* 0x10 */
    volatile uint32_t BRR;   /* 0x14 */
    volatile uint32_t LCKR;  /* 0x18 */
} gpio_regs_t;
#define GPIOA ((gpio_regs_t *)0x40010800u)
/* CNF[1:0] MODE[1:0] nibbles */
#define GPIO_CFG_AF_PP_50MHZ 0xBu     /* CNF=10 alternate push-pull, MODE=11 */
#define GPIO_CFG_INPUT_FLOATING 0x4u  /* reset state */

/* ---- USART (USART1 0x40013800) ---- */
typedef struct {
    volatile uint32_t SR;   /* 0x00 */
    volatile uint32_t DR;   /* 0x04 */
    volatile uint32_t BRR;  /* 0x08 */
    volatile uint32_t CR1;  /* 0x0C */
    volatile uint32_t CR2;  /* 0x10 */
    volatile uint32_t CR3;  /* 0x14 */
    volatile uint32_t GTPR; /* 0x18 */
} usart_regs_t;
#define USART1 ((usart_regs_t *)0x40013800u)
#define USART_SR_TC (1u << 6)
#define USART_SR_TXE (1u << 7)
#define USART_CR1_RE (1u << 2)
#define USART_CR1_TE (1u << 3)
#define USART_CR1_UE (1u << 13)

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
