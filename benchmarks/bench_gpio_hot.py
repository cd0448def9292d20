"""GPIO register hot paths, host time per access, as JSON.

    .venv/bin/python benchmarks/bench_gpio_hot.py [--n 200000] [--repeat 5]

The cabinet firmware drives chip selects and reads lines through GPIO ODR/BSRR/BRR writes and
IDR reads; this times those accesses on standalone F1 and F4 ports (no firmware, no engine),
best of `--repeat` runs of `--n` accesses each, in nanoseconds of process CPU time per access
(CPU time, so that other jobs on a shared machine disturb it less than wall time). `odr_same_write`
writes ODR with the value it holds: no pin changes, so it is the register dispatch alone. Run it on two builds
of the models to compare them; numbers are never asserted in tests.
"""

from __future__ import annotations

import argparse
import json
import time

from metersim.peripherals.base import Context
from metersim.peripherals.stm32.gpio_f1 import STM32F1GPIOPort
from metersim.peripherals.stm32.gpio_f4 import STM32_GPIOPort


def _best_ns(fn, n: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        fn(n)
        best = min(best, time.process_time() - t0)
    return round(best * 1e9 / n, 1)


def measure(n: int, repeat: int) -> dict:
    f1 = STM32F1GPIOPort(Context.standalone("gpioB"))
    f1.write(0x00, 4, 0x33333333)            # CRL: pins 0-7 push-pull outputs
    f4 = STM32_GPIOPort(Context.standalone("gpioB"))
    f4.write(0x00, 4, 0x00005555)            # MODER: pins 0-7 outputs
    out: dict[str, float] = {}
    for label, port, odr, bsrr, idr in (("f1", f1, 0x0C, 0x10, 0x08), ("f4", f4, 0x14, 0x18, 0x10)):
        write, read = port.write, port.read

        def bsrr_writes(k: int, write=write, bsrr=bsrr) -> None:
            for i in range(k):
                write(bsrr, 4, 0x00010000 if i & 1 else 0x00000001)

        def odr_writes(k: int, write=write, odr=odr) -> None:
            for i in range(k):
                write(odr, 4, i & 0x3)

        def idr_reads(k: int, read=read, idr=idr) -> None:
            for _ in range(k):
                read(idr, 4)

        def same_odr_writes(k: int, write=write, odr=odr) -> None:
            for _ in range(k):
                write(odr, 4, 0)                # no pin changes: the register dispatch alone

        out[f"{label}_bsrr_write_ns"] = _best_ns(bsrr_writes, n, repeat)
        out[f"{label}_odr_write_ns"] = _best_ns(odr_writes, n, repeat)
        out[f"{label}_idr_read_ns"] = _best_ns(idr_reads, n, repeat)
        write(odr, 4, 0)
        out[f"{label}_odr_same_write_ns"] = _best_ns(same_odr_writes, n, repeat)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200_000, help="accesses per run")
    ap.add_argument("--repeat", type=int, default=5, help="runs (the fastest is kept)")
    args = ap.parse_args()
    print(json.dumps(measure(args.n, args.repeat), indent=2))


if __name__ == "__main__":
    main()
