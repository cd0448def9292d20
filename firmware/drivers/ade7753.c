/*
 * ADE7753 driver: register access over SPI, reset, calibration, energy / RMS / period reads,
 * line-cycle accumulation and IRQ waits. See ade7753.h for the data sheet rules.
 */
#include <string.h>
#include "ade7753.h"

#define RESET_WAIT_MS 5u   /* STATUS.RESET comes 18 us after reset: generous */

/* Register width in bits (0 = reserved) and sign, indexed by address (data sheet table). */
static const uint8_t g_bits[0x40] = {
    [ADE_WAVEFORM] = 24, [ADE_AENERGY] = 24, [ADE_RAENERGY] = 24, [ADE_LAENERGY] = 24,
    [ADE_VAENERGY] = 24, [ADE_RVAENERGY] = 24, [ADE_LVAENERGY] = 24, [ADE_LVARENERGY] = 24,
    [ADE_MODE] = 16, [ADE_IRQEN] = 16, [ADE_STATUS] = 16, [ADE_RSTSTATUS] = 16,
    [ADE_CH1OS] = 8, [ADE_CH2OS] = 8, [ADE_GAIN] = 8, [ADE_PHCAL] = 6, [ADE_APOS] = 16,
    [ADE_WGAIN] = 12, [ADE_WDIV] = 8, [ADE_CFNUM] = 12, [ADE_CFDEN] = 12, [ADE_IRMS] = 24,
    [ADE_VRMS] = 24, [ADE_IRMSOS] = 12, [ADE_VRMSOS] = 12, [ADE_VAGAIN] = 12, [ADE_VADIV] = 8,
    [ADE_LINECYC] = 16, [ADE_ZXTOUT] = 12, [ADE_SAGCYC] = 8, [ADE_SAGLVL] = 8,
    [ADE_IPKLVL] = 8, [ADE_VPKLVL] = 8, [ADE_IPEAK] = 24, [ADE_RSTIPEAK] = 24,
    [ADE_VPEAK] = 24, [ADE_RSTVPEAK] = 24, [ADE_TEMP] = 8, [ADE_PERIOD] = 16,
    [ADE_TMODE] = 8, [ADE_CHKSUM] = 6, [ADE_DIEREV] = 8,
};
static const uint64_t g_signed =
    (1ull << ADE_WAVEFORM) | (1ull << ADE_AENERGY) | (1ull << ADE_RAENERGY) |
    (1ull << ADE_LAENERGY) | (1ull << ADE_LVARENERGY) | (1ull << ADE_PHCAL) |
    (1ull << ADE_APOS) | (1ull << ADE_WGAIN) | (1ull << ADE_IRMSOS) | (1ull << ADE_VRMSOS) |
    (1ull << ADE_VAGAIN) | (1ull << ADE_TEMP);

int ade7753_reg_bits(uint8_t reg) { return reg < 0x40 ? g_bits[reg] : 0; }

#define T9_US 4u           /* read command byte to first data byte */

static void select_chip(const ade7753_link_t *l, int selected)
{
    if (l->select)
        l->select(l, selected);
    else
        bsp_pin_write(l->cs, !selected);
}

int ade7753_link_read(const ade7753_link_t *l, const uint8_t *regs, unsigned n, uint32_t *out)
{
    for (unsigned k = 0; k < n; k++)
        if (!ade7753_reg_bits(regs[k]))
            return MS_ERR_INVAL;
    int r = MS_OK;
    select_chip(l, 1);
    for (unsigned k = 0; k < n && r == MS_OK; k++) {
        unsigned bits = g_bits[regs[k]], nbytes = (bits + 7u) / 8u;
        uint8_t cmd = regs[k], rx[3] = {0, 0, 0};
        r = bsp_spi_xfer(l->bus, &cmd, 0, 1);
        if (r == MS_OK) {
            bsp_delay_us(T9_US);
            r = bsp_spi_xfer(l->bus, 0, rx, nbytes);
        }
        uint32_t v = 0;
        for (unsigned i = 0; i < nbytes; i++)
            v = (v << 8) | rx[i];
        out[k] = v & ((1u << bits) - 1u);
    }
    select_chip(l, 0);
    return r;
}

int ade7753_link_write(const ade7753_link_t *l, uint8_t reg, uint32_t value)
{
    int bits = ade7753_reg_bits(reg);
    if (!bits)
        return MS_ERR_INVAL;
    unsigned n = (unsigned)(bits + 7) / 8u;
    uint8_t tx[4] = {(uint8_t)(0x80u | reg), 0, 0, 0};
    value &= (1u << bits) - 1u;
    for (unsigned i = 0; i < n; i++)
        tx[n - i] = (uint8_t)(value >> (8u * i));
    select_chip(l, 1);
    int r = bsp_spi_xfer(l->bus, tx, 0, 1u + n);
    select_chip(l, 0);
    return r;
}

