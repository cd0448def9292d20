"""Checkers for the fields of a campaign spec: each takes the Source, the field's path and the
value, and returns the value converted (durations to picoseconds ...) or raises SpecError naming
the field, its line and what was expected."""

from __future__ import annotations

import math

from metersim._campaign.spec_source import Source
from metersim._units import PS_PER_S, parse_time_ps

MISSING = object()


def get(src: Source, data: dict, path: tuple, key: str, default=MISSING):
    if key in data:
        return data[key]
    if default is MISSING:
        src.fail(path + (key,), "a value (this field is required)", has_value=False)
    return default


def mapping(src: Source, path: tuple, value, known: dict | None = None) -> dict:
    """A mapping; with `known` (key -> description) any other key is refused, naming them."""
    if not isinstance(value, dict):
        src.fail(path, "a mapping" + (f" with keys {', '.join(known)}" if known else ""), value)
    if known is not None:
        for k in value:
            if k not in known:
                src.fail(path + (k,), f"one of the keys {', '.join(known)}", k,
                         name=f"{'.'.join(map(str, path)) or '(top level)'} key {k!r}")
    return value


def number(src: Source, path: tuple, value, lo: float | None = None, hi: float | None = None,
           integer: bool = False, lo_open: bool = False) -> float | int:
    kind = "an integer" if integer else "a number"
    ok = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok or (not integer and not math.isfinite(value)):
        src.fail(path, kind + _range(lo, hi, lo_open), value)
    if (lo is not None and (value < lo or (lo_open and value == lo))) or (hi is not None and value > hi):
        src.fail(path, kind + _range(lo, hi, lo_open), value)
    return value


def _range(lo, hi, lo_open) -> str:
    if lo is not None and hi is not None:
        return f" in {lo}..{hi}" if not lo_open else f" > {lo} and <= {hi}"
    if lo is not None:
        return f" > {lo}" if lo_open else f" >= {lo}"
    return f" <= {hi}" if hi is not None else ""


def duration_ps(src: Source, path: tuple, value, lo_ps: int = 0) -> int:
    """A duration: '3s', '250ms', '1.5s' (or a number of seconds) -> picoseconds, > lo_ps."""
    expected = "a duration such as 3s, 250ms or 1.5 (seconds)"
    if isinstance(value, bool):
        src.fail(path, expected, value)
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            src.fail(path, expected, value)
        ps = round(value * PS_PER_S)
    elif isinstance(value, str):
        try:
            ps = parse_time_ps(value.strip())
        except Exception:
            src.fail(path, expected, value)
    else:
        src.fail(path, expected, value)
    if ps <= lo_ps:
        src.fail(path, f"a duration longer than {lo_ps / PS_PER_S:g} s", value)
    return ps


def boolean(src: Source, path: tuple, value) -> bool:
    if not isinstance(value, bool):
        src.fail(path, "true or false", value)
    return value


def choice(src: Source, path: tuple, value, options) -> str:
    if value not in options:
        src.fail(path, "one of " + ", ".join(repr(o) for o in options), value)
    return value


def sequence(src: Source, path: tuple, value, what: str = "a list") -> list:
    if not isinstance(value, list):
        src.fail(path, what, value)
    return value


def power_cuts(src: Source, cp: tuple, raw, kinds: tuple, default_gap: list) -> dict:
    """A power-cut system's `cuts` block: how many, the gap between two (drawn from [from, to]),
    the hold-up and the time off, and the weight of each kind of cut (`kinds`)."""
    c = mapping(src, cp, raw, {"count": "", "gap": "", "holdup_ms": "", "off_ms": "", "kinds": ""})
    gap = sequence(src, cp + ("gap",), c.get("gap", default_gap), "[from, to], two durations")
    if len(gap) != 2:
        src.fail(cp + ("gap",), "[from, to], two durations", gap)
    lo, hi = (duration_ps(src, cp + ("gap", k), gap[k]) for k in (0, 1))
    if lo >= hi:
        src.fail(cp + ("gap",), "from < to", gap)
    kp = cp + ("kinds",)
    given = mapping(src, kp, c.get("kinds", {"plain": 1}), {k: "" for k in kinds})
    weights = {k: number(src, kp + (k,), given.get(k, 0), 0, 1000) for k in kinds}
    if not any(weights.values()):
        src.fail(kp, "at least one kind with a weight > 0", given)
    return {"count": number(src, cp + ("count",), get(src, c, cp, "count"), 1, 1000, integer=True),
            "gap_ps": [lo, hi],
            "holdup_ms": number(src, cp + ("holdup_ms",), c.get("holdup_ms", 20.0), 0, 1000, lo_open=True),
            "off_ms": number(src, cp + ("off_ms",), c.get("off_ms", 300.0), 0, 60000, lo_open=True),
            "kinds": weights}
