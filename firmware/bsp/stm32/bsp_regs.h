/*
 * Registers of the STM32 IP blocks the F1 and F4 share (same layout and bits in RM0008 and
 * RM0430): USART v1 (RM0008 §27.6 / RM0430 §26.6), SPI (§25.5 / §29.5), I2C v1 (§26.6 /
 * §27.6), general-purpose timers TIM2-5 (§15.4 / §18.4), EXTI (§10.3.7 / §10.3.7),
 * IWDG (§19.4 / §17.4), PWR CR/CSR PVD fields (§5.4 / §5.4). Private to the BSP: names carry
 * a BSP_ prefix so they never clash with other register headers.
 */
#ifndef BSP_REGS_H
#define BSP_REGS_H

#include <stdint.h>

typedef struct {
    volatile uint32_t SR, DR, BRR, CR1, CR2, CR3, GTPR;
} bsp_usart_regs_t;
#define BSP_USART_SR_PE (1u << 0)
#define BSP_USART_SR_FE (1u << 1)
#define BSP_USART_SR_NF (1u << 2)
#define BSP_USART_SR_ORE (1u << 3)
#define BSP_USART_SR_RXNE (1u << 5)
#define BSP_USART_SR_TC (1u << 6)
#define BSP_USART_SR_TXE (1u << 7)
#define BSP_USART_CR1_RE (1u << 2)
#define BSP_USART_CR1_TE (1u << 3)
#define BSP_USART_CR1_RXNEIE (1u << 5)
#define BSP_USART_CR1_TCIE (1u << 6)
#define BSP_USART_CR1_TXEIE (1u << 7)
#define BSP_USART_CR1_PS (1u << 9)
#define BSP_USART_CR1_PCE (1u << 10)
#define BSP_USART_CR1_M (1u << 12)
#define BSP_USART_CR1_UE (1u << 13)
#define BSP_USART_CR2_STOP_POS 12u

typedef struct {
    volatile uint32_t CR1, CR2, SR, DR, CRCPR, RXCRCR, TXCRCR, I2SCFGR, I2SPR;
} bsp_spi_regs_t;
#define BSP_SPI_CR1_CPHA (1u << 0)
#define BSP_SPI_CR1_CPOL (1u << 1)
#define BSP_SPI_CR1_MSTR (1u << 2)
#define BSP_SPI_CR1_BR_POS 3u
#define BSP_SPI_CR1_SPE (1u << 6)
#define BSP_SPI_CR1_SSI (1u << 8)
#define BSP_SPI_CR1_SSM (1u << 9)
#define BSP_SPI_SR_RXNE (1u << 0)
#define BSP_SPI_SR_TXE (1u << 1)
#define BSP_SPI_SR_MODF (1u << 5)
#define BSP_SPI_SR_OVR (1u << 6)
#define BSP_SPI_SR_BSY (1u << 7)

typedef struct {
    volatile uint32_t CR1, CR2, OAR1, OAR2, DR, SR1, SR2, CCR, TRISE, FLTR;
} bsp_i2c_regs_t;
#define BSP_I2C_CR1_PE (1u << 0)
#define BSP_I2C_CR1_START (1u << 8)
#define BSP_I2C_CR1_STOP (1u << 9)
#define BSP_I2C_CR1_ACK (1u << 10)
#define BSP_I2C_CR1_POS (1u << 11)
#define BSP_I2C_CR1_SWRST (1u << 15)
#define BSP_I2C_SR1_SB (1u << 0)
#define BSP_I2C_SR1_ADDR (1u << 1)
#define BSP_I2C_SR1_BTF (1u << 2)
#define BSP_I2C_SR1_RXNE (1u << 6)
#define BSP_I2C_SR1_TXE (1u << 7)
#define BSP_I2C_SR1_BERR (1u << 8)
#define BSP_I2C_SR1_ARLO (1u << 9)
#define BSP_I2C_SR1_AF (1u << 10)
#define BSP_I2C_SR2_BUSY (1u << 1)
#define BSP_I2C_CCR_FS (1u << 15)

typedef struct {
    volatile uint32_t CR1, CR2, SMCR, DIER, SR, EGR, CCMR1, CCMR2, CCER, CNT, PSC, ARR;
    volatile uint32_t RCR, CCR1, CCR2, CCR3, CCR4;   /* RCR: TIM1/8 only */
} bsp_tim_regs_t;
#define BSP_TIM_CR1_CEN (1u << 0)
#define BSP_TIM_CR1_URS (1u << 2)
#define BSP_TIM_CR1_OPM (1u << 3)
#define BSP_TIM_CR1_ARPE (1u << 7)
#define BSP_TIM_DIER_UIE (1u << 0)
#define BSP_TIM_DIER_CC1IE (1u << 1)
#define BSP_TIM_SR_UIF (1u << 0)
#define BSP_TIM_SR_CC1IF (1u << 1)
#define BSP_TIM_EGR_UG (1u << 0)

typedef struct {
    volatile uint32_t IMR, EMR, RTSR, FTSR, SWIER, PR;
} bsp_exti_regs_t;
#define BSP_EXTI_LINE_PVD 16u

typedef struct {
    volatile uint32_t KR, PR, RLR, SR;
} bsp_iwdg_regs_t;
#define BSP_IWDG ((bsp_iwdg_regs_t *)0x40003000u)
#define BSP_IWDG_KEY_START 0xCCCCu
#define BSP_IWDG_KEY_RELOAD 0xAAAAu
#define BSP_IWDG_KEY_UNLOCK 0x5555u

typedef struct {
    volatile uint32_t CR, CSR;
} bsp_pwr_regs_t;
#define BSP_PWR ((bsp_pwr_regs_t *)0x40007000u)
#define BSP_PWR_CR_PVDE (1u << 4)
#define BSP_PWR_CR_PLS_POS 5u
#define BSP_PWR_CR_DBP (1u << 8)
#define BSP_PWR_CSR_PVDO (1u << 2)

/* RCC_CSR reset flags (RM0008 §7.3.10, RM0430 §6.3.23). */
#define BSP_RCC_CSR_RMVF (1u << 24)
#define BSP_RCC_CSR_FLAGS 0xFE000000u

#endif
