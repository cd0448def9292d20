/*
 * soc_i2c: I2C1 master (PB6 SCL / PB7 SDA, alternate function open-drain) at 100 kHz
 * standard mode with an AT24C256 EEPROM at 0x50 on the test board
 * (platforms/boards/test_i2c_eeprom_*.repl).
 *
 * Sequences from RM0008 §26.3.3 / RM0430 §27.3.3 (master transmitter / receiver; the
 * N > 2 byte reception ending with BTF, ACK = 0, STOP) and the AT24C256 data sheet
 * (page write, ACK polling during the self-timed write cycle tWR <= 5 ms, random read =
 * dummy write + repeated START):
 *  1. page write of 16 bytes at word address 0x0100;
 *  2. ACK polling: START + address/write until the EEPROM ACKs (AF while it is busy),
 *     timed from the STOP of the page write;
 *  3. random read of the 16 bytes and comparison;
 *  4. an address with nothing behind it (0x51) is NACKed: SR1.AF.
 * CR2.FREQ = PCLK1 in MHz, CCR = PCLK1 / (2 x 100 kHz), TRISE = FREQ + 1.
 *
 * Prints:
 *   page write 16 bytes at 0x0100
 *   ack after <polls> polls, <us> us
 *   read back 16 bytes ok
 *   0x51 nack af=1
 *   PASS
 */
#include "../soc_common/soc_test.h"

#define EEPROM_ADDR 0x50u
#define ABSENT_ADDR 0x51u
#define WORD_ADDR 0x0100u
#define NBYTES 16u

static soc_clocks_t g_clk;

/* Waits until (reg & mask) is non-zero; FAIL after 2 ms (20 byte times at 100 kHz). */
static uint32_t wait_flag(volatile uint32_t *reg, uint32_t mask, const char *what)
{
    uint32_t t0 = DWT_CYCCNT, limit = 2000u * (g_clk.hclk_hz / 1000000u);
    for (;;) {
        uint32_t v = *reg;
        if (v & mask)
            return v;
        if (DWT_CYCCNT - t0 > limit)
            test_fail("timeout waiting for %s (SR1 0x%04x SR2 0x%04x)", what,
                      (unsigned)I2C1->SR1, (unsigned)I2C1->SR2);
    }
}

static void wait_idle(void)
{
    uint32_t t0 = DWT_CYCCNT, limit = 2000u * (g_clk.hclk_hz / 1000000u);
    while (I2C1->SR2 & I2C_SR2_BUSY)
        if (DWT_CYCCNT - t0 > limit)
            test_fail("bus stays busy after STOP");
}

static void setup(void)
{
#if defined(SOC_FAMILY_STM32F4)
    soc_pin_mode(GPIOB, 6, GPIO_MODE_AF, I2C1_AF, 1, GPIO_PULL_UP);
    soc_pin_mode(GPIOB, 7, GPIO_MODE_AF, I2C1_AF, 1, GPIO_PULL_UP);
#else
    soc_pin_cfg(GPIOB, 6, GPIO_CFG_AF_OD_2MHZ);
    soc_pin_cfg(GPIOB, 7, GPIO_CFG_AF_OD_2MHZ);
#endif
    RCC->APB1ENR |= RCC_APB1ENR_I2C1EN;
    (void)RCC->APB1ENR;
    I2C1->CR1 = I2C_CR1_SWRST;
    I2C1->CR1 = 0;
    uint32_t mhz = g_clk.pclk1_hz / 1000000u;
    I2C1->CR2 = mhz;
    I2C1->CCR = g_clk.pclk1_hz / (2u * 100000u);   /* standard mode, Thigh = Tlow = CCR */
    I2C1->TRISE = mhz + 1u;                         /* 1000 ns max rise time */
    I2C1->CR1 = I2C_CR1_PE;
}

/* START + address byte. Returns 1 when ACKed (ADDR cleared: SR1 then SR2 read), 0 on AF
 * (AF cleared, STOP generated). */
static int start_addr(uint8_t addr7, int read)
{
    I2C1->CR1 |= I2C_CR1_START;
    wait_flag(&I2C1->SR1, I2C_SR1_SB, "SB");
    I2C1->DR = (uint32_t)(addr7 << 1) | (read ? 1u : 0u);  /* SR1 read + DR write clear SB */
    uint32_t sr1 = wait_flag(&I2C1->SR1, I2C_SR1_ADDR | I2C_SR1_AF, "ADDR/AF");
    if (sr1 & I2C_SR1_AF) {
        I2C1->SR1 = ~I2C_SR1_AF & 0xFFFFu;   /* rc_w0 */
        I2C1->CR1 |= I2C_CR1_STOP;
        wait_idle();
        return 0;
    }
    return 1;
}

