/*
 * I2C master for the v1 I2C IP (RM0008 §26.3.3 / RM0430 §27.3.3), polled with timeouts.
 *
 * Write: START -> SB; address (write) -> ADDR (AF = NACK -> STOP, -EIO); clear ADDR (SR1
 * then SR2); bytes on TxE; an AF after a data byte is a NACK (-EIO); BTF before STOP.
 * Read, the reference manual's three procedures ("Figure 274/Method 2" in RM0008):
 *  - 1 byte:  ACK=0 before ADDR is cleared, then STOP, wait RxNE, read.
 *  - 2 bytes: POS=1 ACK=1 before the address, ADDR cleared then ACK=0, wait BTF (both bytes
 *             in), STOP, read DR twice.
 *  - N > 2:   read with ACK until 3 remain; wait BTF (N-2 in DR, N-1 in the shift register),
 *             ACK=0, read N-2, wait BTF, STOP, read N-1, wait RxNE, read N.
 * The steps the manual marks as time-critical (ADDR clear/STOP) run with interrupts masked.
 * Clock: CR2.FREQ = PCLK1 in MHz; standard mode CCR = PCLK1 / (2 x f), TRISE = FREQ + 1;
 * fast mode (f > 100 kHz, DUTY=0) CCR = PCLK1 / (3 x f), TRISE = FREQ x 300 ns + 1.
 * Waiting for a flag: SR1 changes only at SCL edges, and each step's length is known (a START
 * about one SCL period, an address or data byte nine), so the wait first spins (no bus
 * access) for the step's known length less one period, then reads SR1 once per SCL period:
 * about two SR1 reads per byte instead of a CYCCNT + SR1 read pair every few cycles. A late
 * look only stretches SCL (the master holds it low while TxE/BTF wait for the CPU).
 */
#include "bsp_priv.h"

#define I2C_MAX 2
static i2c_regs_t *g_i2c[I2C_MAX + 1];
static uint32_t g_timeout_us[I2C_MAX + 1];
static uint32_t g_scl_loops[I2C_MAX + 1];        /* bsp_spin() iterations per SCL period */
static uint32_t g_timeout_scl[I2C_MAX + 1];      /* a step's timeout in SCL periods */

/* SCL periods before a step's flag can be set: looked at one period before. */
#define BYTE_SCL 8u

int bsp_i2c_init(int n, uint32_t hz)
{
    if (n < 1 || n > I2C_MAX || hz == 0 || hz > 400000u)
        return BSP_ERR_INVAL;
    i2c_regs_t *r;
    uint32_t pclk;
    int err = bsp_fam_i2c(n, &r, &pclk);
    if (err)
        return err;
    r->CR1 = I2C_CR1_SWRST;                /* release a bus left mid-transfer */
    r->CR1 = 0;
    uint32_t mhz = pclk / 1000000u;
    r->CR2 = mhz;
    uint32_t ccr;
    if (hz <= 100000u) {
        ccr = pclk / (2u * hz);
        if (ccr < 4)
            ccr = 4;
        r->TRISE = mhz + 1u;
    } else {
        ccr = pclk / (3u * hz);
        if (ccr < 1)
            ccr = 1;
        ccr |= I2C_CCR_FS;
        r->TRISE = mhz * 300u / 1000u + 1u;
    }
    r->CCR = ccr;
    r->CR1 = I2C_CR1_PE;
    g_i2c[n] = r;
    /* A byte is 9 SCL periods; allow 20 bytes' worth per step, at least 5 ms. */
    uint32_t t = 9u * 20u * 1000000u / hz;
    g_timeout_us[n] = t < 5000u ? 5000u : t;
    g_timeout_scl[n] = (uint32_t)((uint64_t)g_timeout_us[n] * hz / 1000000u);
    g_scl_loops[n] = bsp_spin_loops_for(bsp_hclk_hz() / hz);
    return 0;
}

static int fail(i2c_regs_t *r, int err)
{
    r->CR1 |= I2C_CR1_STOP;
    r->SR1 = ~I2C_SR1_AF;                  /* rc_w0 */
    r->CR1 &= ~(I2C_CR1_POS | I2C_CR1_ACK);
    return err;
}

/* Wait for a SR1 flag, looking first after `skip_scl` SCL periods, then once per period; AF
 * (NACK) ends the wait with -EIO. The timeout counts spun periods: time spent in interrupts
 * or other threads makes it longer, never shorter. */
static int wait_sr1(int n, uint32_t flag, uint32_t skip_scl)
{
    i2c_regs_t *r = g_i2c[n];
    uint32_t loops = g_scl_loops[n];
    bsp_spin(loops * skip_scl);
    for (uint32_t i = 0;; i++) {
        uint32_t sr1 = r->SR1;
        if (sr1 & flag)
            return 0;
        if (sr1 & (I2C_SR1_AF | I2C_SR1_BERR | I2C_SR1_ARLO))
            return BSP_ERR_IO;
        if (i >= g_timeout_scl[n])
            return BSP_ERR_TIMEOUT;
        bsp_spin(loops);
    }
}

