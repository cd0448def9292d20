"""A run summary for logs and reports: virtual and wall time, speed, per-machine work, checks.

`format_summary(emulation, checks=None)` reads only public state: `emulation.clock.now_ps`,
`emulation.wall_s` (wall time spent inside run calls), and `machine.stats()` for every machine
(instructions, cycles, idle cycles, exceptions, core frequency). MIPS is instructions per wall
second; the ratio is virtual seconds per wall second (above 1: faster than real time).

Checks may be a mapping name -> passed, or an iterable of (name, passed[, detail]) tuples or of
objects with `name` and `passed` (and optionally `detail` / `message`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from metersim._traces.errors import TraceError
from metersim._units import PS_PER_S


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    detail: str = ""


def normalise_checks(checks: Any) -> list[CheckResult]:
    if checks is None:
        return []
    if isinstance(checks, Mapping):
        items: Iterable = checks.items()
    elif isinstance(checks, (str, bytes)):
        raise TraceError(f"checks must be a mapping or a list of results, got the string {checks!r}")
    else:
        items = checks
    out = []
    for item in items:
        if isinstance(item, CheckResult):
            out.append(item)
        elif isinstance(item, tuple) and len(item) in (2, 3):
            out.append(CheckResult(str(item[0]), bool(item[1]), str(item[2]) if len(item) == 3 else ""))
        elif hasattr(item, "name") and hasattr(item, "passed"):
            detail = getattr(item, "detail", None) or getattr(item, "message", None) or ""
            out.append(CheckResult(str(item.name), bool(item.passed), str(detail)))
        else:
            raise TraceError(f"cannot read {item!r} as a check: expected (name, passed[, detail]) "
                             "or an object with name and passed")
    return out


def _group(n: int) -> str:
    return f"{n:,}".replace(",", " ")


def format_summary(emulation, checks=None) -> str:
    """Multi-line text summary of a run (see the module docstring)."""
    clock = getattr(emulation, "clock", None)
    if clock is None or not hasattr(emulation, "machines"):
        raise TraceError(f"{emulation!r} is not an Emulation (no clock / machines)")
    virt_s = clock.now_ps / PS_PER_S
    wall_s = float(getattr(emulation, "wall_s", 0.0))
    ratio = f"{virt_s / wall_s:.2f}x real time" if wall_s > 0 else "n/a (no wall time measured)"
    lines = ["run summary",
             f"  virtual time : {virt_s:.6f} s",
             f"  wall time    : {wall_s:.3f} s",
             f"  speed        : {ratio}"]
    total = 0
    for m in emulation.machines:
        st = m.stats()
        instr = int(st.get("instructions", 0))
        total += instr
        mips = f"{instr / wall_s / 1e6:.1f} MIPS" if wall_s > 0 else "MIPS n/a"
        cycles = int(st.get("cycles", 0))
        idle = int(st.get("idle_cycles", 0))
        idle_pct = f", {100.0 * idle / cycles:.0f} % idle" if cycles else ""
        lines.append(f"  machine {st.get('machine', m.name)}: {_group(instr)} instructions, {mips}, "
                     f"core {st.get('freq_hz', 0) / 1e6:g} MHz, {st.get('exceptions', 0)} exceptions"
                     f"{idle_pct}")
    if len(emulation.machines) > 1:
        mips = f"{total / wall_s / 1e6:.1f} MIPS" if wall_s > 0 else "MIPS n/a"
        lines.append(f"  all machines: {_group(total)} instructions, {mips}")
    results = normalise_checks(checks)
    if checks is not None:
        failed = [c for c in results if not c.passed]
        lines.append(f"  checks       : {len(results) - len(failed)} passed, {len(failed)} failed")
        for c in results:
            lines.append(f"    {'PASS' if c.passed else 'FAIL'} {c.name}" + (f": {c.detail}" if c.detail else ""))
    return "\n".join(lines)
