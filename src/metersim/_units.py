"""Virtual time is an integer count of picoseconds; helpers to parse and print it.

Picoseconds keep every clock in this project exact enough: a 72 MHz cycle is 13 888.9 ps, and
consumers convert cycle counts to time from a fixed base (t0 + n * 1e12 // f) so rounding never
accumulates.
"""

from __future__ import annotations

import re

from metersim._errors import SetupError

PS_PER_S = 1_000_000_000_000
PS_PER_MS = 1_000_000_000
PS_PER_US = 1_000_000
PS_PER_NS = 1_000

_SUFFIX_PS = {
    "ps": 1,
    "ns": PS_PER_NS,
    "us": PS_PER_US,
    "µs": PS_PER_US,
    "ms": PS_PER_MS,
    "s": PS_PER_S,
    "min": 60 * PS_PER_S,
    "h": 3600 * PS_PER_S,
    "d": 86400 * PS_PER_S,
}
_NUM_UNIT = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([a-zµ]*)\s*$")
_HMS = re.compile(r"^\s*(\d+):(\d{1,2}):(\d{1,2}(?:\.\d*)?)\s*$")


def _decimal_to_ps(number: str, scale_ps: int) -> int:
    """Exact decimal string times an integer scale, rounded to the nearest picosecond."""
    whole, _, frac = number.partition(".")
    whole_i = int(whole or "0")
    if not frac:
        return whole_i * scale_ps
    num = int(frac) * scale_ps
    den = 10 ** len(frac)
    return whole_i * scale_ps + (num + den // 2) // den


def parse_time_ps(value: str | int | float) -> int:
    """Parse a duration into picoseconds.

    Accepts "1.5s", "10 ms", "250us", "3ns", "2h", Renode's "00:00:05" / "00:00:00.5", a bare
    number (seconds, as Renode's RunFor takes), or an int/float of seconds.
    """
    if isinstance(value, bool):
        raise SetupError(f"expected a duration, got {value!r}")
    if isinstance(value, int):
        return value * PS_PER_S
    if isinstance(value, float):
        if value < 0:
            raise SetupError(f"duration must not be negative: {value!r}")
        return round(value * PS_PER_S)
    text = str(value).strip().strip('"')
    m = _HMS.match(text)
    if m:
        h, mi, s = m.groups()
        return (int(h) * 3600 + int(mi) * 60) * PS_PER_S + _decimal_to_ps(s, PS_PER_S)
    m = _NUM_UNIT.match(text)
    if m:
        number, unit = m.groups()
        unit = unit or "s"
        if unit not in _SUFFIX_PS:
            raise SetupError(
                f"unknown time unit {unit!r} in {value!r}; expected one of {', '.join(_SUFFIX_PS)}")
        return _decimal_to_ps(number, _SUFFIX_PS[unit])
    raise SetupError(f"cannot read {value!r} as a duration; expected e.g. '1.5s', '10ms', '00:00:05'")


def format_time(ps: int) -> str:
    """Human-readable virtual time, e.g. '1.500000 s' or '12.345 ms'."""
    if ps >= PS_PER_S:
        return f"{ps / PS_PER_S:.6f} s"
    if ps >= PS_PER_MS:
        return f"{ps / PS_PER_MS:.3f} ms"
    if ps >= PS_PER_US:
        return f"{ps / PS_PER_US:.3f} us"
    return f"{ps / PS_PER_NS:.3f} ns"


def parse_frequency_hz(value: str | int) -> int:
    """'72MHz', '32.768kHz', '8000000' -> Hz (int)."""
    if isinstance(value, int):
        return value
    m = re.match(r"^\s*([0-9.]+)\s*(hz|khz|mhz|ghz)?\s*$", str(value).lower())
    if not m:
        raise SetupError(f"cannot read {value!r} as a frequency; expected e.g. '72MHz'")
    scale = {"hz": 1, None: 1, "khz": 10**3, "mhz": 10**6, "ghz": 10**9}[m.group(2)]
    return round(float(m.group(1)) * scale)


def cycles_to_ps(cycles: int, freq_hz: int) -> int:
    """Time taken by `cycles` at `freq_hz`, floored to a picosecond."""
    return cycles * PS_PER_S // freq_hz


def ps_to_cycles(ps: int, freq_hz: int) -> int:
    """Whole cycles at `freq_hz` that fit in `ps`."""
    return ps * freq_hz // PS_PER_S
