"""The issue's cabinet benchmark: a query manager and three metering controllers (4, 4 and 32
rooms, the standard room loads behind their relays) on one RS-485 bus, the query manager's
link to a PC server (a thread here that acknowledges every reading), run for `--hours` of
virtual time after start-up.

    .venv/bin/python benchmarks/cabinet_day.py [--hours 0.1] [--day] [--profile N] [--json]
    .venv/bin/python benchmarks/cabinet_day.py --hours 0.001 --mmio 12   # MMIO accesses counted

Prints, for the timed run: wall (and this process's CPU) seconds per virtual hour, a virtual day at that rate (or the
day itself with `--day`), the RS-485 characters on the bus and the wall µs per character
(the whole cabinet's wall time over the characters: the query manager polls back to back, so
the bus is busy all the time), and the boot of the query manager alone (its one full-screen
TFT clear). `--profile N` prints the N hottest functions (cProfile, internal time) of the
timed run to stderr. `--mmio N` counts the firmware's MMIO accesses instead (every page of
every machine's bus behind a counting wrapper, so the run is not timed) and prints the accesses
per virtual second of each machine and the N most frequent registers. Numbers are never asserted in tests (/work/shared/DESIGN.md).

The controllers are given their addresses by a Python Modbus master (as an installer would),
which then leaves the bus: the query manager is its only master. (Figures before 2026-12-07
kept that master on the bus, hearing every character with an end-of-frame timer each: about
one event in five per character.)
"""

from __future__ import annotations

import argparse
import cProfile
import json
import platform
import pstats
import socket
import sys
import threading
import time

from metersim._cabinet.board import new_bus
from metersim._cabinet.query_manager import DEFAULT_ELF, build_controllers, build_query_manager
from metersim._cabinet.scenario import attach_rooms, standard_rooms
from metersim._engine.emulation import Emulation
from metersim._resources import firmware_path
from metersim._units import PS_PER_S

CABINET = [(1, 4), (2, 4), (3, 32)]


class AckServer(threading.Thread):
    """The PC server's end: accepts the query manager, answers each snapshot's END with
    `ACK <last seq>`, counts the readings."""

    def __init__(self):
        super().__init__(daemon=True)
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.port = self.listener.getsockname()[1]
        self.readings = 0
        self.stop = False

    def run(self) -> None:
        self.listener.settimeout(0.5)
        while not self.stop:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                continue
            conn.settimeout(0.5)
            buf, last = b"", 0
            while not self.stop:
                try:
                    chunk = conn.recv(65536)
                except OSError:
                    continue
                if not chunk:
                    break
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for ln in lines:
                    if ln.startswith(b"R "):
                        last = int(ln.split()[1])
                        self.readings += 1
                    elif ln == b"END":
                        conn.sendall(b"ACK %d\n" % last)
            conn.close()


def bus_chars(machines) -> int:
    return sum(m["rs485"].sent_frames for m in machines)


class _Counted:
    """A bus page's model behind a counter of its accesses (register address, r/w)."""

    def __init__(self, model, page_base: int, counts: dict):
        self.model, self.page_base, self.counts = model, page_base, counts

    def read(self, off: int, size: int) -> int:
        key = (self.page_base + off, "r")
        self.counts[key] = self.counts.get(key, 0) + 1
        return self.model.read(off, size)

    def write(self, off: int, size: int, value: int) -> None:
        key = (self.page_base + off, "w")
        self.counts[key] = self.counts.get(key, 0) + 1
        self.model.write(off, size, value)


def count_mmio(machines) -> dict:
    """Wrap every MMIO page of each machine; returns {machine name: {(address, r/w): n}}."""
    out = {}
    for m in machines:
        counts = out[m.name] = {}
        pages = m.sysbus._pages
        for page, (model, base) in list(pages.items()):
            pages[page] = (_Counted(model, base, counts), base)
    return out


def register_name(machine, addr: int) -> str:
    for mp in machine.sysbus.mappings:
        if mp.base <= addr < mp.base + mp.size:
            return f"{mp.name}+0x{addr - mp.base:x}"
    return f"0x{addr:08x}"


def boot_alone() -> float:
    """CPU seconds of the query manager's first 1.5 virtual s alone (boot, TFT clear)."""
    emu = Emulation(seed=1)
    qm = build_query_manager(emu, new_bus(emu), elf=DEFAULT_ELF)
    t0 = time.process_time()
    emu.run_for("1.5s")
    cpu = time.process_time() - t0
    qm.eth.close()
    return cpu


