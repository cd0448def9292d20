"""Plots: PNG files of the asked size, and the numbers drawn (energy error, waveforms, power)."""

import numpy as np
import pytest

from metersim._orchestration import ResistiveHeater, Supply
from metersim._traces.energy_demo import make_pictures, run_scenario
from metersim._traces.errors import TraceError
from metersim._traces.plots import (
    plot_channel_power, plot_energy_vs_reference, plot_waveforms, png_size,
)


@pytest.fixture(scope="module")
def scenario():
    return run_scenario(duration_s=120)


def test_energy_plot_is_a_png_of_the_asked_size_and_the_meter_is_within_one_lsb(tmp_path, scenario):
    measured, profile, chip = scenario
    assert len(measured) == 121 and measured[-1][0] == 120.0
    cmp = plot_energy_vs_reference(measured, profile, tmp_path / "e.png", size_px=(1000, 640),
                                   resolution_Wh=chip.energy_lsb_Wh())
    assert png_size(cmp.path) == (1000, 640)
    assert cmp.path.stat().st_size > 20_000                 # a real picture, not an empty frame
    assert cmp.reference_Wh[-1] == pytest.approx(profile.energy(0.0, 120.0).active_Wh)
    # the heater (2 kW from 60 s) and the SMPS: about 150 W x 120 s + 2 kW x 60 s = 38 Wh
    assert 35 < cmp.reference_Wh[-1] < 40
    # reading AENERGY every second loses less than one register LSB, however long the run
    assert np.max(np.abs(cmp.error_Wh)) <= chip.energy_lsb_Wh()
    assert abs(cmp.final_error_pct) < 0.01


def test_energy_error_is_relative_to_the_reference(tmp_path, scenario):
    measured, profile, _ = scenario
    over = [(t, e * 1.02) for t, e in measured]             # a meter reading 2 % high
    cmp = plot_energy_vs_reference(over, profile, tmp_path / "over.png")
    assert png_size(cmp.path) == (1400, 900)
    assert cmp.final_error_pct == pytest.approx(2.0, abs=0.01)
    assert np.isnan(cmp.error_pct[0])                       # no % while the reference is ~0


def test_waveform_plot_draws_the_profile_samples(tmp_path):
    profile = Supply(230.0, 50.0).profile(ResistiveHeater(2300.0))
    w = plot_waveforms(profile, tmp_path / "w.png", t0_s=1.0, cycles=2, size_px=(900, 500))
    assert png_size(w.path) == (900, 500)
    assert w.t_s[0] == 1.0 and w.t_s[-1] < 1.04            # two 20 ms cycles
    assert np.max(w.v_V) == pytest.approx(230 * np.sqrt(2), rel=1e-3)
    assert np.max(w.i_A) == pytest.approx(10 * np.sqrt(2), rel=1e-3)
    v, i = profile.waveforms(w.t_s)
    assert np.array_equal(w.i_A, i)


def test_channel_power_takes_profiles_and_measured_series(tmp_path):
    heater = Supply(230.0, 50.0).profile(ResistiveHeater(1000.0, schedule=[(10.0, 20.0)]))
    series = plot_channel_power({"room 1": heater, "room 2": ([0, 10, 30], [50.0, 80.0, 0.0])},
                                tmp_path / "p.png", 0.0, 30.0, size_px=(800, 450))
    assert png_size(tmp_path / "p.png") == (800, 450)
    t, p = series["room 1"]
    assert p[(t > 11) & (t < 19)] == pytest.approx(1000.0)
    assert np.all(p[t < 9.9] == 0.0)
    with pytest.raises(TraceError, match="t1_s"):
        plot_channel_power({"x": heater}, tmp_path / "q.png")
    with pytest.raises(TraceError, match="equal length"):
        plot_channel_power({"x": ([0, 1], [1.0])}, tmp_path / "q.png")


def test_bad_inputs_are_refused(tmp_path, scenario):
    _, profile, _ = scenario
    with pytest.raises(TraceError, match="at least two"):
        plot_energy_vs_reference([(0.0, 0.0)], profile, tmp_path / "a.png")
    with pytest.raises(TraceError, match="increasing"):
        plot_energy_vs_reference([(1.0, 0.0), (1.0, 2.0)], profile, tmp_path / "a.png")
    with pytest.raises(TraceError, match="not a LoadProfile"):
        plot_energy_vs_reference([(0.0, 0.0), (1.0, 1.0)], object(), tmp_path / "a.png")
    with pytest.raises(TraceError, match="not a PNG"):
        (tmp_path / "t.txt").write_text("hello")
        png_size(tmp_path / "t.txt")


def test_docs_pictures_come_from_a_deterministic_scenario(tmp_path):
    cmp, _ = make_pictures(tmp_path / "a", duration_s=60)
    again, _ = make_pictures(tmp_path / "b", duration_s=60)
    assert np.array_equal(cmp.measured_Wh, again.measured_Wh)
    for name in ("energy_vs_reference.png", "injected_waveforms.png", "channel_power.png"):
        assert png_size(tmp_path / "a" / name) == (1400, 900)
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