static int start_addr(int n, uint8_t addr7, int read)
{
    i2c_regs_t *r = g_i2c[n];
    r->CR1 |= I2C_CR1_START;
    int e = wait_sr1(n, I2C_SR1_SB, 0);
    if (e)
        return e;
    r->DR = (uint32_t)(addr7 << 1) | (read ? 1u : 0u);   /* SR1 read above + DR write clear SB */
    return wait_sr1(n, I2C_SR1_ADDR, BYTE_SCL);
}

static int do_write(int n, uint8_t addr7, const uint8_t *buf, unsigned len, int stop)
{
    i2c_regs_t *r = g_i2c[n];
    int e = start_addr(n, addr7, 0);
    if (e)
        return fail(r, e);
    (void)r->SR1;
    (void)r->SR2;                              /* clears ADDR */
    for (unsigned i = 0; i < len; i++) {
        /* DR is empty after ADDR and takes a second byte at once (the first goes straight
         * into the shift register); later bytes wait for one to go out */
        e = wait_sr1(n, I2C_SR1_TXE, i < 2 ? 0 : BYTE_SCL);
        if (e)
            return fail(r, e);
        r->DR = buf[i];
    }
    e = wait_sr1(n, I2C_SR1_BTF, len ? BYTE_SCL : 0);
    if (e)
        return fail(r, e);
    if (stop)
        r->CR1 |= I2C_CR1_STOP;
    return 0;
}

static int do_read(int n, uint8_t addr7, uint8_t *buf, unsigned len)
{
    i2c_regs_t *r = g_i2c[n];
    int e;
    if (len == 2)
        r->CR1 |= I2C_CR1_POS | I2C_CR1_ACK;
    else
        r->CR1 = (r->CR1 & ~I2C_CR1_POS) | I2C_CR1_ACK;
    e = start_addr(n, addr7, 1);
    if (e)
        return fail(r, e);
    if (len == 1) {
        r->CR1 &= ~I2C_CR1_ACK;
        uint32_t s = bsp_irq_lock();
        (void)r->SR1;
        (void)r->SR2;
        r->CR1 |= I2C_CR1_STOP;
        bsp_irq_unlock(s);
        if ((e = wait_sr1(n, I2C_SR1_RXNE, BYTE_SCL)))
            return fail(r, e);
        buf[0] = (uint8_t)r->DR;
        return 0;
    }
    if (len == 2) {
        uint32_t s = bsp_irq_lock();
        (void)r->SR1;
        (void)r->SR2;
        r->CR1 &= ~I2C_CR1_ACK;
        bsp_irq_unlock(s);
        if ((e = wait_sr1(n, I2C_SR1_BTF, BYTE_SCL)))
            return fail(r, e);
        s = bsp_irq_lock();
        r->CR1 |= I2C_CR1_STOP;
        buf[0] = (uint8_t)r->DR;
        bsp_irq_unlock(s);
        buf[1] = (uint8_t)r->DR;
        r->CR1 &= ~I2C_CR1_POS;
        return 0;
    }
    (void)r->SR1;
    (void)r->SR2;
    unsigned i = 0;
    while (len - i > 3) {
        if ((e = wait_sr1(n, I2C_SR1_RXNE, BYTE_SCL)))
            return fail(r, e);
        buf[i++] = (uint8_t)r->DR;
    }
    if ((e = wait_sr1(n, I2C_SR1_BTF, BYTE_SCL)))  /* N-2 in DR, N-1 in the shift register */
        return fail(r, e);
    r->CR1 &= ~I2C_CR1_ACK;
    uint32_t s = bsp_irq_lock();
    buf[i++] = (uint8_t)r->DR;                 /* N-2; N is received and NACKed */
    bsp_irq_unlock(s);
    if ((e = wait_sr1(n, I2C_SR1_BTF, BYTE_SCL)))
        return fail(r, e);
    s = bsp_irq_lock();
    r->CR1 |= I2C_CR1_STOP;
    buf[i++] = (uint8_t)r->DR;                 /* N-1 */
    bsp_irq_unlock(s);
    if ((e = wait_sr1(n, I2C_SR1_RXNE, 0)))   /* N was in the shift register: in DR now */
        return fail(r, e);
    buf[i++] = (uint8_t)r->DR;                 /* N */
    return 0;
}

static int check(int n)
{
    if (n < 1 || n > I2C_MAX || !g_i2c[n])
        return BSP_ERR_NODEV;
    /* The previous STOP must be on the bus before a new START (BUSY clears after it). */
    return bsp_wait_bits(&g_i2c[n]->SR2, I2C_SR2_BUSY, 0, g_timeout_us[n], 0);
}

int bsp_i2c_write(int n, uint8_t addr7, const uint8_t *buf, unsigned len)
{
    int e = check(n);
    return e ? e : do_write(n, addr7, buf, len, 1);
}

int bsp_i2c_read(int n, uint8_t addr7, uint8_t *buf, unsigned len)
{
    int e = check(n);
    if (e)
        return e;
    if (!len)
        return BSP_ERR_INVAL;
    return do_read(n, addr7, buf, len);
}

int bsp_i2c_write_read(int n, uint8_t addr7, const uint8_t *w, unsigned wlen, uint8_t *r, unsigned rlen)
{
    int e = check(n);
    if (e)
        return e;
    if (!rlen)
        return do_write(n, addr7, w, wlen, 1);
    e = do_write(n, addr7, w, wlen, 0);      /* then a repeated START */
    return e ? e : do_read(n, addr7, r, rlen);
}
