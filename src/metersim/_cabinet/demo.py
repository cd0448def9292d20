"""A virtual day (or `hours`) of a prepaid-cabinet metering controller: four rooms (heater,
motor, computer, mixed with harmonics) behind their relays, credit topped up over Modbus, a
plain-text progress bar, and at the end the per-room table beside the reference energy.

    python -m metersim._cabinet.demo --hours 24
"""

from __future__ import annotations

import argparse
import sys
import time

from metersim._cabinet.board import DEFAULT_ELF, build_controller
from metersim._cabinet.modbus_master import ModbusMaster
from metersim._cabinet.report import format_table, room_rows
from metersim._cabinet.scenario import attach_rooms, prepare_rooms, run_hours, standard_rooms
from metersim._engine.emulation import Emulation


def progress_bar(out=sys.stdout, width: int = 40):
    """A bar redrawn in place on a terminal; into a file or pipe (CI logs, `| tee`) one plain
    line per tenth of the run instead of hundreds of carriage returns."""
    tty = getattr(out, "isatty", lambda: False)()
    last_tenth = [-1]

    def show(done_s: float, total_s: float, wall_s: float) -> None:
        frac = done_s / total_s
        n = int(frac * width)
        speed = done_s / wall_s if wall_s else 0.0
        text = (f"[{'#' * n}{'.' * (width - n)}] {done_s / 3600:6.2f}/{total_s / 3600:.2f} h "
                f"virtual, {wall_s:6.1f} s wall, {speed:6.0f}x real time")
        finished = done_s >= total_s
        if tty:
            out.write("\r" + text + ("\n" if finished else ""))
        elif int(frac * 10) > last_tenth[0] or finished:
            last_tenth[0] = int(frac * 10)
            out.write(text + "\n")
        out.flush()
    return show


def run_demo(hours: float = 24.0, channels: int = 4, elf=DEFAULT_ELF, seed: int = 1,
             out=sys.stdout, credit_cents: int = 2000, price: int = 60) -> list[dict]:
    wall0 = time.perf_counter()
    emu = Emulation(seed=seed)
    board = build_controller(emu, channels=channels, elf=elf)
    rooms = standard_rooms(channels, hours=hours)
    attach_rooms(board, rooms)
    emu.run_for("1.5s")                                  # boot
    master = ModbusMaster(emu, board.bus)
    prepare_rooms(master, channels, credit_cents=credit_cents, price_cents_per_kWh=price,
                  alarm1_cents=500, alarm2_cents=200)
    out.write(f"metersim cabinet demo: {channels} rooms, {hours:g} virtual hours, "
              f"credit {credit_cents / 100:.2f} each at {price} cents/kWh\n")
    run_hours(board, hours, progress_bar(out), step_s=max(1.0, hours * 3600 / 200))
    rows = room_rows(board, master, [r.name for r in rooms])
    out.write(format_table(rows) + "\n")
    out.write(f"{emu.summary()}\nwall time {time.perf_counter() - wall0:.1f} s\n")
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--channels", type=int, default=4, choices=(4, 32))
    ap.add_argument("--elf", default=str(DEFAULT_ELF))
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args(argv)
    run_demo(a.hours, a.channels, a.elf, a.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
