"""The head end's part of `make demo`: a head end on a fresh SQLite file, an emulated cabinet
(metering controller with four rooms and a query manager on its RS-485 bus) reporting to it
over the W5500 link every 2 s, a screenshot of the dashboard from headless Chromium, and the
dashboard's address.

It ends by itself when stdout is not a terminal (a log, a pipe, CI): the address and the
screenshot are printed and everything stops. On a terminal it keeps serving, the cabinet running
in real time so the dashboard's values move at a human pace, until Ctrl-C."""

from __future__ import annotations

import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

from .._errors import Interrupted, SetupError
from .._units import PS_PER_S
from . import domain
from .screenshot import dashboard_screenshot
from .server import Headend

CABINET = "demo-cabinet"
USER = "demo"
REPORT_PERIOD_S = 2


def _rooms():
    from metersim._cabinet.scenario import RoomLoad
    from metersim._orchestration.appliances import Motor, ResistiveHeater, SwitchModeSupply

    return [RoomLoad("heater", [ResistiveHeater(2000.0, schedule=[(2.0, 1e9)])]),
            RoomLoad("motor", [Motor(1200.0, pf=0.8, schedule=[(6.0, 1e9)])]),
            RoomLoad("computer", [SwitchModeSupply(300.0, schedule=[(1.0, 1e9)])]),
            RoomLoad("unpaid", [ResistiveHeater(800.0, schedule=[(1.0, 1e9)])])]


def _start(db_url: str, api_port: int) -> Headend:
    hs = Headend(db_url, cabinets={CABINET: 0}, api_port=api_port,
                 report_period_s=REPORT_PERIOD_S)
    try:
        return hs.start()
    except SetupError:
        hs.engine.dispose()
        if api_port == 0:
            raise
        return _start(db_url, 0)          # the port is taken: any free one


def run_headend_demo(out=sys.stdout, virtual_s: float = 30.0, screenshot: Path | None = None,
                     serve: bool | None = None, api_port: int = 8080, seed: int = 1) -> dict:
    """Run the cabinet against a head end for `virtual_s`, take the screenshot (None: none),
    print the address; then serve until Ctrl-C if `serve` (default: stdout is a terminal)."""
    from metersim._cabinet.board import DEFAULT_ELF, build_controller
    from metersim._cabinet.modbus_master import ModbusMaster
    from metersim._cabinet.query_manager import DEFAULT_ELF as QM_ELF
    from metersim._cabinet.query_manager import build_query_manager
    from metersim._cabinet.scenario import attach_rooms
    from metersim._engine import interrupts
    from metersim._engine.emulation import Emulation

    if serve is None:
        serve = getattr(out, "isatty", lambda: False)()
    wall0 = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="metersim-headend-demo-"))
    hs = _start(f"sqlite:///{tmp / 'headend.db'}", api_port)
    password = secrets.token_urlsafe(9)       # printed below: the demo's server is only local
    with hs.sessions.begin() as s:
        domain.add_user(s, USER, password, "admin", domain.now_utc())
    qm = None
    try:
        emu = Emulation(seed=seed)
        board = build_controller(emu, channels=4, elf=DEFAULT_ELF)
        qm = build_query_manager(emu, board.bus, name="qm")
        qm.machine.power_off()               # on once the rooms are set up: one master at a time
        qm.eth.map_port(5020, hs.link_ports[CABINET])
        attach_rooms(board, _rooms())
        emu.run_for("1.5s")                  # the controller boots
        master = ModbusMaster(emu, board.bus)
        master.set_flat_price(60)
        for r in range(4):
            master.set_room(r, malicious_detect=False)
            if r != 3:                       # the fourth room never paid: held open, in arrears
                master.top_up(r, 2000)
        master.close()                       # the query manager is the bus's master from now on
        qm.load_firmware(QM_ELF)
        qm.machine.power_on()
        out.write(f"head end on {hs.url()}, its link on 127.0.0.1:{hs.link_ports[CABINET]}; "
                  f"the cabinet's query manager reports every {REPORT_PERIOD_S} s\n")
        out.flush()
        emu.run_until(lambda: hs.links.reports_from.get(CABINET, 0) >= 1, "30s",
                      "the query manager's first report")
        end_ps = emu.now_ps + round(virtual_s * PS_PER_S)
        while emu.now_ps < end_ps:
            emu.run_until_time(min(emu.now_ps + 10 * PS_PER_S, end_ps))
            out.write(f"  {emu.now_ps / PS_PER_S:5.1f} s virtual: {hs.links.readings_in} readings "
                      f"stored, {time.perf_counter() - wall0:5.1f} s wall\n")
            out.flush()
        shot = None
        if screenshot is not None:
            with hs.sessions() as s:
                room_id = domain.room_of(s, domain.cabinet_named(s, CABINET), 1, 0).id
            try:
                shot = dashboard_screenshot(hs.url(), USER, password, Path(screenshot), room_id)
            except SetupError as e:
                out.write(f"{e}\n")
        out.write(f"dashboard: {hs.url()}/  (user {USER}, password {password})\n")
        if shot is not None:
            out.write(f"screenshot: {shot}\n")
        out.flush()
        if serve:
            out.write("serving until Ctrl-C; the cabinet runs in real time\n")
            out.flush()
            emu.realtime = True
            # faster than real time so far, the cabinet's clock ran ahead of the head end's:
            # set it again now that it keeps pace (the admin's clock push, as from the API)
            with hs.sessions.begin() as s:
                cab = domain.cabinet_named(s, CABINET)
                domain.request_command(s, cab, "time", {}, None, None, domain.now_utc())
                cab_id = cab.id
            hs.links.kick(cab_id)
            try:
                with interrupts.sigint_stops_runs():
                    while True:
                        emu.run_for("1s")
            except Interrupted:
                interrupts.clear_interrupt()
                out.write("\nstopped\n")
        return {"url": hs.url(), "screenshot": shot, "readings": hs.links.readings_in}
    finally:
        if qm is not None:
            qm.eth.close()
        hs.stop()
        shutil.rmtree(tmp, ignore_errors=True)
