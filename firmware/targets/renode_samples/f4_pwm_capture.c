/* PWM generation and capture on the STM32F4 (USART2 console): TIM3 drives a 1 kHz, 33 % PWM
 * on PA6 (channel 1, AF2) and TIM4 measures the signal arriving on PD12 (channel 1 input,
 * AF2; the board or the platform wires PA6 to PD12), printing "freq=<Hz> duty=<%>" every
 * 200 ms. Stands in for the PWM capture binaries of Renode's STM32F4_Discovery suite.
 *
 * Default: PWM input mode (RM0090 18.3.6): IC1 captures TI1 rising edges, IC2 (mapped on TI1)
 * the falling ones, and the slave mode controller in reset mode restarts the counter on each
 * rising edge, so CCR1 is the period and CCR2 the pulse.
 * -DFREE_RUNNING: the same two captures with the counter running free (no slave mode): the
 * handler subtracts successive capture values, as a capture driver working on any channel
 * pair does. */
#include "sample.h"

#define GPIOA_MODER REG(0x40020000u)
#define GPIOA_AFRL  REG(0x40020020u)
#define GPIOD_MODER REG(0x40020C00u)
#define GPIOD_AFRH  REG(0x40020C24u)
#define TIM3_BASE   0x40000400u
#define TIM4_BASE   0x40000800u
#define TIM_CR1(b)   REG((b) + 0x00u)
#define TIM_SMCR(b)  REG((b) + 0x08u)
#define TIM_DIER(b)  REG((b) + 0x0Cu)
#define TIM_SR(b)    REG((b) + 0x10u)
#define TIM_EGR(b)   REG((b) + 0x14u)
#define TIM_CCMR1(b) REG((b) + 0x18u)
#define TIM_CCER(b)  REG((b) + 0x20u)
#define TIM_PSC(b)   REG((b) + 0x28u)
#define TIM_ARR(b)   REG((b) + 0x2Cu)
#define TIM_CCR1(b)  REG((b) + 0x34u)
#define TIM_CCR2(b)  REG((b) + 0x38u)
#define IRQ_TIM4     30u
#define COUNT_HZ     1000000u

static volatile uint32_t g_period, g_pulse;
#ifdef FREE_RUNNING
static uint32_t g_last_rise;
#endif

void TIM4_IRQHandler(void)
{
    uint32_t sr = TIM_SR(TIM4_BASE);
#ifdef FREE_RUNNING
    if (sr & 2u) {                                  /* CC1IF: a rising edge */
        uint32_t rise = TIM_CCR1(TIM4_BASE);        /* reading clears CC1IF */
        g_period = (rise - g_last_rise) & 0xFFFFu;
        g_last_rise = rise;
    }
    if (sr & 4u) {                                  /* CC2IF: a falling edge */
        g_pulse = (TIM_CCR2(TIM4_BASE) - g_last_rise) & 0xFFFFu;
    }
#else
    if (sr & 2u) {
        g_period = TIM_CCR1(TIM4_BASE);
        g_pulse = TIM_CCR2(TIM4_BASE);
    }
#endif
    TIM_SR(TIM4_BASE) = ~(sr & 0x7Fu) & 0xFFFFu;    /* clear what was seen (rc_w0) */
}

int main(void)
{
    console_init();
    ticks_start();
    RCC_AHB1ENR |= (1u << 0) | (1u << 3);           /* GPIOAEN, GPIODEN */
    RCC_APB1ENR |= (1u << 1) | (1u << 2);           /* TIM3EN, TIM4EN */
    GPIOA_MODER = (GPIOA_MODER & ~(3u << 12)) | (2u << 12);       /* PA6: AF */
    GPIOA_AFRL = (GPIOA_AFRL & ~(0xFu << 24)) | (2u << 24);       /* AF2: TIM3_CH1 */
    GPIOD_MODER = (GPIOD_MODER & ~(3u << 24)) | (2u << 24);       /* PD12: AF */
    GPIOD_AFRH = (GPIOD_AFRH & ~(0xFu << 16)) | (2u << 16);       /* AF2: TIM4_CH1 */

    /* TIM4: IC1 <- TI1 rising, IC2 <- TI1 falling. */
    TIM_PSC(TIM4_BASE) = HCLK_HZ / COUNT_HZ - 1u;
    TIM_ARR(TIM4_BASE) = 0xFFFFu;
    TIM_CCMR1(TIM4_BASE) = 1u | (2u << 8);          /* CC1S = 01, CC2S = 10 */
    TIM_CCER(TIM4_BASE) = 1u | (1u << 4) | (1u << 5);   /* CC1E, CC2E, CC2P (falling) */
#ifdef FREE_RUNNING
    TIM_DIER(TIM4_BASE) = 2u | 4u;                  /* CC1IE, CC2IE */
#else
    TIM_SMCR(TIM4_BASE) = (5u << 4) | 4u;           /* TS = TI1FP1, SMS = reset */
    TIM_DIER(TIM4_BASE) = 2u;                       /* CC1IE */
#endif
    TIM_EGR(TIM4_BASE) = 1u;
    TIM_SR(TIM4_BASE) = 0;
    nvic_enable(IRQ_TIM4);
    TIM_CR1(TIM4_BASE) = 1u;

    /* TIM3 channel 1: PWM mode 1, 1 kHz, 33 % high. */
    TIM_PSC(TIM3_BASE) = HCLK_HZ / COUNT_HZ - 1u;
    TIM_ARR(TIM3_BASE) = COUNT_HZ / 1000u - 1u;
    TIM_CCR1(TIM3_BASE) = 330u;
    TIM_CCMR1(TIM3_BASE) = (6u << 4) | (1u << 3);   /* OC1M = PWM 1, OC1PE */
    TIM_CCER(TIM3_BASE) = 1u;                       /* CC1E */
    TIM_EGR(TIM3_BASE) = 1u;
    TIM_CR1(TIM3_BASE) = (1u << 7) | 1u;            /* ARPE, CEN */

    for (;;) {
        delay_ms(200);
        uint32_t period = g_period, pulse = g_pulse;
        if (period == 0u) {
            put_line("no signal");
            continue;
        }
        put_str("freq=");
        put_uint((COUNT_HZ + period / 2u) / period);
        put_str(" duty=");
        put_uint((pulse * 100u + period / 2u) / period);
        put_char('\n');
    }
}
