"""The results table: one row per scenario, in a Parquet file (pyarrow). While a campaign runs,
each finished row is appended to a journal beside it (`<out>.partial.jsonl`), so an interrupted
campaign keeps what it did and `campaign resume` skips it; the Parquet file is written at the
end and the journal removed. A failed scenario's artefacts (console, EEPROM image, traceback)
go to `<out stem>.artefacts/<scenario id>/`, and its row names that folder relative to the
Parquet file."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from metersim._errors import SetupError

SCHEMA = pa.schema([
    ("index", pa.int64()), ("scenario_id", pa.string()), ("system", pa.string()),
    ("firmware", pa.string()), ("firmware_sha256", pa.string()), ("params", pa.string()),
    ("seed", pa.int64()), ("passed", pa.bool_()), ("failures", pa.list_(pa.string())),
    ("error", pa.string()), ("energy_Wh", pa.list_(pa.float64())),
    ("reference_Wh", pa.list_(pa.float64())), ("error_Wh", pa.list_(pa.float64())),
    ("max_abs_error_Wh", pa.float64()), ("trips", pa.list_(pa.string())),
    ("power_cuts_s", pa.list_(pa.float64())), ("virtual_s", pa.float64()),
    ("instructions", pa.int64()), ("wall_s", pa.float64()), ("trace_sha1", pa.string()),
    ("artefacts", pa.string()),
    ("figures", pa.string()),       # system-specific counts (JSON object), e.g. fuzz replies
])
WALL_COLUMNS = ("wall_s",)       # the only columns that differ between two runs of a campaign


def journal_path(out: Path) -> Path:
    return out.with_name(out.name + ".partial.jsonl")


def artefacts_dir(out: Path) -> Path:
    return out.with_name(out.stem + ".artefacts")


def make_row(sc, res: dict, out: Path) -> dict:
    """A table row from a Scenario and its result; writes the artefacts of a failure."""
    energy, ref = res.get("energy_Wh"), res.get("reference_Wh")
    err = None
    if energy and ref:
        err = [None if e is None else round(e - r, 6) for e, r in zip(energy, ref)]
    known = [abs(e) for e in err or [] if e is not None]
    artefacts = ""
    if not res.get("passed") and res.get("artefacts"):
        d = artefacts_dir(out) / sc.scenario_id
        d.mkdir(parents=True, exist_ok=True)
        for name, data in res["artefacts"].items():
            (d / name).write_bytes(data)
        (d / "scenario.json").write_text(json.dumps(
            {"scenario_id": sc.scenario_id, "params": sc.params, "seed": sc.seed,
             "firmware": sc.firmware, "scenario": sc.scenario, "failures": res.get("failures", [])},
            indent=2, sort_keys=True))
        artefacts = str(d.relative_to(out.parent))
    return {"index": sc.index, "scenario_id": sc.scenario_id, "system": sc.system,
            "firmware": sc.firmware, "firmware_sha256": sc.firmware_sha256,
            "params": sc.params_json, "seed": sc.seed, "passed": bool(res.get("passed")),
            "failures": list(res.get("failures", [])), "error": res.get("error", ""),
            "energy_Wh": energy, "reference_Wh": ref, "error_Wh": err,
            "max_abs_error_Wh": max(known) if known else None,
            "trips": res.get("trips"), "power_cuts_s": res.get("power_cuts_s"),
            "virtual_s": res.get("virtual_s"), "instructions": res.get("instructions"),
            "wall_s": res.get("wall_s"), "trace_sha1": res.get("trace_sha1", ""),
            "artefacts": artefacts, "figures": json.dumps(res.get("figures") or {}, sort_keys=True)}


class Journal:
    """Rows appended as they finish (one JSON object a line)."""

    def __init__(self, out: Path):
        self.path = journal_path(out)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._f = self.path.open("a")

    def append(self, row: dict) -> None:
        self._f.write(json.dumps(row) + "\n")
        self._f.flush()

    def close(self) -> None:
        self._f.close()


def read_rows(out: Path) -> list[dict]:
    """Rows already done: the Parquet file's, then the journal's (a torn last line is ignored)."""
    rows = {}
    if out.exists():
        for r in read_table(out).to_pylist():
            rows[r["scenario_id"]] = r
    j = journal_path(out)
    if j.exists():
        for line in j.read_text().splitlines():
            try:
                r = json.loads(line)
            except json.JSONDecodeError:
                continue
            rows[r["scenario_id"]] = r
    return list(rows.values())


def write_table(rows: list[dict], out: Path) -> pa.Table:
    rows = sorted(rows, key=lambda r: r["index"])
    table = pa.Table.from_pylist(rows, schema=SCHEMA)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    pq.write_table(table, tmp)
    tmp.replace(out)
    j = journal_path(out)
    if j.exists():
        j.unlink()
    return table


def read_table(path: str | Path) -> pa.Table:
    path = Path(path)
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as e:
        raise SetupError(f"{path}: not a campaign results file ({e})") from None
    missing = [n for n in SCHEMA.names if n not in table.column_names and n != "figures"]
    if missing:
        raise SetupError(f"{path}: not a campaign results file (columns missing: {', '.join(missing)})")
    return table


def without_wall_times(table: pa.Table) -> pa.Table:
    return table.drop_columns([c for c in WALL_COLUMNS if c in table.column_names])


