/*
 * I2C (v1) registers the STM32F1 and F4 share, CR1 to TRISE (RM0008 rev 21 §26.6, RM0430
 * rev 8 §27.6). The F4 has one register more after TRISE, FLTR (noise filters): stm32f4.h
 * gives it as I2C_FLTR(i2c). Instances and their addresses: the family header.
 */
#ifndef REGS_I2C_H
#define REGS_I2C_H

#include <stdint.h>

typedef struct {
    volatile uint32_t CR1;   /* 0x00 */
    volatile uint32_t CR2;   /* 0x04 FREQ[5:0] = PCLK1 in MHz */
    volatile uint32_t OAR1;  /* 0x08 */
    volatile uint32_t OAR2;  /* 0x0C */
    volatile uint32_t DR;    /* 0x10 */
    volatile uint32_t SR1;   /* 0x14 */
    volatile uint32_t SR2;   /* 0x18 */
    volatile uint32_t CCR;   /* 0x1C */
    volatile uint32_t TRISE; /* 0x20 */
} i2c_regs_t;

#define I2C_CR1_PE (1u << 0)
#define I2C_CR1_START (1u << 8)
#define I2C_CR1_STOP (1u << 9)
#define I2C_CR1_ACK (1u << 10)
#define I2C_CR1_POS (1u << 11)
#define I2C_CR1_SWRST (1u << 15)
#define I2C_SR1_SB (1u << 0)
#define I2C_SR1_ADDR (1u << 1)
#define I2C_SR1_BTF (1u << 2)
#define I2C_SR1_RXNE (1u << 6)
#define I2C_SR1_TXE (1u << 7)
#define I2C_SR1_BERR (1u << 8)
#define I2C_SR1_ARLO (1u << 9)
#define I2C_SR1_AF (1u << 10)
#define I2C_SR2_MSL (1u << 0)
#define I2C_SR2_BUSY (1u << 1)
#define I2C_CCR_FS (1u << 15)

#endif
