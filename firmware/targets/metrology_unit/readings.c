/* The instantaneous readings in integer arithmetic (readings.h). The unit has no FPU: in
 * doubles, V, I, P, PF and f cost a software division each (some 200 instructions) every time
 * the management unit asks, once a second. Here V, I and P are products by constants in Q0.64
 * and f one 32-bit division, each rounding exactly as the doubles did (round(x * scale), half
 * up, symmetric for negative power); PF is one 64-bit integer division that settles the
 * rounding unless the value lies within 1/256 of a thousandth's half, where the doubles
 * decide as they always did (under 1 % of readings). tests/firmware/
 * test_metrology_readings_host.py compares them with the doubles over every 24-bit code, every
 * period, a sweep of loads and phase angles and random codes. */
#include "readings.h"

/* x in Q0.64, rounded: exact to 2^-64 of x, far below the spacing of the results' ties */
#define Q64(x) ((uint64_t)((x) * 18446744073709551616.0 + 0.5))

static const uint64_t k_dV_per_code_q64 = Q64(10.0 / V_CODE_PER_V);
static const uint64_t k_mA_per_code_q64 = Q64(1000.0 / I_CODE_PER_A);
static const uint64_t k_dW_per_code_q64 = Q64(10.0 / P_CODE_PER_W);
/* VRMS x IRMS above this is more than 1 VA (V x I is 93 357 579.96: no product of codes
 * comes within a rounding of it) */
static const uint64_t k_va_1_codes = (uint64_t)(V_CODE_PER_V * I_CODE_PER_A);
/* 256 x 1000 x PF = WAVEFORM x this / (VRMS x IRMS): 256 x 1000 x 1561400 x 1868467 / 838861,
 * the front end's scales (their square roots of 2 cancel), rounded; at most 2^40, so a 24-bit
 * WAVEFORM times it fits 64 bits */
static const uint64_t k_pf_m_x256_per_codes =
    (256ull * 1000u * 1561400u * 1868467u + 838861u / 2u) / 838861u;
/* f = CLKIN / (8 PERIOD) in 0.01 Hz, rounded half up: (F_X2_CHZ_PERIODS + PERIOD) / (2 PERIOD)
 * with F_X2_CHZ_PERIODS = 2 x 100 x CLKIN / 8 */
#define F_X2_CHZ_PERIODS 89488625u

/* code (at most 24 bits) x k, rounded half up: the high word of the 24 x 64-bit product,
 * made of two 32 x 32-bit products (the low one's low word is below 2^-32) */
static uint32_t scale_q64(uint32_t code, uint64_t k_q64)
{
    uint64_t hi = (uint64_t)code * (uint32_t)(k_q64 >> 32);
    uint64_t lo = (uint64_t)code * (uint32_t)k_q64;
    return (uint32_t)((hi + (lo >> 32) + 0x80000000u) >> 32);
}

/* PF in 0.001, clamped to +-1 and rounded half away from zero; 1 at 1 VA or less */
static int16_t power_factor_m(int32_t pcode, uint32_t vcode, uint32_t icode)
{
    uint64_t va_codes = (uint64_t)vcode * icode;
    if (va_codes <= k_va_1_codes)
        return 1000;
    uint32_t mag = pcode < 0 ? (uint32_t)-pcode : (uint32_t)pcode;
    /* 256 (1000 |PF| + 1/2), floored: the exact value's within 2e-7 up to |PF| = 1 (the
     * constant's rounding), so unless it ends within one of a multiple of 256 (near a tie of
     * the rounding) the thousandths are the exact value's, as the doubles' (1e-12 off) were */
    uint64_t x = (uint64_t)mag * k_pf_m_x256_per_codes / va_codes + 128u;
    if ((uint8_t)(x + 1u) > 1u) {
        uint32_t m = x >> 8 > 1000u ? 1000u : (uint32_t)(x >> 8);
        return (int16_t)(pcode < 0 ? -(int32_t)m : (int32_t)m);
    }
    double v = vcode / V_CODE_PER_V, i = icode / I_CODE_PER_A, p = pcode / P_CODE_PER_W;
    double pf = p / (v * i);
    if (pf > 1.0)
        pf = 1.0;
    if (pf < -1.0)
        pf = -1.0;
    return (int16_t)(pf * 1000.0 + (pf < 0 ? -0.5 : 0.5));
}

int32_t mtu_power_dW(int32_t pcode)
{
    uint32_t mag = scale_q64(pcode < 0 ? (uint32_t)-pcode : (uint32_t)pcode, k_dW_per_code_q64);
    return pcode < 0 ? -(int32_t)mag : (int32_t)mag;
}

void mtu_readings(int32_t pcode, uint32_t vcode, uint32_t icode, uint32_t period,
                  struct mtu_readings *out)
{
    out->v_dV = (uint16_t)scale_q64(vcode, k_dV_per_code_q64);
    int32_t i_mA = (int32_t)scale_q64(icode, k_mA_per_code_q64);
    out->i_mA = pcode < 0 ? -i_mA : i_mA;
    out->p_dW = mtu_power_dW(pcode);
    out->pf_m = power_factor_m(pcode, vcode, icode);
    out->f_cHz = period ? (uint16_t)((F_X2_CHZ_PERIODS + period) / (2u * period)) : 0u;
}
