"""Renode's `Antmicro.Renode.Time.TimeInterval`, as far as pyrenode3 scripts use it."""

from __future__ import annotations

from typing import Any

from metersim._units import PS_PER_MS, PS_PER_S, PS_PER_US, format_time, parse_time_ps


class TimeInterval:
    """A virtual duration, exact to the picosecond."""

    __slots__ = ("ps",)

    def __init__(self, ps: int = 0):
        self.ps = int(ps)

    @classmethod
    def FromSeconds(cls, s: float) -> "TimeInterval":  # noqa: N802 - Renode's names
        return cls(round(float(s) * PS_PER_S))

    @classmethod
    def FromMilliseconds(cls, ms: float) -> "TimeInterval":  # noqa: N802
        return cls(round(float(ms) * PS_PER_MS))

    @classmethod
    def FromMicroseconds(cls, us: float) -> "TimeInterval":  # noqa: N802
        return cls(round(float(us) * PS_PER_US))

    @property
    def TotalSeconds(self) -> float:  # noqa: N802
        return self.ps / PS_PER_S

    @property
    def TotalMilliseconds(self) -> float:  # noqa: N802
        return self.ps / PS_PER_MS

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TimeInterval) and other.ps == self.ps

    def __hash__(self) -> int:
        return hash(self.ps)

    def __repr__(self) -> str:
        return f"TimeInterval({format_time(self.ps)})"

    __str__ = __repr__


def to_ps(value: Any, what: str = "timeout") -> int:
    """A TimeInterval, seconds (int/float, as pyrenode3's wrappers take them) or a duration
    string ("1.5s", "00:00:02") in picoseconds."""
    if isinstance(value, TimeInterval):
        return value.ps
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"{what} must not be negative, got {value}")
        return round(value * PS_PER_S)
    return parse_time_ps(value)
