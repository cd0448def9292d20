"""A controller scenario with a power cut at a given time: the cut is made, the controller saves
its totals, restarts, counts the failure (Modbus check) and its energy stays on the reference."""

from __future__ import annotations

from metersim._campaign.local_pool import job_of
from metersim._campaign.matrix import expand
from metersim._campaign.spec import parse_spec
from metersim._campaign.task import run_scenario

SPEC = """\
system: controller
firmware: {elf}
scenario:
  duration: 5.5s
  loads: {{constant: [{{room: 0, power_W: 3000}}, {{room: 2, power_W: 2000, pf: 0.8}}]}}
  faults: {{power_cuts: {{at: [2s], holdup_ms: 20, off_ms: 500}}}}
  checks: {{energy: {{tolerance_pct: 1, abs_Wh: 2}}, trips: none, modbus: true}}
seeds: [3]
"""


def test_a_power_cut_is_made_survived_and_counted(controller_elf):
    spec = parse_spec(SPEC.format(elf=controller_elf))
    (sc,) = expand(spec)
    res = run_scenario(job_of(sc), controller_elf.read_bytes())
    assert res["error"] == "" and res["passed"], res["failures"]
    assert res["power_cuts_s"] == [2.0]
    console = res["artefacts"]["console.txt"].decode()
    assert "power failing: totals saved" in console and console.count("reset cause") == 2
    assert res["reference_Wh"][0] > 2.5 and res["energy_Wh"][0] >= 1.0   # 3 kW for ~3.5 s, less the outage
    assert res["reference_Wh"][1] == 0.0 and res["trips"] == ["none"] * 4
