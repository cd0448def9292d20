"""The board's supply as a test drives it: dips that only trip the PVD, and real power cuts.

A meter's power supply sags before it dies: VDD falls below the PVD threshold (the firmware's
power-fail interrupt, EXTI line 16), the MCU keeps running on the supply capacitors for a
hold-up time, then everything stops; with the mains back the board goes through a power-on
reset. The backup domain (LSE, RTC, backup registers) lives on the battery across the cut
(RCC `vbat`, true by default: set it false to see a meter without one).

- `power_dip(machine, low_V, duration)`: VDD at `low_V` for a while, then back (no cut).
- `power_cut(machine, holdup, off, low_V)`: VDD at `low_V` (PVD fires), `holdup` later the
  supply is gone (`Machine.power_off`), `off` later it is back (`Machine.power_on`).
Times are virtual ("20ms", "2s" or picoseconds). The machine's PWR block is found by its
`set_supply_V` method; a machine without one gets the cut without the warning.
"""

from __future__ import annotations

from typing import Any

from metersim._errors import SetupError
from metersim._units import parse_time_ps

SUPPLY_NOMINAL_V = 3.3


def _ps(value: Any, what: str) -> int:
    ps = value if isinstance(value, int) else parse_time_ps(value)
    if ps < 0:
        raise SetupError(f"{what} must not be negative, got {value!r}")
    return ps


def supply_of(machine):
    """The machine's PWR model (the block that watches VDD), or None."""
    for p in machine.peripherals.values():
        if callable(getattr(p, "set_supply_V", None)):
            return p
    return None


def set_supply_V(machine, volts: float) -> None:
    pwr = supply_of(machine)
    if pwr is None:
        raise SetupError(f"{machine.name} has no PWR block (nothing with set_supply_V) to "
                         "take the supply voltage")
    pwr.set_supply_V(volts)


def power_dip(machine, low_V: float = 2.0, duration: Any = "50ms") -> None:
    """VDD drops to `low_V` for `duration` and comes back, the machine keeps running."""
    emu = machine.emulation
    set_supply_V(machine, low_V)
    emu.run_until_time(emu.now_ps + _ps(duration, "duration"))
    set_supply_V(machine, SUPPLY_NOMINAL_V)


def power_cut(machine, holdup: Any = "20ms", off: Any = "2s", low_V: float = 2.0,
              at: Any = None) -> None:
    """A mains failure (at `at`, default now): VDD falls to `low_V` (the PVD interrupt), the MCU
    runs `holdup` longer on its capacitors, then has no power for `off`; then a power-on reset.
    Returns with the machine just powered on again."""
    emu = machine.emulation
    if not machine.powered:
        raise SetupError(f"power_cut: {machine.name} is already without power")
    if at is not None:
        at_ps = _ps(at, "at")
        if at_ps < emu.now_ps:
            raise SetupError(f"power cut at {at_ps} ps is in the past (now {emu.now_ps} ps)")
        emu.run_until_time(at_ps)
    supply_fail(machine, holdup, low_V)
    emu.run_until_time(emu.now_ps + _ps(off, "off"))
    supply_restore(machine)


def supply_fail(machine, holdup: Any = "20ms", low_V: float = 2.0) -> None:
    """The first half of a cut: VDD to `low_V` (PVD), `holdup` on the capacitors, power off."""
    emu = machine.emulation
    pwr = supply_of(machine)
    if pwr is not None:
        pwr.set_supply_V(low_V)
    emu.run_until_time(emu.now_ps + _ps(holdup, "holdup"))
    machine.power_off()


def supply_restore(machine) -> None:
    """The mains back: VDD nominal, then the power-on reset."""
    pwr = supply_of(machine)
    if pwr is not None:
        pwr.set_supply_V(SUPPLY_NOMINAL_V)
    machine.power_on()
