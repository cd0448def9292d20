"""Prepaid-cabinet metering controller: host speed of a virtual run, as JSON.

    .venv/bin/python benchmarks/bench_cabinet.py [--seconds 60] [--channels 4] [--repeat 3]
                                                 [--offset-s 600] [--elf PATH] [--no-trace] [--profile N]

The workload is the `make demo` board (metersim._cabinet.demo): the STM32F103RB metering
controller firmware (build/fw/f103rb/metering_controller.elf, build it with `make -C firmware`)
with its ADE7753s, relays, EEPROM and RS-485 transceiver, the standard room loads behind the
relays, booted for 1.5 virtual seconds and set up over Modbus like the demo. Then `--seconds`
of virtual time run and are timed. The rooms' load profiles start `--offset-s` seconds into
their day (default 600 s: every appliance of the four standard rooms is on), so the energy
chips see the busy part of the day rather than the idle first minute.

Reported (`timed`, the fastest of `--repeat` runs): virtual seconds, wall seconds,
realtime_factor (virtual over wall), executed instructions, instructions per virtual second.
A day at that factor is `day_wall_s`.

`trace` (a separate run of the same setup, so the counting costs nothing in `timed`) counts
the firmware's MMIO accesses per virtual second by peripheral and hashes everything the
firmware and the outside world observe: every MMIO access in order with its virtual time,
size, value (read or written), the console text, the EEPROM image and the per-room energy read
back over Modbus at the end. Two builds of the models whose `observed_sha1` match made the
firmware see the same register values at the same instants. Numbers are never asserted in
tests (see /work/shared/DESIGN.md); `--profile N` prints the N hottest functions (cProfile,
cumulative) of one extra run to stderr.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import json
import pstats
import struct
import sys
import time
from collections import Counter
from pathlib import Path

from metersim._cabinet.board import DEFAULT_ELF, build_controller
from metersim._cabinet.modbus_master import ModbusMaster
from metersim._cabinet.scenario import attach_rooms, prepare_rooms, standard_rooms
from metersim._engine.emulation import Emulation
from metersim._engine.sysbus import PAGE_SHIFT
from metersim._units import PS_PER_S


def setup(channels: int, offset_s: float, elf: Path = DEFAULT_ELF, seed: int = 1):
    """The demo's board after boot and Modbus set-up: (emu, board, master)."""
    if not Path(elf).is_file():
        sys.exit(f"{elf} is missing: build the firmware with `make -C firmware`")
    emu = Emulation(seed=seed, wall_guard_s=3600.0)
    board = build_controller(emu, channels=channels, elf=elf)
    attach_rooms(board, standard_rooms(channels, hours=24), origin_ps=-round(offset_s * PS_PER_S))
    emu.run_for("1.5s")
    master = ModbusMaster(emu, board.bus)
    prepare_rooms(master, channels, credit_cents=2000, price_cents_per_kWh=60,
                  alarm1_cents=500, alarm2_cents=200)
    return emu, board, master


def timed_run(channels: int, seconds: float, offset_s: float, elf: Path,
              profile: int = 0) -> dict:
    emu, board, _ = setup(channels, offset_s, elf)
    cpu = board.machine.cpu
    i0, t0 = cpu.instructions, emu.clock.now_ps
    prof = cProfile.Profile() if profile else None
    wall0 = time.perf_counter()
    if prof is not None:
        prof.enable()
    emu.run_until_time(t0 + round(seconds * PS_PER_S))
    if prof is not None:
        prof.disable()
    wall_s = time.perf_counter() - wall0
    if prof is not None:
        pstats.Stats(prof, stream=sys.stderr).sort_stats("tottime").print_stats(profile)
    virt_s = (emu.clock.now_ps - t0) / PS_PER_S
    instr = cpu.instructions - i0
    return {"virtual_s": virt_s, "wall_s": round(wall_s, 4),
            "realtime_factor": round(virt_s / wall_s, 2),
            "instructions": instr, "instructions_per_virtual_s": round(instr / virt_s),
            "day_wall_s": round(86400 / (virt_s / wall_s), 1)}


class _Tap:
    """Stands in for a page's model in the sysbus page table: counts and hashes accesses."""

    def __init__(self, model, name: str, base: int, clock, counts: Counter, digest):
        self.model, self.name, self.base, self.clock = model, name, base, clock
        self.counts, self.digest = counts, digest

    def read(self, offset: int, size: int) -> int:
        value = self.model.read(offset, size)
        self.counts[self.name] += 1
        self.digest.update(struct.pack("<QIBBQ", self.clock.now_ps, self.base + offset, size, 0,
                                       value & 0xFFFFFFFFFFFFFFFF))
        return value

    def write(self, offset: int, size: int, value: int) -> None:
        self.counts[self.name] += 1
        self.digest.update(struct.pack("<QIBBQ", self.clock.now_ps, self.base + offset, size, 1,
                                       value))
        self.model.write(offset, size, value)


def traced_run(channels: int, seconds: float, offset_s: float, elf: Path) -> dict:
    emu, board, master = setup(channels, offset_s, elf)
    bus = board.machine.sysbus
    counts: Counter = Counter()
    digest = hashlib.sha1()
    for page, (model, base) in list(bus._pages.items()):
        m = bus.find_mapping(page << PAGE_SHIFT)
        name = m.name if m is not None and m.model is model else f"page@{page << PAGE_SHIFT:08x}"
        bus._pages[page] = (_Tap(model, name, base, emu.clock, counts, digest), base)
    t0 = emu.clock.now_ps
    emu.run_until_time(t0 + round(seconds * PS_PER_S))
    virt_s = (emu.clock.now_ps - t0) / PS_PER_S
    per_s = {k: round(v / virt_s, 1) for k, v in counts.most_common()}
    energy = [master.room(r).energy_Wh for r in range(channels)]
    digest.update(board.console.text.encode())
    digest.update(bytes(board.eeprom.read_image(0, 32768)))
    digest.update(repr(energy).encode())
    return {"mmio_per_virtual_s": per_s, "mmio_total_per_virtual_s": round(sum(counts.values()) / virt_s, 1),
            "room_energy_Wh": energy, "observed_sha1": digest.hexdigest()}


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="virtual seconds timed")
    ap.add_argument("--channels", type=int, default=4, choices=(4, 32))
    ap.add_argument("--offset-s", type=float, default=600.0, help="profile time at boot")
    ap.add_argument("--elf", type=Path, default=DEFAULT_ELF,
                    help="controller firmware (pin a copy to compare model changes)")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs (the fastest is kept)")
    ap.add_argument("--no-trace", action="store_true", help="skip the MMIO count/hash run")
    ap.add_argument("--profile", type=int, default=0, metavar="N",
                    help="also print the N hottest functions of one profiled run (stderr)")
    a = ap.parse_args(argv)
    runs = [timed_run(a.channels, a.seconds, a.offset_s, a.elf) for _ in range(a.repeat)]
    out = {"benchmark": "cabinet", "channels": a.channels, "offset_s": a.offset_s,
           "elf_sha1": hashlib.sha1(Path(a.elf).read_bytes()).hexdigest(),
           "timed": min(runs, key=lambda r: r["wall_s"]),
           "wall_s_all": [r["wall_s"] for r in runs]}
    if not a.no_trace:
        out["trace"] = traced_run(a.channels, a.seconds, a.offset_s, a.elf)
    if a.profile:
        timed_run(a.channels, a.seconds, a.offset_s, a.elf, profile=a.profile)
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
