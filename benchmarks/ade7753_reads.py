"""CPU per ADE7753 register read, the metrology unit's way: one chip on its own clock.

    .venv/bin/python benchmarks/ade7753_reads.py [--virtual-s 600] [--runs 3]

The chip is set up as the metrology unit's firmware leaves it (line-cycle mode over 200 half
cycles with CYCEND enabled, its CF divider, PHCAL, peak and SAG levels) and fed a steady
1234.5 W load at 230 V, 50 Hz. Every 1/3 virtual second the firmware's poll is replayed: a
burst of WAVEFORM, RSTSTATUS, LAENERGY and, every other poll, VRMS, IRMS and PERIOD, one SPI
byte every 15 us with CS held low, as the unit's STM32 SPI does. Prints the reads, the best
run's CPU seconds, CPU us per register read, and a digest of every byte read (equal digests:
the same register values). No firmware or engine: the model alone.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

POLL_PS = 333_333_333_333          # three polls per virtual second
BYTE_PS = 15_000_000               # one SPI byte every 15 us
# (address, data bytes)
EVERY_POLL = [(0x01, 3), (0x0C, 2), (0x04, 3)]        # WAVEFORM, RSTSTATUS, LAENERGY
EVERY_OTHER = [(0x17, 3), (0x16, 3), (0x27, 2)]       # VRMS, IRMS, PERIOD
SETUP = {"MODE": 0x8C, "IRQEN": 0x44, "CFNUM": 4, "CFDEN": 4026, "LINECYC": 200,
         "ZXTOUT": 4095, "SAGCYC": 255, "SAGLVL": 0, "IPKLVL": 255, "VPKLVL": 255, "PHCAL": 13}


def run(virtual_s: float) -> tuple[float, int, str]:
    from metersim._orchestration import HarmonicProfile
    from metersim.peripherals.ade7753 import Ade7753
    from metersim.peripherals.base import Context

    ctx = Context.standalone("ade")
    chip = Ade7753(ctx)
    clock = ctx.clock
    chip.attach_load(HarmonicProfile.constant(230.0, 1234.5 / 230.0, 1.0, 50.0))
    clock.run_for(1_000_000_000)                  # reset done
    chip.set_chip_select(True)
    for name, value in SETUP.items():             # as register writes, as the firmware does
        reg = chip.regmap[name]
        chip.transmit(0x80 | reg.offset)
        for b in value.to_bytes((reg.width + 7) // 8, "big"):
            clock.run_for(BYTE_PS)
            chip.transmit(b)
    digest = hashlib.sha1()
    reads = 0
    t0 = clock.now_ps
    c0 = time.process_time()
    for k in range(int(virtual_s * 3)):
        clock.advance_to(t0 + k * POLL_PS)
        for addr, n in EVERY_POLL + (EVERY_OTHER if k % 2 else []):
            chip.transmit(addr)
            reads += 1
            for _ in range(n):
                clock.run_for(BYTE_PS)
                digest.update(bytes([chip.transmit(0)]))
            clock.run_for(BYTE_PS)
    return time.process_time() - c0, reads, digest.hexdigest()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--virtual-s", type=float, default=600.0)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    results = [run(args.virtual_s) for _ in range(max(1, args.runs))]
    cpu = min(r[0] for r in results)
    _, reads, sha = results[0]
    print(f"reads {reads}  best CPU {cpu:.3f} s  {cpu / reads * 1e6:.1f} us per register read  "
          f"bytes_sha1 {sha}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
