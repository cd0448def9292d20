"""Small versions of the reliability campaigns in benchmarks/campaigns/ (issue 17, metering
controller): power cuts inside EEPROM writes, Modbus RTU fuzzing, RS-485 noise and collisions,
determinism of reruns; and the fuzzer's independent expectation on frames from the standard."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from metersim._campaign.local_pool import job_of
from metersim._campaign.matrix import expand
from metersim._campaign.modbus_expect import expect, expect_stream, matches
from metersim._campaign.report import summarize
from metersim._campaign.spec import load_spec, parse_spec
from metersim._campaign.task import run_scenario
from metersim._protocols.modbus.framer import encode_adu

SPECS = Path(__file__).resolve().parents[2] / "benchmarks" / "campaigns"
HEAD = "firmware: {elf}\n"


def _run(text: str, elf: Path) -> list[dict]:
    spec = parse_spec(HEAD.format(elf=elf) + text)
    out = []
    for sc in expand(spec):
        res = run_scenario(job_of(sc), elf.read_bytes())
        assert res["error"] == "", res["error"]
        out.append(res)
    return out


def test_documented_campaigns_ask_for_the_issue_sizes(controller_elf):
    if not (SPECS / "../../build/fw/f103rb/metering_controller.elf").resolve().is_file():
        pytest.fail("build the firmware first (make firmware)")
    sizes = {}
    for name in ("power_cuts", "modbus_fuzz", "bus_faults", "determinism"):
        spec = load_spec(SPECS / f"{name}.yaml")
        sizes[name] = [sc.scenario for sc in expand(spec)]
    assert sum(s["faults"]["power_cuts"]["random"] for s in sizes["power_cuts"]) == 1000
    assert sum(s["frames"] for s in sizes["modbus_fuzz"]) == 100_000
    assert len(sizes["determinism"]) == 10


def test_expectation_follows_the_standard_not_the_firmware():
    # FC16 over 0x0009..0x000E: 0x000E is past the device settings, so 02 even with a bad value
    adu = encode_adu(1, bytes.fromhex("1000090006 0c 0002 0000 0000 0000 0000 0000"))
    assert expect(adu, 4) == ("exception", 0x90, 2)
    assert expect(encode_adu(1, bytes.fromhex("04000d0001")), 4) == ("read", 4, 1)
    assert expect(encode_adu(1, bytes.fromhex("04000e0001")), 4) == ("exception", 0x84, 2)
    assert expect(encode_adu(1, bytes.fromhex("04108f0001")), 4) == ("exception", 0x84, 2)   # room 4 of 4
    assert expect(encode_adu(1, bytes.fromhex("04108f0001")), 32) == ("read", 4, 1)
    assert expect(encode_adu(1, bytes.fromhex("0300000000")), 4) == ("exception", 0x83, 3)
    assert expect(encode_adu(0, bytes.fromhex("0300000001")), 4) == ("none",)
    assert expect(encode_adu(1, bytes.fromhex("2b0e0100")), 4) == ("exception", 0xAB, 1)
    assert expect(encode_adu(7, bytes.fromhex("0300000001")), 4) == ("none",)
    assert matches(("exception", 0x84, 2), [encode_adu(1, b"\x84\x03")]) != ""
    assert matches(("none",), [encode_adu(1, b"\x84\x02")]) != ""


def test_power_cuts_inside_eeprom_writes_keep_records_and_energy(controller_elf):
    (res,) = _run("""\
system: controller
scenario:
  duration: 45s
  loads: {constant: [{room: 0, power_W: 3000}, {room: 1, power_W: 1500}, {room: 2, power_W: 800, pf: 0.8}]}
  faults: {power_cuts: {random: 12, holdup_ms: 20, off_ms: 300, in_eeprom_write: 0.5}}
  checks: {energy: {tolerance_pct: 1, abs_Wh: 100}, max_loss_Wh_per_cut: 10, records: true, trips: none}
seeds: [5]
""", controller_elf)
    fig = res["figures"]
    assert res["passed"], res["failures"]
    assert fig["cuts"] == len(res["power_cuts_s"]) == 12 and fig["cuts_in_eeprom_write"] >= 3
    assert fig["cuts_measured"] == 12
    assert fig["corrupted_records"] == 0 and fig["max_loss_Wh_per_cut"] <= 10
    assert res["artefacts"]["console.txt"].decode().count("reset cause") == 13


def test_a_thousand_fuzzed_frames_get_the_standard_replies(controller_elf):
    (res,) = _run("system: controller-link\nscenario: {mode: fuzz, frames: 1000}\nseeds: [3]\n", controller_elf)
    fig = res["figures"]
    assert res["passed"], res["failures"]
    assert fig["frames"] >= 1000 and fig["wrong_replies"] == 0
    assert fig["exception_01"] > 0 and fig["exception_02"] > 0 and fig["exception_03"] > 0
    assert fig["watchdog_resets"] == 0 and fig["restarts"] == 0
    assert fig["silences_inside"] >= 5        # requests split by a silence, some past t1.5


def test_noise_and_collisions_never_pass_a_corrupted_value(controller_elf):
    (res,) = _run("system: controller-link\nscenario: {mode: bus_faults, episodes: 4, burst_ms: 20}\n"
                  "seeds: [2]\n", controller_elf)
    fig = res["figures"]
    assert res["passed"], res["failures"]
    assert fig["corrupted_accepted"] == 0 and fig["absent"] > 0     # the noise did hit replies
    assert fig["correct"] >= 4 and fig["worst_recovery_s"] <= 1.0


def test_reruns_give_identical_trace_hashes(controller_elf):
    rows = _run("""\
system: controller
scenario:
  duration: 4s
  loads: {standard: {power_W: 1500}}
  faults: {bus_noise: {bursts: 3}}
matrix: {repeat: [1, 2, 3]}
seeds: [7]
""", controller_elf)
    assert len({r["trace_sha1"] for r in rows}) == 1 and all(r["passed"] for r in rows)
    summary = summarize([{"index": i, "scenario_id": str(i), "params": "{}", "seed": 7, "passed": True,
                          "failures": [], "error": "", "artefacts": "", "wall_s": None, "virtual_s": None,
                          "max_abs_error_Wh": None, "trace_sha1": r["trace_sha1"],
                          "figures": json.dumps(r.get("figures") or {})} for i, r in enumerate(rows)])
    assert "distinct trace hashes per seed: 1" in summary


def test_expected_replies_to_a_request_with_a_silence_inside():
    """Serial line v1.02 §2.5.1.1: up to t1.5 inside is one frame, more is an incomplete one
    (no reply), t3.5 or more makes two frames (here two fragments: no reply either)."""
    read = encode_adu(1, bytes.fromhex("0400000001"))
    parts = [read[:3], read[3:]]
    assert expect_stream(parts, [1.4], 4) == [("read", 4, 1)]
    assert expect_stream(parts, [1.6], 4) == [("none",)]
    assert expect_stream(parts, [3.4], 4) == [("none",)]
    assert expect_stream(parts, [3.6], 4) == [("none",), ("none",)]
    assert expect_stream([read, read], [4.0], 4) == [("read", 4, 1)] * 2
    with pytest.raises(ValueError, match="within 0.05"):
        expect_stream(parts, [1.5], 4)
