"""End to end: a real emulated cabinet (query manager firmware + one 4-room metering controller
firmware on RS-485) connected over the emulated W5500 to the head end's TCP service, with
PostgreSQL behind it: the readings land in the database, and a top-up made through the REST API
travels head end -> query manager -> controller and closes the room's relay; with the head end
stopped the cabinet keeps metering, and once it is back the query manager reconnects and the
database holds every reading it got once, in order."""

import pytest
from sqlalchemy import select

from metersim.cabinet.board import new_bus
from metersim.cabinet.modbus_master import ModbusMaster
from metersim.cabinet.query_manager import build_controllers, build_query_manager
from metersim.cabinet.scenario import RoomLoad, attach_rooms
from metersim.engine.emulation import Emulation
from metersim.headend import Headend, domain
from metersim.headend.models import Reading, Room
from metersim.orchestration.appliances import ResistiveHeater

from .conftest import ADMIN, OPERATOR, PASSWORD, Api, wait_for

ADDR, ROOMS = 1, 4
HEATED, UNPAID = 0, 1          # room 0 draws 2 kW; room 1 never paid: its relay is held open
HEATER_W = 2000.0


def u32(regs, i):
    return regs[i] << 16 | regs[i + 1]


@pytest.fixture(scope="module")
def cabinet_and_headend(firmware, postgres_url):
    url = postgres_url()
    hs = Headend(url, cabinets={"block-A": 0}, api_port=0)
    with hs.sessions.begin() as s:
        domain.add_user(s, OPERATOR, PASSWORD, "operator", domain.now_utc())
    hs.start()
    emu = Emulation(seed=5)
    bus = new_bus(emu)
    qm = build_query_manager(emu, bus)
    qm.machine.power_off()              # switched on once the controller is set up
    qm.eth.map_port(5020, hs.link_ports["block-A"])
    master = ModbusMaster(emu, bus)
    ctrl = build_controllers(emu, bus, [(ADDR, ROOMS)], firmware("f103rb", "metering_controller"),
                             master)[ADDR]
    attach_rooms(ctrl, [RoomLoad("heated", [ResistiveHeater(HEATER_W, schedule=[(0.5, 1e6)])])]
                 + [RoomLoad(f"r{r}", []) for r in range(1, ROOMS)])
    emu.run_for("1s")
    master.set_flat_price(60, address=ADDR)
    for r in range(ROOMS):
        if r != UNPAID:
            master.top_up(r, 3000, address=ADDR)
    master.set_room(HEATED, malicious_detect=False, address=ADDR)   # a heater is resistive
    qm.load_firmware(firmware("f103rc", "query_manager"))
    qm.machine.power_on()
    run = {"emu": emu, "ctrl": ctrl, "qm": qm, "hs": hs, "url": url}
    yield run
    qm.eth.close()
    run["hs"].stop()


def test_readings_land_in_the_database_and_a_web_top_up_closes_the_relay(cabinet_and_headend):
    emu, ctrl, qm, hs = (cabinet_and_headend[k] for k in ("emu", "ctrl", "qm", "hs"))
    op = Api(hs.url(), OPERATOR)
    emu.run_until(lambda: hs.links.readings_in >= ROOMS and hs.links.reports_in >= 1, "25s",
                  "the query manager's first report with readings")
    cab = wait_for(lambda: (c := op.get("/api/cabinets").json()[0])["rooms"] and c,
                   what="the rooms")
    assert cab["online"] and cab["name"] == "block-A"
    rooms = {r["room"]: r for r in cab["rooms"]}
    assert sorted(rooms) == list(range(ROOMS))
    state, table = qm.readings(ADDR)
    assert state == "online"
    heated = rooms[HEATED]
    assert heated["relay_closed"] and abs(heated["power_W"] - HEATER_W) < 0.03 * HEATER_W
    assert heated["energy_Wh"] > 0 and heated["balance_cents"] <= 3000
    unpaid = rooms[UNPAID]
    assert not unpaid["relay_closed"] and unpaid["tripped"] and unpaid["balance_cents"] <= 0
    assert not ctrl.relay_closed(UNPAID)
    for r in (2, 3):      # idle rooms: the stored registers are the controller's own
        regs = table[r].regs
        assert rooms[r]["balance_cents"] == u32(regs, 12) == 3000
    readings = op.get(f"/api/rooms/{heated['id']}/readings").json()
    assert [p["energy_Wh"] for p in readings] == [heated["energy_Wh"]]

    t = op.post("/api/topups", json={"request_id": "web-1", "room_id": unpaid["id"],
                                     "cents": 800})
    assert t.status_code == 201
    emu.run_until(lambda: ctrl.relay_closed(UNPAID), "5s", "the unpaid room's relay closing")
    assert any(ln == f"event top-up room {UNPAID} value 800" for ln in ctrl.console.line_texts())
    emu.run_until(lambda: hs.links.answers_in >= 1, "2s", "the query manager's OK TOPUP")
    wait_for(lambda: op.get(f"/api/topups/{t.json()['id']}").json()["state"] == "done",
             what="the top-up confirmed")


def test_cabinet_meters_alone_while_the_head_end_is_down_and_reconnects(cabinet_and_headend):
    run = cabinet_and_headend
    emu, ctrl, qm, hs = run["emu"], run["ctrl"], run["qm"], run["hs"]
    port = hs.link_ports["block-A"]
    with hs.sessions() as s:
        before = [(r.epoch, r.seq) for r in s.scalars(select(Reading).order_by(Reading.id))]
    energy0 = u32(qm.readings(ADDR)[1][HEATED].regs, 8)
    hs.stop()
    emu.run_for("6s")                     # no server: the cabinet goes on metering
    assert "net: connection lost" in qm.console.line_texts()
    energy1 = u32(qm.readings(ADDR)[1][HEATED].regs, 8)
    assert energy1 > energy0 and ctrl.relay_closed(HEATED)
    hs = run["hs"] = Headend(run["url"], cabinets={"block-A": port}, api_port=0).start()
    emu.run_until(lambda: hs.links.readings_in >= ROOMS and hs.links.reports_in >= 1, "12s",
                  "a report after the query manager reconnected")
    with hs.sessions() as s:
        after = [(r.epoch, r.seq) for r in s.scalars(select(Reading).order_by(Reading.id))]
        heated = s.scalar(select(Room).where(Room.room == HEATED))
        assert heated.energy_Wh >= energy1
    assert after[:len(before)] == before
    assert after == sorted(set(after)) and len(after) >= len(before) + ROOMS   # once, in order
    assert {e for e, _ in after} == {1}          # the same start-up of the query manager
    assert Api(hs.url(), OPERATOR).get("/api/cabinets").json()[0]["online"]
