/* The metrology unit's instantaneous readings from the ADE7753's codes (readings.c): the
 * front end's scales and the units the link carries (metrology_link.h: 0.1 V, mA, 0.1 W,
 * 0.001, 0.01 Hz). */
#ifndef MTU_READINGS_H
#define MTU_READINGS_H
#include <stdint.h>

/* Voltage divider 1000:1, CT 2500:1 with a 10 ohm burden (a 5(60) A meter), GAIN 0, WGAIN 0,
 * WDIV 0. The ADE7753 data sheet's full-scale codes (0.5 V peak at the pins): LPF2 0xCCCCD
 * per 4/CLKIN for in-phase sinusoids, VRMS 1 561 400, IRMS 1 868 467. The constants fold at
 * compile time. */
#define CLKIN_HZ 3579545.0
#define K_V (0.001 / 0.5)               /* full-scale fraction (peak) per line volt */
#define K_I (10.0 / 2500.0 / 0.5)       /* per line amp */
#define V_CODE_PER_V (1561400.0 * 1.4142135623730951 * K_V)
#define I_CODE_PER_A (1868467.0 * 1.4142135623730951 * K_I)
/* WAVEFORM with MODE.WAVSEL = 00 is the active power signal (LPF2's output): 0xCCCCD for
 * full-scale in-phase sinusoids, whose mean power is half the full-scale product. */
#define P_CODE_PER_W (2.0 * 838861.0 * K_V * K_I)

struct mtu_readings {
    uint16_t v_dV;
    int32_t i_mA;                       /* signed like the power */
    int32_t p_dW;                       /* negative: reverse */
    int16_t pf_m;
    uint16_t f_cHz;                     /* 0 without a period */
};

/* From WAVEFORM (signed), VRMS, IRMS (24-bit codes) and PERIOD (0: none). */
void mtu_readings(int32_t pcode, uint32_t vcode, uint32_t icode, uint32_t period,
                  struct mtu_readings *out);
/* The power alone, in 0.1 W, from WAVEFORM: the same as mtu_readings gives. */
int32_t mtu_power_dW(int32_t pcode);

#endif
