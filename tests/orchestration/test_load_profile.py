"""Load profiles: closed-form energies against hand-computed values, sampling, file loading."""

import math

import numpy as np
import pytest

from metersim._errors import MetersimError
from metersim._orchestration import (
    HarmonicProfile, Kettle, LoadProfile, LoadProfileError, Motor, ResistiveHeater, SampledProfile, Supply,
    SwitchModeSupply, load_csv, load_npz,
)


def rel(a, b):
    return abs(a - b) / abs(b)


def test_heater_energy_is_power_times_time_at_unity_pf():
    p = Supply(230.0, 50.0).profile(ResistiveHeater(2000.0))
    e = p.energy(0.0, 60.0)
    assert e.active_Wh == pytest.approx(2000.0 * 60 / 3600, rel=1e-12)
    assert e.apparent_VAh == pytest.approx(e.active_Wh, rel=1e-12)
    assert abs(e.reactive_varh) < 1e-9
    assert p.irms_A(10.0) == pytest.approx(2000.0 / 230.0)


def test_motor_lagging_pf_gives_positive_reactive_energy():
    p = Supply(230.0, 50.0).profile(Motor(1000.0, pf=0.8))
    e = p.energy(0.0, 3600.0)
    assert e.active_Wh == pytest.approx(1000.0, rel=1e-12)
    assert e.reactive_varh == pytest.approx(750.0, rel=1e-12)  # P tan(acos 0.8)
    assert e.apparent_VAh == pytest.approx(1250.0, rel=1e-12)


def test_motor_inrush_adds_the_staircase_energy():
    m = Motor(1000.0, pf=0.8, inrush_factor=6.0, inrush_s=0.4, inrush_steps=4,
              schedule=[(1.0, 100.0)])
    p = Supply(230.0, 50.0).profile(m)
    # Constant-impedance current multiplier k per step; power scales with k (voltage fixed).
    steps = [1 + 5 * math.exp(-3 * (j + 0.5) * 0.1 / 0.4) for j in range(4)]
    expected_J = 1000.0 * (0.1 * sum(steps) + (99.0 - 0.4))
    assert p.energy(0.0, 200.0).active_Wh == pytest.approx(expected_J / 3600, rel=1e-12)
    assert p.irms_A(1.05) == pytest.approx(steps[0] * 1000 / (230 * 0.8))
    assert p.irms_A(0.5) == 0.0


def test_smps_has_odd_harmonics_low_true_pf_and_rated_active_power():
    smps = SwitchModeSupply(200.0, displacement_pf=0.95)
    p = Supply(230.0, 50.0).profile(smps)
    e = p.energy(0.0, 3600.0)
    assert e.active_Wh == pytest.approx(200.0, rel=1e-12)
    assert e.reactive_varh == pytest.approx(-200.0 * math.tan(math.acos(0.95)), rel=1e-9)  # leading
    assert e.active_Wh / e.apparent_VAh == pytest.approx(smps.true_pf(), rel=1e-9)
    assert smps.true_pf() < 0.7
    # the sampled current really contains 3rd and 5th harmonics
    t, v, i = p.sample(1.0, 1.2, 20_000.0)
    spec = np.abs(np.fft.rfft(i)) / len(i)
    f = np.fft.rfftfreq(len(i), 1 / 20_000.0)
    at = lambda hz: spec[np.argmin(abs(f - hz))]
    assert at(150) / at(50) == pytest.approx(0.8, rel=1e-3)
    assert at(250) / at(50) == pytest.approx(0.6, rel=1e-3)
    assert at(100) / at(50) < 1e-6


def test_kettle_schedule_and_composition():
    k = Kettle(2200.0, boil_s=180.0, starts_s=(0.0, 600.0))
    h = ResistiveHeater(1000.0, schedule=[(300.0, 400.0)])
    p = Supply(230.0, 50.0).profile(k, h)
    assert p.energy(0.0, 1000.0).active_Wh == pytest.approx((2 * 2200 * 180 + 1000 * 100) / 3600)
    assert p.energy(100.0, 650.0).active_Wh == pytest.approx((2200 * (80 + 50) + 1000 * 100) / 3600)
    assert p.power_W(350.0) == pytest.approx(1000.0)
    assert p.power_W(650.0) == pytest.approx(2200.0)


