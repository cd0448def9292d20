/*
 * STM32F413 clock tree, GPIO and the instance tables of the shared drivers.
 *
 * Clock (RM0430 §6.2, §5.1.3, §3.4.1): PWR clock on and VOS = scale 1 (needed above 84 MHz);
 * HSE 8 MHz on, HSERDY; PLL from HSE with M = 4 (2 MHz VCO input, the recommended value),
 * N = 200 (VCO 400 MHz), P = 4 -> 100 MHz, Q = 9 (44 MHz, <= 48), R = 2; flash 3 wait states
 * (75 < HCLK <= 100 MHz at 2.7-3.6 V, Table 6) with prefetch and caches, checked by reading
 * ACR back; AHB /1, APB1 /2 (50 MHz max), APB2 /1; SW = PLL, wait SWS. Ready bits have
 * timeouts; without HSE the part stays on HSI 16 MHz and the call returns BSP_ERR_TIMEOUT.
 */
#include "bsp_priv.h"
#include "soc.h"

#define HSE_HZ 8000000u
#define HSE_TIMEOUT_US 20000u
#define PLL_TIMEOUT_US 2000u

static uint32_t g_hclk = STM32F4_HSI_HZ, g_pclk1 = STM32F4_HSI_HZ, g_pclk2 = STM32F4_HSI_HZ;

uint32_t bsp_hclk_hz(void) { return g_hclk; }
uint32_t bsp_pclk1_hz(void) { return g_pclk1; }
uint32_t bsp_pclk2_hz(void) { return g_pclk2; }

int bsp_clock_init(void)
{
    const uint32_t pllcfgr = (4u << RCC_PLLCFGR_PLLM_POS) | (200u << RCC_PLLCFGR_PLLN_POS) |
                             ((4u / 2u - 1u) << RCC_PLLCFGR_PLLP_POS) | RCC_PLLCFGR_PLLSRC_HSE |
                             (9u << RCC_PLLCFGR_PLLQ_POS) | (2u << RCC_PLLCFGR_PLLR_POS);
    if ((RCC->CFGR & RCC_CFGR_SWS_MASK) == RCC_CFGR_SWS_PLL) {
        if (RCC->PLLCFGR == pllcfgr) {
            /* already running from this PLL (a bootloader set it up): only learn the clocks */
            g_hclk = 100000000u;
            g_pclk1 = g_hclk / 2u;
            g_pclk2 = g_hclk;
            return 0;
        }
        RCC->CFGR &= ~3u;                   /* SW: back to HSI before the PLL is changed */
        if (bsp_wait_bits(&RCC->CFGR, RCC_CFGR_SWS_MASK, 0, 100u, 0))
            return BSP_ERR_TIMEOUT;
    }
    RCC->APB1ENR |= RCC_APB1ENR_PWREN;
    PWR->CR = (PWR->CR & ~PWR_CR_VOS_MASK) | PWR_CR_VOS_SCALE1;
    RCC->CR |= RCC_CR_HSEON;
    if (bsp_wait_bits(&RCC->CR, RCC_CR_HSERDY, RCC_CR_HSERDY, HSE_TIMEOUT_US, 0)) {
        RCC->CR &= ~RCC_CR_HSEON;
        return BSP_ERR_TIMEOUT;
    }
    RCC->CR &= ~RCC_CR_PLLON;               /* PLLCFGR is written only with the PLL off */
    RCC->PLLCFGR = pllcfgr;
    RCC->CR |= RCC_CR_PLLON;
    if (bsp_wait_bits(&RCC->CR, RCC_CR_PLLRDY, RCC_CR_PLLRDY, PLL_TIMEOUT_US, 0))
        return BSP_ERR_TIMEOUT;
    FLASHIF->ACR = FLASH_ACR_PRFTEN | FLASH_ACR_ICEN | FLASH_ACR_DCEN | 3u;
    if ((FLASHIF->ACR & FLASH_ACR_LATENCY_MASK) != 3u)
        return BSP_ERR_IO;                     /* wait states not taken: stay slow */
    RCC->CFGR = RCC_CFGR_PPRE1_DIV2;        /* HPRE /1, PPRE2 /1 */
    RCC->CFGR |= RCC_CFGR_SW_PLL;
    if (bsp_wait_bits(&RCC->CFGR, RCC_CFGR_SWS_MASK, RCC_CFGR_SWS_PLL, 100u, 0))
        return BSP_ERR_TIMEOUT;
    g_hclk = 100000000u;
    g_pclk1 = g_hclk / 2u;
    g_pclk2 = g_hclk;
    return 0;
}

