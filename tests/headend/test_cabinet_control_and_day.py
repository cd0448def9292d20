"""End to end with the real firmware (a query manager and a 4-room metering controller on
RS-485, the W5500 link to the head end), on SQLite and on PostgreSQL:

- a day's statistics and remote relay control: the rooms draw heaters' known loads, let through
  by their relays, which an operator closes and opens from the API (RELAY commands through the
  link, seen in the next report as opened remotely); the head end's day
  statistics per room and per cabinet, counted by the cabinet's clock, equal the reference
  energies integrated from the injected load profiles over the relays' closed intervals, for
  the day before the cabinet's midnight and the day after it;
- a schedule set by an admin holds a room's relay open over its off period, and clearing it
  closes the relay again;
- the clock push: an admin's push sets the cabinet's clock (the query manager's and, through
  its broadcast, the controller's) to the head end's.

The head end's clock here is virtual time (a fixed date plus the emulation's clock), so the
cabinet passes midnight 20 virtual seconds into the run: a day's statistics are those of a
real calendar day of the API (`?day=`), of which the run covers the last seconds and the first
minute. The day-1 loads end, and are reported, before the cabinet's midnight; the day-2 loads
start after a report of day 2 by the cabinet's clock (its T lines), wherever the cabinet's
clock stands against the head end's. The controller counts whole Wh, so a room's counter rise is within 1 Wh of the energy
it metered: the check is 0.2 % of the reference plus 1 Wh per room (the controller's own
tests use the same rule)."""

import datetime as dt

import pytest

from metersim._cabinet.board import build_controller, new_bus
from metersim._cabinet.checks import reference_energy_Wh
from metersim._cabinet.modbus_master import ModbusMaster
from metersim._cabinet.query_manager import build_query_manager
from metersim._cabinet.scenario import RoomLoad, attach_rooms
from metersim._engine.emulation import Emulation
from metersim._headend import Headend, domain
from metersim._orchestration.appliances import ResistiveHeater

from .conftest import ADMIN, OPERATOR, PASSWORD, Api, VirtualClock, wait_for

UTC = dt.timezone.utc
ROOMS = 4
HEATER_W = [9000.0, 8000.0, 7000.0, 6000.0]      # room r: 39..26 A at 230 V (CT: 50 A)
# Virtual second at which the head end's clock (and the cabinet's) passes midnight: after the
# start, the first report and day 1's commands. Each command's answer crosses the head end's
# thread in wall time, during which the emulation runs on: a loaded machine spends more virtual
# seconds per command (CI once saw 20 s used up).
MIDNIGHT_S = 40
DAY1 = dt.date(2026, 6, 30)
DAY2 = DAY1 + dt.timedelta(days=1)
UNIX_2000 = 946684800


def rtc_unix_s(machine) -> float:
    """A board's RTC in Unix seconds (the BSP counts from 2000), with the prescaler's fraction."""
    rtc = machine["rtc"]
    return UNIX_2000 + rtc.counter + (32767 - rtc.divider) / 32768


