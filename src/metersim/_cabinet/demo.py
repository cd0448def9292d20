"""A virtual day (or `hours`) of a prepaid-cabinet metering controller: four rooms (heater,
motor, computer, mixed with harmonics) behind their relays, credit topped up over Modbus, a
plain-text progress bar, and at the end the per-room table beside the reference energy. With
`server` (host, port), a query manager joins the controller's RS-485 bus and reports to a PC
server (the head end's link, `metersim headend serve`) there.

    metersim cabinet --hours 24          (the command line; `make demo` runs a day after the shells)
"""

from __future__ import annotations

import sys
import time

from metersim._cabinet.board import DEFAULT_ELF, build_controller
from metersim._cabinet.modbus_master import ModbusMaster
from metersim._cabinet.query_manager import DEFAULT_ELF as QM_ELF
from metersim._cabinet.query_manager import build_query_manager
from metersim._cabinet.report import format_table, room_rows
from metersim._cabinet.scenario import attach_rooms, prepare_rooms, run_hours, standard_rooms
from metersim._engine.emulation import Emulation
from metersim._errors import SetupError
from metersim.peripherals.w5500 import W5500Error


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


# the port the query manager's firmware dials (docs/firmware_query_manager.md, "Server link")
QM_SERVER_PORT = 5020


def run_demo(hours: float = 24.0, channels: int = 4, elf=DEFAULT_ELF, seed: int = 1,
             out=sys.stdout, credit_cents: int = 2000, price: int = 60,
             server: tuple[str, int] | None = None) -> list[dict]:
    wall0 = time.perf_counter()
    emu = Emulation(seed=seed)
    board = build_controller(emu, channels=channels, elf=elf)
    qm = None
    if server is not None:             # every machine is made before the clock first runs
        qm = build_query_manager(emu, board.bus, name="qm")
        qm.machine.power_off()         # on once the rooms are set up: one Modbus master at a time
        host, port = server
        try:
            qm.eth.map_port(QM_SERVER_PORT, port, host=host)
        except W5500Error as e:
            raise SetupError(f"--server: {e}") from None
    rooms = standard_rooms(channels, hours=hours)
    attach_rooms(board, rooms)
    emu.run_for("1.5s")                                  # boot
    master = ModbusMaster(emu, board.bus)
    prepare_rooms(master, channels, credit_cents=credit_cents, price_cents_per_kWh=price,
                  alarm1_cents=500, alarm2_cents=200)
    out.write(f"metersim cabinet demo: {channels} rooms, {hours:g} virtual hours, "
              f"credit {credit_cents / 100:.2f} each at {price} cents/kWh\n")
    if qm is not None:
        # the query manager is the bus's master while it runs; ours, left on, would hear,
        # split and keep its every frame (a new one reads the table afterwards)
        master.close()
        qm.load_firmware(QM_ELF)
        qm.machine.power_on()
        out.write(f"query manager reporting to {server[0]}:{server[1]}\n")
    try:
        run_hours(board, hours, progress_bar(out), step_s=max(1.0, hours * 3600 / 200))
    finally:
        if qm is not None:             # off the bus before the table's Modbus reads
            qm.machine.power_off()
            qm.eth.close()
            # a request it sent just before going off is still answered: let that reply pass
            # before our own first request, or the two collide on the bus
            emu.run_for("200ms")
            master = ModbusMaster(emu, board.bus)
    rows = room_rows(board, master, [r.name for r in rooms])
    out.write(format_table(rows) + "\n")
    out.write(f"{emu.summary()}\nwall time {time.perf_counter() - wall0:.1f} s\n")
    return rows

