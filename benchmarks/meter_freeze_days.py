"""The basic app's freezing over 40 days with 10 seeded power-downs: the check of
tests/meter/test_meter_basic_freeze.py (5 days, 3 power-downs) at the issue's full size, timed.

    .venv/bin/python benchmarks/meter_freeze_days.py [--days 40] [--power-downs 10] [--seed 40]

The days are compressed as in the test (tests/meter/meter_days.py): the meter runs for real in
a window of about 25 s around each midnight it is up across, under a seeded load of 6..12 kW;
between windows the whole meter is off and its battery-backed clocks are moved on. The 10
seeded power-downs are the outages that span one or two midnights (missed: frozen late); the
outages between two consecutive windows are power-downs too for the meter, and all of them
are checked against its power-down records (the count, and the last 10 records' times).
Checked at the end, over DL/T645 on RS-485: every daily freeze's instant and energy (live: the
reference integral at midnight; supplementary: the energy at the power-down), the settlements
at the month starts, the power-down records. Prints one JSON line; exit status 1 when a check
failed. Figures: README.md ("Performance").
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from metersim._image.pack import pack  # noqa: E402

from tests.meter.meter_days import MeterDays, bcd_time, block_kWh, rates_add_up  # noqa: E402


def plan(days: int, power_downs: int, rng: random.Random) -> set[int]:
    """The midnights (0-based) the meter is off across: power_downs outages of 1 or 2."""
    missed: set[int] = set()
    runs = 0
    while runs < power_downs:
        k, span = rng.randint(1, days - 3), rng.choice((1, 1, 2))
        ks = set(range(k, k + span))
        if ks & missed or k - 1 in missed or k + span in missed:
            continue
        missed |= ks
        runs += 1
    return missed


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=40)
    ap.add_argument("--power-downs", type=int, default=10)
    ap.add_argument("--seed", type=int, default=40)
    args = ap.parse_args(argv)
    if not 5 <= args.days <= 62 or not 1 <= args.power_downs <= args.days // 4:
        ap.error("--days 5..62 (the daily ring), --power-downs 1..days/4")

    rng = random.Random(args.seed)
    image = Path("/tmp") / f"meter_freeze_days_{args.seed}.bin"
    image.write_bytes(pack(ROOT / "platforms/images/meter_mu.yaml"))
    first = datetime(2026, 12, 28)
    mids = [first + timedelta(days=k) for k in range(args.days)]
    missed = plan(args.days, args.power_downs, rng)
    up = [k for k in range(args.days) if k not in missed]

    wall0, cpu0 = time.perf_counter(), time.process_time()
    d = MeterDays(image, mids[0] - timedelta(seconds=12), seed=args.seed)
    loads = []
    for i, k in enumerate(up):
        loads.append(rng.uniform(6000.0, 12000.0))
        d.load(loads[-1])
        d.run_until(mids[k] + timedelta(seconds=rng.randint(6, 10)))
        if i + 1 < len(up):
            d.outage(mids[up[i + 1]] - timedelta(seconds=rng.randint(14, 18)))
    run_wall = time.perf_counter() - wall0

    failures = []

    def check(ok, what):
        if not ok:
            failures.append(what)

    tol = Decimal("0.01") + Decimal(max(loads) * 2.5 / 3.6e6).quantize(Decimal("0.0001"))
    n = args.days
    for k in range(n):
        nn = n - k
        t = bcd_time(d.read(0x05060000 | nn))
        block = block_kWh(d.read(0x05060100 | nn))
        check(t == mids[k], f"daily {nn}: time {t}, expected {mids[k]}")
        if k in missed:
            cut = max(c for c, back in d.outages if c < mids[k])
            ref = d.reference_kWh(cut)
            check(abs(block[0] - ref) <= Decimal("0.01"), f"supplementary {mids[k]}: {block[0]} vs {ref}")
        else:
            ref = d.reference_kWh(mids[k])
            check(abs(block[0] - ref) <= tol, f"daily {mids[k]}: {block[0]} vs {ref}")
        check(rates_add_up(block, d.energy_kWh),
              f"daily {mids[k]}: rates {block[1:]} do not add up to {block[0]}")
    month_starts = [k for k in range(n) if mids[k].day == 1]
    for ss, k in enumerate(reversed(month_starts), start=1):
        check(block_kWh(d.read(0x0001FF00 | ss)) == block_kWh(d.read(0x05060100 | (n - k))),
              f"settlement {ss} differs from the daily freeze of {mids[k]}")
    count = int(d.read(0x03110000)[::-1].hex())
    check(count == len(d.outages), f"power-down count {count}, outages {len(d.outages)}")
    for nn, (cut, back) in enumerate(reversed(d.outages[-10:]), start=1):
        raw = d.read(0x03110000 | nn)
        start, end = bcd_time(raw[:6]), bcd_time(raw[6:])
        check(cut - timedelta(seconds=61) <= start <= cut and back <= end <= back + timedelta(seconds=3),
              f"power-down {nn}: {start}..{end}, outage {cut}..{back}")
    meter_on_s = sum(((w.end or d.now()) - w.start).total_seconds() for w in d.windows)
    print(json.dumps({
        "days": n, "seeded_power_downs": args.power_downs, "midnights_missed": len(missed),
        "outages": len(d.outages), "meter_on_virtual_s": round(meter_on_s, 1),
        "wall_s": round(time.perf_counter() - wall0, 1), "run_wall_s": round(run_wall, 1),
        "cpu_s": round(time.process_time() - cpu0, 1), "checks_failed": len(failures),
        "failures": failures[:10],
    }))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
