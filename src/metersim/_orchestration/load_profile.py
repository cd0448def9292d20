"""Voltage and current at the meter terminals as functions of time (numpy).

A `LoadProfile` answers what a metering chip and a reference meter need to know:

- `sample(t0_s, t1_s, rate_hz) -> (t, v_V, i_A)`: waveforms on a uniform grid over [t0, t1)
- `energy(t0_s, t1_s) -> Energy(active_Wh, reactive_varh, apparent_VAh)`: the reference integrator
- `vrms_V(t)`, `irms_A(t)`, `power_W(t)`, `reactive_var(t)`, `apparent_VA(t)`, `frequency_hz(t)`
- chip-facing helpers: `integrals`, `zero_crossings` (and `zero_crossing_lists`), `peak_track`,
  `breakpoints`, `next_change_s`, `nth_zero_crossing_after`

Time: float seconds from the start of the profile (t = 0). A float second keeps ~15 significant
digits, i.e. better than 0.1 ns after a day, which is ample for the physics; models that run on
the virtual clock convert from integer picoseconds (`t_s = now_ps / 1e12`) at the call.

Two kinds of profile:

- `HarmonicProfile`: piecewise-constant segments, each a fundamental frequency plus voltage and
  current harmonics (order, rms, phase). Phases are continuous across segments (the fundamental
  phase accumulates), so a frequency step does not jump the waveform. Everything is closed form:
  active power per segment is sum_h V_h I_h cos(a_h - b_h), reactive power (Budeanu) is
  sum_h V_h I_h sin(a_h - b_h) (positive for a lagging, inductive current), apparent power is
  Vrms * Irms; energies are those powers times the overlap with each segment. "Active energy" is
  the integral of the cycle-mean power (what a meter registers); the double-frequency ripple of
  v*i, at most V*I/(2*omega) joules at the ends of an interval, is deliberately left out.
  Built from a `Supply` (nominal voltage and frequency, voltage harmonics, sags, swells, outages,
  frequency and voltage steps) and appliances (`metersim._orchestration.appliances`).
- `SampledProfile`: recorded v(t), i(t) at an explicit sample rate (from CSV or NPZ). Its
  integrals are numerical (trapezoid on the samples, linear interpolation between them).
"""

from __future__ import annotations

import bisect
import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from metersim._errors import SetupError

SQRT2 = math.sqrt(2.0)
TWO_PI = 2.0 * math.pi


class LoadProfileError(SetupError):
    """A load profile was described or loaded wrongly."""


@dataclass(frozen=True)
class Energy:
    """Energies over an interval. Reactive energy is positive for inductive (lagging) loads."""

    active_Wh: float
    reactive_varh: float
    apparent_VAh: float

    def __add__(self, other: "Energy") -> "Energy":
        return Energy(self.active_Wh + other.active_Wh, self.reactive_varh + other.reactive_varh,
                      self.apparent_VAh + other.apparent_VAh)


@dataclass(frozen=True)
class Integrals:
    """Chip-facing integrals over an interval, in joules (W*s, var*s, VA*s)."""

    active_J: float
    reactive_J: float
    apparent_J: float
    active_positive_J: float  # only the stretches where the mean active power is positive


@dataclass(frozen=True)
class Harmonic:
    """One sinusoid: sqrt(2) * rms * sin(order * theta + phase_rad), theta the fundamental phase."""

    order: int
    rms: float
    phase_rad: float = 0.0

    def __post_init__(self) -> None:
        if int(self.order) != self.order or self.order < 1:
            raise LoadProfileError(f"harmonic order must be a whole number >= 1, got {self.order!r}")
        if not (self.rms >= 0.0 and math.isfinite(self.rms)):
            raise LoadProfileError(f"harmonic rms must be finite and >= 0, got {self.rms!r}")


def _harmonics(items: Iterable) -> tuple[Harmonic, ...]:
    out = []
    for h in items:
        out.append(h if isinstance(h, Harmonic) else Harmonic(*h))
    return tuple(out)


@dataclass(frozen=True)
class Segment:
    """Constant conditions from `start_s` until the next segment starts."""

    start_s: float
    freq_hz: float
    v: tuple = ()
    i: tuple = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "v", _harmonics(self.v))
        object.__setattr__(self, "i", _harmonics(self.i))
        if not (self.freq_hz > 0 and math.isfinite(self.freq_hz)):
            raise LoadProfileError(f"segment at {self.start_s} s: frequency must be > 0 Hz, "
                                   f"got {self.freq_hz!r}")


def _as_array(t) -> tuple[np.ndarray, bool]:
    arr = np.asarray(t, dtype=float)
    return np.atleast_1d(arr), arr.ndim == 0


def _ret(values: np.ndarray, scalar: bool):
    return float(values[0]) if scalar else values


