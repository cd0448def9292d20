/*
 * STM32F4 register definitions used by metersim firmware (no vendor headers).
 *
 * Sources: RM0430 (STM32F413/423) and RM0090 (STM32F405/407): memory map (2.2),
 * RCC (6.3: AHB1ENR 0x30, APB2ENR 0x44), GPIO (7.4: MODER, OSPEEDR, AFRH),
 * USART (24.6: SR, DR, BRR, CR1), vector tables (10.2, table 40 / table 61).
 * Reset clock: HSI 16 MHz, AHB/APB prescalers 1.
 * Parts: STM32F413xx (STM32F413RG, 102 IRQs) and STM32F405xx (QEMU netduinoplus2, 82 IRQs).
 */
#ifndef STM32F4_H
#define STM32F4_H

#include <stdint.h>

#define STM32F4_HSI_HZ 16000000u

/* ---- Memory map ---- */
#define FLASH_BASE 0x08000000u
#define SRAM1_BASE 0x20000000u
#define APB2_BASE 0x40010000u
#define AHB1_BASE 0x40020000u
#define FSMC_BANK1_BASE 0x60000000u

/* ---- RCC (0x40023800) ---- */
typedef struct {
    volatile uint32_t CR;         /* 0x00 */
    volatile uint32_t PLLCFGR;    /* 0x04 */
    volatile uint32_t CFGR;       /* 0x08 */
    volatile uint32_t CIR;        /* 0x0C */
    volatile uint32_t AHB1RSTR;   /* 0x10 */
    volatile uint32_t AHB2RSTR;   /* 0x14 */
    volatile uint32_t AHB3RSTR;   /* 0x18 */
    uint32_t reserved0;           /* 0x1C */
    volatile uint32_t APB1RSTR;   /* 0x20 */
    volatile uint32_t APB2RSTR;   /* 0x24 */
    uint32_t reserved1[2];        /* 0x28 */
    volatile uint32_t AHB1ENR;    /* 0x30 */
    volatile uint32_t AHB2ENR;    /* 0x34 */
    volatile uint32_t AHB3ENR;    /* 0x38 */
    uint32_t reserved2;           /* 0x3C */
    volatile uint32_t APB1ENR;    /* 0x40 */
    volatile uint32_t APB2ENR;    /* 0x44 */
} rcc_regs_t;
#define RCC ((rcc_regs_t *)0x40023800u)
#define RCC_AHB1ENR_GPIOAEN (1u << 0)
#define RCC_APB2ENR_USART1EN (1u << 4)

/* ---- GPIO (GPIOA 0x40020000, 0x400 apart) ---- */
typedef struct {
    volatile uint32_t MODER;   /* 0x00 2 bits/pin: 00 in, 01 out, 10 AF, 11 analog */
    volatile uint32_t OTYPER;  /* 0x04 */
    volatile uint32_t OSPEEDR; /* 0x08 */
    volatile uint32_t PUPDR;   /* 0x0C */
    volatile uint32_t IDR;     /* 0x10 */
    volatile uint32_t ODR;     /* 0x14 */
    volatile uint32_t BSRR;    /* 0x18 */
    volatile uint32_t LCKR;    /* 0x1C */
    volatile uint32_t AFR[2];  /* 0x20 AFRL (pins 0-7), 0x24 AFRH (pins 8-15), 4 bits/pin */
} gpio_regs_t;
#define GPIOA ((gpio_regs_t *)0x40020000u)
#define GPIO_MODE_AF 2u
#define GPIO_SPEED_HIGH 2u

/* ---- USART (USART1 0x40011000) ---- */
typedef struct {
    volatile uint32_t SR;   /* 0x00 */
    volatile uint32_t DR;   /* 0x04 */
    volatile uint32_t BRR;  /* 0x08 */
    volatile uint32_t CR1;  /* 0x0C */
    volatile uint32_t CR2;  /* 0x10 */
    volatile uint32_t CR3;  /* 0x14 */
    volatile uint32_t GTPR; /* 0x18 */
} usart_regs_t;
#define USART1 ((usart_regs_t *)0x40011000u)
#define USART_SR_TC (1u << 6)
#define USART_SR_TXE (1u << 7)
#define USART_CR1_RE (1u << 2)
#define USART_CR1_TE (1u << 3)
#define USART_CR1_UE (1u << 13)
#define USART1_AF 7u /* PA9 = USART1_TX on AF7 */

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
