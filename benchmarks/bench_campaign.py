"""Campaign scaling: the same campaign on 1 and then 2 workers, as a wall-time ratio (JSON).

    .venv/bin/python benchmarks/bench_campaign.py [--scenarios 8] [--duration 5s]
                                                  [--backend dask|local|both] [--elf PATH]

The campaign is `--scenarios` metering-controller scenarios (build/fw/f103rb/
metering_controller.elf; the standard rooms, RS-485 noise bursts at seeded instants, energy
checked against the reference), one seed each. `dask` runs it on a distributed.LocalCluster of
1, then 2 worker processes (one thread each: a real scheduler, real workers, the ELF sent as a
task); `local` on metersim's local process pool with --workers 1, then 2. Reported per backend:
wall seconds for 1 and for 2 workers and `speedup` = wall(1) / wall(2) (2.0 is perfect scaling
on two cores). The trace hashes of both runs must agree (the campaign is deterministic), else
the benchmark says so and exits 1. Also reported: the CPU count and the load average before
the runs, so a reader can tell whether other jobs shared the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from metersim._campaign.runner import run_campaign
from metersim._campaign.spec import load_spec
from metersim._resources import firmware_path

SPEC = """\
name: bench
system: controller
firmware: {elf}
scenario:
  duration: {duration}
  price_cents_per_kWh: 60
  loads: {{standard: {{power_W: 2000}}}}
  faults: {{bus_noise: {{bursts: 3}}}}
  checks: {{energy: {{tolerance_pct: 1, abs_Wh: 2}}}}
seeds: {{count: {n}, first: 1}}
"""


def timed(spec, tmp: Path, tag: str, **kw) -> tuple[float, list[str]]:
    out = tmp / f"{tag}.parquet"
    wall0 = time.perf_counter()
    table = run_campaign(spec, out, quiet=True, **kw)
    wall = time.perf_counter() - wall0
    return wall, table.column("trace_sha1").to_pylist()


def bench_dask(spec, tmp: Path, workers: int) -> tuple[float, list[str]]:
    from distributed import LocalCluster

    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        return timed(spec, tmp, f"dask{workers}", scheduler=cluster.scheduler_address)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenarios", type=int, default=8)
    ap.add_argument("--duration", default="5s", help="virtual time per scenario")
    ap.add_argument("--backend", choices=("dask", "local", "both"), default="both")
    ap.add_argument("--elf", type=Path, default=Path(firmware_path("f103rb", "metering_controller")))
    a = ap.parse_args(argv)
    if not a.elf.is_file():
        sys.exit(f"{a.elf} is missing: build the firmware with `make -C firmware`")
    result = {"benchmark": "campaign", "machine": platform.node(), "cpus": os.cpu_count(),
              "loadavg_before": [round(x, 2) for x in os.getloadavg()],
              "scenarios": a.scenarios, "duration": a.duration}
    ok = True
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        f = tmp / "bench.yaml"
        f.write_text(SPEC.format(elf=a.elf, duration=a.duration, n=a.scenarios))
        spec = load_spec(f)
        backends = ("dask", "local") if a.backend == "both" else (a.backend,)
        for backend in backends:
            walls, hashes = {}, {}
            for w in (1, 2):
                if backend == "dask":
                    walls[w], hashes[w] = bench_dask(spec, tmp, w)
                else:
                    walls[w], hashes[w] = timed(spec, tmp, f"local{w}", workers=w)
            same = hashes[1] == hashes[2]
            ok &= same
            result[backend] = {"wall_s_1_worker": round(walls[1], 2), "wall_s_2_workers": round(walls[2], 2),
                               "speedup": round(walls[1] / walls[2], 2), "trace_hashes_agree": same}
    result["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
