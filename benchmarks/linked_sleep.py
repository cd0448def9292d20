"""Linked machines asleep: the meter (management unit and metrology unit on their UART cable) in
steady state, constant load, after the metrology unit's sync.

    .venv/bin/python benchmarks/linked_sleep.py [--seconds 20] [--quantum-us N] [--json]

Prints this process's CPU ms per virtual second of the timed run, the emulation's steps and
quanta (`Emulation._run_quantum` calls) per virtual second, late deliveries, and a digest of
what a user sees (the management unit's console lines with their times, every character on
the cable with its time, both units' reset counts), to compare two versions bit for bit.
`--quantum-us N` forces an N µs quantum (the `quantum` cap: smaller than the link's lookahead
is exact). Numbers are never asserted in tests (/work/shared/DESIGN.md).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))


def run(image: Path, seconds: int, quantum_us: int) -> dict:
    import metersim

    emu = metersim.Emulation(seed=1, quantum=f"{quantum_us}us" if quantum_us else None)
    meter = metersim.build_meter(emu, image, voltage_V=230.0, power_W=300.0,
                                 current_A=300.0 / 230.0, energy_kWh=1234.56)
    con = metersim.capture_uart(meter.mu)
    con.expect("metering: metrology unit synchronised", timeout="5s")
    emu.run_for("5s")
    counts = {"steps": 0, "quanta": 0}
    step, run_quantum = emu._step, emu._run_quantum

    def counted_step(limit_ps):
        counts["steps"] += 1
        return step(limit_ps)

    def counted_quantum(now, bound):
        counts["quanta"] += 1
        return run_quantum(now, bound)

    emu._step, emu._run_quantum = counted_step, counted_quantum
    c0 = time.process_time()
    emu.run_for(f"{seconds}s")
    cpu = time.process_time() - c0
    mu_uart, unit_uart = meter.mu["uart5"], meter.unit.machine["usart2"]
    seen = repr(([(ln.text, ln.start_ps, ln.end_ps) for ln in con.lines],
                 list(mu_uart.sent), list(unit_uart.sent),
                 meter.mu.reset_count, meter.unit.machine.reset_count)).encode()
    return {
        "virtual_s": seconds,
        "quantum_us": quantum_us or None,
        "cpu_ms_per_virtual_s": round(1000 * cpu / seconds, 2),
        "steps_per_virtual_s": round(counts["steps"] / seconds, 1),
        "quanta_per_virtual_s": round(counts["quanta"] / seconds, 1),
        "late_deliveries": emu.late_deliveries,
        "cable_characters": len(mu_uart.sent) + len(unit_uart.sent),
        "digest": hashlib.sha256(seen).hexdigest()[:16],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=20, help="virtual seconds timed")
    ap.add_argument("--quantum-us", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    from metersim._image.pack import pack

    with tempfile.TemporaryDirectory() as tmp:
        image = Path(tmp) / "meter_mu.bin"
        image.write_bytes(pack(REPO / "platforms/images/meter_mu.yaml"))
        out = run(image, args.seconds, args.quantum_us)
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        for k, v in out.items():
            print(f"{k}: {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