@pytest.fixture(scope="module")
def cabinet(firmware, module_db_url):
    url = module_db_url
    emu = Emulation(seed=11)
    # DAY1's end minus MIDNIGHT_S plus virtual time
    clock = VirtualClock(emu, dt.datetime(DAY2.year, DAY2.month, DAY2.day, tzinfo=UTC)
                         - dt.timedelta(seconds=MIDNIGHT_S))
    hs = Headend(url, cabinets={"block-C": 0}, api_port=0, clock=clock, report_period_s=2)
    with hs.sessions.begin() as s:
        domain.add_user(s, ADMIN, PASSWORD, "admin", clock())
        domain.add_user(s, OPERATOR, PASSWORD, "operator", clock())
    hs.start()
    bus = new_bus(emu)
    qm = build_query_manager(emu, bus)
    qm.machine.power_off()                # on once the controller is set up: one master at a time
    qm.eth.map_port(5020, hs.link_ports["block-C"])
    ctrl = build_controller(emu, channels=ROOMS, bus=bus,
                            elf=firmware("f103rb", "metering_controller"))
    # heaters on from the start: the relays decide when their current flows
    attach_rooms(ctrl, [RoomLoad(f"heater{r}", [ResistiveHeater(w, schedule=[(0.0, 1e6)])])
                        for r, w in enumerate(HEATER_W)])
    emu.run_until(lambda: any("rs485" in ln for ln in ctrl.console.line_texts()), "5s",
                  "the controller's start-up banner")
    master = ModbusMaster(emu, bus)
    master.set_flat_price(60)
    for r in range(ROOMS):
        master.set_room(r, malicious_detect=False)    # a heater is a resistive load
        master.relay_command(r, 0)                    # held open until the head end says
        master.top_up(r, 100_000)
    assert not any(ctrl.relay_closed(r) for r in range(ROOMS))
    qm.load_firmware(firmware("f103rc", "query_manager"))
    qm.machine.power_on()
    run = {"emu": emu, "qm": qm, "ctrl": ctrl, "hs": hs, "clock": clock,
           "op": Api(hs.url(), OPERATOR), "admin": Api(hs.url(), ADMIN)}
    emu.run_until(lambda: hs.links.reports_from.get("block-C", 0) >= 1, "20s",
                  "the first report with readings")
    run["rooms"] = {r["room"]: r["id"] for r in run["op"].get("/api/cabinets").json()[0]["rooms"]}
    yield run
    qm.eth.close()
    hs.stop()


def command(run, method, url, body=None, api="op"):
    """Send a command through the API and run the cabinet until the head end has its answer."""
    links, n = run["hs"].links, run["hs"].links.answers_in
    r = getattr(run[api], method)(url, json=body)
    assert r.status_code == 202, r.text
    run["emu"].run_until(lambda: links.answers_in > n, "5s", f"the answer to {url}")
    cid = r.json()["id"]
    wait_for(lambda: run["op"].get(f"/api/commands/{cid}").json()["state"] != "sent",
             what="the answer stored")
    assert run["op"].get(f"/api/commands/{cid}").json()["state"] == "done"


def relays(run, rooms, what):
    for room in rooms:
        command(run, "post", f"/api/rooms/{run['rooms'][room]}/relay", {"command": what})


def next_report(run):
    """Run until a report with readings newer than now has been stored."""
    hs, n = run["hs"], run["hs"].links.reports_from["block-C"]
    run["emu"].run_until(lambda: hs.links.reports_from["block-C"] > n, "15s", "the next report")


def settled_report(run):
    """Run until the head end has a report whose every reading counts the energy up to now:
    the controller bills the ADE7753s' energy every second, the query manager polls each room
    once a second and snapshots its table every 2 s (3 s of margin, then the next report)."""
    run["emu"].run_for("3s")
    next_report(run)


def cabinet_time(run) -> dt.datetime:
    """The cabinet's clock of the latest readings the head end has (their T line)."""
    return max(dt.datetime.fromisoformat(r["measured_at"])
               for r in run["op"].get("/api/cabinets").json()[0]["rooms"])