def test_sag_and_outage_scale_constant_impedance_loads():
    sup = Supply(230.0, 50.0).sag(10.0, 5.0, retained=0.5).outage(20.0, 2.0)
    p = sup.profile(ResistiveHeater(2000.0))
    assert p.vrms_V(12.0) == pytest.approx(115.0)
    assert p.power_W(12.0) == pytest.approx(500.0)
    assert p.power_W(21.0) == 0.0
    expected = 2000.0 * (30.0 - 5.0 - 2.0) + 500.0 * 5.0
    assert p.energy(0.0, 30.0).active_Wh == pytest.approx(expected / 3600)
    zc, _ = p.zero_crossings(19.0, 23.0)
    assert not np.any((zc > 20.0) & (zc < 22.0))  # no crossings while the supply is out


def test_closed_form_energy_matches_numerical_integration_with_harmonics():
    sup = Supply(230.0, 50.0, harmonics=[(3, 0.05, 0.3), (5, 0.03, 1.0)])
    p = sup.profile(ResistiveHeater(1500.0), SwitchModeSupply(300.0), Motor(500.0, pf=0.7))
    t, v, i = p.sample(0.0, 2.0, 100_000.0)
    numeric_Wh = np.mean(v * i) * 2.0 / 3600
    assert p.energy(0.0, 2.0).active_Wh == pytest.approx(numeric_Wh, rel=1e-6)
    assert np.sqrt(np.mean(v * v)) == pytest.approx(p.vrms_V(1.0), rel=1e-9)
    assert np.sqrt(np.mean(i * i)) == pytest.approx(p.irms_A(1.0), rel=1e-9)


def test_sample_grid_and_shapes():
    p = HarmonicProfile.constant(230.0, 5.0, pf=1.0)
    t, v, i = p.sample(0.5, 0.6, 10_000.0)
    assert t.shape == v.shape == i.shape == (1000,)
    assert t[0] == 0.5 and t[1] - t[0] == pytest.approx(1e-4)
    assert np.max(np.abs(v)) == pytest.approx(230 * math.sqrt(2), rel=1e-4)
    with pytest.raises(LoadProfileError):
        p.sample(0.6, 0.5, 1000.0)
    with pytest.raises(LoadProfileError):
        p.sample(0.0, 1.0, 0.0)
    with pytest.raises(MetersimError):
        p.energy(-1.0, 1.0)


def test_frequency_step_keeps_the_waveform_continuous():
    p = Supply(230.0, 50.0).set_frequency(1.0, 60.0).profile(ResistiveHeater(1000.0))
    t, v, _ = p.sample(0.99, 1.01, 1_000_000.0)
    assert np.max(np.abs(np.diff(v))) < 230 * math.sqrt(2) * 2 * math.pi * 60 / 1e6 * 1.01
    zc, rising = p.zero_crossings(1.001, 2.001)
    assert len(zc) == 120 and rising.sum() == 60
    assert p.frequency_hz(1.5) == 60.0 and p.frequency_hz(0.5) == 50.0



def test_nth_zero_crossing_is_the_nth_listed_crossing_across_steps_and_outages():
    # A chip's LINECYC-th crossing (found by index) must be the very crossing a listing gives,
    # through a frequency step, an outage (no crossings) and back.
    sup = Supply(230.0, 50.0).set_frequency(1.0, 60.0).outage(2.0, 0.5)
    p = sup.profile(ResistiveHeater(1000.0), end_s=10.0)
    for t in (0.0, 0.9873, 1.0, 1.7, 1.999, 2.25, 2.5, 9.0):
        if t in (0.0, 0.9873, 1.7):     # well inside a segment: simply the n-th listed one
            zc_here, _ = p.zero_crossings(t, t + 0.1)
            assert p.nth_zero_crossing_after(t, 3) == zc_here[2]
        zc, rising = p.zero_crossings(t, 10.0)
        times, rises = p.zero_crossing_lists(t, 10.0)
        assert times == zc.tolist() and rises == rising.tolist()
        for n in (1, 2, 3, 50, 200):
            # the generic search over listed crossings, window by window
            assert p.nth_zero_crossing_after(t, n) == LoadProfile.nth_zero_crossing_after(p, t, n)
        if len(zc) > 1:     # from a crossing itself: the next one, never the same
            assert p.nth_zero_crossing_after(float(zc[0]), 1) == zc[1]

