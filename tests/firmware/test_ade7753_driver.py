"""The ADE7753 driver (firmware/drivers/ade7753.c, program drv_ade7753) on the storage boards,
with a load profile attached to the ADE7753 model: the RMS, period and energy readings the
firmware prints (register codes, and values scaled by its calibration record) agree with the
load and with the model's registers."""

import math
import re

import pytest

from metersim._orchestration.load_profile import HarmonicProfile
from metersim.peripherals.ade7753 import (IRMS_FULL_SCALE, VRMS_FULL_SCALE, FrontEnd,
                                          active_energy_lsb_Wh)

from tests.firmware.storage_board import TARGETS, boot, run_to_end

LOADS = {"230V-10A-pf1": (230.0, 10.0, 1.0), "220V-5A-pf0.5": (220.0, 5.0, 0.5)}


@pytest.fixture(scope="module", params=[(t, load) for t in TARGETS for load in LOADS],
                ids=lambda p: f"{p[0]}-{p[1]}")
def ade_run(request, firmware):
    target, load = request.param
    vrms_V, irms_A, pf = LOADS[load]
    profile = HarmonicProfile.constant(vrms_V, irms_A, pf)
    emu, m, cap = boot(target, firmware(target, "drv_ade7753"))
    m["ade"].attach_load(profile)
    run_to_end(emu, cap, timeout="10s")
    values = {}
    for t in cap.line_texts():
        name, *nums = t.split()
        if name in ("vrms", "irms", "period", "raenergy", "laenergy"):
            values.setdefault(name, []).append([int(x) for x in re.findall(r"-?\d+", t)])
    return profile, m, cap, values


def test_rms_and_period_codes_follow_the_data_sheet_and_the_model(ade_run):
    profile, m, _, values = ade_run
    fe = FrontEnd()
    vrms, irms = profile.vrms_V(0.0), profile.irms_A(0.0)
    (v_code, v_mV), = values["vrms"]
    (i_code, i_mA), = values["irms"]
    (p_code, p_mHz), = values["period"]
    # codes: full-scale sinusoid codes (0.5 V peak at the pin) scaled by the front end
    assert v_code == round(VRMS_FULL_SCALE * math.sqrt(2) * vrms * fe.v_scale / 0.5)
    assert i_code == round(IRMS_FULL_SCALE * math.sqrt(2) * irms * fe.i_scale / 0.5)
    assert (v_code, i_code) == (m["ade"].peek("VRMS"), m["ade"].peek("IRMS"))
    assert p_code == round(3_579_545 / 8 / 50)
    # scaled by the firmware's calibration record
    assert v_mV == pytest.approx(vrms * 1000, rel=1e-3)
    assert i_mA == pytest.approx(irms * 1000, rel=1e-3)
    assert p_mHz == pytest.approx(50_000, abs=2)


def test_energy_over_one_second_matches_the_load(ade_run):
    profile, _, _, values = ade_run
    power_W = profile.power_W(0.0)
    lsb_uWh = active_energy_lsb_Wh() * 1e6
    (lsb, uwh, ms), = values["raenergy"]
    expect_uWh = power_W * ms / 1000 / 3600 * 1e6
    # the read times are known to one tick (1 ms) and the register to one LSB
    assert uwh == pytest.approx(expect_uWh, rel=2e-3, abs=lsb_uWh)
    assert uwh == pytest.approx(lsb * lsb_uWh, abs=1)


def test_line_cycle_energy_latched_at_each_cycend_interrupt(ade_run):
    profile, _, cap, values = ade_run
    power_W = profile.power_W(0.0)
    lsb_uWh = active_energy_lsb_Wh() * 1e6
    laen = values["laenergy"]
    assert [irq for _, _, irq in laen] == [1, 2]          # each result came with an interrupt
    for lsb, uwh, _ in laen:
        # LINECYC = 100 half cycles at 50 Hz = 1 s of energy, to the LSB
        assert uwh == pytest.approx(power_W / 3600 * 1e6, abs=1.5 * lsb_uWh)
    times = [ln.start_ps for ln in cap.lines if ln.text.startswith("laenergy ")]
    assert times[1] - times[0] == pytest.approx(1e12, rel=2e-3)   # one accumulation apart