def build_cabinet(hours: float):
    """The benchmark's cabinet (a query manager and CABINET's controllers with their standard
    rooms' loads for `hours` past a day), its query manager acknowledged by an AckServer, run
    until the first polling round is done; returns (emulation, query manager, controllers,
    server)."""
    emu = Emulation(seed=1, wall_guard_s=7 * 86400.0)
    bus = new_bus(emu)
    qm = build_query_manager(emu, bus)
    qm.machine.power_off()
    ctrls = build_controllers(emu, bus, CABINET, firmware_path("f103rb", "metering_controller"))
    for c in ctrls.values():
        attach_rooms(c, standard_rooms(c.channels, hours=24 + hours))
    server = AckServer()
    server.start()
    qm.eth.map_port(5020, server.port)
    qm.load_firmware(DEFAULT_ELF)
    qm.machine.power_on()
    emu.run_until(lambda: "poll: first round done" in qm.console.line_texts(), "10s", "first round")
    return emu, qm, ctrls, server


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hours", type=float, default=0.1, help="virtual hours timed (default 0.1)")
    ap.add_argument("--day", action="store_true", help="run a whole virtual day")
    ap.add_argument("--profile", type=int, default=0, metavar="N")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--mmio", type=int, default=0, metavar="N",
                    help="count MMIO accesses (untimed run), print the N most frequent registers")
    args = ap.parse_args()
    hours = 24.0 if args.day else args.hours

    boot_s = 0.0 if args.mmio else boot_alone()
    emu, qm, ctrls, server = build_cabinet(hours)

    machines = [qm.machine] + [c.machine for c in ctrls.values()]
    chars0, t_virt0 = bus_chars(machines), emu.clock.now_ps
    mmio = count_mmio(machines) if args.mmio else None
    prof = cProfile.Profile() if args.profile else None
    t0, c0 = time.perf_counter(), time.process_time()
    if prof:
        prof.enable()
    emu.run_for(f"{round(hours * 3600 * 1000)}ms")
    if prof:
        prof.disable()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    chars = bus_chars(machines) - chars0
    virt_h = (emu.clock.now_ps - t_virt0) / PS_PER_S / 3600
    server.stop = True
    qm.eth.close()
    out = {
        "machine": f"{platform.processor() or platform.machine()}, {platform.node()}",
        "virtual_hours": round(virt_h, 4),
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "wall_s_per_virtual_hour": round(wall / virt_h, 1),
        "cpu_s_per_virtual_hour": round(cpu / virt_h, 1),
        ("virtual_day_wall_min" if args.day else "virtual_day_wall_min_extrapolated"):
            round(wall / virt_h * 24 / 60, 1),
        "rs485_chars": chars,
        "wall_us_per_uart_char": round(wall / chars * 1e6, 1) if chars else None,
        "cpu_us_per_uart_char": round(cpu / chars * 1e6, 1) if chars else None,
        "readings_acked_by_server": server.readings,
        "qm_boot_cpu_s_per_1_5_virtual_s": round(boot_s, 2),
        "instructions": {m.name: m.cpu.instructions for m in machines},
    }
    if mmio is not None:
        virt_s = virt_h * 3600
        out = {"virtual_s": round(virt_s, 3), "rs485_chars": chars,
               "readings_acked_by_server": server.readings,
               "mmio_per_virtual_s": {m.name: round(sum(mmio[m.name].values()) / virt_s)
                                      for m in machines},
               "mmio_per_uart_char_all_machines": round(
                   sum(sum(c.values()) for c in mmio.values()) / chars, 1) if chars else None,
               "top_registers_per_virtual_s": {
                   m.name: {f"{register_name(m, a)} {rw}": round(n / virt_s) for (a, rw), n in
                            sorted(mmio[m.name].items(), key=lambda kv: -kv[1])[:args.mmio]}
                   for m in machines},
               "instructions": {m.name: m.cpu.instructions for m in machines}}
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        for k, v in out.items():
            print(f"{k:36s} {v}")
    if prof:
        pstats.Stats(prof, stream=sys.stderr).sort_stats("tottime").print_stats(args.profile)


if __name__ == "__main__":
    main()
