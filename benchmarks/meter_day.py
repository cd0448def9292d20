"""The issue's whole-meter benchmark: the meter (management unit with its factory image and the
basic app, metrology unit on its UART) under a varying household load, a DL/T645 master on
RS-485 reading it every 15 minutes, for `--hours` of virtual time after start-up.

    .venv/bin/python benchmarks/meter_day.py [--hours 0.25] [--json]

The load (seeded, deterministic) changes every 5 virtual minutes: a base of 150..400 W, a
morning and an evening peak, a kettle or a heater now and then. Every 15 minutes the master
reads forward energy total and by rate (0001FF00), V, I, P and the date and time. Prints wall
and this process's CPU seconds per virtual hour, a virtual day and 40 virtual days at that
rate, each unit's instructions per virtual second, and the energy read at the end beside the
load's reference integral. Targets (issue 13): a day in <= 3 min, 40 days in <= 1 h of wall
time. Numbers are never asserted in tests (/work/shared/DESIGN.md).

`--repeat N` runs the same scenario N times and prints each run's `trace_sha1` (the management
unit's console lines with their instants, every DL/T645 answer, both units' EEPROMs, the NOR,
the instructions of both cores) and how many distinct ones there were: the determinism of the
meter's day scenario (issue 17), 1 when every rerun is identical.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

STEP_S = 300                   # the load changes every 5 minutes
READ_EVERY_S = 900             # the master reads every 15 minutes
READS = [0x0001FF00, 0x02010100, 0x02020100, 0x02030000, 0x04000101, 0x04000102]


def load_W(rng: random.Random, hour: float) -> float:
    """A household's power at `hour` of the day: base, morning and evening peaks, appliances."""
    w = rng.uniform(150.0, 400.0)
    if 6.5 <= hour < 8.5 or 18.0 <= hour < 22.0:
        w += rng.uniform(800.0, 1800.0)
    if rng.random() < 0.15:
        w += rng.choice([2000.0, 2500.0])          # kettle, heater
    return round(w, 1)


def machine_name() -> str:
    try:
        for ln in Path("/proc/cpuinfo").read_text().splitlines():
            if ln.startswith("model name"):
                return f"{os.cpu_count()} x {ln.split(':', 1)[1].strip()}"
    except OSError:
        pass
    return platform.processor() or platform.machine()