def _waveform(rate, seconds, vrms, irms, phi):
    t = np.arange(int(rate * seconds)) / rate
    return (t, vrms * math.sqrt(2) * np.sin(2 * np.pi * 50 * t),
            irms * math.sqrt(2) * np.sin(2 * np.pi * 50 * t - phi))


def test_csv_with_time_column_gives_rate_and_energy(tmp_path):
    t, v, i = _waveform(10_000.0, 1.0, 230.0, 4.0, math.acos(0.8))
    path = tmp_path / "rec.csv"
    np.savetxt(path, np.column_stack([t, v, i]), delimiter=",", header="t_s,v_V,i_A", comments="")
    p = load_csv(path)
    assert p.rate_hz == pytest.approx(10_000.0)
    assert p.energy(0.0, 0.9).active_Wh == pytest.approx(230 * 4 * 0.8 * 0.9 / 3600, rel=1e-4)
    assert p.vrms_V(0.5) == pytest.approx(230.0, rel=1e-4)
    assert p.frequency_hz(0.5) == pytest.approx(50.0, rel=1e-6)


def test_csv_without_rate_is_a_clear_error(tmp_path):
    _, v, i = _waveform(10_000.0, 0.1, 230.0, 4.0, 0.0)
    path = tmp_path / "rec.csv"
    np.savetxt(path, np.column_stack([v, i]), delimiter=",", header="v_V,i_A", comments="")
    with pytest.raises(LoadProfileError, match="sample rate"):
        load_csv(path)
    p = load_csv(path, rate_hz=10_000.0)
    t, vv, ii = p.sample(0.0, 0.05, 10_000.0)
    assert np.allclose(vv, v[:500]) and np.allclose(ii, i[:500])


def test_npz_rate_from_file_or_argument(tmp_path):
    _, v, i = _waveform(8000.0, 0.5, 230.0, 2.0, 0.0)
    with_rate = tmp_path / "a.npz"
    np.savez(with_rate, v_V=v, i_A=i, rate_hz=8000.0)
    assert load_npz(with_rate).energy(0.0, 0.4).active_Wh == pytest.approx(230 * 2 * 0.4 / 3600, rel=1e-4)
    without = tmp_path / "b.npz"
    np.savez(without, v_V=v, i_A=i)
    with pytest.raises(LoadProfileError, match="sample rate"):
        load_npz(without)
    assert load_npz(without, rate_hz=8000.0).end_s == pytest.approx((v.size - 1) / 8000.0)
    with pytest.raises(LoadProfileError, match="current"):
        np.savez(tmp_path / "c.npz", v_V=v)
        load_npz(tmp_path / "c.npz", rate_hz=8000.0)


def test_sampled_profile_refuses_bad_input():
    with pytest.raises(LoadProfileError):
        SampledProfile([1.0, 2.0], [1.0], 1000.0)
    with pytest.raises(LoadProfileError):
        SampledProfile([1.0, 2.0], [1.0, 2.0], None)
    with pytest.raises(LoadProfileError):
        SampledProfile([1.0, np.nan], [1.0, 2.0], 1000.0)


def test_vrms_step_changes_resistive_power_with_the_square_of_voltage():
    p = Supply(230.0, 50.0).set_vrms(10.0, 207.0).profile(ResistiveHeater(2000.0))
    assert p.vrms_V(5.0) == 230.0 and p.vrms_V(15.0) == 207.0
    assert p.power_W(15.0) == pytest.approx(2000.0 * (207 / 230) ** 2)
    assert p.energy(0.0, 20.0).active_Wh == pytest.approx(
        (2000.0 * 10 + 2000.0 * 0.81 * 10) / 3600)


def test_bad_descriptions_are_clear_errors():
    with pytest.raises(LoadProfileError, match="power factor"):
        Motor(100.0, pf=1.5)
    with pytest.raises(LoadProfileError, match="overlap"):
        ResistiveHeater(100.0, schedule=[(0, 10), (5, 20)])
    with pytest.raises(LoadProfileError, match="retained"):
        Supply().sag(1.0, 1.0, retained=1.2)
    with pytest.raises(LoadProfileError, match="appliance"):
        Supply().profile("kettle")
