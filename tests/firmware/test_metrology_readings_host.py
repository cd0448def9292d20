"""Host test of the metrology unit's instantaneous readings (firmware/targets/metrology_unit/
readings.c): V, I, P, PF and f as the management unit shows and answers them over DL/T645
(0.1 V, mA, 0.1 W, 0.001, 0.01 Hz), computed in integers on the unit (no FPU), must be the
values of the real-number formulas in double precision, rounded half up: over every 24-bit
VRMS, IRMS and WAVEFORM code, every PERIOD, and the power factor over a sweep of loads and
phase angles and over random codes. readings.c is compiled with the host `cc` under ASan/UBSan with the harness
below, whose `reference` is the formula in doubles."""

import subprocess

from tests.conftest import REPO
from tests.firmware.host_c import build_host_c

MTU = REPO / "firmware" / "targets" / "metrology_unit"

HARNESS = r"""
#include <math.h>
#include <stdio.h>
#include "readings.h"

static void reference(int32_t pcode, uint32_t vcode, uint32_t icode, uint32_t period,
                      struct mtu_readings *o)
{
    double v = vcode / V_CODE_PER_V, i = icode / I_CODE_PER_A;
    double p = pcode / P_CODE_PER_W;
    double s = v * i;
    o->v_dV = (uint16_t)(v * 10.0 + 0.5);
    o->i_mA = (int32_t)(i * 1000.0 + 0.5) * (p < 0 ? -1 : 1);
    o->p_dW = (int32_t)(p * 10.0 + (p < 0 ? -0.5 : 0.5));
    double pf = s > 1.0 ? p / s : 1.0;
    if (pf > 1.0)
        pf = 1.0;
    if (pf < -1.0)
        pf = -1.0;
    o->pf_m = (int16_t)(pf * 1000.0 + (pf < 0 ? -0.5 : 0.5));
    o->f_cHz = period ? (uint16_t)(CLKIN_HZ * 100.0 / (8.0 * period) + 0.5) : 0;
}

static unsigned long bad;
static void report(const char *what, long code, long want, long got)
{
    if (bad++ < 10)
        printf("%s code %ld: reference %ld, firmware %ld\n", what, code, want, got);
}

int main(void)
{
    struct mtu_readings r, w;
    unsigned long checked = 0;
    for (uint32_t c = 0; c < (1u << 24); c++, checked++) {     /* V and I: every code */
        reference(1, c, c, 0, &w);
        mtu_readings(1, c, c, 0, &r);
        if (r.v_dV != w.v_dV) report("VRMS", c, w.v_dV, r.v_dV);
        if (r.i_mA != w.i_mA) report("IRMS", c, w.i_mA, r.i_mA);
    }
    for (int32_t c = -(1 << 23); c < (1 << 23); c++, checked++) {  /* P: every code */
        reference(c, 0, 0, 0, &w);
        mtu_readings(c, 0, 0, 0, &r);
        if (r.p_dW != w.p_dW || mtu_power_dW(c) != w.p_dW) report("WAVEFORM", c, w.p_dW, r.p_dW);
    }
    for (uint32_t per = 0; per < (1u << 16); per++, checked++) {  /* f: every period */
        reference(0, 0, 0, per, &w);
        mtu_readings(0, 0, 0, per, &r);
        if (w.f_cHz != r.f_cHz) report("PERIOD", per, w.f_cHz, r.f_cHz);
    }
    /* PF: 0..264 V, 0..60 A, every degree of phase both ways, and the signs of I with P */
    for (double V = 0.0; V <= 264.0; V += 0.7)
        for (double A = 0.0; A <= 60.0; A += 0.013 + A / 50.0)
            for (int deg = -180; deg <= 180; deg++, checked++) {
                uint32_t vcode = (uint32_t)(V * V_CODE_PER_V), icode = (uint32_t)(A * I_CODE_PER_A);
                int32_t pcode = (int32_t)lround(V * A * cos(deg * 3.14159265358979 / 180.0) *
                                                P_CODE_PER_W);
                reference(pcode, vcode, icode, 0, &w);
                mtu_readings(pcode, vcode, icode, 0, &r);
                if (w.pf_m != r.pf_m) report("PF (WAVEFORM)", pcode, w.pf_m, r.pf_m);
                if (w.i_mA != r.i_mA) report("I sign (WAVEFORM)", pcode, w.i_mA, r.i_mA);
            }
    /* PF: random codes over their whole ranges (a fixed sequence) */
    uint64_t seed = 0x9E3779B97F4A7C15u;
    for (unsigned k = 0; k < 3000000u; k++, checked++) {
        seed = seed * 6364136223846793005u + 1442695040888963407u;
        uint32_t vcode = (uint32_t)(seed >> 40), icode = (uint32_t)(seed >> 16) & 0xFFFFFFu;
        int32_t pcode = (int32_t)((seed >> 8) & 0xFFFFFFu) - (1 << 23);
        if (k & 1u) {       /* half of them at realistic ratios, |P| <= V I, in 24 bits */
            double p = (double)pcode / (1 << 23) * vcode / V_CODE_PER_V * icode / I_CODE_PER_A *
                       P_CODE_PER_W;
            if (p < -(1 << 23) || p >= (1 << 23))
                continue;
            pcode = (int32_t)p;
        }
        reference(pcode, vcode, icode, 0, &w);
        mtu_readings(pcode, vcode, icode, 0, &r);
        if (w.pf_m != r.pf_m) report("PF (random WAVEFORM)", pcode, w.pf_m, r.pf_m);
    }
    printf("checked %lu, differ %lu\n", checked, bad);
    return bad != 0;
}
"""


def test_readings_are_the_double_formulas_rounded():
    exe = build_host_c("metrology_readings_test", [MTU / "readings.c"], harness=HARNESS,
                       include_dirs=[MTU], libs=["-lm"])
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and ", differ 0" in run.stdout, run.stdout + run.stderr
