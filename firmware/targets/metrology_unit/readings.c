/* The instantaneous readings in integer arithmetic (readings.h). The unit has no FPU: in
 * doubles, V, I, P and f cost a software division each (some 200 instructions) every time the
 * management unit asks, once a second. Here each is a product by a constant in Q0.64 (or, for
 * f, one 32-bit division) that rounds exactly as the doubles did (round(x * scale), half up,
 * symmetric for negative power): tests/firmware/test_metrology_readings_host.py compares them
 * over every 24-bit code and every period. The power factor, a ratio of three readings, keeps
 * one double division (the readings' product and quotient exceed 64 bits in integers). */
#include "readings.h"

/* x in Q0.64, rounded: exact to 2^-64 of x, far below the spacing of the results' ties */
#define Q64(x) ((uint64_t)((x) * 18446744073709551616.0 + 0.5))

static const uint64_t k_dV_per_code_q64 = Q64(10.0 / V_CODE_PER_V);
static const uint64_t k_mA_per_code_q64 = Q64(1000.0 / I_CODE_PER_A);
static const uint64_t k_dW_per_code_q64 = Q64(10.0 / P_CODE_PER_W);
/* VRMS x IRMS above this is more than 1 VA (V x I is 93 357 579.96: no product of codes
 * comes within a rounding of it) */
static const uint64_t k_va_1_codes = (uint64_t)(V_CODE_PER_V * I_CODE_PER_A);
/* the power factor P / (V x I) in codes: WAVEFORM x this / (VRMS x IRMS) */
static const double k_pf_per_codes = V_CODE_PER_V * I_CODE_PER_A / P_CODE_PER_W;
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
    uint64_t va_codes = (uint64_t)vcode * icode;
    double pf = va_codes > k_va_1_codes ? pcode * k_pf_per_codes / (double)va_codes : 1.0;
    if (pf > 1.0)
        pf = 1.0;
    if (pf < -1.0)
        pf = -1.0;
    out->pf_m = (int16_t)(pf * 1000.0 + (pf < 0 ? -0.5 : 0.5));
    out->f_cHz = period ? (uint16_t)((F_X2_CHZ_PERIODS + period) / (2u * period)) : 0u;
}
