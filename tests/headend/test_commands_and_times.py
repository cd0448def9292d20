"""The link's T lines and the commands to the cabinets, against a test-side query manager, on
SQLite and PostgreSQL: readings keep the cabinet's clock of their snapshot and the day's
statistics count by it (a report replayed after an outage lands in the day it was taken);
relay, schedule and clock commands from the API go out as RELAY / SCHED / TIME lines, in
order, with the roles they need, and end done, failed or (link lost) pending again."""

import datetime as dt

from metersim._headend import domain

from .conftest import FakeQueryManager, r_line, wait_for

UTC = dt.timezone.utc


def test_t_lines_time_the_readings_and_the_days_count_by_them(headend):
    hs, admin, op = headend
    # the cabinet was cut off over midnight and replays everything two days later
    hs.clock.t = dt.datetime(2026, 5, 3, 9, 0, tzinfo=UTC)
    evening = dt.datetime(2026, 5, 1, 23, 59, 50, tzinfo=UTC)
    qm = FakeQueryManager(hs.link_ports["block-A"])
    qm.send("HELLO query-manager 1.1",
            f"T {int(evening.timestamp())}", r_line(1, energy_Wh=1000), "END",
            f"T {int(evening.timestamp()) + 20}", r_line(2, energy_Wh=1003), "END",
            f"T {int(evening.timestamp()) + 3600}", r_line(3, energy_Wh=1250), "END",
            "T yesterday", r_line(4, energy_Wh=1260), "END")
    room = wait_for(lambda: op.get("/api/cabinets").json()[0]["rooms"], what="the room")[0]
    rows = wait_for(lambda: (lambda x: x if len(x) == 4 else None)(
        op.get(f"/api/rooms/{room['id']}/readings").json()), what="4 readings")
    qm.close()
    assert [r["measured_at"] for r in rows] == [
        "2026-05-01T23:59:50+00:00", "2026-05-02T00:00:10+00:00", "2026-05-02T00:59:50+00:00",
        None]                           # a malformed T line times nothing (logged)
    assert {r["received_at"][:10] for r in rows} == {"2026-05-03"}
    day = lambda d: op.get("/api/statistics", params={"day": d}).json()["cabinets"]  # noqa: E731
    assert day("2026-05-01")[0]["energy_Wh"] == 0          # one reading: no rise inside
    assert day("2026-05-02")[0]["energy_Wh"] == 250        # 1000 (last before) -> 1250
    assert day("2026-05-03")[0]["energy_Wh"] == 10         # the untimed one, by its arrival


def test_relay_schedule_and_clock_commands_reach_the_link_with_their_roles(headend):
    hs, admin, op = headend
    hs.clock.t = dt.datetime(2026, 5, 3, 9, 0, 0, 250000, tzinfo=UTC)
    hs.links.report_period_s = 5          # as `metersim headend serve --report-period 5`
    qm = FakeQueryManager(hs.link_ports["block-A"])
    qm.send("HELLO query-manager 1.1", r_line(1, ctrl=2, room=3), "END")
    period, time_line = sorted(qm.read_line(skip=(b"ACK ",)) for _ in range(2))
    assert period == "PERIOD 5 1800"
    assert time_line.startswith("TIME ")                         # the clock set at connection
    room_id = wait_for(lambda: op.get("/api/cabinets").json()[0]["rooms"], what="room")[0]["id"]
    cab_id = op.get("/api/cabinets").json()[0]["id"]

    relay = op.post(f"/api/rooms/{room_id}/relay", json={"command": "open"})
    assert relay.status_code == 202 and relay.json()["state"] == "pending"
    assert qm.read_line() == "RELAY 2 3 0"
    qm.send("OK RELAY")
    wait_for(lambda: op.get(f"/api/commands/{relay.json()['id']}").json()["state"] == "done",
             what="the relay command done")

    sched = {"off_min": 23 * 60, "on_min": 7 * 60}
    assert op.put(f"/api/rooms/{room_id}/schedule", json=sched).status_code == 403
    assert op.post(f"/api/cabinets/{cab_id}/clock").status_code == 403
    for bad in ({"off_min": 1440, "on_min": 0}, {"off_min": 5}, {"off_min": -1, "on_min": 3}):
        assert admin.put(f"/api/rooms/{room_id}/schedule", json=bad).status_code == 422, bad
    half = admin.put(f"/api/rooms/{room_id}/schedule", json={"off_min": 5, "on_min": None})
    assert half.status_code == 400 and "both" in half.json()["detail"]
    assert op.post(f"/api/rooms/{room_id}/relay", json={"command": "on"}).status_code == 422
    s = admin.put(f"/api/rooms/{room_id}/schedule", json=sched)
    assert s.status_code == 202
    assert qm.read_line() == "SCHED 2 3 1380 420"
    assert op.get(f"/api/rooms/{room_id}").json()["schedule"] is None   # not confirmed yet
    qm.send("OK SCHED")
    wait_for(lambda: op.get(f"/api/rooms/{room_id}").json()["schedule"] == sched,
             what="the schedule confirmed")

    clock = admin.post(f"/api/cabinets/{cab_id}/clock")
    assert clock.status_code == 202
    # at the next whole second of the head end's clock (09:00:00.25 -> 09:00:01)
    assert qm.read_line(skip=(b"ACK ",)) == f"TIME {int(hs.clock.t.timestamp()) + 1}"
    qm.send("ERR TIME")                 # the cabinet's RTC refused it
    wait_for(lambda: op.get(f"/api/commands/{clock.json()['id']}").json()["state"] == "failed",
             what="the clock command failed")
    assert op.get("/api/events", params={"kind": "command_failed"}).json()[0]["room_id"] is None

    # the link drops with a command in flight: pending again, and sent on the next connection
    close = op.post(f"/api/rooms/{room_id}/relay", json={"command": "close"}).json()
    assert qm.read_line() == "RELAY 2 3 1"
    qm.close()
    wait_for(lambda: op.get(f"/api/commands/{close['id']}").json()["state"] == "pending",
             what="the cut command pending again")
    qm = FakeQueryManager(hs.link_ports["block-A"])
    qm.send("HELLO query-manager 1.1")
    assert qm.read_line() == "RELAY 2 3 1"
    qm.send("OK RELAY")
    wait_for(lambda: op.get(f"/api/commands/{close['id']}").json()["state"] == "done",
             what="the resent command done")
    qm.close()
    assert [c["kind"] for c in op.get("/api/commands").json()] == [
        "relay", "time", "schedule", "relay"]