def test_a_days_statistics_equal_the_rooms_reference_energies(cabinet):
    run = cabinet
    emu, ctrl, op = run["emu"], run["ctrl"], run["op"]
    midnight = dt.datetime(DAY2.year, DAY2.month, DAY2.day, tzinfo=UTC)
    relays(run, (0, 1), "close")               # day 1: two rooms draw for 4 s
    assert ctrl.relay_closed(0) and ctrl.relay_closed(1)
    emu.run_for("4s")
    relays(run, (0, 1), "open")
    settled_report(run)                        # their counters, read after the relays opened
    assert cabinet_time(run) < midnight, "day 1's loads ended too late: raise MIDNIGHT_S"
    for _ in range(30):                        # a report of day 2 by the cabinet's clock: every
        if cabinet_time(run) >= midnight:      # reading of day 1 was taken before now
            break
        next_report(run)
    else:
        raise AssertionError(f"the cabinet's clock stands at {cabinet_time(run)}, not past midnight")
    day2_ps = emu.clock.now_ps                 # no load between day 1's and day 2's
    relays(run, range(ROOMS), "close")         # day 2: every room for 10 s
    emu.run_for("10s")
    relays(run, range(ROOMS), "open")          # by an operator, remotely: reason 7
    settled_report(run)
    for room in op.get("/api/cabinets").json()[0]["rooms"]:
        assert (room["relay_closed"], room["tripped"], room["reason"]) == (False, True, 7)
    assert not any(ctrl.relay_closed(r) for r in range(ROOMS))
    console = run["qm"].console.line_texts()
    assert all(f"poll: relay {c} controller 1 room {r}: ok" in console
               for c in (0, 1) for r in range(ROOMS))
    for day, since, until in ((DAY1, 0, day2_ps), (DAY2, day2_ps, emu.clock.now_ps)):
        ref = {room: reference_energy_Wh(ctrl, room, since, until) for room in range(ROOMS)}
        stats = op.get("/api/statistics", params={"day": day.isoformat()}).json()
        got = {r["room_id"]: r["energy_Wh"] for r in stats["rooms"]}
        for room, ref_Wh in ref.items():
            assert abs(got[run["rooms"][room]] - ref_Wh) <= 0.002 * ref_Wh + 1, (day, room, got, ref)
        total_ref = sum(ref.values())
        [cab] = stats["cabinets"]
        assert abs(cab["energy_Wh"] - total_ref) <= 0.002 * total_ref + ROOMS, (day, cab, total_ref)
        assert total_ref > (15 if day == DAY1 else 80)      # loads really ran that day
    assert sum(reference_energy_Wh(ctrl, r, 0, day2_ps) for r in (2, 3)) == 0


def test_a_schedule_holds_the_relay_open_over_its_off_period(cabinet):
    run = cabinet
    ctrl, room_id = run["ctrl"], run["rooms"][2]
    relays(run, (2,), "close")
    assert ctrl.relay_closed(2)
    now = run["clock"]()
    minute = now.hour * 60 + now.minute
    ctrl_now = dt.datetime.fromtimestamp(rtc_unix_s(ctrl.machine), UTC)
    assert abs((ctrl_now - now).total_seconds()) < 2, (ctrl_now, now)
    # off from the minute before this one to three minutes on, by the controller's clock (set
    # by the cabinet's): whichever side of a minute's turn the two clocks stand
    sched = {"off_min": (minute - 1) % 1440, "on_min": (minute + 3) % 1440}
    command(run, "put", f"/api/rooms/{room_id}/schedule", sched, api="admin")
    run["emu"].run_until(lambda: not ctrl.relay_closed(2), "3s", "the schedule opening the relay")
    settled_report(run)       # a snapshot taken after the open relay was polled (not the next)
    room = run["op"].get(f"/api/rooms/{room_id}").json()
    assert room["schedule"] == sched and room["schedule_off"] and room["reason"] == 6
    assert (f"poll: schedule {sched['off_min']} {sched['on_min']} controller 1 room 2: ok"
            in run["qm"].console.line_texts())
    command(run, "put", f"/api/rooms/{room_id}/schedule", {"off_min": None, "on_min": None},
            api="admin")
    run["emu"].run_until(lambda: ctrl.relay_closed(2), "3s", "the relay closed again")
    assert run["op"].get(f"/api/rooms/{room_id}").json()["schedule"] is None


def test_the_clock_push_sets_the_cabinets_clocks_to_the_head_ends(cabinet):
    run = cabinet
    emu, clock = run["emu"], run["clock"]
    clock.base += dt.timedelta(minutes=7, seconds=30)       # the head end's clock was corrected
    server = lambda: clock().timestamp()   # noqa: E731
    assert rtc_unix_s(run["ctrl"].machine) < server() - 400
    cab_id = run["op"].get("/api/cabinets").json()[0]["id"]
    command(run, "post", f"/api/cabinets/{cab_id}/clock", api="admin")
    # the broadcast follows the TIME at once: the query manager's next RTC tick (<= 1 s), then
    # the server's next half second (<= 1 s); the head end may see the answer a little late
    emu.run_until(lambda: abs(rtc_unix_s(run["ctrl"].machine) - server()) < 100, "3s",
                  "the clock broadcast reaching the controller")
    # each within half a second plus the link's latency, which is wall time here (the head end
    # polls its virtual clock every 10 ms of wall time, the W5500 model its socket): a second or
    # two of virtual time when the emulation runs fast, about 3 s on a loaded 2-CPU machine;
    # the clocks stood 450 s apart before the push
    for m in (run["qm"].machine, run["ctrl"].machine):
        assert abs(rtc_unix_s(m) - server()) < 5.0, (m.name, rtc_unix_s(m) - server())