int32_t ade7753_value_signed(uint8_t reg, uint32_t raw)
{
    int bits = ade7753_reg_bits(reg);
    if (bits && (g_signed >> reg) & 1u && (raw >> (bits - 1)) & 1u)
        return (int32_t)(raw | ~((1u << bits) - 1u));   /* sign-extend */
    return (int32_t)raw;
}

int ade7753_read(ade7753_t *d, uint8_t reg, uint32_t *value)
{
    ms_mutex_lock(d->lock, MS_WAIT_FOREVER);
    int r = ade7753_link_read(&d->link, &reg, 1, value);
    ms_mutex_unlock(d->lock);
    return r;
}

int ade7753_read_signed(ade7753_t *d, uint8_t reg, int32_t *value)
{
    uint32_t v;
    int r = ade7753_read(d, reg, &v);
    if (r < 0)
        return r;
    *value = ade7753_value_signed(reg, v);
    return MS_OK;
}

int ade7753_write(ade7753_t *d, uint8_t reg, uint32_t value)
{
    ms_mutex_lock(d->lock, MS_WAIT_FOREVER);
    int r = ade7753_link_write(&d->link, reg, value);
    ms_mutex_unlock(d->lock);
    return r;
}

static void irq_handler(void *arg)
{
    ade7753_t *d = arg;
    d->irq_count++;
    ms_waitq_wake_all(&d->irq_wq, MS_OK);
}

int ade7753_reset(ade7753_t *d)
{
    if (d->reset != BSP_PIN_NONE) {
        bsp_pin_write(d->reset, 0);
        ms_thread_sleep(1);
        bsp_pin_write(d->reset, 1);
    } else {
        int r = ade7753_write(d, ADE_MODE, 0x000Cu | ADE_MODE_SWRST);
        if (r < 0)
            return r;
    }
    /* The part ignores the SPI for 18 us after a reset: do not talk to it before. */
    ms_thread_sleep(1);
    ms_tick_t t0 = ms_tick_get();
    for (;;) {
        uint32_t st;
        int r = ade7753_read(d, ADE_STATUS, &st);
        if (r < 0)
            return r;
        if (st & ADE_ST_RESET)
            break;
        if (ms_tick_get() - t0 > ms_ms_to_ticks(RESET_WAIT_MS))
            return MS_ERR_NODEV;
        ms_thread_sleep(1);
    }
    uint32_t st;
    return ade7753_read(d, ADE_RSTSTATUS, &st);   /* releases IRQ */
}

int ade7753_init(ade7753_t *d, const ade7753_link_t *link, bsp_pin_t irq, bsp_pin_t reset)
{
    memset(d, 0, sizeof *d);
    d->link = *link;
    d->irq = irq;
    d->reset = reset;
    ms_waitq_init(&d->irq_wq);
    if (!link->select) {
        bsp_pin_write(link->cs, 1);
        bsp_pin_config(link->cs, BSP_PIN_OUTPUT, 0);
        bsp_pin_write(link->cs, 1);
    }
    if (reset != BSP_PIN_NONE) {
        bsp_pin_write(reset, 1);
        bsp_pin_config(reset, BSP_PIN_OUTPUT, 0);
        bsp_pin_write(reset, 1);
    }
    d->lock = ms_mutex_create("ade7753");
    if (d->lock < 0)
        return d->lock;
    int r = ade7753_reset(d);
    if (r < 0)
        return r;
    if (irq != BSP_PIN_NONE) {
        bsp_pin_config(irq, BSP_PIN_INPUT_PULLUP, 0);   /* IRQ is open drain */
        r = bsp_pin_irq_attach(irq, BSP_EDGE_FALLING, irq_handler, d);
        if (r < 0)
            return r;
    }
    uint32_t rev;
    r = ade7753_read(d, ADE_DIEREV, &rev);
    d->die_rev = (uint8_t)rev;
    return r;
}