class LoadProfile:
    """Interface shared by harmonic and sampled profiles (time in float seconds)."""

    start_s: float = 0.0
    end_s: float = math.inf

    # -- checks ---------------------------------------------------------------------------
    def _check_interval(self, t0_s: float, t1_s: float) -> None:
        if not (math.isfinite(t0_s) and math.isfinite(t1_s)):
            raise LoadProfileError(f"interval [{t0_s}, {t1_s}] s must be finite")
        if t1_s < t0_s:
            raise LoadProfileError(f"interval end {t1_s} s is before its start {t0_s} s")
        if t0_s < self.start_s - 1e-12 or t1_s > self.end_s + 1e-12:
            raise LoadProfileError(
                f"interval [{t0_s}, {t1_s}] s lies outside the profile, which covers "
                f"[{self.start_s}, {self.end_s}] s")

    # -- user API -------------------------------------------------------------------------
    def sample(self, t0_s: float, t1_s: float, rate_hz: float):
        """(t, v_V, i_A) on the grid t0 + k/rate_hz covering [t0, t1)."""
        if not (rate_hz > 0 and math.isfinite(rate_hz)):
            raise LoadProfileError(f"sample rate must be > 0 Hz, got {rate_hz!r}")
        self._check_interval(t0_s, t1_s)
        n = int(math.ceil((t1_s - t0_s) * rate_hz - 1e-9))
        t = t0_s + np.arange(max(n, 0)) / rate_hz
        v, i = self.waveforms(t)
        return t, v, i

    def energy(self, t0_s: float, t1_s: float) -> Energy:
        """Reference energies over [t0, t1] (closed form where the profile allows it)."""
        g = self.integrals(t0_s, t1_s)
        return Energy(g.active_J / 3600.0, g.reactive_J / 3600.0, g.apparent_J / 3600.0)

    # -- to implement ---------------------------------------------------------------------
    def waveforms(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def integrals(self, t0_s: float, t1_s: float, v_delay_s: float = 0.0) -> Integrals:
        raise NotImplementedError

    def vrms_V(self, t):
        raise NotImplementedError

    def irms_A(self, t):
        raise NotImplementedError

    def power_W(self, t, v_delay_s: float = 0.0):
        raise NotImplementedError

    def reactive_var(self, t):
        raise NotImplementedError

    def apparent_VA(self, t):
        return self.vrms_V(t) * self.irms_A(t)

    def frequency_hz(self, t):
        raise NotImplementedError

    def zero_crossings(self, t0_s: float, t1_s: float) -> tuple[np.ndarray, np.ndarray]:
        """Voltage zero crossings in (t0, t1]: (times, rising) where rising means - to +."""
        raise NotImplementedError

    def zero_crossing_lists(self, t0_s: float, t1_s: float) -> tuple[list[float], list[bool]]:
        """`zero_crossings` as Python lists of floats and bools (what a chip model iterates)."""
        times, rising = self.zero_crossings(t0_s, t1_s)
        return times.tolist(), rising.tolist()

    def peak_track(self, t0_s: float, t1_s: float):
        """Piecewise-constant peaks over [t0, t1]: (edges[n+1], vpeak_V[n], ipeak_A[n])."""
        raise NotImplementedError

    def breakpoints(self, t0_s: float, t1_s: float) -> np.ndarray:
        """Times in (t0, t1] where the mean quantities may change."""
        raise NotImplementedError

    def next_change_s(self, t_s: float) -> float:
        """The first time after t where the mean quantities may change (inf if never)."""
        raise NotImplementedError

    def nth_zero_crossing_after(self, t_s: float, n: int) -> float:
        """Time of the n-th (1-based) voltage zero crossing after t, or inf."""
        if n < 1:
            raise ValueError("n must be >= 1")
        found = 0
        lo = t_s
        f = self.frequency_hz(t_s)
        span = (n + 1) / (2.0 * f) if f and math.isfinite(f) and f > 0 else 0.1
        while lo < self.end_s:
            hi = min(lo + span, self.end_s)
            t, count = self._nth_crossing_in(lo, hi, n - found)
            if t is not None:
                return t
            found += count
            lo = hi
            span *= 2.0
            if span > 1e7:
                break
        return math.inf

    def _nth_crossing_in(self, lo: float, hi: float, k: int) -> tuple[float | None, int]:
        """(the k-th crossing in (lo, hi], 0), or (None, how many crossings it holds)."""
        zc, _ = self.zero_crossing_lists(lo, hi)
        if len(zc) >= k:
            return float(zc[k - 1]), 0
        return None, len(zc)


# ------------------------------------------------------------------------------------------
class HarmonicProfile(LoadProfile):
    """Piecewise-constant harmonic segments; see the module docstring."""

    def __init__(self, segments: Sequence[Segment], end_s: float = math.inf):
        if not segments:
            raise LoadProfileError("a harmonic profile needs at least one segment")
        segs = sorted(segments, key=lambda s: s.start_s)
        starts = np.array([s.start_s for s in segs], dtype=float)
        if np.any(np.diff(starts) <= 0):
            raise LoadProfileError("segments must start at distinct times")
        if starts[-1] >= end_s:
            raise LoadProfileError(f"last segment starts at {starts[-1]} s, after the end {end_s} s")
        self.segments = tuple(segs)
        self.start_s = float(starts[0])
        self.end_s = float(end_s)
        self._starts = starts
        self._starts_list = starts.tolist()  # bisect on a list: fast scalar lookups for the chip
        self._ends = np.append(starts[1:], end_s)
        self._freq = np.array([s.freq_hz for s in segs], dtype=float)
        orders = sorted({h.order for s in segs for h in s.v + s.i} | {1})
        self._orders = np.array(orders, dtype=float)
        col = {o: k for k, o in enumerate(orders)}
        n, m = len(segs), len(orders)
        self._V = np.zeros((n, m), dtype=complex)
        self._I = np.zeros((n, m), dtype=complex)
        for r, s in enumerate(segs):
            for h in s.v:
                self._V[r, col[h.order]] += h.rms * np.exp(1j * h.phase_rad)
            for h in s.i:
                self._I[r, col[h.order]] += h.rms * np.exp(1j * h.phase_rad)
        # Fundamental phase at each segment start, accumulated so the waveform is continuous.
        dur = np.diff(starts)
        theta = np.concatenate(([0.0], np.cumsum(TWO_PI * self._freq[:-1] * dur)))
        self._theta0 = np.mod(theta, TWO_PI)
        self._vrms = np.sqrt(np.sum(np.abs(self._V) ** 2, axis=1))
        self._irms = np.sqrt(np.sum(np.abs(self._I) ** 2, axis=1))
        vi = self._V * np.conj(self._I)
        self._p = np.real(vi).sum(axis=1)
        self._q = np.imag(vi).sum(axis=1)
        self._vpk = self._peaks(self._V)
        self._ipk = self._peaks(self._I)
        # Scalar copies for the chip's per-register-read lookups (a numpy scalar index or a 1-element
        # array costs microseconds each): the same float64 values, as Python floats.
        self._freq_list = self._freq.tolist()
        self._vrms_list = self._vrms.tolist()
        self._irms_list = self._irms.tolist()
        self._q_list = self._q.tolist()
        self._ends_list = self._ends.tolist()
        # Per segment: (voltage phase at its start, angular frequency) of the fundamental, or None
        # for an outage (no fundamental: no crossings); the operations zero_crossings always did.
        self._zc_phase = [None if abs(self._V[s, 0]) == 0.0 else
                          (float(self._theta0[s] + np.angle(self._V[s, 0])), float(TWO_PI * self._freq[s]))
                          for s in range(n)]
        self._p_delayed_cache: dict[tuple[int, float], float] = {}   # (segment, v delay) -> W

    def _peaks(self, X: np.ndarray) -> np.ndarray:
        """Peak |x| over a fundamental cycle per segment (exact for a single sinusoid)."""
        out = np.empty(len(X))
        nz = np.abs(X) > 0
        single = nz.sum(axis=1) <= 1
        out[single] = SQRT2 * np.abs(X[single]).sum(axis=1)
        if np.any(~single):
            npts = int(max(256, 64 * self._orders.max()))
            th = np.linspace(0.0, TWO_PI, npts, endpoint=False)
            basis = np.exp(1j * np.outer(self._orders, th))      # (m, npts)
            wav = SQRT2 * np.imag(X[~single] @ basis)             # (k, npts)
            out[~single] = np.abs(wav).max(axis=1)
        return out

    # -- lookups --------------------------------------------------------------------------
    def _seg(self, t: np.ndarray) -> np.ndarray:
        if np.any(t < self.start_s - 1e-12) or np.any(t > self.end_s + 1e-12):
            raise LoadProfileError(
                f"time outside the profile [{self.start_s}, {self.end_s}] s: "
                f"{float(np.min(t))}..{float(np.max(t))} s")
        return np.clip(np.searchsorted(self._starts, t, side="right") - 1, 0, len(self._starts) - 1)

    def _idx(self, t: float) -> int:
        if t < self.start_s - 1e-12 or t > self.end_s + 1e-12:
            raise LoadProfileError(f"time {t} s is outside the profile [{self.start_s}, {self.end_s}] s")
        return max(0, bisect.bisect_right(self._starts_list, t) - 1)

    def _span(self, t0_s: float, t1_s: float) -> tuple[int, int]:
        """Indices [lo, hi) of the segments overlapping [t0, t1]."""
        lo = self._idx(t0_s)
        return lo, max(bisect.bisect_left(self._starts_list, t1_s), lo + 1)

    def _theta(self, t: np.ndarray, s: np.ndarray) -> np.ndarray:
        return self._theta0[s] + TWO_PI * self._freq[s] * (t - self._starts[s])

    def waveforms(self, t):
        t = np.asarray(t, dtype=float)
        s = self._seg(t)
        th = self._theta(t, s)
        v = np.zeros_like(t)
        i = np.zeros_like(t)
        for k, order in enumerate(self._orders):
            e = np.exp(1j * order * th)
            v += SQRT2 * np.imag(self._V[s, k] * e)
            i += SQRT2 * np.imag(self._I[s, k] * e)
        return v, i

    def _per_seg(self, values: np.ndarray, scalars: list, t):
        """`values[segment of t]`; `scalars` is values.tolist() (the same floats) for a scalar t."""
        if type(t) is float or np.ndim(t) == 0:
            return scalars[self._idx(float(t))]
        arr, scalar = _as_array(t)
        return _ret(values[self._seg(arr)], scalar)

    def vrms_V(self, t):
        return self._per_seg(self._vrms, self._vrms_list, t)

    def irms_A(self, t):
        return self._per_seg(self._irms, self._irms_list, t)

    def reactive_var(self, t):
        return self._per_seg(self._q, self._q_list, t)

    def frequency_hz(self, t):
        return self._per_seg(self._freq, self._freq_list, t)

    def _p_delayed(self, sl, v_delay_s: float) -> np.ndarray:
        if v_delay_s == 0.0:
            return self._p[sl]
        rot = np.exp(-1j * np.outer(self._freq[sl] * TWO_PI * v_delay_s, self._orders))
        return np.real(self._V[sl] * rot * np.conj(self._I[sl])).sum(axis=1)

    def power_W(self, t, v_delay_s: float = 0.0):
        if type(t) is float or np.ndim(t) == 0:
            k = self._idx(float(t))
            key = (k, v_delay_s)
            p = self._p_delayed_cache.get(key)
            if p is None:   # a segment's delayed power never changes: computed once per delay
                p = self._p_delayed_cache[key] = float(self._p_delayed(slice(k, k + 1), v_delay_s)[0])
            return p
        arr, scalar = _as_array(t)
        s = self._seg(arr)
        if v_delay_s == 0.0:
            return _ret(self._p[s], scalar)
        return _ret(self._p_delayed(s, v_delay_s), scalar)

    def integrals(self, t0_s: float, t1_s: float, v_delay_s: float = 0.0) -> Integrals:
        self._check_interval(t0_s, t1_s)
        sl = slice(*self._span(t0_s, t1_s))
        ov = np.clip(np.minimum(self._ends[sl], t1_s) - np.maximum(self._starts[sl], t0_s), 0.0, None)
        p = self._p_delayed(sl, v_delay_s)
        return Integrals(
            active_J=float(np.dot(p, ov)),
            reactive_J=float(np.dot(self._q[sl], ov)),
            apparent_J=float(np.dot(self._vrms[sl] * self._irms[sl], ov)),
            active_positive_J=float(np.dot(np.clip(p, 0.0, None), ov)),
        )

    def zero_crossings(self, t0_s: float, t1_s: float):
        times, rising = self.zero_crossing_lists(t0_s, t1_s)
        return np.array(times, dtype=float), np.array(rising, dtype=bool)

    def _crossing_indices(self, s: int, t0_s: float, t1_s: float):
        """(k0, k1, start, psi0, w): segment s's crossings in (t0, t1] are k = k0..k1 (none when
        k1 < k0) at start + (k pi - psi0) / w, or None when the segment has none there.

        psi(t) = psi0 + w (t - start) is the fundamental's voltage phase; it crosses zero at k pi.
        The candidates come from the phase at the interval's ends; a candidate whose float64 time
        rounds outside (t0, t1] is dropped. Times never decrease with k, so only the ends can be
        dropped and the kept crossings are one run of k."""
        ph = self._zc_phase[s]
        if ph is None:
            return None   # no fundamental (outage): the detector sees no crossings
        psi0, w = ph
        start = self._starts_list[s]
        a = max(t0_s, start)
        b = min(t1_s, self._ends_list[s])
        if b <= a:
            return None
        pi = math.pi
        k0 = math.floor((psi0 + w * (a - start)) / pi) + 1
        k1 = math.floor((psi0 + w * (b - start)) / pi)
        while k0 <= k1 and not start + (k0 * pi - psi0) / w > t0_s:
            k0 += 1
        while k1 >= k0 and not start + (k1 * pi - psi0) / w <= t1_s:
            k1 -= 1
        return k0, k1, start, psi0, w

    def zero_crossing_lists(self, t0_s: float, t1_s: float) -> tuple[list[float], list[bool]]:
        """`zero_crossings` as Python lists (the chip model's form).

        Crossing k is start + (k pi - psi0) / w in float64 (elementwise over the index range:
        the same value the scalar expression in nth_zero_crossing_after gives, k exact as a
        float); rising when k is even."""
        self._check_interval(t0_s, t1_s)
        lo, hi = self._span(t0_s, t1_s)
        times: list[float] = []
        rising: list[bool] = []
        for s in range(lo, hi):
            r = self._crossing_indices(s, t0_s, t1_s)
            if r is None or r[1] < r[0]:
                continue
            k0, k1, start, psi0, w = r
            k = np.arange(k0, k1 + 1)
            times.extend((start + (k * math.pi - psi0) / w).tolist())
            rising.extend((k % 2 == 0).tolist())
        return times, rising

    def _nth_crossing_in(self, lo: float, hi: float, k: int) -> tuple[float | None, int]:
        """As LoadProfile's (so nth_zero_crossing_after finds the same crossing), counting each
        segment's crossings from their index range instead of listing them."""
        self._check_interval(lo, hi)
        s0, s1 = self._span(lo, hi)
        found = 0
        for s in range(s0, s1):
            r = self._crossing_indices(s, lo, hi)
            if r is None or r[1] < r[0]:
                continue
            k0, k1, start, psi0, w = r
            if found + (k1 - k0 + 1) >= k:
                return start + ((k0 + k - found - 1) * math.pi - psi0) / w, 0
            found += k1 - k0 + 1
        return None, found

    def peak_track(self, t0_s: float, t1_s: float):
        self._check_interval(t0_s, t1_s)
        lo, hi = self._span(t0_s, t1_s)
        sl = slice(lo, hi)
        edges = np.concatenate(([t0_s], self._starts[lo + 1:hi], [t1_s]))
        return edges, self._vpk[sl], self._ipk[sl]

    def breakpoints(self, t0_s: float, t1_s: float) -> np.ndarray:
        s = self._starts
        return s[(s > t0_s) & (s <= t1_s)]

    def next_change_s(self, t_s: float) -> float:
        k = bisect.bisect_right(self._starts_list, t_s)
        return self._starts_list[k] if k < len(self._starts_list) else math.inf

    # -- conveniences ---------------------------------------------------------------------
    @classmethod
    def constant(cls, vrms_V: float = 230.0, irms_A: float = 0.0, pf: float = 1.0,
                 freq_hz: float = 50.0, leading: bool = False) -> "HarmonicProfile":
        """A steady sinusoidal load; `pf` is cos(phi), lagging unless `leading`."""
        if not -1.0 <= pf <= 1.0:
            raise LoadProfileError(f"power factor must be within [-1, 1], got {pf!r}")
        phi = math.acos(pf)
        return cls([Segment(0.0, freq_hz, v=[(1, vrms_V, 0.0)],
                            i=[(1, irms_A, phi if leading else -phi)])])


# ------------------------------------------------------------------------------------------
@dataclass
class _Event:
    t0_s: float
    t1_s: float
    kind: str
    value: float


@dataclass
class Supply:
    """The grid at the meter: nominal RMS voltage and frequency, voltage harmonics and events.

    `harmonics` are (order, fraction of the fundamental rms, phase_rad). Events scale the whole
    voltage (sag, swell, outage) over an interval or step the frequency / RMS from a time on.
    Loads are constant-impedance: their current follows the voltage scale (an outage stops them).
    """

    vrms_V: float = 230.0
    freq_hz: float = 50.0
    harmonics: Sequence = ()
    _events: list = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.vrms_V >= 0:
            raise LoadProfileError(f"supply voltage must be >= 0 V, got {self.vrms_V!r}")
        if not self.freq_hz > 0:
            raise LoadProfileError(f"supply frequency must be > 0 Hz, got {self.freq_hz!r}")
        self.harmonics = tuple(tuple(h) for h in self.harmonics)
        for h in self.harmonics:
            if len(h) not in (2, 3) or h[0] < 2:
                raise LoadProfileError(
                    f"supply harmonic {h!r}: expected (order >= 2, fraction, [phase_rad])")

    def _interval(self, kind: str, t0_s: float, duration_s: float, value: float) -> "Supply":
        if t0_s < 0 or duration_s <= 0:
            raise LoadProfileError(f"{kind}: start must be >= 0 s and duration > 0 s, "
                                   f"got start {t0_s} s, duration {duration_s} s")
        self._events.append(_Event(float(t0_s), float(t0_s + duration_s), kind, float(value)))
        return self

    def sag(self, t0_s: float, duration_s: float, retained: float = 0.7) -> "Supply":
        """Voltage at `retained` x nominal over the interval (IEC 61000-4-30: residual voltage)."""
        if not 0.0 <= retained < 1.0:
            raise LoadProfileError(f"sag retained voltage must be in [0, 1), got {retained!r}")
        return self._interval("scale", t0_s, duration_s, retained)

    def swell(self, t0_s: float, duration_s: float, factor: float = 1.1) -> "Supply":
        if not factor > 1.0:
            raise LoadProfileError(f"swell factor must be > 1, got {factor!r}")
        return self._interval("scale", t0_s, duration_s, factor)

    def outage(self, t0_s: float, duration_s: float) -> "Supply":
        return self._interval("scale", t0_s, duration_s, 0.0)

    def set_frequency(self, t_s: float, freq_hz: float) -> "Supply":
        """Frequency steps to `freq_hz` at `t_s` and stays (phase stays continuous)."""
        if not freq_hz > 0:
            raise LoadProfileError(f"frequency must be > 0 Hz, got {freq_hz!r}")
        return self._interval("freq", t_s, math.inf, freq_hz)

    def set_vrms(self, t_s: float, vrms_V: float) -> "Supply":
        """Nominal RMS voltage steps to `vrms_V` at `t_s` and stays."""
        if not vrms_V >= 0:
            raise LoadProfileError(f"voltage must be >= 0 V, got {vrms_V!r}")
        return self._interval("vrms", t_s, math.inf, vrms_V)

    # -- state at a time ------------------------------------------------------------------
    def breakpoints(self) -> list[float]:
        pts = []
        for e in self._events:
            pts.append(e.t0_s)
            if math.isfinite(e.t1_s):
                pts.append(e.t1_s)
        return pts

    def state_at(self, t_s: float) -> tuple[float, float, float]:
        """(freq_hz, nominal vrms_V, scale) in force at t."""
        freq, vrms, scale = self.freq_hz, self.vrms_V, 1.0
        for e in sorted(self._events, key=lambda e: e.t0_s):  # later steps win
            if e.t0_s <= t_s < e.t1_s:
                if e.kind == "freq":
                    freq = e.value
                elif e.kind == "vrms":
                    vrms = e.value
                else:
                    scale *= e.value
        return freq, vrms, scale

    def voltage_phasors(self, t_s: float) -> tuple[float, dict[int, complex], float]:
        freq, vrms, scale = self.state_at(t_s)
        v = {1: complex(vrms * scale)}
        for h in self.harmonics:
            order, frac = int(h[0]), float(h[1])
            phase = float(h[2]) if len(h) > 2 else 0.0
            v[order] = v.get(order, 0j) + vrms * scale * frac * complex(math.cos(phase), math.sin(phase))
        return freq, v, scale

    def profile(self, *loads, end_s: float = math.inf) -> HarmonicProfile:
        """The profile seen by a meter feeding `loads` (appliances) from this supply."""
        pts = {0.0}
        for p in self.breakpoints():
            pts.add(p)
        for load in loads:
            if not hasattr(load, "current_phasors"):
                raise LoadProfileError(f"{load!r} is not an appliance (it has no current_phasors)")
            pts.update(load.breakpoints())
        times = sorted(p for p in pts if 0.0 <= p < end_s)
        segs = []
        for k, t in enumerate(times):
            t_next = times[k + 1] if k + 1 < len(times) else (end_s if math.isfinite(end_s) else t + 1.0)
            mid = 0.5 * (t + t_next)
            freq, v, scale = self.voltage_phasors(mid)
            i: dict[int, complex] = {}
            for load in loads:
                for order, ph in load.current_phasors(mid, v, scale, self.vrms_V).items():
                    i[order] = i.get(order, 0j) + ph
            segs.append(Segment(t, freq, v=[_from_phasor(o, p) for o, p in sorted(v.items())],
                                i=[_from_phasor(o, p) for o, p in sorted(i.items())]))
        return HarmonicProfile(segs, end_s=end_s)


def _from_phasor(order: int, ph: complex) -> Harmonic:
    return Harmonic(order, abs(ph), math.atan2(ph.imag, ph.real) if ph != 0 else 0.0)


# ------------------------------------------------------------------------------------------
class SampledProfile(LoadProfile):
    """Recorded waveforms at a fixed sample rate; integrals are numerical.

    Mean quantities (RMS, mean power) at a time use the fundamental period around it, estimated
    from the voltage zero crossings (`nominal_freq_hz` when the record has too few).
    Reactive power uses the quarter-period shift q = v(t - T/4) * i(t).
    """

    def __init__(self, v_V, i_A, rate_hz: float, start_s: float = 0.0,
                 nominal_freq_hz: float = 50.0):
        if rate_hz is None:
            raise LoadProfileError("sampled profile needs an explicit sample rate (rate_hz)")
        if not (rate_hz > 0 and math.isfinite(rate_hz)):
            raise LoadProfileError(f"sample rate must be > 0 Hz, got {rate_hz!r}")
        v = np.asarray(v_V, dtype=float).ravel()
        i = np.asarray(i_A, dtype=float).ravel()
        if v.shape != i.shape:
            raise LoadProfileError(f"voltage and current have different lengths ({v.size} vs {i.size})")
        if v.size < 2:
            raise LoadProfileError("sampled profile needs at least two samples")
        if not (np.all(np.isfinite(v)) and np.all(np.isfinite(i))):
            raise LoadProfileError("sampled profile contains NaN or infinite samples")
        self.rate_hz = float(rate_hz)
        self.start_s = float(start_s)
        self.end_s = self.start_s + (v.size - 1) / self.rate_hz
        self._v, self._i = v, i
        self._t = self.start_s + np.arange(v.size) / self.rate_hz
        s = np.signbit(v)
        # Crossing where the sign flips; zero samples count with the side they leave towards.
        idx = np.flatnonzero(s[1:] != s[:-1])
        frac = v[idx] / (v[idx] - v[idx + 1])
        self._zc = self._t[idx] + frac / self.rate_hz
        self._zc_rising = ~s[idx + 1]
        rises = self._zc[self._zc_rising]
        if rises.size >= 2:
            self._period = float(np.median(np.diff(rises)))
        else:
            self._period = 1.0 / nominal_freq_hz
        self._rises = rises

    # -- helpers --------------------------------------------------------------------------
    def _grid(self, a: float, b: float) -> np.ndarray:
        inner = self._t[(self._t > a) & (self._t < b)]
        return np.concatenate(([a], inner, [b]))

    def waveforms(self, t):
        t = np.asarray(t, dtype=float)
        if t.size and (t.min() < self.start_s - 1e-12 or t.max() > self.end_s + 1e-12):
            raise LoadProfileError(f"time outside the record [{self.start_s}, {self.end_s}] s")
        return np.interp(t, self._t, self._v), np.interp(t, self._t, self._i)

    def _window(self, t: float) -> tuple[float, float]:
        half = self._period / 2.0
        a, b = max(self.start_s, t - half), min(self.end_s, t + half)
        if b - a < self._period and b - a < self.end_s - self.start_s:
            if a == self.start_s:
                b = min(self.end_s, a + self._period)
            else:
                a = max(self.start_s, b - self._period)
        return a, b

    def _mean(self, fn, t):
        arr, scalar = _as_array(t)
        out = np.empty(arr.size)
        for k, tk in enumerate(arr):
            a, b = self._window(float(tk))
            g = self._grid(a, b)
            out[k] = np.trapezoid(fn(g), g) / (b - a)
        return _ret(out, scalar)

    def vrms_V(self, t):
        return np.sqrt(self._mean(lambda g: np.interp(g, self._t, self._v) ** 2, t))

    def irms_A(self, t):
        return np.sqrt(self._mean(lambda g: np.interp(g, self._t, self._i) ** 2, t))

    def _vi(self, g: np.ndarray, v_delay_s: float) -> np.ndarray:
        return np.interp(g - v_delay_s, self._t, self._v) * np.interp(g, self._t, self._i)

    def power_W(self, t, v_delay_s: float = 0.0):
        return self._mean(lambda g: self._vi(g, v_delay_s), t)

    def reactive_var(self, t):
        return self._mean(lambda g: self._vi(g, self._period / 4.0), t)

    def frequency_hz(self, t):
        arr, scalar = _as_array(t)
        r = self._rises
        if r.size < 2:
            return _ret(np.full(arr.size, 1.0 / self._period), scalar)
        k = np.clip(np.searchsorted(r, arr), 1, r.size - 1)
        return _ret(1.0 / (r[k] - r[k - 1]), scalar)

    def integrals(self, t0_s: float, t1_s: float, v_delay_s: float = 0.0) -> Integrals:
        self._check_interval(t0_s, t1_s)
        if t1_s == t0_s:
            return Integrals(0.0, 0.0, 0.0, 0.0)
        g = self._grid(t0_s, t1_s)
        p = self._vi(g, v_delay_s)
        active = float(np.trapezoid(p, g))
        q = self._vi(g, self._period / 4.0)
        reactive = float(np.trapezoid(q, g))
        # Apparent power and positive-only accumulation need cycle means: one window per period.
        n_win = max(1, int(round((t1_s - t0_s) / self._period)))
        edges = np.linspace(t0_s, t1_s, n_win + 1)
        apparent = 0.0
        positive = 0.0
        for a, b in zip(edges[:-1], edges[1:]):
            gg = self._grid(a, b)
            vv = np.interp(gg, self._t, self._v)
            ii = np.interp(gg, self._t, self._i)
            d = b - a
            vr = math.sqrt(np.trapezoid(vv * vv, gg) / d)
            ir = math.sqrt(np.trapezoid(ii * ii, gg) / d)
            apparent += vr * ir * d
            positive += max(0.0, float(np.trapezoid(self._vi(gg, v_delay_s), gg)))
        return Integrals(active, reactive, apparent, positive)

    def zero_crossings(self, t0_s: float, t1_s: float):
        m = (self._zc > t0_s) & (self._zc <= t1_s)
        return self._zc[m], self._zc_rising[m]

    def peak_track(self, t0_s: float, t1_s: float):
        self._check_interval(t0_s, t1_s)
        zc = self._zc[(self._zc > t0_s) & (self._zc < t1_s)]
        edges = np.concatenate(([t0_s], zc, [t1_s]))
        vpk = np.empty(edges.size - 1)
        ipk = np.empty(edges.size - 1)
        for k in range(edges.size - 1):
            g = self._grid(edges[k], edges[k + 1])
            v, i = self.waveforms(g)
            vpk[k] = np.abs(v).max()
            ipk[k] = np.abs(i).max()
        return edges, vpk, ipk

    def breakpoints(self, t0_s: float, t1_s: float) -> np.ndarray:
        n = int((t1_s - t0_s) / self._period)
        return t0_s + self._period * np.arange(1, n + 1)

    def next_change_s(self, t_s: float) -> float:
        nxt = t_s + self._period
        return nxt if nxt <= self.end_s else math.inf


# ------------------------------------------------------------------------------------------
_V_NAMES = ("v_V", "v", "voltage", "voltage_V", "u_V")
_I_NAMES = ("i_A", "i", "current", "current_A")
_T_NAMES = ("t_s", "t", "time", "time_s")


def _rate_from_times(t: np.ndarray, where: str) -> float:
    d = np.diff(t)
    if d.size == 0 or np.any(d <= 0):
        raise LoadProfileError(f"{where}: time column must increase")
    dt = float(np.mean(d))
    if np.max(np.abs(d - dt)) > 1e-6 * dt + 1e-12:
        raise LoadProfileError(f"{where}: samples are not evenly spaced; resample to a fixed rate")
    return 1.0 / dt


def _pick(names: Sequence[str], columns: Sequence[str], what: str, where: str) -> str | None:
    for n in names:
        if n in columns:
            return n
    if what:
        raise LoadProfileError(f"{where}: no {what} column; expected one of {', '.join(names)}, "
                               f"found {', '.join(columns) or 'none'}")
    return None


def load_csv(path: str | Path, rate_hz: float | None = None, **kw) -> SampledProfile:
    """Load a CSV with a header row naming a voltage and a current column (v_V, i_A, ...).

    The sample rate must be explicit: pass `rate_hz`, or include an evenly spaced time column
    (t_s). Without either a `LoadProfileError` says so.
    """
    path = Path(path)
    where = str(path)
    if not path.is_file():
        raise LoadProfileError(f"{where}: no such file")
    with path.open(newline="") as fh:
        reader = csv.reader(fh)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise LoadProfileError(f"{where}: empty file") from None
    try:
        data = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    except ValueError as e:
        raise LoadProfileError(f"{where}: not numeric CSV after the header ({e})") from None
    if data.shape[1] != len(header):
        raise LoadProfileError(f"{where}: {len(header)} header names but {data.shape[1]} columns")
    vcol = _pick(_V_NAMES, header, "voltage", where)
    icol = _pick(_I_NAMES, header, "current", where)
    tcol = _pick(_T_NAMES, header, "", where)
    start = 0.0
    if tcol is not None:
        t = data[:, header.index(tcol)]
        file_rate = _rate_from_times(t, where)
        start = float(t[0])
        if rate_hz is not None and abs(file_rate - rate_hz) > 1e-6 * rate_hz:
            raise LoadProfileError(f"{where}: rate_hz={rate_hz} disagrees with the time column "
                                   f"({file_rate:.6g} Hz)")
        rate_hz = file_rate
    if rate_hz is None:
        raise LoadProfileError(f"{where}: no sample rate; pass rate_hz=... or add a t_s column")
    return SampledProfile(data[:, header.index(vcol)], data[:, header.index(icol)], rate_hz,
                          start_s=start, **kw)


def load_npz(path: str | Path, rate_hz: float | None = None, **kw) -> SampledProfile:
    """Load arrays v_V and i_A from an .npz; the rate comes from `rate_hz` or a `rate_hz` entry."""
    path = Path(path)
    where = str(path)
    if not path.is_file():
        raise LoadProfileError(f"{where}: no such file")
    with np.load(path) as z:
        keys = list(z.keys())
        vkey = _pick(_V_NAMES, keys, "voltage", where)
        ikey = _pick(_I_NAMES, keys, "current", where)
        v, i = z[vkey], z[ikey]
        file_rate = float(z["rate_hz"]) if "rate_hz" in keys else None
        start = float(z["start_s"]) if "start_s" in keys else 0.0
    if rate_hz is None:
        rate_hz = file_rate
    elif file_rate is not None and abs(file_rate - rate_hz) > 1e-6 * rate_hz:
        raise LoadProfileError(f"{where}: rate_hz={rate_hz} disagrees with the file ({file_rate} Hz)")
    if rate_hz is None:
        raise LoadProfileError(f"{where}: no sample rate; pass rate_hz=... or store rate_hz in the file")
    return SampledProfile(v, i, rate_hz, start_s=start, **kw)
