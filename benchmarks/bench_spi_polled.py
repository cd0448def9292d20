"""Polled SPI: host time per byte with an event per frame (before) and with quiet frame ends
(after, peripherals/stm32/spi.py "Polled firmware"), side by side in one run, as JSON.

    .venv/bin/python benchmarks/bench_spi_polled.py [--target f413rg|f103rb] [--repeat N]

Workloads are driver test programs on the storage boards (build them with `make -C firmware`):
- littlefs: drv_lfs_reboot (format, write files, reboot, read back) on the W25Q128 at 25 MHz
  max SCK: many short polled frames between flash busy waits;
- ade7753: drv_ade7753 reading the energy chip at 1 MHz SCK with a constant 230 V / 10 A load.
Each workload runs for the same virtual time on both paths (the first path's time to PASS,
rounded up to a millisecond). The two runs must agree: same console text, same SPI frames,
same NOR image; `identical` says so and the script exits 1 otherwise. Executed-instruction
counts are reported per path: the event path loses a couple of counts whenever a slice limit
falls inside a Thumb IT block (unicorn stops after the block; the core books only the limit),
so it shows fewer instructions for the same virtual time. With that engine count corrected,
both paths make every register access of the run at the same cycle with the same value. Reported: host wall seconds, CPU slices, SPI frames, host microseconds per
SPI frame (whole run over frames) and the speed-up ratio. Numbers are never asserted in tests.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

from metersim._engine.emulation import Emulation
from metersim._engine.platform_builder import create_machine
from metersim._engine.repl import parse_platform_string
from metersim._orchestration.load_profile import HarmonicProfile
from metersim._orchestration.testers import capture_uart
from metersim.peripherals.stm32.spi import STM32Spi
from metersim._units import PS_PER_MS, format_time

REPO = Path(__file__).resolve().parents[1]
BOARD = {"f413rg": REPO / "platforms/boards/storage_f413.repl",
         "f103rb": REPO / "platforms/boards/storage_f103rb.repl"}


def _machine(target: str, program: str, image: Path):
    elf = REPO / "build" / "fw" / target / f"{program}.elf"
    if not elf.is_file():
        sys.exit(f"{elf} is missing: build the firmware with `make -C firmware`")
    desc = parse_platform_string(f'using "{BOARD[target]}"\n\nnor:\n    imagePath: "{image}"\n',
                                 name=f"bench_{target}")
    emu = Emulation()
    m = create_machine(emu, desc, elf=elf, name=target)
    return emu, m, capture_uart(m, "usart1")


def _instrument(m) -> dict:
    """Count CPU slices and SPI frames (one counter call each on both paths)."""
    counts = {"slices": 0, "frames": 0}
    cpu = m.cpu
    run_slice = cpu._run_slice

    def counted_slice(n, end_ps):
        counts["slices"] += 1
        run_slice(n, end_ps)

    cpu._run_slice = counted_slice
    for spi in (m[n] for n in ("spi1", "spi2")):
        frame_done = spi._frame_done

        def counted_frame(_inner=frame_done):
            counts["frames"] += 1
            _inner()

        spi._frame_done = counted_frame
    return counts


def _run(target: str, program: str, fast: bool, duration_ps: int | None, workdir: Path) -> dict:
    image = workdir / f"{program}_{'fast' if fast else 'events'}_{time.monotonic_ns()}.bin"
    default, STM32Spi.polled_fast_path = STM32Spi.polled_fast_path, fast
    try:
        emu, m, cap = _machine(target, program, image)
        if program == "drv_ade7753":
            m["ade"].attach_load(HarmonicProfile.constant(230.0, 10.0, 1.0))
        counts = _instrument(m)
        wall0 = time.perf_counter()
        if duration_ps is None:
            emu.run_until(lambda: "PASS\r\n" in cap.text or "FAIL" in cap.text,
                          timeout="20s", what=f"{program} to finish")
        else:
            emu.run_until_time(emu.clock.now_ps + duration_ps)
        wall_s = time.perf_counter() - wall0
    finally:
        STM32Spi.polled_fast_path = default
    nor = bytes(m["nor"].mem)
    return {
        "wall_s": wall_s,
        "virtual_ps": emu.clock.now_ps,
        "slices": counts["slices"],
        "spi_frames": counts["frames"],
        "instructions": m.cpu.instructions,
        "console_sha1": hashlib.sha1(cap.text.encode()).hexdigest(),
        "passed": "PASS\r\n" in cap.text,
        "nor_sha1": hashlib.sha1(nor).hexdigest(),
    }


def bench(target: str, program: str, repeat: int, workdir: Path) -> dict:
    first = _run(target, program, True, None, workdir)
    if not first["passed"]:
        raise SystemExit(f"{program} on {target} did not pass")
    duration_ps = -(-first["virtual_ps"] // PS_PER_MS) * PS_PER_MS
    runs = {"events": [], "fast": []}
    for _ in range(repeat):
        for key, fast in (("events", False), ("fast", True)):
            runs[key].append(_run(target, program, fast, duration_ps, workdir))
    best = {k: min(v, key=lambda r: r["wall_s"]) for k, v in runs.items()}
    same = ("virtual_ps", "spi_frames", "console_sha1", "nor_sha1", "passed")
    identical = all(r[f] == runs["events"][0][f] for r in runs["events"] + runs["fast"] for f in same)
    out = {"program": program, "target": target, "virtual_time": format_time(duration_ps),
           "spi_frames": best["fast"]["spi_frames"], "identical": identical}
    for key, r in best.items():
        out[key] = {"wall_s": round(r["wall_s"], 4), "cpu_slices": r["slices"],
                    "instructions": r["instructions"],
                    "host_us_per_spi_frame": round(r["wall_s"] * 1e6 / max(r["spi_frames"], 1), 2)}
    out["speedup"] = round(best["events"]["wall_s"] / best["fast"]["wall_s"], 3)
    out["host_us_saved_per_frame"] = round(
        (best["events"]["wall_s"] - best["fast"]["wall_s"]) * 1e6 / max(out["spi_frames"], 1), 2)
    return out


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", choices=sorted(BOARD), default="f413rg")
    ap.add_argument("--repeat", type=int, default=3, help="runs per path (the fastest is kept)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        results = [bench(args.target, p, args.repeat, Path(tmp))
                   for p in ("drv_lfs_reboot", "drv_ade7753")]
    print(json.dumps({"benchmark": "spi_polled", "results": results}, indent=2))
    return 0 if all(r["identical"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
