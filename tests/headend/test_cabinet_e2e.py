"""End to end: two real emulated cabinets (each a query manager and a 4-room metering
controller, their firmware on RS-485) connected over the emulated W5500 to the head end's TCP
service, with SQLite and then PostgreSQL behind it: the readings land in the database under the right cabinet;
the dashboard in Chromium follows them live, and a top-up typed in its form travels head end ->
query manager -> controller and closes that room's relay (and no other), its relay button opens
a real relay; with the head end stopped for 2 virtual hours the
cabinets keep metering, billing and protecting on their own (a room whose credit runs out
during the outage trips), and once it is back the query managers reconnect and the database
holds every reading, those buffered in the outage included, once, in order; the day's
statistics (the cabinets pass midnight a minute in) equal the reference energies of the rooms'
loads within 0.2 %, per room and per cabinet."""

import datetime as dt

import pytest
from sqlalchemy import select

from metersim._cabinet.board import build_controller, new_bus
from metersim._cabinet.checks import reference_energy_Wh
from metersim._cabinet.modbus_master import ModbusMaster
from metersim._cabinet.query_manager import build_query_manager
from metersim._cabinet.scenario import RoomLoad, attach_rooms
from metersim._engine.emulation import Emulation
from metersim._headend import Headend, domain
from metersim._headend.models import Cabinet, Reading, Room
from metersim._orchestration.appliances import ResistiveHeater
from metersim._units import PS_PER_S

from .conftest import OPERATOR, PASSWORD, Api, VirtualClock, log_in_page, page_cell, wait_for

ROOMS = 4                      # each cabinet: one controller with 4 rooms
HEATED, UNPAID, IDLE = 0, 1, 2  # room 0 draws a heater's power; room 1 never paid: held open
SHORT = 3                      # draws SHORT_W on SHORT_CENTS of credit: trips about 50 min in
HEATER_W = {"block-A": 2000.0, "block-B": 1200.0}
SHORT_W, SHORT_CENTS = 3000.0, 150
PRICE = 60                     # cents per kWh
OUTAGE_S = 2 * 3600
UNIX_2000 = 946684800
# the head end's clock: virtual time from a minute before DAY's midnight, so the cabinets have
# the head end's clock (pushed at connection) before the day begins, and the outage falls in it;
# their T lines run with it
DAY = dt.date(2026, 3, 2)
START = dt.datetime.combine(DAY, dt.time(), dt.timezone.utc) - dt.timedelta(seconds=60)


def virtual_ps(at: dt.datetime) -> int:
    """The virtual instant of a head-end (or cabinet) clock reading."""
    return round((domain.aware(at) - START).total_seconds() * PS_PER_S)
ADDR = {"block-A": 1, "block-B": 2}     # the controllers' Modbus addresses (names differ too)


def u32(regs, i):
    return regs[i] << 16 | regs[i + 1]