static void clear_addr(void)
{
    (void)I2C1->SR1;
    (void)I2C1->SR2;
}

static void send_byte(uint8_t b)
{
    wait_flag(&I2C1->SR1, I2C_SR1_TXE, "TxE");
    I2C1->DR = b;
}

int main(void)
{
    test_begin("soc_i2c");
    dwt_cyccnt_start();
    soc_gpio_clocks();
    g_clk = soc_clocks_reset();
    setup();

    uint8_t data[NBYTES], back[NBYTES];
    for (unsigned i = 0; i < NBYTES; i++)
        data[i] = (uint8_t)(0xC0u + 7u * i);

    /* 1. page write */
    if (!start_addr(EEPROM_ADDR, 0))
        test_fail("EEPROM did not ACK its address");
    clear_addr();
    send_byte((uint8_t)(WORD_ADDR >> 8));
    send_byte((uint8_t)WORD_ADDR);
    for (unsigned i = 0; i < NBYTES; i++)
        send_byte(data[i]);
    wait_flag(&I2C1->SR1, I2C_SR1_BTF, "BTF");
    I2C1->CR1 |= I2C_CR1_STOP;
    uint32_t t_stop = DWT_CYCCNT;
    wait_idle();
    con_printf("page write %u bytes at 0x%04x\n", NBYTES, WORD_ADDR);
    con_flush();

    /* 2. ACK polling through the write cycle */
    unsigned polls = 0;
    uint32_t t_ack;
    for (;;) {
        polls++;
        if (start_addr(EEPROM_ADDR, 0)) {
            t_ack = DWT_CYCCNT;
            clear_addr();
            I2C1->CR1 |= I2C_CR1_STOP;
            wait_idle();
            break;
        }
        if (polls > 1000u)
            test_fail("EEPROM never ACKed after the page write");
    }
    con_printf("ack after %u polls, %u us\n", polls,
               (unsigned)soc_cycles_to_us(&g_clk, t_ack - t_stop));

    /* 3. random read: dummy write of the word address, repeated START, read N bytes */
    if (!start_addr(EEPROM_ADDR, 0))
        test_fail("EEPROM NACKed the dummy write");
    clear_addr();
    send_byte((uint8_t)(WORD_ADDR >> 8));
    send_byte((uint8_t)WORD_ADDR);
    wait_flag(&I2C1->SR1, I2C_SR1_BTF, "BTF");
    I2C1->CR1 |= I2C_CR1_ACK;
    if (!start_addr(EEPROM_ADDR, 1))
        test_fail("EEPROM NACKed the read address");
    clear_addr();
    unsigned n = NBYTES, k = 0;
    while (n > 3u) {
        wait_flag(&I2C1->SR1, I2C_SR1_RXNE, "RxNE");
        back[k++] = (uint8_t)I2C1->DR;
        n--;
    }
    wait_flag(&I2C1->SR1, I2C_SR1_BTF, "BTF (N-2 in DR, N-1 in the shift register)");
    I2C1->CR1 &= ~I2C_CR1_ACK;              /* NACK the last byte */
    back[k++] = (uint8_t)I2C1->DR;          /* N-2 */
    I2C1->CR1 |= I2C_CR1_STOP;
    back[k++] = (uint8_t)I2C1->DR;          /* N-1 */
    wait_flag(&I2C1->SR1, I2C_SR1_RXNE, "RxNE (last)");
    back[k++] = (uint8_t)I2C1->DR;          /* N */
    wait_idle();
    for (unsigned i = 0; i < NBYTES; i++)
        if (back[i] != data[i])
            test_fail("byte %u read 0x%02x, wrote 0x%02x", i, back[i], data[i]);
    con_printf("read back %u bytes ok\n", NBYTES);

    /* 4. nobody at 0x51 */
    int acked = start_addr(ABSENT_ADDR, 0);
    con_printf("0x%02x nack af=%d\n", ABSENT_ADDR, acked ? 0 : 1);
    if (acked)
        test_fail("0x%02x ACKed with no device there", ABSENT_ADDR);
    test_pass();
}