/* ---- GPIO ---- */
static void field(volatile uint32_t *reg, unsigned pos, unsigned width, uint32_t v)
{
    uint32_t m = ((1u << width) - 1u) << pos;
    *reg = (*reg & ~m) | ((v << pos) & m);
}

static void pin_setup(bsp_pin_t pin, unsigned moder, unsigned otype, unsigned pupd, unsigned af)
{
    unsigned port = pin >> 4, n = pin & 15u;
    RCC->AHB1ENR |= RCC_AHB1ENR_GPIOAEN << port;
    gpio_regs_t *g = GPIO_PORT(port);
    uint32_t s = bsp_irq_lock();
    field(&g->AFR[n >> 3], (n & 7u) * 4u, 4, af);
    field(&g->OTYPER, n, 1, otype);
    field(&g->OSPEEDR, 2u * n, 2, 2u);          /* high speed */
    field(&g->PUPDR, 2u * n, 2, pupd);
    field(&g->MODER, 2u * n, 2, moder);
    bsp_irq_unlock(s);
}

void bsp_pin_config(bsp_pin_t pin, enum bsp_pin_mode mode, unsigned af)
{
    if (pin == BSP_PIN_NONE || (pin >> 4) > 7)
        return;
    switch (mode) {
    case BSP_PIN_INPUT: pin_setup(pin, 0, 0, 0, 0); break;
    case BSP_PIN_INPUT_PULLUP: pin_setup(pin, 0, 0, 1, 0); break;
    case BSP_PIN_INPUT_PULLDOWN: pin_setup(pin, 0, 0, 2, 0); break;
    case BSP_PIN_OUTPUT: pin_setup(pin, 1, 0, 0, 0); break;
    case BSP_PIN_OUTPUT_OD: pin_setup(pin, 1, 1, 0, 0); break;
    case BSP_PIN_AF: pin_setup(pin, 2, 0, 0, af & 15u); break;
    case BSP_PIN_ANALOG: pin_setup(pin, 3, 0, 0, 0); break;
    }
}

void bsp_fam_pin_od_af(bsp_pin_t pin, unsigned af) { pin_setup(pin, 2, 1, 1, af); }
void bsp_fam_pin_af_in(bsp_pin_t pin, unsigned af) { pin_setup(pin, 2, 0, 1, af); }

void bsp_pin_write(bsp_pin_t pin, int level)
{
    if (pin == BSP_PIN_NONE)
        return;
    uint32_t bit = 1u << (pin & 15u);
    GPIO_PORT(pin >> 4)->BSRR = level ? bit : bit << 16;
}

int bsp_pin_read(bsp_pin_t pin)
{
    if (pin == BSP_PIN_NONE)
        return 0;
    return (GPIO_PORT(pin >> 4)->IDR >> (pin & 15u)) & 1u;
}

/* ---- EXTI routing, PWR, reset flags ---- */

void bsp_fam_exti_route(unsigned line, unsigned port)
{
    RCC->APB2ENR |= RCC_APB2ENR_SYSCFGEN;
    field(&SYSCFG->EXTICR[line >> 2], (line & 3u) * 4u, 4, port);
}