@pytest.fixture(scope="module")
def cabinets(firmware, module_db_url):
    url = module_db_url
    emu = Emulation(seed=5)
    clock = VirtualClock(emu, START)
    hs = Headend(url, cabinets={name: 0 for name in HEATER_W}, api_port=0, clock=clock)
    with hs.sessions.begin() as s:
        domain.add_user(s, OPERATOR, PASSWORD, "operator", clock())
    hs.start()
    mc_elf = firmware("f103rb", "metering_controller")
    cabs = {}
    for n, name in enumerate(HEATER_W):   # every machine is made before the clock first runs
        bus = new_bus(emu)
        qm = build_query_manager(emu, bus, name=f"qm{n + 1}")
        qm.machine.power_off()            # switched on once the controller is set up
        qm.eth.map_port(5020, hs.link_ports[name])
        ctrl = build_controller(emu, channels=ROOMS, bus=bus, address=ADDR[name], elf=mc_elf,
                                name=f"controller-{name}")
        ctrl.machine.power_off()
        cabs[name] = (qm, ctrl, ModbusMaster(emu, bus))
    for name, (qm, ctrl, master) in cabs.items():
        ctrl.machine.power_on()           # leaves the factory at address 1: the installer sets it
        emu.run_until(lambda: any("rs485" in ln for ln in ctrl.console.line_texts()), "5s",
                      f"{name}'s controller start-up banner")
        if ADDR[name] != 1:
            master.set_slave_address(ADDR[name], address=1)
            emu.run_for("100ms")
        attach_rooms(ctrl, [RoomLoad("heated", [ResistiveHeater(HEATER_W[name],
                                                                schedule=[(0.5, 1e6)])]),
                            RoomLoad("unpaid", []), RoomLoad("idle", []),
                            RoomLoad("short", [ResistiveHeater(SHORT_W, schedule=[(0.5, 1e6)])])])
    emu.run_for("1s")
    for name, (qm, ctrl, master) in cabs.items():
        a = ADDR[name]
        master.set_flat_price(PRICE, address=a)
        for r in range(ROOMS):
            if r != UNPAID:
                master.top_up(r, SHORT_CENTS if r == SHORT else 3000, address=a)
        for r in (HEATED, SHORT):                 # a heater is a resistive load
            master.set_room(r, malicious_detect=False, address=a)
    qm_elf = firmware("f103rc", "query_manager")
    for qm, _, _ in cabs.values():
        qm.load_firmware(qm_elf)
        qm.machine.power_on()
    run = {"emu": emu, "cabs": cabs, "hs": hs, "url": url, "clock": clock}
    yield run
    for qm, _, _ in cabs.values():
        qm.eth.close()
    run["hs"].stop()


def reported(hs, count=1):
    return all(hs.links.reports_from.get(name, 0) >= count for name in HEATER_W)


def test_readings_land_in_the_database_under_their_cabinets(cabinets):
    emu, cabs, hs = cabinets["emu"], cabinets["cabs"], cabinets["hs"]
    op = Api(hs.url(), OPERATOR)
    emu.run_until(lambda: reported(hs), "25s", "a report with readings from each cabinet")
    listed = {c["name"]: c for c in op.get("/api/cabinets").json()}
    assert sorted(listed) == sorted(HEATER_W)
    for name, (qm, ctrl, _) in cabs.items():
        cab = listed[name]
        assert cab["online"]
        rooms = {r["room"]: r for r in cab["rooms"]}
        assert sorted(rooms) == list(range(ROOMS))
        state, table = qm.readings(ADDR[name])
        assert state == "online"
        heated = rooms[HEATED]
        assert heated["relay_closed"]
        assert abs(heated["power_W"] - HEATER_W[name]) < 0.03 * HEATER_W[name]
        assert heated["energy_Wh"] > 0 and heated["balance_cents"] <= 3000
        unpaid = rooms[UNPAID]
        assert not unpaid["relay_closed"] and unpaid["tripped"] and unpaid["balance_cents"] <= 0
        assert not ctrl.relay_closed(UNPAID)
        idle = rooms[IDLE]    # the stored registers are the controller's own
        assert idle["balance_cents"] == u32(table[IDLE].regs, 12) == 3000
        assert rooms[SHORT]["relay_closed"] and 0 < rooms[SHORT]["balance_cents"] <= SHORT_CENTS
        readings = op.get(f"/api/rooms/{heated['id']}/readings").json()
        assert readings[-1]["energy_Wh"] == heated["energy_Wh"]


