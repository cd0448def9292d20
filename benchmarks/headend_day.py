"""The head end's day: two cabinets (each a query manager and a 4-room metering controller on its
own RS-485 bus, their real firmware) against the head end for a whole virtual day by the head
end's clock, then the head end's statistics of that day against the reference.

    .venv/bin/python benchmarks/headend_day.py [--hours 24] [--db URL] [--json]

The head end's clock is virtual time (a fixed date, from a little before its midnight), and it
pushes it to the cabinets when they connect, so the cabinets' T lines, by which the statistics
count readings, run with it. The rooms draw resistive heaters of different powers on schedules
spread over the day (none within 2 % of the run's ends, so the day's boundaries cut no load).
At the end the day's statistics (`daily_statistics`, what `GET /api/statistics?day=` answers)
per room and per cabinet are compared with the reference energies integrated from the injected
load profiles over the relays' closed intervals: within 0.2 % plus 1 Wh per room (the controller
counts whole Wh). `--hours` shorter than 24 scales the schedules into a part of the day.

Prints the comparison table, the CPU and wall time per virtual hour, and exits 1 if a check
fails. SQLite in a temporary directory by default; `--db postgresql://...` for PostgreSQL.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import sys
import tempfile
import time

from sqlalchemy import select

from metersim._cabinet.board import build_controller, new_bus
from metersim._cabinet.checks import reference_energy_Wh
from metersim._cabinet.modbus_master import ModbusMaster
from metersim._cabinet.query_manager import build_query_manager
from metersim._cabinet.scenario import RoomLoad, attach_rooms
from metersim._engine.emulation import Emulation
from metersim._headend import Headend, domain
from metersim._headend.models import Cabinet
from metersim._orchestration.appliances import ResistiveHeater
from metersim._resources import firmware_path
from metersim._units import PS_PER_S

DAY = dt.date(2026, 3, 2)
LEAD_S = 120                 # before the head end's midnight: boot, connect, clock push
TAIL_S = 60                  # after the day: the last readings of the day reported
ROOMS = 4
PRICE = 60                   # cents per kWh
# (cabinet, heater W per room): different powers in every room of both cabinets
CABINETS = {"block-A": (2000.0, 1200.0, 3000.0, 800.0), "block-B": (1500.0, 2500.0, 600.0, 1800.0)}


def schedule(room: int, span_s: float, start_s: float) -> list[tuple[float, float]]:
    """A room's heater on-intervals, as fractions of the day spread by room (seconds since the
    load's origin, which is `start_s` before the day's start)."""
    fr = [(0.02 + 0.05 * room, 0.30 + 0.04 * room), (0.45, 0.55 + 0.03 * room),
          (0.70 - 0.01 * room, 0.98)]
    return [(start_s + a * span_s, start_s + b * span_s) for a, b in fr]


def build(db_url: str, hours: float):
    emu = Emulation(seed=3)
    base = dt.datetime(DAY.year, DAY.month, DAY.day, tzinfo=dt.timezone.utc) \
        - dt.timedelta(seconds=LEAD_S)

    def clock():
        return base + dt.timedelta(microseconds=emu.clock.now_ps // 1_000_000)

    hs = Headend(db_url, cabinets={name: 0 for name in CABINETS}, api_port=0, clock=clock)
    hs.start()
    span_s = hours * 3600
    mc_elf = str(firmware_path("f103rb", "metering_controller"))
    cabs = {}
    for n, (name, watts) in enumerate(CABINETS.items()):
        bus = new_bus(emu)
        qm = build_query_manager(emu, bus, name=f"qm-{name}")
        qm.machine.power_off()                 # on once its controller is set up
        qm.eth.map_port(5020, hs.link_ports[name])
        ctrl = build_controller(emu, channels=ROOMS, bus=bus, address=1, elf=mc_elf,
                                name=f"controller-{name}")
        attach_rooms(ctrl, [RoomLoad(f"r{r}", [ResistiveHeater(w, schedule=schedule(r, span_s, LEAD_S))])
                            for r, w in enumerate(watts)])
        cabs[name] = (qm, ctrl, ModbusMaster(emu, bus))
    emu.run_for("1s")
    for qm, ctrl, master in cabs.values():
        master.set_flat_price(PRICE)
        for r in range(ROOMS):
            master.top_up(r, 1_000_000)         # credit for far more than the day
            master.set_room(r, malicious_detect=False)   # heaters are resistive loads
        master.close()                         # the query manager is the bus's master from now
    qm_elf = str(firmware_path("f103rc", "query_manager"))
    for qm, _, _ in cabs.values():
        qm.load_firmware(qm_elf)
        qm.machine.power_on()
    return emu, hs, cabs


def compare(hs, cabs) -> list[dict]:
    rows = []
    with hs.sessions() as s:
        stats = domain.daily_statistics(s, DAY)
        names = {c.id: c.name for c in s.scalars(select(Cabinet))}
        for rd in stats:
            name = names[rd.room.cabinet_id]
            ref = reference_energy_Wh(cabs[name][1], rd.room.room)
            rows.append({"cabinet": name, "room": rd.room.room, "reference_Wh": ref,
                         "statistics_Wh": rd.energy_Wh, "readings": rd.readings,
                         "ok": abs(rd.energy_Wh - ref) <= 0.002 * ref + 1})
    for name in cabs:
        mine = [r for r in rows if r["cabinet"] == name]
        ref = sum(r["reference_Wh"] for r in mine)
        got = sum(r["statistics_Wh"] for r in mine)
        rows.append({"cabinet": name, "room": "all", "reference_Wh": ref, "statistics_Wh": got,
                     "readings": sum(r["readings"] for r in mine),
                     "ok": abs(got - ref) <= 0.002 * ref + len(mine)})
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hours", type=float, default=24.0, help="virtual hours of the day (24)")
    ap.add_argument("--db", help="database URL (default: SQLite in a temporary directory)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        emu, hs, cabs = build(a.db or f"sqlite:///{tmp}/headend.db", a.hours)
        virtual_s = LEAD_S + a.hours * 3600 + TAIL_S
        c0, w0 = time.process_time(), time.perf_counter()
        try:
            emu.run_until_time(int(virtual_s * PS_PER_S))
            cpu_s, wall_s = time.process_time() - c0, time.perf_counter() - w0
            rows = compare(hs, cabs)
        finally:
            for qm, _, _ in cabs.values():
                qm.eth.close()
            hs.stop()
    per_h = 3600 / (virtual_s - 1)
    out = {"machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
           "virtual_hours": a.hours, "cpu_s_per_virtual_hour": cpu_s * per_h,
           "wall_s_per_virtual_hour": wall_s * per_h, "rows": rows,
           "ok": all(r["ok"] for r in rows)}
    if a.json:
        print(json.dumps(out, indent=1))
    else:
        print(f"head end day: {a.hours} virtual h of {DAY}, two cabinets of {ROOMS} rooms")
        print(f"  CPU {out['cpu_s_per_virtual_hour']:.1f} s, wall {out['wall_s_per_virtual_hour']:.1f} s"
              " per virtual hour")
        print(f"  {'cabinet':9} {'room':>4} {'reference Wh':>13} {'statistics Wh':>14} {'error':>8} {'readings':>8}")
        for r in rows:
            err = (r["statistics_Wh"] - r["reference_Wh"]) / r["reference_Wh"] * 100 \
                if r["reference_Wh"] else 0.0
            print(f"  {r['cabinet']:9} {r['room']:>4} {r['reference_Wh']:13.1f} {r['statistics_Wh']:14d}"
                  f" {err:7.3f}% {r['readings']:8d}{'' if r['ok'] else '  <- over 0.2 % + 1 Wh'}")
        print("  all within 0.2 %" if out["ok"] else "  CHECK FAILED")
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