void bsp_fam_pwr_clock(void) { RCC->APB1ENR |= RCC_APB1ENR_PWREN; }

/* ---- instances (DS11581 alternate-function table) ---- */
int bsp_fam_uart(int n, usart_regs_t **regs, int *irqn, uint32_t *pclk_hz)
{
    bsp_pin_t tx, rx;
    unsigned af = 7;
    switch (n) {
    case 1: RCC->APB2ENR |= RCC_APB2ENR_USART1EN; *regs = USART1;
            *irqn = USART1_IRQn; *pclk_hz = g_pclk2; tx = BSP_PIN(0, 9); rx = BSP_PIN(0, 10); break;
    case 2: RCC->APB1ENR |= RCC_APB1ENR_USART2EN; *regs = USART2;
            *irqn = USART2_IRQn; *pclk_hz = g_pclk1; tx = BSP_PIN(0, 2); rx = BSP_PIN(0, 3); break;
    case 3: RCC->APB1ENR |= RCC_APB1ENR_USART3EN; *regs = USART3;
            *irqn = USART3_IRQn; *pclk_hz = g_pclk1; tx = BSP_PIN(1, 10); rx = BSP_PIN(1, 11); break;
    case 5: RCC->APB1ENR |= RCC_APB1ENR_UART5EN; *regs = UART5;
            *irqn = UART5_IRQn; *pclk_hz = g_pclk1; tx = BSP_PIN(2, 12); rx = BSP_PIN(3, 2); af = 8; break;
    case 6: RCC->APB2ENR |= RCC_APB2ENR_USART6EN; *regs = USART6;
            *irqn = USART6_IRQn; *pclk_hz = g_pclk2; tx = BSP_PIN(2, 6); rx = BSP_PIN(2, 7); af = 8; break;
    default: return BSP_ERR_NODEV;
    }
    bsp_pin_config(tx, BSP_PIN_AF, af);
    bsp_fam_pin_af_in(rx, af);
    return 0;
}

int bsp_fam_spi(int n, spi_regs_t **regs, uint32_t *pclk_hz)
{
    unsigned port, first;
    switch (n) {
    case 1: RCC->APB2ENR |= RCC_APB2ENR_SPI1EN; *regs = SPI1;
            *pclk_hz = g_pclk2; port = 0; first = 5; break;
    case 2: RCC->APB1ENR |= RCC_APB1ENR_SPI2EN; *regs = SPI2;
            *pclk_hz = g_pclk1; port = 1; first = 13; break;
    default: return BSP_ERR_NODEV;
    }
    for (unsigned i = 0; i < 3; i++)
        bsp_pin_config(BSP_PIN(port, first + i), BSP_PIN_AF, 5);
    return 0;
}

int bsp_fam_i2c(int n, i2c_regs_t **regs, uint32_t *pclk_hz)
{
    unsigned scl;
    switch (n) {
    case 1: RCC->APB1ENR |= RCC_APB1ENR_I2C1EN; *regs = I2C1; scl = 6; break;
    case 2: RCC->APB1ENR |= RCC_APB1ENR_I2C2EN; *regs = I2C2; scl = 10; break;
    default: return BSP_ERR_NODEV;
    }
    *pclk_hz = g_pclk1;
    bsp_fam_pin_od_af(BSP_PIN(1, scl), 4);
    bsp_fam_pin_od_af(BSP_PIN(1, scl + 1), 4);
    return 0;
}

int bsp_fam_tim(int n, tim_regs_t **regs, int *irqn, uint32_t *timclk_hz)
{
    if (n < 2 || n > 4)
        return BSP_ERR_NODEV;
    RCC->APB1ENR |= RCC_APB1ENR_TIM2EN << (n - 2);
    *regs = TIM_N((unsigned)n);
    *irqn = TIM2_IRQn + (n - 2);
    *timclk_hz = g_pclk1 == g_hclk ? g_pclk1 : 2u * g_pclk1;
    return 0;
}