def test_the_dashboard_in_chromium_follows_the_cabinets_and_its_top_up_closes_a_relay(
        cabinets, browser):
    """The web page, in a real browser, against the emulated cabinets: it shows their readings
    as they come in; a top-up typed in its form travels head end -> query manager ->
    controller and closes that room's relay (and no other cabinet's), and the page shows it
    done; a room's relay button opens a real relay."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    emu, cabs, hs = cabinets["emu"], cabinets["cabs"], cabinets["hs"]
    op = Api(hs.url(), OPERATOR)
    rooms = {(c["name"], r["room"]): r for c in op.get("/api/cabinets").json() for r in c["rooms"]}
    row = {k: f"room-{r['id']}" for k, r in rooms.items()}
    b = browser
    log_in_page(b, hs.url(), OPERATOR)
    heated_a = row["block-A", HEATED]
    wait_for(lambda: page_cell(b, heated_a, "energy"), what="block-A's heated room on the page")
    # live values: the cabinets report as the emulation runs; the page follows without a reload
    shown = page_cell(b, heated_a, "energy")
    n = hs.links.reports_from["block-A"]
    emu.run_until(lambda: hs.links.reports_from["block-A"] >= n + 2, "30s", "two more reports")

    def shows_the_database():
        with hs.sessions() as s:
            kWh = s.scalar(select(Room.energy_Wh).join(Cabinet).where(
                Cabinet.name == "block-A", Room.room == HEATED)) / 1000
        return page_cell(b, heated_a, "energy") == f"{kWh:.3f}" != shown
    wait_for(shows_the_database, what="the heated room's new energy on the page")

    # a top-up of block-B's unpaid room (held open) typed in the form
    unpaid_b = rooms["block-B", UNPAID]
    assert page_cell(b, row["block-B", UNPAID], "open") == "open"
    Select(b.find_element(By.ID, "topup-room")).select_by_value(str(unpaid_b["id"]))
    b.find_element(By.ID, "topup-amount").send_keys("8.00")
    b.find_element(By.ID, "topup-button").click()
    topup = wait_for(lambda: next((t for t in op.get("/api/topups").json()
                                   if t["room_id"] == unpaid_b["id"]), None),
                     what="the page's top-up at the head end")
    assert topup["cents"] == 800 and topup["request_id"].startswith("web-")
    ctrl_a, ctrl_b = cabs["block-A"][1], cabs["block-B"][1]
    emu.run_until(lambda: ctrl_b.relay_closed(UNPAID), "5s", "block-B's unpaid room's relay")
    assert any(ln == f"event top-up room {UNPAID} value 800" for ln in ctrl_b.console.line_texts())
    emu.run_until(lambda: hs.links.answers_in >= 1, "2s", "the query manager's OK TOPUP")
    wait_for(lambda: "8.00 done" in b.find_element(By.ID, "topup-result").text,
             what="the top-up confirmed on the page")
    assert not ctrl_a.relay_closed(UNPAID)      # the other cabinet's same room: untouched
    n = hs.links.reports_from["block-B"]
    emu.run_until(lambda: hs.links.reports_from["block-B"] >= n + 1, "15s", "a report after it")
    wait_for(lambda: page_cell(b, row["block-B", UNPAID], "closed") == "closed",
             what="the room's relay shown closed")

    # the relay button of block-A's idle room: the operator opens it from the page
    idle_a = row["block-A", IDLE]
    assert ctrl_a.relay_closed(IDLE) and page_cell(b, idle_a, "relay-btn") == "open"
    b.execute_script("document.querySelector('#' + arguments[0] + ' .relay-btn').click()", idle_a)
    wait_for(lambda: any(c["room_id"] == rooms["block-A", IDLE]["id"] and c["kind"] == "relay"
                         for c in op.get("/api/commands").json()),
             what="the page's relay command at the head end")
    emu.run_until(lambda: not ctrl_a.relay_closed(IDLE), "5s", "block-A's idle room's relay")
    answers = hs.links.answers_in
    emu.run_until(lambda: hs.links.answers_in > answers, "2s", "the query manager's OK RELAY")
    wait_for(lambda: b.find_element(By.ID, "relay-result").text.endswith(": done"),
             what="the relay command confirmed on the page")
    assert ctrl_b.relay_closed(IDLE)            # the other cabinet's same room: untouched


def cabinet_clock(qm) -> dt.datetime:
    """The query manager's RTC (the BSP counts seconds from 2000), as its T lines give it."""
    return dt.datetime.fromtimestamp(UNIX_2000 + qm.machine["rtc"].counter, dt.timezone.utc)


