"""Appliance models for `Supply.profile(...)`: what current each draws from the voltage it sees.

Every appliance is constant-impedance (its current scales with the supply voltage, so a sag
lowers it and an outage stops it) and is on according to a schedule of (on_s, off_s) intervals.
Current phasors are per harmonic order, in the same sin() basis as the voltage, so a lagging
(inductive) current has a phase below the voltage's.

- `ResistiveHeater`: i = v / R with R = rated_V^2 / power_W; unity power factor, and it draws
  harmonic current in proportion to any voltage harmonics.
- `Motor`: fundamental current at an inductive power factor (0.8 lagging by default), with an
  optional inrush: the current is multiplied by 1 + (k - 1) exp(-3 t / inrush_s) during
  `inrush_s` after each start, as a staircase of `inrush_steps` constant steps (the profile is
  piecewise constant, so its energy stays exact), and by 1 afterwards.
- `SwitchModeSupply`: a capacitor-input rectifier: a slightly leading fundamental (displacement
  power factor 0.95 by default) plus odd harmonics of the current (3rd, 5th, 7th ... as fractions
  of the fundamental), phased as narrow pulses centred near the voltage peak. On a clean supply
  the harmonics carry no active power, so the true power factor is low (about 0.6 with the
  defaults) while the active power is the rated one.
- `Kettle`: a resistive heater that boils for `boil_s` from each start time.
"""

from __future__ import annotations

import math
from typing import Sequence

from metersim._orchestration.load_profile import LoadProfileError


def _schedule(schedule) -> tuple[tuple[float, float], ...]:
    if schedule is None:
        return ((0.0, math.inf),)
    out = []
    for item in schedule:
        try:
            on, off = float(item[0]), float(item[1])
        except (TypeError, ValueError, IndexError):
            raise LoadProfileError(f"schedule entries are (on_s, off_s), got {item!r}") from None
        if on < 0 or off <= on:
            raise LoadProfileError(f"schedule entry {item!r}: need 0 <= on_s < off_s")
        out.append((on, off))
    out.sort()
    for (a0, a1), (b0, _) in zip(out, out[1:]):
        if b0 < a1:
            raise LoadProfileError(f"schedule entries overlap: ({a0}, {a1}) and starting {b0}")
    return tuple(out)


class Appliance:
    """Base: a schedule and a rated voltage (None = the supply's nominal voltage)."""

    def __init__(self, power_W: float, rated_V: float | None = None, schedule=None):
        if not (power_W >= 0 and math.isfinite(power_W)):
            raise LoadProfileError(f"{type(self).__name__}: power must be >= 0 W, got {power_W!r}")
        if rated_V is not None and not rated_V > 0:
            raise LoadProfileError(f"{type(self).__name__}: rated voltage must be > 0 V")
        self.power_W = float(power_W)
        self.rated_V = rated_V
        self.schedule = _schedule(schedule)

    def on_since(self, t_s: float) -> float | None:
        """Switch-on time of the interval containing t, or None when off."""
        for on, off in self.schedule:
            if on <= t_s < off:
                return on
        return None

    def breakpoints(self) -> list[float]:
        pts = []
        for on, off in self.schedule:
            pts.append(on)
            if math.isfinite(off):
                pts.append(off)
        return pts

    def current_phasors(self, t_s: float, v: dict[int, complex], scale: float,
                        nominal_V: float) -> dict[int, complex]:
        on = self.on_since(t_s)
        if on is None:
            return {}
        return self._current(t_s - on, v, self.rated_V or nominal_V)

    def _current(self, t_on_s: float, v: dict[int, complex], rated_V: float) -> dict[int, complex]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.power_W:g} W)"


class ResistiveHeater(Appliance):
    def _current(self, t_on_s, v, rated_V):
        if self.power_W == 0:
            return {}
        r_ohm = rated_V * rated_V / self.power_W
        return {order: ph / r_ohm for order, ph in v.items()}


class Kettle(ResistiveHeater):
    def __init__(self, power_W: float = 2200.0, boil_s: float = 180.0,
                 starts_s: Sequence[float] = (0.0,), rated_V: float | None = None):
        if not boil_s > 0:
            raise LoadProfileError(f"Kettle: boil time must be > 0 s, got {boil_s!r}")
        super().__init__(power_W, rated_V, [(s, s + boil_s) for s in starts_s])
        self.boil_s = float(boil_s)


