"""Cost of recording code coverage: the same firmware run to the same console line with the
engine's block trace off and on (metersim._engine.debug, what `metersim coverage` and
`--metersim-coverage` use), side by side in one run, as JSON.

    .venv/bin/python benchmarks/bench_coverage.py [--repeat N] [--target f413rg|f103rb]

Workloads (build them with `make -C firmware`):
- bench_cpu: CPU-bound loops (few distinct blocks, run millions of times), 3 virtual seconds;
- rtos_sched: the RTOS scheduling test (context switches, round-robin slices, sleeps);
- unit_kernel: the RTOS's on-target unit tests (much distinct code, each run a few times).
Both modes must behave the same: identical console text, virtual time and instruction count
(`identical`; the script exits 1 otherwise). Reported per workload: host CPU seconds of one run
(process time, steadier than wall time on a shared machine; short runs are repeated within a
sample), best of N samples, off and on, `ratio_on_off`, blocks recorded, and the one-off cost
of turning them into line coverage (`map_s`, CPU seconds: reading the ELF's DWARF and mapping
the blocks).
Numbers are never asserted in tests.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from metersim._coverage.dwarf_map import _CACHE
from metersim._coverage.report import CoverageData
from metersim._engine.boards import machine_for_firmware
from metersim._engine.debug import Debugger
from metersim._engine.emulation import Emulation
from metersim._orchestration.testers import capture_uart

REPO = Path(__file__).resolve().parents[1]
#: (program, console text that ends the run or None: run for the virtual time given,
#:  runs per sample: short runs are repeated so a sample outlasts the machine's noise)
WORKLOADS = [("bench_cpu", None, "3s", 1), ("rtos_sched", "PASS", "60s", 10),
             ("unit_kernel", "mstest done", "60s", 30)]


def run_once(elf: Path, until: str | None, span: str, trace: bool) -> dict:
    emu = Emulation()
    m = machine_for_firmware(emu, str(elf))
    cap = capture_uart(m)
    dbg = Debugger.of(m)
    t0 = time.process_time()
    if trace:
        dbg.start_block_trace()
    if until is None:
        emu.run_for(span)
    else:
        emu.run_until(lambda: any(until in ln.text for ln in cap.lines[-2:]), timeout=span,
                      what=f"{until!r}")
    blocks = dbg.stop_block_trace() if trace else set()
    cpu_s = time.process_time() - t0
    return {"cpu_s": cpu_s, "text": cap.text, "instructions": m.cpu.instructions,
            "time_ps": emu.now_ps,
            "blocks": blocks}


def bench(target: str, repeat: int) -> list[dict]:
    rows = []
    for program, until, span, runs in WORKLOADS:
        elf = REPO / "build" / "fw" / target / f"{program}.elf"
        if not elf.is_file():
            sys.exit(f"{elf} is missing: build the firmware with `make -C firmware`")
        off, on = [], []
        for _ in range(repeat):   # alternate, so machine load drifts hit both modes alike
            for mode, out in ((False, off), (True, on)):
                sample = [run_once(elf, until, span, mode) for _ in range(runs)]
                out.append({**sample[0], "cpu_s": sum(r["cpu_s"] for r in sample),
                            "all": sample})
        best_off = min(r["cpu_s"] for r in off) / runs
        best_on = min(r["cpu_s"] for r in on) / runs
        _CACHE.clear()
        t0 = time.process_time()
        data = CoverageData.from_blocks(elf, on[0]["blocks"]).filtered(existing=True)
        map_s = time.process_time() - t0
        t = data.totals()
        rows.append({
            "workload": program, "target": target,
            "instructions": off[0]["instructions"],
            "off_cpu_s": round(best_off, 4), "on_cpu_s": round(best_on, 4),
            "ratio_on_off": round(best_on / best_off, 3),
            "blocks_recorded": len(on[0]["blocks"]),
            "map_s": round(map_s, 3),
            "lines_hit": t["lines_hit"], "lines_found": t["lines_found"],
            "identical": all(r["text"] == off[0]["text"] and r["time_ps"] == off[0]["time_ps"]
                             and r["instructions"] == off[0]["instructions"]
                             for s in off + on for r in s["all"]),
        })
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--target", choices=["f413rg", "f103rb"], default="f413rg")
    args = ap.parse_args()
    rows = bench(args.target, args.repeat)
    print(json.dumps(rows, indent=2))
    return 0 if all(r["identical"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