def room_readings(s, name, room):
    """The database's readings of a cabinet's room, in the cabinet's order."""
    cab = s.scalar(select(Cabinet).where(Cabinet.name == name))
    rid = s.scalar(select(Room.id).where(Room.cabinet_id == cab.id, Room.room == room))
    return list(s.scalars(select(Reading).where(Reading.room_id == rid)
                          .order_by(Reading.epoch, Reading.seq)))


def outage_pairs(readings, t0, t1):
    """Consecutive pairs of readings both taken (cabinet's clock) between t0 and t1."""
    inside = [r for r in readings if t0 <= domain.aware(r.measured_at) <= t1]
    return list(zip(inside, inside[1:]))


def caught_up(hs, energy_Wh):
    """A condition: every cabinet's heated room has at least `energy_Wh[cabinet]` in the
    database (the buffered readings replayed, then a snapshot from after the outage). The
    database is asked again only when a report has come in."""
    last = {"reports": None, "ok": False}

    def check():
        n = sum(hs.links.reports_from.values())
        if n != last["reports"]:
            last["reports"] = n
            with hs.sessions() as s:
                last["ok"] = all(s.scalar(select(Room.energy_Wh).join(Cabinet).where(
                    Cabinet.name == name, Room.room == HEATED)) >= e
                    for name, e in energy_Wh.items())
        return last["ok"]
    return check


