/*
 * ADE7753 single-phase energy-metering IC driver on the BSP SPI API, chip select on a GPIO or
 * through the board's own hook (address decoders), IRQ on a GPIO EXTI line.
 *
 * Data sheet rules followed (ADE7753 Rev. C; shared/reference/protocols-and-chips.md §3):
 * - SPI: one communications byte (bit 7 = write, bits 5..0 = register address), then the
 *   register's 1..3 bytes MSB first; widths from the register table (6/8/12/16/24 bits); the
 *   driver reads 12-bit signed calibration registers back sign-extended; t9 (4 us) between a
 *   read's command byte and its data; after a complete transfer the part takes the next
 *   command byte, so several registers can be read in one chip-select frame;
 * - reset: MODE.SWRST (bit 6) or the RESET pin; the chip is ready when STATUS.RESET sets
 *   (18 us); the driver then reads RSTSTATUS to release IRQ;
 * - energy: AENERGY (accumulating), RAENERGY (reset on read), LAENERGY (latched every LINECYC
 *   half line cycles in line-cycle mode, MODE.CYCMODE, with STATUS.CYCEND);
 * - VRMS / IRMS (24-bit, unsigned), PERIOD (16-bit, 8/CLKIN per LSB: f = CLKIN / (8 PERIOD));
 * - IRQ is active low while STATUS & IRQEN: the EXTI callback only wakes the waiting thread,
 *   which reads RSTSTATUS over SPI (no SPI traffic in interrupt context).
 * Scaling to volts, amps and watt-hours uses calibration constants supplied by the caller (a
 * meter's calibration record): the driver itself works in register codes.
 */
#ifndef ADE7753_H
#define ADE7753_H

#include <stdint.h>
#include "bsp.h"
#include "ms_driver.h"

/* Register addresses (data sheet register list). */
enum {
    ADE_WAVEFORM = 0x01, ADE_AENERGY = 0x02, ADE_RAENERGY = 0x03, ADE_LAENERGY = 0x04,
    ADE_VAENERGY = 0x05, ADE_RVAENERGY = 0x06, ADE_LVAENERGY = 0x07, ADE_LVARENERGY = 0x08,
    ADE_MODE = 0x09, ADE_IRQEN = 0x0A, ADE_STATUS = 0x0B, ADE_RSTSTATUS = 0x0C,
    ADE_CH1OS = 0x0D, ADE_CH2OS = 0x0E, ADE_GAIN = 0x0F, ADE_PHCAL = 0x10, ADE_APOS = 0x11,
    ADE_WGAIN = 0x12, ADE_WDIV = 0x13, ADE_CFNUM = 0x14, ADE_CFDEN = 0x15, ADE_IRMS = 0x16,
    ADE_VRMS = 0x17, ADE_IRMSOS = 0x18, ADE_VRMSOS = 0x19, ADE_VAGAIN = 0x1A, ADE_VADIV = 0x1B,
    ADE_LINECYC = 0x1C, ADE_ZXTOUT = 0x1D, ADE_SAGCYC = 0x1E, ADE_SAGLVL = 0x1F,
    ADE_IPKLVL = 0x20, ADE_VPKLVL = 0x21, ADE_IPEAK = 0x22, ADE_RSTIPEAK = 0x23,
    ADE_VPEAK = 0x24, ADE_RSTVPEAK = 0x25, ADE_TEMP = 0x26, ADE_PERIOD = 0x27,
    ADE_TMODE = 0x3D, ADE_CHKSUM = 0x3E, ADE_DIEREV = 0x3F,
};

/* MODE bits */
#define ADE_MODE_DISHPF (1u << 0)
#define ADE_MODE_DISCF (1u << 2)
#define ADE_MODE_DISSAG (1u << 3)
#define ADE_MODE_TEMPSEL (1u << 5)
#define ADE_MODE_SWRST (1u << 6)
#define ADE_MODE_CYCMODE (1u << 7)
#define ADE_MODE_POAM (1u << 15)
/* STATUS / RSTSTATUS / IRQEN bits */
#define ADE_ST_AEHF (1u << 0)
#define ADE_ST_SAG (1u << 1)
#define ADE_ST_CYCEND (1u << 2)
#define ADE_ST_WSMP (1u << 3)
#define ADE_ST_ZX (1u << 4)
#define ADE_ST_TEMPC (1u << 5)
#define ADE_ST_RESET (1u << 6)
#define ADE_ST_AEOF (1u << 7)
#define ADE_ST_ZXTO (1u << 12)

#define ADE_CLKIN_HZ 3579545u

/* Calibration record: register values plus the scale of the results.
 * *_per_code are in micro-units per register code (uV, uA, uWh per LSB) as a 32.0 value times
 * 2^-16 (fixed point Q16) so small scales keep their precision. */
