"""Robustness campaign: seeded malformed DL/T645-2007 frames against the meter's factory image,
timed (tests/meter/test_meter_dlt645_fuzz.py runs the same 10,000 in `make test`): 70 % on
RS-485 after a baud change to 19200, the meter's fastest rate, 30 % on IR at 1200.

    .venv/bin/python benchmarks/meter_dlt645_fuzz.py [--frames 10000] [--seed 645] [--baud 19200]

Prints a JSON line per block of 1,000 frames (wall and virtual ms per frame, wall us per
character on the line, both ways) and a summary: frames sent, abnormal replies due and
received, missing and unexpected replies, virtual, wall and CPU seconds. Exit status 1 when a
due reply was missing, something unexpected came, or the meter stopped answering reads.
Figures: benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from decimal import Decimal
from pathlib import Path

import metersim
from metersim._image.pack import pack
from metersim._meter.dlt645_fuzz import malformed_frames, run_fuzz

ROOT = Path(__file__).resolve().parents[1]
BLOCK = 1000


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=645)
    ap.add_argument("--baud", type=int, default=19200, help="RS-485 rate for the campaign")
    ap.add_argument("--manifest", default=str(ROOT / "platforms/images/meter_mu.yaml"),
                    help="factory image manifest (bootloader, RTOS meter_mu, apps)")
    args = ap.parse_args(argv)

    emu = metersim.Emulation(seed=1)
    image = ROOT / "build/meter_mu_fuzz.bin"
    image.write_bytes(pack(args.manifest))
    board = metersim.build_meter(emu, image, voltage_V=220.1, energy_kWh=1234.56).mu
    rs485 = board["rs485Bus"].attach_host("reader", baud=2400, parity="E")
    con = metersim.capture_uart(board)
    con.expect("com: DL/T645-2007 on rs485", timeout="3s")      # the port is served
    master = metersim.dlt645.Master(emu, rs485)
    ir_master = metersim.dlt645.Master(emu, board["ir"])
    master.change_baud(args.baud)

    n485 = args.frames * 7 // 10
    plan = [("rs485", rs485, args.seed, n485), ("ir", board["ir"], args.seed + 1, args.frames - n485)]
    totals = {"frames": 0, "replies_due": 0, "abnormal_ok": 0, "missing": 0, "unexpected": 0}
    wall0, cpu0, failures = time.perf_counter(), time.process_time(), []
    for name, port, seed, count in plan:
        cases = list(malformed_frames(seed, count))
        for start in range(0, count, BLOCK):
            t, c, v = time.perf_counter(), time.process_time(), emu.now_ps
            rep = run_fuzz(emu, port, cases[start:start + BLOCK])
            wall, cpu, virt_ms = time.perf_counter() - t, time.process_time() - c, (emu.now_ps - v) / 1e9
            for k, n in (("frames", rep.sent), ("replies_due", rep.replies_due),
                         ("abnormal_ok", rep.abnormal_ok), ("missing", len(rep.missing)),
                         ("unexpected", len(rep.wrong) + bool(rep.trailing))):
                totals[k] += n
            failures += [(name, c.kind, c.raw.hex()) for c in rep.missing]
            failures += [(name, c.kind, c.raw.hex(), got.hex()) for c, got in rep.wrong]
            if rep.trailing:
                failures.append((name, "after the last", rep.trailing.hex()))
            print(json.dumps({"port": name, "block": start // BLOCK, "summary": rep.summary(),
                              "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
                              "wall_ms_per_frame": round(1e3 * wall / rep.sent, 2),
                              "virtual_ms_per_frame": round(virt_ms / rep.sent, 2),
                              "wall_us_per_char": round(1e6 * wall / rep.chars, 1)}), flush=True)
    alive = (master.read_value(0x02010100) == Decimal("220.1")
             and ir_master.read_value(0x00010000) == Decimal("1234.56")
             and con.text.count("meter management unit on") == 1)
    totals.update(alive=alive, virtual_s=round(emu.now_ps / 1e12, 1),
                  wall_s=round(time.perf_counter() - wall0, 1),
                  cpu_s=round(time.process_time() - cpu0, 1), first_failures=failures[:5])
    print(json.dumps(totals), flush=True)
    return 0 if alive and not failures else 1


if __name__ == "__main__":
    sys.exit(main())