class Motor(Appliance):
    def __init__(self, power_W: float, pf: float = 0.8, rated_V: float | None = None,
                 schedule=None, inrush_factor: float = 1.0, inrush_s: float = 0.0,
                 inrush_steps: int = 8):
        super().__init__(power_W, rated_V, schedule)
        if not 0.0 < pf <= 1.0:
            raise LoadProfileError(f"Motor: power factor must be in (0, 1], got {pf!r}")
        if inrush_factor < 1.0 or inrush_s < 0 or inrush_steps < 1:
            raise LoadProfileError("Motor: inrush_factor >= 1, inrush_s >= 0, inrush_steps >= 1")
        self.pf = float(pf)
        self.inrush_factor = float(inrush_factor)
        self.inrush_s = float(inrush_s)
        self.inrush_steps = int(inrush_steps)

    def _has_inrush(self) -> bool:
        return self.inrush_factor > 1.0 and self.inrush_s > 0

    def breakpoints(self) -> list[float]:
        pts = super().breakpoints()
        if self._has_inrush():
            step = self.inrush_s / self.inrush_steps
            for on, off in self.schedule:
                pts.extend(t for t in (on + k * step for k in range(1, self.inrush_steps + 1)) if t < off)
        return pts

    def inrush_multiplier(self, t_on_s: float) -> float:
        """Current multiplier t_on_s after switch-on (the staircase value)."""
        if not self._has_inrush() or t_on_s >= self.inrush_s:
            return 1.0
        step = self.inrush_s / self.inrush_steps
        mid = (math.floor(t_on_s / step) + 0.5) * step
        return 1.0 + (self.inrush_factor - 1.0) * math.exp(-3.0 * mid / self.inrush_s)

    def _current(self, t_on_s, v, rated_V):
        v1 = v.get(1, 0j)
        if abs(v1) == 0 or self.power_W == 0:
            return {}
        i_rated = self.power_W / (rated_V * self.pf)
        mag = i_rated * abs(v1) / rated_V * self.inrush_multiplier(t_on_s)
        phase = math.atan2(v1.imag, v1.real) - math.acos(self.pf)
        return {1: mag * complex(math.cos(phase), math.sin(phase))}


class SwitchModeSupply(Appliance):
    DEFAULT_HARMONICS = ((3, 0.80), (5, 0.60), (7, 0.40), (9, 0.20), (11, 0.10))

    def __init__(self, power_W: float, displacement_pf: float = 0.95,
                 harmonics: Sequence[tuple[int, float]] = DEFAULT_HARMONICS,
                 rated_V: float | None = None, schedule=None):
        super().__init__(power_W, rated_V, schedule)
        if not 0.0 < displacement_pf <= 1.0:
            raise LoadProfileError(f"SwitchModeSupply: displacement PF must be in (0, 1]")
        for order, frac in harmonics:
            if order < 2 or frac < 0:
                raise LoadProfileError(f"SwitchModeSupply: bad harmonic ({order}, {frac})")
        self.displacement_pf = float(displacement_pf)
        self.harmonics = tuple((int(o), float(f)) for o, f in harmonics)

    def _current(self, t_on_s, v, rated_V):
        v1 = v.get(1, 0j)
        if abs(v1) == 0 or self.power_W == 0:
            return {}
        i1 = self.power_W / (rated_V * self.displacement_pf) * abs(v1) / rated_V
        alpha = math.atan2(v1.imag, v1.real)
        delta = math.acos(self.displacement_pf)  # leading
        centre = math.pi / 2 - alpha - delta      # fundamental phase where the pulse peaks
        out = {}
        for order, frac in ((1, 1.0),) + self.harmonics:
            phase = math.pi / 2 - order * centre
            out[order] = out.get(order, 0j) + i1 * frac * complex(math.cos(phase), math.sin(phase))
        return out

    def true_pf(self) -> float:
        """Active power over apparent power on an undistorted supply."""
        thd2 = sum(f * f for _, f in self.harmonics)
        return self.displacement_pf / math.sqrt(1.0 + thd2)