typedef struct {
    uint8_t gain;              /* GAIN: PGA1/PGA2 and ch1 full scale */
    int16_t wgain, vagain;     /* 12-bit signed */
    int16_t apos;              /* 16-bit signed */
    int16_t vrmsos, irmsos;    /* 12-bit signed */
    uint8_t phcal;             /* 6-bit */
    uint8_t wdiv;
    uint16_t cfnum, cfden;     /* 12-bit */
    uint32_t uv_per_code_q16;  /* VRMS: microvolts (line) per code, Q16 */
    uint32_t ua_per_code_q16;  /* IRMS: microamps (line) per code, Q16 */
    uint32_t uwh_per_lsb_q16;  /* AENERGY/RAENERGY/LAENERGY: microwatt-hours per LSB, Q16 */
} ade7753_cal_t;

/* How one chip is reached: its SPI bus (initialised by the caller, mode 1: CPOL 0, CPHA 1) and
 * its chip select. Without `select` the driver drives pin `cs` low for a frame and high after
 * it; a board whose chip selects come from decoders or expanders sets `select`, which the
 * driver calls with selected = 1 before a frame and 0 after it (`chip` says which chip). */
typedef struct ade7753_link {
    int bus;
    bsp_pin_t cs;
    void (*select)(const struct ade7753_link *link, int selected);
    unsigned chip;
} ade7753_link_t;

/* Register access on a link, without locking: the caller owns the bus. ade7753_link_read reads
 * n registers in one chip-select frame, out[i] = regs[i] zero-extended; MS_ERR_INVAL for a
 * reserved address (nothing sent). */
int ade7753_link_read(const ade7753_link_t *link, const uint8_t *regs, unsigned n, uint32_t *out);
int ade7753_link_write(const ade7753_link_t *link, uint8_t reg, uint32_t value);
/* A raw value of reg as a number: sign-extended for the signed registers. */
int32_t ade7753_value_signed(uint8_t reg, uint32_t raw);

typedef struct {
    ade7753_link_t link;
    bsp_pin_t irq, reset;      /* BSP_PIN_NONE when not wired */
    ade7753_cal_t cal;
    ms_waitq_t irq_wq;
    volatile uint32_t irq_count;
    ms_handle_t lock;
    uint8_t die_rev;
} ade7753_t;

/* Takes the link (configures its cs pin when it has no select hook), resets the chip (RESET
 * pin pulse when wired, else MODE.SWRST), waits for STATUS.RESET, attaches the IRQ pin
 * (falling edge) and reads DIEREV. MS_ERR_NODEV when the reset never completes. The device's
 * accessors below take its lock around each register. */
int ade7753_init(ade7753_t *dev, const ade7753_link_t *link, bsp_pin_t irq, bsp_pin_t reset);
int ade7753_reset(ade7753_t *dev);
int ade7753_read(ade7753_t *dev, uint8_t reg, uint32_t *value);    /* raw, zero-extended */
int ade7753_read_signed(ade7753_t *dev, uint8_t reg, int32_t *value);
int ade7753_write(ade7753_t *dev, uint8_t reg, uint32_t value);
int ade7753_reg_bits(uint8_t reg);                                   /* 0 = no such register */

/* Writes GAIN, WGAIN, VAGAIN, APOS, VRMSOS, IRMSOS, PHCAL, WDIV, CFNUM, CFDEN and reads each
 * back; MS_ERR_IO when one does not stick. Keeps the scales for the *_ma/_mv/_uwh helpers. */
int ade7753_calibrate(ade7753_t *dev, const ade7753_cal_t *cal);

int ade7753_active_energy(ade7753_t *dev, int32_t *lsb);      /* AENERGY */
int ade7753_active_energy_reset(ade7753_t *dev, int32_t *lsb);/* RAENERGY */
int ade7753_vrms(ade7753_t *dev, uint32_t *code);
int ade7753_irms(ade7753_t *dev, uint32_t *code);
int ade7753_period(ade7753_t *dev, uint32_t *code);
/* Line frequency in millihertz from PERIOD (0 when PERIOD is 0). */
uint32_t ade7753_period_to_mhz(uint32_t code);

/* Line-cycle accumulation: MODE.CYCMODE with LINECYC half cycles, CYCEND enabled in IRQEN. */
int ade7753_start_line_cycle(ade7753_t *dev, uint16_t half_cycles);
/* Sleep until an IRQ brings one of `mask` in RSTSTATUS (read and cleared here);
 * *status gets the whole RSTSTATUS. MS_ERR_TIMEOUT after timeout_ms. */
int ade7753_wait_irq(ade7753_t *dev, uint32_t mask, uint32_t timeout_ms, uint32_t *status);
/* Waits for CYCEND and reads LAENERGY. */
int ade7753_line_energy(ade7753_t *dev, uint32_t timeout_ms, int32_t *lsb);

/* Scaling with the calibration record (64-bit intermediate). */
int64_t ade7753_energy_uwh(const ade7753_t *dev, int32_t lsb);
uint32_t ade7753_vrms_mv(const ade7753_t *dev, uint32_t code);
uint32_t ade7753_irms_ma(const ade7753_t *dev, uint32_t code);

#endif
