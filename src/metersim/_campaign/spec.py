"""A campaign spec (YAML): the system, the firmware builds, a scenario template, a parameter
matrix and seeds, validated into a CampaignSpec. Every error names the file, the line, the field
and what was expected.

    name: tariffs-and-cuts
    system: controller                  # which system a scenario simulates (see systems.py)
    firmware:                           # name -> ELF, relative to this file
      v1: ../build/fw/f103rb/metering_controller.elf
    scenario:                           # the template every scenario starts from
      duration: 4s
      loads: {standard: {power_W: 1500}}
      faults: {power_cuts: {random: 1}}
      checks: {energy: {tolerance_pct: 0.5, abs_Wh: 2}, trips: none}
    matrix:                             # dotted scenario fields -> the values to try
      price_cents_per_kWh: [60, 120]
      loads.standard.power_W: [1000, 2000]
    seeds: {count: 5, first: 1}         # or a list: [1, 2, 3]
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from metersim._campaign import fields as F
from metersim._campaign.spec_source import Source, SpecError, parse_text, read_source
from metersim._campaign.systems import SYSTEMS, system_module

TOP = {"name": "campaign name", "system": "system", "firmware": "firmware builds",
       "scenario": "scenario template", "matrix": "parameter matrix", "seeds": "seeds",
       "retries": "retries per scenario"}
MAX_SCENARIOS = 1_000_000


@dataclass
class Firmware:
    name: str
    path: Path
    sha256: str


@dataclass
class CampaignSpec:
    name: str
    system: str
    firmware: dict          # name -> Firmware
    template: dict          # the raw template (for overrides by the matrix)
    matrix: list            # [(dotted key, [values])], in file order
    seeds: list
    retries: int
    source: Source
    file: Path


def load_spec(path: str | Path) -> CampaignSpec:
    data, src = read_source(path)
    return _validate(data, src, Path(path).resolve().parent, Path(path))


def parse_spec(text: str, base_dir: str | Path = ".", file: str = "<spec>") -> CampaignSpec:
    data, src = parse_text(text, file)
    return _validate(data, src, Path(base_dir), Path(file))


def _validate(d: dict, src: Source, base: Path, file: Path) -> CampaignSpec:
    F.mapping(src, (), d, TOP)
    name = d.get("name", file.stem)
    if not isinstance(name, str) or not name or any(c in name for c in "/\\ "):
        src.fail(("name",), "a name without spaces or slashes", name)
    system = F.get(src, d, (), "system")
    if system not in SYSTEMS:
        src.fail(("system",), "a system that exists: " + ", ".join(SYSTEMS) +
                 " (the whole cabinet is not simulated yet)", system)
    firmware = _firmware(src, F.get(src, d, (), "firmware"), base)
    template = F.get(src, d, (), "scenario")
    F.mapping(src, ("scenario",), template)
    matrix = []
    mp = ("matrix",)
    for key, values in F.mapping(src, mp, d.get("matrix", {})).items():
        if not isinstance(key, str) or not all(key.split(".")):
            src.fail(mp + (key,), "a dotted scenario field such as loads.standard.power_W", key,
                     name=f"matrix key {key!r}")
        if not isinstance(values, list) or not values:
            src.fail(mp + (key,), "a non-empty list of values", values)
        matrix.append((key, values))
    seeds = _seeds(src, d.get("seeds", [1]))
    retries = F.number(src, ("retries",), d.get("retries", 2), 0, 100, integer=True)
    n = len(seeds)
    for _, values in matrix:
        n *= len(values)
    if n > MAX_SCENARIOS:
        src.fail(("matrix",), f"at most {MAX_SCENARIOS} scenarios (matrix times seeds)", n)
    spec = CampaignSpec(name, system, firmware, template, matrix, seeds, retries, src, file)
    from metersim._campaign.matrix import combinations
    for combo in combinations(spec):          # every combination must be a valid scenario
        scenario_of(spec, combo)
    return spec


def _firmware(src: Source, v, base: Path) -> dict:
    if isinstance(v, str):
        v = {"main": v}
        src.lines[("firmware", "main")] = src.line(("firmware",))
    v = F.mapping(src, ("firmware",), v)
    if not v:
        src.fail(("firmware",), "at least one firmware build: name: path/to.elf", v)
    out = {}
    for name, path in v.items():
        p = ("firmware", name)
        if not isinstance(path, str):
            src.fail(p, "the path of a firmware ELF", path)
        full = (base / path).resolve()
        try:
            data = full.read_bytes()
        except OSError:
            src.fail(p, f"an ELF file that exists (looked at {full}; build it with `make firmware`)", path)
        if data[:4] != b"\x7fELF":
            src.fail(p, f"an ELF file ({full} is not one)", path)
        out[str(name)] = Firmware(str(name), full, hashlib.sha256(data).hexdigest())
    return out


def _seeds(src: Source, v) -> list[int]:
    p = ("seeds",)
    if isinstance(v, dict):
        F.mapping(src, p, v, {"count": "", "first": ""})
        count = F.number(src, p + ("count",), F.get(src, v, p, "count"), 1, MAX_SCENARIOS, integer=True)
        first = F.number(src, p + ("first",), v.get("first", 1), 0, 2**31, integer=True)
        return list(range(first, first + count))
    seeds = F.sequence(src, p, v, "a list of integer seeds or {count: N, first: S}")
    if not seeds:
        src.fail(p, "at least one seed", v)
    for i, s in enumerate(seeds):
        F.number(src, p + (i,), s, 0, 2**31, integer=True)
    if len(set(seeds)) != len(seeds):
        src.fail(p, "distinct seeds", v)
    return list(seeds)


def scenario_of(spec: CampaignSpec, combo: dict) -> dict:
    """The template with the matrix values of `combo` set, validated by the system. A bad value
    is reported at its line in the matrix."""
    import copy

    src = spec.source
    t = copy.deepcopy(spec.template)
    lines = dict(src.lines)
    aliases = {}
    for key, (value, index) in combo.items():
        parts = key.split(".")
        node = t
        for p in parts[:-1]:
            nxt = node.get(p) if isinstance(node, dict) else None
            if nxt is None:
                nxt = node[p] = {}
            if not isinstance(nxt, dict):
                src.fail(("matrix", key), f"a field inside the mapping scenario.{'.'.join(parts[:parts.index(p) + 1])}",
                         key, name=f"matrix key {key!r}")
            node = nxt
        node[parts[-1]] = value
        where = src.lines.get(("matrix", key, index), src.line(("matrix", key)))
        for k in [k for k in lines if k[:len(parts) + 1] == ("scenario", *parts)]:
            del lines[k]
        lines[("scenario", *parts)] = where
        aliases[("scenario", *parts)] = f"matrix {key}[{index}]"
    return system_module(spec.system).validate(Source(src.file, lines, aliases), ("scenario",), t,
                                               list(spec.firmware))
