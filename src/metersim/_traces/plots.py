"""Pictures of a run (matplotlib, Agg backend, PNG): injected waveforms, power, energy vs reference.

- `plot_waveforms(profile, path, t0_s, cycles)`: v(t) and i(t) of a load profile over a few line
  cycles, sampled densely (the shapes of harmonic currents show).
- `plot_channel_power(channels, path, t0_s, t1_s)`: active power over time per channel (one
  LoadProfile per channel, or measured (t_s, power_W) series).
- `plot_energy_vs_reference(measured, reference, path)`: cumulative energy a meter measured,
  as (t_s, energy_Wh) points, against the reference integral of the profile over the same span
  (`LoadProfile.energy`, the exact closed form), the measured average power between points
  against the reference power, and the error of the measured energy in % of the reference.
  Returns an `EnergyComparison` with the numbers drawn.

Every function writes a PNG of `size_px` pixels (width, height) and returns what it drew, so a
test or a report can check the numbers instead of the picture. Nothing here runs the emulation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from metersim._traces.errors import TraceError  # noqa: E402

DEFAULT_SIZE_PX = (1400, 900)
DPI = 100


def _figure(size_px: tuple[int, int], nrows: int, heights=None):
    w, h = size_px
    if w < 200 or h < 150:
        raise TraceError(f"plot size must be at least 200 x 150 pixels, got {w} x {h}")
    fig, axes = plt.subplots(nrows, 1, figsize=(w / DPI, h / DPI), dpi=DPI, sharex=True,
                             gridspec_kw={"height_ratios": heights} if heights else None,
                             squeeze=False)
    return fig, list(axes[:, 0])


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=DPI, format="png")   # no bbox "tight": the size stays as asked
    except OSError as e:
        raise TraceError(f"cannot write plot {path}: {e}") from None
    finally:
        plt.close(fig)
    return path


def _check_profile(p, what: str) -> None:
    for attr in ("waveforms", "power_W", "energy"):
        if not hasattr(p, attr):
            raise TraceError(f"{what} is not a LoadProfile (it has no {attr}): {p!r}")


# ------------------------------------------------------------------ waveforms
@dataclass
class Waveforms:
    path: Path
    t_s: np.ndarray
    v_V: np.ndarray
    i_A: np.ndarray


def plot_waveforms(profile, path: str | Path, t0_s: float = 0.0, cycles: float = 3.0,
                   samples_per_cycle: int = 400, title: str | None = None,
                   size_px: tuple[int, int] = DEFAULT_SIZE_PX) -> Waveforms:
    """v(t) and i(t) injected by `profile` over `cycles` line cycles from `t0_s`."""
    _check_profile(profile, "profile")
    if not cycles > 0 or samples_per_cycle < 8:
        raise TraceError("cycles must be > 0 and samples_per_cycle >= 8")
    f_hz = float(np.atleast_1d(profile.frequency_hz(t0_s))[0]) if hasattr(profile, "frequency_hz") else 50.0
    if not f_hz > 0:
        f_hz = 50.0
    n = max(int(cycles * samples_per_cycle), 16)
    t = t0_s + np.arange(n) * (cycles / f_hz / n)
    v, i = profile.waveforms(t)
    v, i = np.asarray(v, float), np.asarray(i, float)
    fig, (ax,) = _figure(size_px, 1)
    ms = (t - t0_s) * 1e3
    ax.plot(ms, v, color="tab:blue", lw=1.6, label="voltage v(t)")
    ax.set_ylabel("voltage (V)", color="tab:blue")
    ax.set_xlabel(f"time from t0 = {t0_s:g} s (ms)")
    ax.axhline(0, color="0.6", lw=0.8)
    ax2 = ax.twinx()
    ax2.plot(ms, i, color="tab:red", lw=1.6, label="current i(t)")
    ax2.set_ylabel("current (A)", color="tab:red")
    for a, arr in ((ax, v), (ax2, i)):       # both zero lines at the same height
        m = float(np.max(np.abs(arr))) or 1.0
        a.set_ylim(-1.1 * m, 1.1 * m)
    vr = float(np.atleast_1d(profile.vrms_V(t0_s))[0]) if hasattr(profile, "vrms_V") else np.sqrt(np.mean(v * v))
    ir = float(np.atleast_1d(profile.irms_A(t0_s))[0]) if hasattr(profile, "irms_A") else np.sqrt(np.mean(i * i))
    p = float(np.atleast_1d(profile.power_W(t0_s))[0])
    ax.set_title(title or f"Injected waveforms at t = {t0_s:g} s: {vr:.1f} V rms, {ir:.2f} A rms, "
                          f"{p:.0f} W, {f_hz:g} Hz")
    lines = ax.get_lines()[:1] + ax2.get_lines()
    ax.legend(lines, [ln.get_label() for ln in lines], loc="upper right")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    return Waveforms(_save(fig, path), t, v, i)


# ------------------------------------------------------------------ power per channel
def plot_channel_power(channels: Mapping[str, object], path: str | Path, t0_s: float = 0.0,
                       t1_s: float | None = None, points: int = 2000, title: str | None = None,
                       size_px: tuple[int, int] = DEFAULT_SIZE_PX) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Active power over time, one line per channel. A channel is a LoadProfile (drawn from
    its closed form on `points` times over [t0_s, t1_s]) or a (t_s, power_W) pair of arrays."""
    if not channels:
        raise TraceError("plot_channel_power needs at least one channel")
    series: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, ch in channels.items():
        if hasattr(ch, "power_W"):
            if t1_s is None or not t1_s > t0_s:
                raise TraceError("channels given as profiles need t1_s > t0_s")
            t = np.linspace(t0_s, t1_s, int(points))
            series[name] = (t, np.asarray(ch.power_W(t), float))
        else:
            try:
                t, p = (np.asarray(x, float) for x in ch)
            except (TypeError, ValueError):
                raise TraceError(f"channel {name!r}: expected a LoadProfile or (t_s, power_W)") from None
            if t.shape != p.shape or t.ndim != 1:
                raise TraceError(f"channel {name!r}: t_s and power_W must be 1-D of equal length")
            series[name] = (t, p)
    fig, (ax,) = _figure(size_px, 1)
    for name, (t, p) in series.items():
        ax.plot(t, p, lw=1.6, label=name, drawstyle="steps-post" if len(t) < points else "default")
    ax.set_xlabel("virtual time (s)")
    ax.set_ylabel("active power (W)")
    ax.set_title(title or "Active power per channel")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper right")
    fig.tight_layout()
    _save(fig, path)
    return series


