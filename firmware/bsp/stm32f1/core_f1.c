/*
 * STM32F1 clock tree, GPIO and the instance tables of the shared drivers.
 *
 * Clock (RM0008 §7.2, §3.3.3): HSE 8 MHz on, HSERDY; flash two wait states with prefetch
 * (48 < SYSCLK <= 72 MHz); PLL = HSE x 9 = 72 MHz, AHB /1, APB1 /2 (36 MHz max), APB2 /1,
 * ADC /6 (12 MHz <= 14 MHz); PLLON, PLLRDY; SW = PLL, wait SWS. Every ready bit has a timeout;
 * without HSE the part stays on HSI 8 MHz and the call returns BSP_ERR_TIMEOUT.
 * GPIO (§9.1, Table 20): per pin CNF[1:0] MODE[1:0]; pull-up/-down input take the ODR bit.
 */
#include "bsp_priv.h"
#include "soc.h"

#define HSE_HZ 8000000u
#define HSE_TIMEOUT_US 20000u                  /* tSU(HSE) 2 ms typical (DS5319) */
#define PLL_TIMEOUT_US 2000u                   /* tLOCK 200 us max */

static uint32_t g_hclk = STM32F1_HSI_HZ, g_pclk1 = STM32F1_HSI_HZ, g_pclk2 = STM32F1_HSI_HZ;

uint32_t bsp_hclk_hz(void) { return g_hclk; }
uint32_t bsp_pclk1_hz(void) { return g_pclk1; }
uint32_t bsp_pclk2_hz(void) { return g_pclk2; }

int bsp_clock_init(void)
{
    if ((RCC->CFGR & RCC_CFGR_SWS_MASK) == RCC_CFGR_SWS_PLL)
        return 0;                              /* already running from the PLL */
    RCC->CR |= RCC_CR_HSEON;
    if (bsp_wait_bits(&RCC->CR, RCC_CR_HSERDY, RCC_CR_HSERDY, HSE_TIMEOUT_US, 0)) {
        RCC->CR &= ~RCC_CR_HSEON;
        return BSP_ERR_TIMEOUT;
    }
    /* Wait states before the clock goes up. */
    FLASHIF->ACR = FLASH_ACR_PRFTBE | 2u;   /* LATENCY 2 wait states */
    RCC->CFGR = RCC_CFGR_PLLSRC_HSE | ((9u - 2u) << RCC_CFGR_PLLMUL_POS) | RCC_CFGR_PPRE1_DIV2 |
                RCC_CFGR_ADCPRE_DIV6;
    RCC->CR |= RCC_CR_PLLON;
    if (bsp_wait_bits(&RCC->CR, RCC_CR_PLLRDY, RCC_CR_PLLRDY, PLL_TIMEOUT_US, 0))
        return BSP_ERR_TIMEOUT;
    RCC->CFGR |= RCC_CFGR_SW_PLL;
    if (bsp_wait_bits(&RCC->CFGR, RCC_CFGR_SWS_MASK, RCC_CFGR_SWS_PLL, 100u, 0))
        return BSP_ERR_TIMEOUT;
    g_hclk = HSE_HZ * 9u;
    g_pclk1 = g_hclk / 2u;
    g_pclk2 = g_hclk;
    return 0;
}

/* ---- GPIO ---- */
static void port_clock(unsigned port) { RCC->APB2ENR |= RCC_APB2ENR_IOPAEN << port; }

static void set_nibble(bsp_pin_t pin, uint32_t nib)
{
    unsigned port = pin >> 4, n = pin & 15u;
    gpio_regs_t *g = GPIO_PORT(port);
    port_clock(port);
    volatile uint32_t *cr = &g->CR[n >> 3];
    unsigned sh = (n & 7u) * 4u;
    uint32_t s = bsp_irq_lock();
    *cr = (*cr & ~(0xFu << sh)) | (nib << sh);
    bsp_irq_unlock(s);
}