def run(image: Path, hours: float) -> dict:
    import metersim

    rng = random.Random(13)
    emu = metersim.Emulation(seed=1)
    meter = metersim.build_meter(emu, image, voltage_V=230.0, power_W=300.0,
                                 current_A=300.0 / 230.0, energy_kWh=1234.56)
    con = metersim.capture_uart(meter.mu)
    master = metersim.dlt645.Master(emu, meter.mu["rs485Bus"].attach_host("master", baud=2400,
                                                                             parity="E"))
    c0, w0 = time.process_time(), time.perf_counter()
    con.expect("display: ", timeout="5s")          # the display starts before the sync
    con.expect("metering: metrology unit synchronised", timeout="3s")
    boot = {"cpu_s": round(time.process_time() - c0, 2),
            "wall_s": round(time.perf_counter() - w0, 2)}
    mu0 = meter.mu.stats()["instructions"]
    un0 = meter.unit.machine.stats()["instructions"]
    ref0 = meter.unit.reference_Wh()
    kwh0 = master.read_value(0x00010000)
    c0, w0 = time.process_time(), time.perf_counter()
    total_s, t, reads = int(hours * 3600), 0, 0
    answers = []
    hour0 = 10.0                                   # the meter's clock starts at 10:00
    while t < total_s:
        if t % STEP_S == 0:
            w = load_W(rng, (hour0 + t / 3600.0) % 24.0)
            meter.unit.power_W = w
        if t % READ_EVERY_S == 0:
            for di in READS:
                answers.append(repr(master.read(di)))
                reads += 1
        nxt = min(total_s, (t // STEP_S + 1) * STEP_S)
        emu.run_for(f"{nxt - t}s")
        t = nxt
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    kwh1 = master.read_value(0x00010000)
    virt_h = total_s / 3600.0
    digest = hashlib.sha1()
    for ln in con.lines:
        digest.update(f"{ln.start_ps} {ln.end_ps} {ln.text}\n".encode())
    digest.update("\n".join(answers).encode())
    digest.update(bytes(meter.mu["eeprom"].read_image(0, 0x8000)))
    digest.update(bytes(meter.unit.eeprom.read_image(0, 0x8000)))
    digest.update(bytes(meter.mu["nor"].mem))
    digest.update(repr((meter.mu.stats()["instructions"],
                        meter.unit.machine.stats()["instructions"])).encode())
    out = {
        "machine": machine_name(),
        "virtual_hours": virt_h,
        "boot": boot,
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "wall_s_per_virtual_hour": round(wall / virt_h, 1),
        "cpu_s_per_virtual_hour": round(cpu / virt_h, 1),
        "projected_day_wall_min": round(wall / virt_h * 24 / 60, 1),
        "projected_40_days_wall_h": round(wall / virt_h * 24 * 40 / 3600, 2),
        "projected_day_cpu_min": round(cpu / virt_h * 24 / 60, 1),
        "projected_40_days_cpu_h": round(cpu / virt_h * 24 * 40 / 3600, 2),
        "mu_instructions_per_virtual_s": round((meter.mu.stats()["instructions"] - mu0) / total_s),
        "unit_instructions_per_virtual_s": round(
            (meter.unit.machine.stats()["instructions"] - un0) / total_s),
        "dlt645_reads": reads,
        "energy_read_kWh": float(kwh1 - kwh0),
        "reference_kWh": round((meter.unit.reference_Wh() - ref0) / 1000.0, 4),
        "trace_sha1": digest.hexdigest(),
    }
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=0.25)
    ap.add_argument("--json", action="store_true", help="print the figures as JSON only")
    ap.add_argument("--repeat", type=int, default=1, help="runs of the same scenario (determinism)")
    args = ap.parse_args()
    from metersim._image.pack import pack

    with tempfile.TemporaryDirectory() as tmp:
        image = Path(tmp) / "meter_mu.bin"
        image.write_bytes(pack(REPO / "platforms/images/meter_mu.yaml"))
        runs = [run(image, args.hours) for _ in range(max(1, args.repeat))]
    out = runs[0]
    if args.repeat > 1:
        hashes = [r["trace_sha1"] for r in runs]
        out["reruns"] = {"runs": len(hashes), "distinct_trace_sha1": len(set(hashes)),
                         "trace_sha1": hashes}
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"meter day: {out['virtual_hours']:g} virtual h on {out['machine']}")
    print(f"  wall {out['wall_s_per_virtual_hour']} s, CPU {out['cpu_s_per_virtual_hour']} s "
          f"per virtual hour")
    print(f"  a virtual day: {out['projected_day_wall_min']} min wall "
          f"({out['projected_day_cpu_min']} min CPU); 40 days: "
          f"{out['projected_40_days_wall_h']} h wall ({out['projected_40_days_cpu_h']} h CPU)")
    print(f"  instructions per virtual s: management unit {out['mu_instructions_per_virtual_s']}, "
          f"metrology unit {out['unit_instructions_per_virtual_s']}")
    print(f"  {out['dlt645_reads']} DL/T645 reads; energy read {out['energy_read_kWh']:.2f} kWh, "
          f"reference {out['reference_kWh']:.4f} kWh")
    print(f"  trace_sha1 {out['trace_sha1']}")
    if "reruns" in out:
        print(f"  {out['reruns']['runs']} runs, distinct trace hashes: "
              f"{out['reruns']['distinct_trace_sha1']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