# ------------------------------------------------------------------ energy vs reference
@dataclass
class EnergyComparison:
    path: Path
    t_s: np.ndarray
    measured_Wh: np.ndarray
    reference_Wh: np.ndarray
    error_Wh: np.ndarray
    error_pct: np.ndarray           # NaN where the reference is still ~0

    @property
    def final_error_pct(self) -> float:
        return float(self.error_pct[-1])

    @property
    def max_abs_error_pct(self) -> float:
        e = self.error_pct[np.isfinite(self.error_pct)]
        return float(np.max(np.abs(e))) if e.size else float("nan")


def plot_energy_vs_reference(measured: Sequence[tuple[float, float]], reference, path: str | Path,
                             t0_s: float | None = None, title: str | None = None,
                             measured_label: str = "measured (meter)",
                             class_limit_pct: float | None = 1.0,
                             min_reference_Wh: float = 1e-3, power_points: int = 3000,
                             resolution_Wh: float | None = None,
                             size_px: tuple[int, int] = DEFAULT_SIZE_PX) -> EnergyComparison:
    """Measured cumulative energy against the reference integral, plus power and error panels.

    `measured`: (t_s, energy_Wh) points, energy counted from `t0_s` (default: the first point's
    time, whose energy is taken as the starting offset). The reference at each point is
    `reference.energy(t0_s, t).active_Wh`. The error in % is left out (NaN) while the reference
    is below `min_reference_Wh`, where a fraction of one LSB is a large percentage.
    `class_limit_pct`: accuracy-class limit quoted in the error panel (IEC 62053-21 class 1:
    ±1 %), or None. `resolution_Wh`: the meter's energy resolution (one register LSB); when
    given, the error panel shades ±1 LSB in % of the reference, the quantisation bound.
    """
    _check_profile(reference, "reference")
    pts = np.asarray(list(measured), float)
    if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) < 2:
        raise TraceError("measured must be at least two (t_s, energy_Wh) points")
    t, e_meas = pts[:, 0], pts[:, 1]
    if np.any(np.diff(t) <= 0):
        raise TraceError("measured points must have strictly increasing times")
    t0 = float(t[0]) if t0_s is None else float(t0_s)
    if t0_s is None:
        e_meas = e_meas - e_meas[0]
    if t[0] < t0:
        raise TraceError(f"measured points start at {t[0]} s, before t0_s = {t0} s")
    e_ref = np.array([reference.energy(t0, float(x)).active_Wh if x > t0 else 0.0 for x in t])
    err = e_meas - e_ref
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = np.where(np.abs(e_ref) >= min_reference_Wh, 100.0 * err / e_ref, np.nan)

    fig, (ax_p, ax_e, ax_err) = _figure(size_px, 3, heights=[1.0, 1.3, 0.9])
    # power: reference closed form vs the meter's average between readings
    tp = np.linspace(t[0], t[-1], int(power_points))
    ax_p.plot(tp, np.asarray(reference.power_W(tp), float), color="0.25", lw=1.4,
              label="reference power (load profile)")
    p_meas = np.diff(e_meas) / np.diff(t) * 3600.0
    ax_p.stairs(p_meas, t, color="tab:orange", lw=1.4, baseline=None,
                label="measured: average power between readings")
    ax_p.set_ylabel("active power (W)")
    ax_p.legend(loc="upper right", fontsize=9)
    ax_p.grid(True, alpha=0.3)

    ax_e.plot(t, e_ref, color="0.25", lw=2.6, label="reference energy (exact integral)")
    ax_e.plot(t, e_meas, color="tab:orange", lw=1.4, ls="--", label=measured_label)
    ax_e.set_ylabel("energy since start (Wh)")
    ax_e.legend(loc="upper left", fontsize=9)
    ax_e.grid(True, alpha=0.3)

    finite = pct[np.isfinite(pct)]
    if resolution_Wh is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            band = np.where(np.isfinite(pct), 100.0 * resolution_Wh / np.abs(e_ref), np.nan)
        ax_err.fill_between(t, -band, band, color="0.85", step=None,
                            label=f"±1 LSB ({resolution_Wh * 1e3:.4g} mWh) in % of the reference")
    ax_err.plot(t, pct, color="tab:red", lw=1.2, label="energy error")
    ax_err.axhline(0, color="0.5", lw=0.8)
    if finite.size and np.max(np.abs(finite)) > 0:
        lim = 1.4 * float(np.max(np.abs(finite)))
        ax_err.set_ylim(-lim, lim)
    ax_err.legend(loc="lower right", fontsize=9)
    ax_err.set_ylabel("error (% of reference)")
    ax_err.set_xlabel("virtual time (s)")
    ax_err.grid(True, alpha=0.3)
    note = (f"final: {e_meas[-1]:.3f} Wh measured, {e_ref[-1]:.3f} Wh reference, "
            f"error {pct[-1]:+.2g} %" if np.isfinite(pct[-1]) else "final error undefined")
    if finite.size:
        note += f"; max |error| after {min_reference_Wh:g} Wh: {np.max(np.abs(finite)):.3g} %"
    if class_limit_pct is not None:
        note += f" (class limit ±{class_limit_pct:g} %)"
    ax_err.text(0.99, 0.95, note, transform=ax_err.transAxes, va="top", ha="right", fontsize=9,
                bbox={"boxstyle": "round", "fc": "white", "ec": "0.7"})
    fig.suptitle(title or "Measured energy vs reference", fontsize=14)
    fig.tight_layout()
    return EnergyComparison(_save(fig, path), t, e_meas, e_ref, err, pct)


def png_size(path: str | Path) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk; TraceError if the file is not a PNG."""
    head = Path(path).read_bytes()[:24]
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        raise TraceError(f"{path} is not a PNG file")
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