def push(run, method, url, body) -> None:
    """Set or change a tariff through the API (admin) and run the cabinet until the
    controller has it: each of the answer's tariff commands done."""
    links, n = run["hs"].links, run["hs"].links.answers_in
    r = getattr(run["admin"], method)(url, json=body)
    assert r.status_code == 200, r.text
    cmds = r.json()["commands"]
    assert [c["args"]["controller"] for c in cmds] == [1]
    run["emu"].run_until(lambda: links.answers_in > n, "5s", f"the answer to {url}")
    wait_for(lambda: run["op"].get(f"/api/commands/{cmds[0]['id']}").json()["state"] != "sent",
             what="the answer stored")
    assert run["op"].get(f"/api/commands/{cmds[0]['id']}").json()["state"] == "done"


def billed_rate(run, room: int, min_s: int) -> tuple[int, int]:
    """(Wh, cents) the room's controller counted and took off its balance between two of its
    readings at least `min_s` seconds apart by the cabinet's clock, both polled after the last
    push: the query manager polls each room once a second, so a report 1.5 s after the push
    holds a later poll. A report's readings are a few seconds old, by how the link's wall-time
    latency falls against virtual time, so the window is measured, not assumed."""
    def last():
        [r] = run["op"].get(f"/api/rooms/{run['rooms'][room]}/readings", params={"limit": 1}).json()
        return dt.datetime.fromisoformat(r["measured_at"]), r["energy_Wh"], r["balance_cents"]
    run["emu"].run_for("1.5s")
    next_report(run)
    t0, e0, b0 = last()
    for _ in range(2 * min_s):                  # a report every 2 s: bounded well past the window
        next_report(run)
        t1, e1, b1 = last()
        if (t1 - t0).total_seconds() >= min_s:
            return e1 - e0, b0 - b1
    raise AssertionError(f"no reading {min_s} s after the one of {t0} (last {t1})")


def test_a_pushed_tariff_bills_the_room_at_its_new_price(cabinet):
    """The controller bills at 0.60 per kWh (set by the fixture); an admin sets the cabinet's
    tariff to a flat 30.00 per kWh, then changes it to time of use (15.00 from 23:00 to 01:00,
    one period over midnight in the controller, where the cabinet's clock is; 1.00 and 7.00
    the rest of the day); after each push the room's balance falls at that price per kWh the
    controller counts (its cost keeps the fraction of a cent, so within one cent)."""
    run = cabinet
    room = 3                                    # a 6 kW heater: 1.67 Wh a second
    assert cabinet_time(run).hour in (23, 0)
    cab_id = run["op"].get("/api/cabinets").json()[0]["id"]
    relays(run, (room,), "close")
    flat = run["admin"].post("/api/tariffs", json={"name": "flat 30", "kind": "flat",
                                                   "rules": {"cents_per_kWh": 3000}}).json()
    push(run, "patch", f"/api/cabinets/{cab_id}", {"tariff_id": flat["id"]})
    wh, cents = billed_rate(run, room, 6)
    assert wh >= 8 and abs(cents - wh * 3000 / 1000) < 1, (wh, cents)
    tou = {"periods": [[0, 1, 1500], [1, 8, 100], [8, 23, 700], [23, 24, 1500]]}
    push(run, "put", f"/api/tariffs/{flat['id']}", {"name": "tou", "kind": "tou", "rules": tou})
    wh, cents = billed_rate(run, room, 6)
    assert wh >= 8 and abs(cents - wh * 1500 / 1000) < 1, (wh, cents)
    relays(run, (room,), "open")
    console = run["qm"].console.line_texts()
    assert "poll: tariff mode 0 flat 3000 controller 1: ok" in console
    assert "poll: tariff mode 1 flat 1500 controller 1: ok" in console
    tariffs = run["op"].get("/api/cabinets").json()[0]["controller_tariffs"]
    assert [(t["controller"], t["tariff_id"], t["state"]) for t in tariffs] == [
        (1, flat["id"], "done")]