def test_cabinets_meter_bill_and_protect_alone_for_two_hours_while_the_head_end_is_down(cabinets):
    """The head end stopped for 2 virtual hours: the query managers buffer a snapshot every
    30 min (docs/firmware_query_manager.md, "Server link") while the controllers go on metering,
    billing and protecting; once the head end is back every reading arrives once, in order, and
    the outage's readings show it: the heated room's energy rose by its power over each
    interval and its balance fell by that energy's price, and the short-credit room tripped on
    its balance (reason 1) and drew nothing more."""
    run = cabinets
    emu, cabs, hs = run["emu"], run["cabs"], run["hs"]
    ports = dict(hs.link_ports)
    with hs.sessions() as s:
        before = [(r.cabinet_id, r.epoch, r.seq) for r in
                  s.scalars(select(Reading).order_by(Reading.id))]
    energy0 = {n: u32(qm.readings(ADDR[n])[1][HEATED].regs, 8) for n, (qm, _, _) in cabs.items()}
    hs.stop()
    down_at = {n: cabinet_clock(qm) for n, (qm, _, _) in cabs.items()}
    emu.run_for(f"{OUTAGE_S}s")                # no server: the cabinets go on alone
    energy1 = {}
    for name, (qm, ctrl, _) in cabs.items():
        assert "net: connection lost" in qm.console.line_texts()
        energy1[name] = u32(qm.readings(ADDR[name])[1][HEATED].regs, 8)
        assert energy1[name] > energy0[name] and ctrl.relay_closed(HEATED)
        assert not ctrl.relay_closed(SHORT)
    up_at = {n: cabinet_clock(qm) for n, (qm, _, _) in cabs.items()}
    hs = run["hs"] = Headend(run["url"], cabinets=ports, api_port=0, clock=run["clock"]).start()
    emu.run_until(lambda: reported(hs), "12s", "reports after the query managers reconnected")
    emu.run_until(caught_up(hs, energy1), "30s", "the buffered readings and a fresh snapshot")
    with hs.sessions() as s:
        after = [(r.cabinet_id, r.epoch, r.seq) for r in
                 s.scalars(select(Reading).order_by(Reading.id))]
        for name in cabs:
            # metering and billing: each outage interval, from the buffered readings
            pairs = outage_pairs(room_readings(s, name, HEATED), down_at[name], up_at[name])
            assert len(pairs) >= 3, f"{name}: {len(pairs)} intervals buffered in 2 h"
            for a, b in pairs:
                dt_s = (b.measured_at - a.measured_at).total_seconds()
                want_Wh = HEATER_W[name] * dt_s / 3600
                assert abs(b.energy_Wh - a.energy_Wh - want_Wh) <= 3 + 0.002 * want_Wh, \
                    (name, a.measured_at, b.measured_at, b.energy_Wh - a.energy_Wh, want_Wh)
                cost = b.cost_cents - a.cost_cents
                assert abs(cost - (b.energy_Wh - a.energy_Wh) * PRICE / 1000) <= 1
                assert a.balance_cents - b.balance_cents == cost
            # protecting: the short-credit room tripped on its balance during the outage
            short = room_readings(s, name, SHORT)
            tripped = [r for r in short if r.reason == 1 and not r.status & 1
                       and down_at[name] <= domain.aware(r.measured_at) <= up_at[name]]
            assert tripped, f"{name}: no reading of the short-credit room's trip"
            first = tripped[0]
            assert first.balance_cents <= 0 and first.trips >= 1
            assert short[-1].energy_Wh - first.energy_Wh <= 1     # nothing drawn after the trip
    assert after[:len(before)] == before
    for cab_id in {c for c, _, _ in after}:           # per cabinet: once each, in order
        seqs = [(e, q) for c, e, q in after if c == cab_id]
        assert seqs == sorted(set(seqs)) and {e for e, _ in seqs} == {1}
    assert len(after) >= len(before) + 2 * ROOMS
    op = Api(hs.url(), OPERATOR)
    assert all(c["online"] for c in op.get("/api/cabinets").json())
    # the day's statistics (the cabinets passed midnight a minute in): each room's energy is
    # the rise of its counter from its last reading before the day (or its first inside) to
    # its last, and equals the reference energy of its loads between those two readings'
    # instants (cabinet clock = head end clock: pushed at connection, before the day began)
    day_start = dt.datetime.combine(DAY, dt.time(), dt.timezone.utc)
    ref_room, ref_cab = {}, {}
    with hs.sessions() as s:
        for name, (_, ctrl, _) in cabs.items():
            cab = s.scalar(select(Cabinet).where(Cabinet.name == name))
            for room in range(ROOMS):
                rows = sorted(room_readings(s, name, room), key=lambda r: domain.aware(r.measured_at))
                before = [r for r in rows if domain.aware(r.measured_at) < day_start]
                inside = [r for r in rows if domain.aware(r.measured_at) >= day_start]
                assert before and domain.aware(before[-1].measured_at) >= START, \
                    f"{name} room {room}: no reading by the head end's clock before the day"
                since, until = (virtual_ps(before[-1].measured_at), virtual_ps(inside[-1].measured_at))
                ref = reference_energy_Wh(ctrl, room, since, until)
                rid = s.scalar(select(Room.id).where(Room.cabinet_id == cab.id, Room.room == room))
                ref_room[rid] = ref
                ref_cab[cab.id] = ref_cab.get(cab.id, 0.0) + ref
    stats = op.get("/api/statistics", params={"day": DAY.isoformat()}).json()
    got_room = {r["room_id"]: r["energy_Wh"] for r in stats["rooms"]}
    for rid, ref in ref_room.items():
        assert abs(got_room[rid] - ref) <= 0.002 * ref + 1, (rid, got_room[rid], ref)
    got_cab = {c["cabinet_id"]: c["energy_Wh"] for c in stats["cabinets"]}
    assert got_cab.keys() == ref_cab.keys()
    for cid, ref in ref_cab.items():
        assert abs(got_cab[cid] - ref) <= 0.002 * ref + ROOMS, (cid, got_cab[cid], ref)
        assert ref > 4000                      # two hours of heating in each cabinet