void bsp_pin_config(bsp_pin_t pin, enum bsp_pin_mode mode, unsigned af)
{
    (void)af;                                  /* F1: no AF multiplexer (remaps via AFIO) */
    if (pin == BSP_PIN_NONE || (pin >> 4) > 4)
        return;
    gpio_regs_t *g = GPIO_PORT(pin >> 4);
    uint32_t bit = 1u << (pin & 15u);
    switch (mode) {
    case BSP_PIN_INPUT: set_nibble(pin, 0x4); break;          /* floating */
    case BSP_PIN_INPUT_PULLUP: port_clock(pin >> 4); g->BSRR = bit; set_nibble(pin, 0x8); break;
    case BSP_PIN_INPUT_PULLDOWN: port_clock(pin >> 4); g->BRR = bit; set_nibble(pin, 0x8); break;
    case BSP_PIN_OUTPUT: set_nibble(pin, 0x3); break;         /* push-pull, 50 MHz */
    case BSP_PIN_OUTPUT_OD: set_nibble(pin, 0x7); break;
    case BSP_PIN_AF: set_nibble(pin, 0xB); break;             /* AF push-pull */
    case BSP_PIN_ANALOG: set_nibble(pin, 0x0); break;
    }
}

void bsp_fam_pin_od_af(bsp_pin_t pin, unsigned af) { (void)af; set_nibble(pin, 0xF); }
void bsp_fam_pin_af_in(bsp_pin_t pin, unsigned af) { (void)af; set_nibble(pin, 0x4); }

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
    RCC->APB2ENR |= RCC_APB2ENR_AFIOEN;
    volatile uint32_t *cr = &AFIO->EXTICR[line >> 2];
    unsigned sh = (line & 3u) * 4u;
    *cr = (*cr & ~(0xFu << sh)) | (port << sh);
}

void bsp_fam_pwr_clock(void) { RCC->APB1ENR |= RCC_APB1ENR_PWREN | RCC_APB1ENR_BKPEN; }

/* ---- instances (DS5319 Table 5 default pins) ---- */
int bsp_fam_uart(int n, usart_regs_t **regs, int *irqn, uint32_t *pclk_hz)
{
    bsp_pin_t tx, rx;
    switch (n) {
    case 1: RCC->APB2ENR |= RCC_APB2ENR_USART1EN; *regs = USART1;
            *irqn = USART1_IRQn; *pclk_hz = g_pclk2; tx = BSP_PIN(0, 9); rx = BSP_PIN(0, 10); break;
    case 2: RCC->APB1ENR |= RCC_APB1ENR_USART2EN; *regs = USART2;
            *irqn = USART2_IRQn; *pclk_hz = g_pclk1; tx = BSP_PIN(0, 2); rx = BSP_PIN(0, 3); break;
    case 3: RCC->APB1ENR |= RCC_APB1ENR_USART3EN; *regs = USART3;
            *irqn = USART3_IRQn; *pclk_hz = g_pclk1; tx = BSP_PIN(1, 10); rx = BSP_PIN(1, 11); break;
    default: return BSP_ERR_NODEV;
    }
    bsp_pin_config(tx, BSP_PIN_AF, 0);
    bsp_fam_pin_af_in(rx, 0);
    return 0;
}

int bsp_fam_spi(int n, spi_regs_t **regs, uint32_t *pclk_hz)
{
    unsigned port;
    unsigned first;
    switch (n) {
    case 1: RCC->APB2ENR |= RCC_APB2ENR_SPI1EN; *regs = SPI1;
            *pclk_hz = g_pclk2; port = 0; first = 5; break;
    case 2: RCC->APB1ENR |= RCC_APB1ENR_SPI2EN; *regs = SPI2;
            *pclk_hz = g_pclk1; port = 1; first = 13; break;
    default: return BSP_ERR_NODEV;
    }
    bsp_pin_config(BSP_PIN(port, first), BSP_PIN_AF, 0);         /* SCK */
    bsp_fam_pin_af_in(BSP_PIN(port, first + 1), 0);              /* MISO */
    bsp_pin_config(BSP_PIN(port, first + 2), BSP_PIN_AF, 0);     /* MOSI */
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
    bsp_fam_pin_od_af(BSP_PIN(1, scl), 0);
    bsp_fam_pin_od_af(BSP_PIN(1, scl + 1), 0);
    return 0;
}

int bsp_fam_tim(int n, tim_regs_t **regs, int *irqn, uint32_t *timclk_hz)
{
    if (n < 2 || n > 4)
        return BSP_ERR_NODEV;
    RCC->APB1ENR |= RCC_APB1ENR_TIM2EN << (n - 2);
    *regs = TIM_N((unsigned)n);
    *irqn = TIM2_IRQn + (n - 2);
    *timclk_hz = g_pclk1 == g_hclk ? g_pclk1 : 2u * g_pclk1;   /* APB x2 rule */
    return 0;
}
