/*
 * Blocks at the same APB1 addresses on the STM32F1 and F4 (RM0008 rev 21 §3.3 Table 3,
 * RM0430 rev 8 §2.2 Table 1). Included by the family header (stm32f1.h / stm32f4.h), which
 * brings the register layouts (rtc_regs_t is per family) and the rest of the memory map.
 */
#ifndef APB1_MAP_H
#define APB1_MAP_H

#define TIM_N(n) ((tim_regs_t *)(0x40000000u + 0x400u * ((n) - 2u)))   /* TIM2..TIM4 */
#define TIM2 TIM_N(2)         /* 16-bit counter on the F1, 32-bit on the F4 */
#define RTC ((rtc_regs_t *)0x40002800u)
#define IWDG ((iwdg_regs_t *)0x40003000u)
#define SPI2 ((spi_regs_t *)0x40003800u)
#define USART2 ((usart_regs_t *)0x40004400u)
#define USART3 ((usart_regs_t *)0x40004800u)
#define I2C1 ((i2c_regs_t *)0x40005400u)
#define I2C2 ((i2c_regs_t *)0x40005800u)
#define PWR ((pwr_regs_t *)0x40007000u)

#endif
