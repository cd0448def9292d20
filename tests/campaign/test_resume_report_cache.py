"""`campaign resume` runs only what is missing; the report summarises and plots a results
table; a failed scenario keeps its artefacts; workers cache ELFs by content hash."""

from __future__ import annotations

import hashlib
import json

import pytest

from metersim._campaign.elf_cache import cached_elf
from metersim._campaign.results import read_table
from metersim._cli import main
from metersim._errors import SetupError

SPEC = """\
name: small
system: controller
firmware: {elf}
scenario:
  duration: 2.5s
  loads:
    constant: [{{room: 0, power_W: 3000}}, {{room: 1, power_W: 1200, pf: 0.8}}]
  checks: {{energy: {{tolerance_pct: 1, abs_Wh: 2}}}}
seeds: {seeds}
"""


def test_resume_skips_the_scenarios_already_done(controller_elf, tmp_path, capsys):
    spec, out = tmp_path / "small.yaml", tmp_path / "small.parquet"
    spec.write_text(SPEC.format(elf=controller_elf, seeds="[1, 2]"))
    assert main(["campaign", "run", str(spec), "--out", str(out), "--workers", "2"]) == 0
    first = {r["seed"]: r for r in read_table(out).to_pylist()}
    assert main(["campaign", "run", str(spec), "--out", str(out)]) == 3     # refuses to overwrite
    assert "campaign resume" in capsys.readouterr().err
    spec.write_text(SPEC.format(elf=controller_elf, seeds="[1, 2, 3]"))    # one more seed
    assert main(["campaign", "resume", str(spec), "--out", str(out), "--workers", "2"]) == 0
    rows = {r["seed"]: r for r in read_table(out).to_pylist()}
    assert sorted(rows) == [1, 2, 3]
    assert rows[1] == first[1] and rows[2] == first[2]       # not run again: same wall times too
    # nothing in this scenario is seeded (no noise, no random cuts): the new run, in another
    # process, observes exactly what the first two did
    assert rows[3]["passed"] and rows[3]["trace_sha1"] == rows[1]["trace_sha1"] == rows[2]["trace_sha1"]
    assert rows[3]["reference_Wh"][0] > 0.5                   # the 3 kW room drew its energy


def test_report_prints_the_summary_and_writes_plots(local_table, tmp_path, capsys):
    table, out = local_table
    rows = table.to_pylist()
    assert main(["campaign", "report", str(out), "--plots", str(tmp_path / "plots")]) == 1   # some failed
    text = capsys.readouterr().out
    passed = sum(r["passed"] for r in rows)
    assert f"20 scenarios: {passed} passed, {20 - passed} failed" in text
    # a 300 W load limit (1 s delay) trips the busiest room at 2500 W within the run
    assert "settings.load_limit_W = 300: 5/10 passed" in text
    assert "settings.load_limit_W = 0: 10/10 passed" in text
    assert "loads.standard.power_W = 2500: 5/10 passed" in text
    assert "expected 'none', got 'load limit'" in text
    for name in ("energy_error.png", "pass_by_parameter.png", "wall_vs_virtual.png"):
        assert (tmp_path / "plots" / name).read_bytes()[:4] == b"\x89PNG"


def test_a_failed_scenario_keeps_its_artefacts(local_table):
    table, out = local_table
    failed = [r for r in table.to_pylist() if not r["passed"]]
    assert failed
    for r in failed:
        d = out.parent / r["artefacts"]
        assert "reset cause" in (d / "console.txt").read_text()          # the controller's console
        assert len((d / "eeprom.bin").read_bytes()) == 32768
        assert json.loads((d / "scenario.json").read_text())["failures"] == r["failures"]
    assert all(r["artefacts"] == "" for r in table.to_pylist() if r["passed"])


def test_the_elf_cache_writes_once_by_hash_and_refuses_corrupted_bytes(tmp_path, monkeypatch):
    monkeypatch.setenv("METERSIM_ELF_CACHE", str(tmp_path / "cache"))
    data = b"\x7fELF" + bytes(100)
    h = hashlib.sha256(data).hexdigest()
    p = cached_elf(h, data)
    assert p.read_bytes() == data and p.name == f"{h}.elf"
    assert cached_elf(h, None) == p                  # reused without the bytes
    with pytest.raises(SetupError, match="corrupted in transit"):
        cached_elf(hashlib.sha256(b"other").hexdigest(), data)
    with pytest.raises(SetupError, match="not in the ELF cache"):
        cached_elf("0" * 64, None)