int ade7753_calibrate(ade7753_t *d, const ade7753_cal_t *c)
{
    const struct { uint8_t reg; uint32_t value; } w[] = {
        {ADE_GAIN, c->gain}, {ADE_WGAIN, (uint16_t)c->wgain}, {ADE_VAGAIN, (uint16_t)c->vagain},
        {ADE_APOS, (uint16_t)c->apos}, {ADE_VRMSOS, (uint16_t)c->vrmsos},
        {ADE_IRMSOS, (uint16_t)c->irmsos}, {ADE_PHCAL, c->phcal}, {ADE_WDIV, c->wdiv},
        {ADE_CFNUM, c->cfnum}, {ADE_CFDEN, c->cfden},
    };
    for (unsigned i = 0; i < sizeof w / sizeof w[0]; i++) {
        int r = ade7753_write(d, w[i].reg, w[i].value);
        uint32_t back;
        if (r >= 0)
            r = ade7753_read(d, w[i].reg, &back);
        if (r < 0)
            return r;
        if (back != (w[i].value & ((1u << g_bits[w[i].reg]) - 1u)))
            return MS_ERR_IO;
    }
    d->cal = *c;
    return MS_OK;
}

int ade7753_active_energy(ade7753_t *d, int32_t *lsb) { return ade7753_read_signed(d, ADE_AENERGY, lsb); }
int ade7753_active_energy_reset(ade7753_t *d, int32_t *lsb) { return ade7753_read_signed(d, ADE_RAENERGY, lsb); }
int ade7753_vrms(ade7753_t *d, uint32_t *code) { return ade7753_read(d, ADE_VRMS, code); }
int ade7753_irms(ade7753_t *d, uint32_t *code) { return ade7753_read(d, ADE_IRMS, code); }
int ade7753_period(ade7753_t *d, uint32_t *code) { return ade7753_read(d, ADE_PERIOD, code); }

uint32_t ade7753_period_to_mhz(uint32_t code)
{
    return code ? (uint32_t)(((uint64_t)ADE_CLKIN_HZ * 1000u / 8u + code / 2u) / code) : 0u;
}

int ade7753_start_line_cycle(ade7753_t *d, uint16_t half_cycles)
{
    uint32_t mode, irqen, st;
    int r = ade7753_write(d, ADE_LINECYC, half_cycles);
    if (r >= 0)
        r = ade7753_read(d, ADE_IRQEN, &irqen);
    if (r >= 0)
        r = ade7753_write(d, ADE_IRQEN, irqen | ADE_ST_CYCEND);
    if (r >= 0)
        r = ade7753_read(d, ADE_MODE, &mode);
    if (r >= 0)
        r = ade7753_write(d, ADE_MODE, (mode & ~ADE_MODE_SWRST) | ADE_MODE_CYCMODE);
    if (r >= 0)
        r = ade7753_read(d, ADE_RSTSTATUS, &st);   /* start from a clean CYCEND */
    return r;
}

int ade7753_wait_irq(ade7753_t *d, uint32_t mask, uint32_t timeout_ms, uint32_t *status)
{
    ms_tick_t t0 = ms_tick_get(), limit = ms_ms_to_ticks(timeout_ms);
    for (;;) {
        /* The pin is low while an enabled status bit is set: read before sleeping so an
         * edge that came before we started waiting is not missed. */
        uint32_t st;
        int r;
        if (d->irq == BSP_PIN_NONE || !bsp_pin_read(d->irq)) {
            r = ade7753_read(d, ADE_RSTSTATUS, &st);
            if (r < 0)
                return r;
            if (st & mask) {
                if (status)
                    *status = st;
                return MS_OK;
            }
        }
        ms_tick_t spent = ms_tick_get() - t0;
        if (spent >= limit)
            return MS_ERR_TIMEOUT;
        if (d->irq == BSP_PIN_NONE) {
            ms_thread_sleep(1);        /* no IRQ wired: poll STATUS every tick */
            continue;
        }
        uint32_t s = ms_irq_lock();
        if (!bsp_pin_read(d->irq)) {  /* asserted meanwhile */
            ms_irq_unlock(s);
            continue;
        }
        r = ms_waitq_block(&d->irq_wq, limit - spent, s);
        if (r < 0 && r != MS_ERR_TIMEOUT)
            return r;
    }
}

int ade7753_line_energy(ade7753_t *d, uint32_t timeout_ms, int32_t *lsb)
{
    int r = ade7753_wait_irq(d, ADE_ST_CYCEND, timeout_ms, 0);
    return r < 0 ? r : ade7753_read_signed(d, ADE_LAENERGY, lsb);
}

int64_t ade7753_energy_uwh(const ade7753_t *d, int32_t lsb)
{
    return ((int64_t)lsb * d->cal.uwh_per_lsb_q16) / 65536;
}

uint32_t ade7753_vrms_mv(const ade7753_t *d, uint32_t code)
{
    return (uint32_t)(((uint64_t)code * d->cal.uv_per_code_q16 / 65536u + 500u) / 1000u);
}

uint32_t ade7753_irms_ma(const ade7753_t *d, uint32_t code)
{
    return (uint32_t)(((uint64_t)code * d->cal.ua_per_code_q16 / 65536u + 500u) / 1000u);
}
