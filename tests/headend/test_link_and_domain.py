"""The head end against a query manager typed by the test (the link's text protocol), on SQLite
and on PostgreSQL: readings kept once and in order across reconnects and restarts, top-ups
applied once per request id, events, tenants, tariffs, statistics and the CSV report."""

import datetime as dt

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from metersim._headend import domain
from metersim._headend.models import Base, Reading, Tariff, TopUp

from .conftest import FakeQueryManager, r_line, wait_for

UTC = dt.timezone.utc


def stored(hs):
    with hs.sessions() as s:
        return [(r.epoch, r.seq, r.energy_Wh) for r in
                s.scalars(select(Reading).order_by(Reading.id))]


def test_migration_creates_the_schema_of_the_models(headend):
    hs, admin, op = headend
    with hs.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_readings_stored_once_and_in_order_across_reconnects_and_a_restart(headend):
    hs, admin, op = headend
    qm = FakeQueryManager(hs.link_ports["block-A"])
    qm.send("HELLO query-manager 1.0", *[r_line(i, room=i % 2, energy_Wh=1000 + i)
                                         for i in range(1, 7)], "END")
    wait_for(lambda: len(stored(hs)) == 6, what="6 readings")
    qm.close()
    # reconnected: lines 4..9 arrive, 4..6 a second time (a cabinet re-sending its buffer)
    qm = FakeQueryManager(hs.link_ports["block-A"])
    qm.send("HELLO query-manager 1.0", *[r_line(i, room=i % 2, energy_Wh=1000 + i)
                                         for i in range(4, 10)], "END")
    wait_for(lambda: len(stored(hs)) >= 9, what="9 readings")
    # a restarted query manager counts from 1 again, with other content: a new epoch
    qm.send(r_line(1, room=1, energy_Wh=2000), r_line(2, room=0, energy_Wh=2001), "END")
    wait_for(lambda: len(stored(hs)) >= 11, what="the restarted cabinet's readings")
    qm.close()
    assert stored(hs) == [(1, i, 1000 + i) for i in range(1, 10)] + [(2, 1, 2000), (2, 2, 2001)]
    cab = admin.get("/api/cabinets").json()[0]
    assert cab["name"] == "block-A"
    assert [(r["controller"], r["room"], r["energy_Wh"]) for r in cab["rooms"]] == [
        (1, 0, 2001), (1, 1, 2000)]
    curve = op.get(f"/api/rooms/{cab['rooms'][0]['id']}/readings").json()
    assert [p["energy_Wh"] for p in curve] == [1002, 1004, 1006, 1008, 2001]


def test_a_gap_in_the_numbering_is_recorded(headend):
    hs, admin, op = headend
    qm = FakeQueryManager(hs.link_ports["block-A"])
    qm.send("HELLO query-manager 1.0", r_line(1), r_line(2), r_line(7), "END")
    wait_for(lambda: len(stored(hs)) == 3, what="3 readings")
    qm.close()
    gaps = op.get("/api/events", params={"kind": "reading_gap"}).json()
    assert [e["detail"] for e in gaps] == ["lines 3..6 never arrived"]


def test_topup_is_sent_once_per_request_id_and_confirmed(headend):
    hs, admin, op = headend
    qm = FakeQueryManager(hs.link_ports["block-A"])
    qm.send("HELLO query-manager 1.0", r_line(1, ctrl=2, room=3, balance=0, status=2, reason=1),
            "END")
    room_id = wait_for(lambda: op.get("/api/cabinets").json()[0]["rooms"], what="the room")[0]["id"]
    body = {"request_id": "pay-0001", "room_id": room_id, "cents": 750}
    first = op.post("/api/topups", json=body)
    assert first.status_code == 201
    assert qm.read_line() == "TOPUP 2 3 750"
    again = op.post("/api/topups", json=body)          # re-sent by a client after a timeout
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert op.post("/api/topups", json=body | {"cents": 751}).status_code == 409
    qm.send("OK TOPUP")
    tid = first.json()["id"]
    wait_for(lambda: op.get(f"/api/topups/{tid}").json()["state"] == "done", what="done")
    # a second top-up is in flight when the link drops: not re-sent blindly, flagged instead
    second = op.post("/api/topups", json=body | {"request_id": "pay-0002"}).json()
    assert qm.read_line() == "TOPUP 2 3 750"
    qm.close()
    wait_for(lambda: op.get(f"/api/topups/{second['id']}").json()["state"] == "unconfirmed",
             what="unconfirmed")
    assert op.get("/api/events", params={"kind": "topup_unconfirmed"}).json()
    with hs.sessions() as s:
        assert s.scalar(select(func.count()).select_from(TopUp)) == 2
    # a refused top-up (unknown controller on the cabinet's side) ends as failed
    qm = FakeQueryManager(hs.link_ports["block-A"])
    qm.send("HELLO query-manager 1.0")
    third = op.post("/api/topups", json=body | {"request_id": "pay-0003"}).json()
    assert qm.read_line() == "TOPUP 2 3 750"
    qm.send("ERR TOPUP")
    wait_for(lambda: op.get(f"/api/topups/{third['id']}").json()["state"] == "failed",
             what="failed")
    qm.close()
    assert op.post("/api/topups", json=body | {"request_id": "x", "room_id": 999}).status_code == 404
    assert op.post("/api/topups", json=body | {"request_id": "p 1"}).status_code == 422
    assert op.post("/api/topups", json=body | {"request_id": "p2", "cents": 0}).status_code == 422


def test_trips_and_balances_become_alarms(headend):
    hs, admin, op = headend
    qm = FakeQueryManager(hs.link_ports["block-A"])
    qm.send("HELLO query-manager 1.0",
            r_line(1, room=0, balance=5000), r_line(2, room=1, balance=5000), "END",
            # room 0: a malicious (resistive) load tripped it; room 1: overload, then arrears
            r_line(3, room=0, status=2, reason=5, trips=1, power_100mW=0, balance=4990),
            r_line(4, room=1, status=2, reason=3, trips=1, balance=900), "END",
            r_line(5, room=0, status=2, reason=5, trips=1, power_100mW=0, balance=4990),
            r_line(6, room=1, status=2, reason=1, trips=2, balance=-20), "END")
    wait_for(lambda: len(stored(hs)) == 6, what="6 readings")
    qm.close()
    kinds = [(e["kind"], e["detail"]) for e in reversed(op.get("/api/events").json())
             if not e["kind"].startswith("cabinet")]
    assert kinds == [("malicious_load", "room 1-0 tripped at 0.0 W"),
                     ("overload", "room 1-1 tripped at 2000.0 W"),
                     ("low_balance", "room 1-1 has 9.00 left"),
                     ("arrears", "room 1-1 owes 0.20")]


def test_tenants_move_in_and_out(headend):
    hs, admin, op = headend
    qm = FakeQueryManager(hs.link_ports["block-A"])
    qm.send("HELLO query-manager 1.0", r_line(1), "END")
    room_id = wait_for(lambda: op.get("/api/cabinets").json()[0]["rooms"], what="room")[0]["id"]
    qm.close()
    a = op.post("/api/accounts", json={"name": "Li Wei", "phone": "123"}).json()
    b = op.post("/api/accounts", json={"name": "Ana"}).json()
    assert op.post(f"/api/rooms/{room_id}/move-in", json={"account_id": a["id"]}).status_code == 201
    assert op.post(f"/api/rooms/{room_id}/move-in", json={"account_id": b["id"]}).status_code == 409
    assert op.get(f"/api/rooms/{room_id}").json()["tenant"]["name"] == "Li Wei"
    assert op.post(f"/api/rooms/{room_id}/move-out").status_code == 200
    assert op.post(f"/api/rooms/{room_id}/move-in", json={"account_id": b["id"]}).status_code == 201
    assert op.get(f"/api/rooms/{room_id}").json()["tenant"]["name"] == "Ana"


def test_daily_statistics_billing_and_csv_report(headend):
    hs, admin, op = headend
    day = dt.date(2026, 3, 14)
    t0 = dt.datetime(2026, 3, 13, 23, 50, tzinfo=UTC)
    flat = admin.post("/api/tariffs", json={"name": "flat 60", "kind": "flat",
                                            "rules": {"cents_per_kWh": 60}}).json()
    cab_id = admin.get("/api/cabinets").json()[0]["id"]
    assert admin.patch(f"/api/cabinets/{cab_id}", json={"tariff_id": flat["id"]}).status_code == 200
    qm = FakeQueryManager(hs.link_ports["block-A"])
    qm.send("HELLO query-manager 1.0")
    seq = 0
    # (time after t0, room 0's energy, room 1's energy); cost = energy / 2 (50 c/kWh on board)
    for minutes, e0, e1 in ((0, 1000, 500), (20, 1100, 500), (12 * 60, 1500, 800),
                            (24 * 60 + 15, 1600, 900)):
        hs.clock.t = t0 + dt.timedelta(minutes=minutes)
        for room, e in ((0, e0), (1, e1)):
            seq += 1
            qm.send(r_line(seq, room=room, energy_Wh=e, cost=e // 2))
        wait_for(lambda: len(stored(hs)) == seq, what=f"{seq} readings")
    qm.close()
    st = op.get("/api/statistics", params={"day": day.isoformat()}).json()
    assert [(r["energy_Wh"], r["cost_cents"], r["billed_cents"]) for r in st["rooms"]] == [
        (500, 250, 30), (300, 150, 18)]
    assert st["cabinets"] == [{"cabinet_id": cab_id, "energy_Wh": 800, "cost_cents": 400,
                               "billed_cents": 48}]
    month = op.get("/api/statistics", params={"month": "2026-03"}).json()
    assert month["cabinets"][0]["energy_Wh"] == 1000          # first to last reading of March
    csv = op.get("/api/reports/statistics.csv", params={"day": day.isoformat()})
    assert csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.splitlines()
    assert lines[0].startswith("cabinet,controller,room,label,tenant,energy_Wh")
    assert lines[1:] == ["block-A,1,0,1-0,,500,250,30,4000,2", "block-A,1,1,1-1,,300,150,18,4000,2"]
    assert op.get("/api/statistics").status_code == 422


def test_time_of_use_and_step_tariffs_bill_what_their_rules_say():
    t = dt.datetime(2026, 1, 5, tzinfo=UTC)
    tou = Tariff(name="tou", kind="tou", rules={"periods": [[0, 8, 30], [8, 22, 80], [22, 24, 30]]})
    domain.check_tariff(tou.kind, tou.rules)
    deltas = [(t.replace(hour=3), 1000), (t.replace(hour=12), 2000), (t.replace(hour=23), 500)]
    assert domain.bill_cents(tou, deltas) == 30 + 160 + 15
    steps = Tariff(name="steps", kind="steps", rules={"steps": [[100, 50], [200, 70], [None, 100]]})
    domain.check_tariff(steps.kind, steps.rules)
    # 90 kWh already this month: 10 kWh at 50, 100 at 70, 40 at 100
    assert domain.bill_cents(steps, [(t, 150_000)], month_Wh_before=90_000) == 500 + 7000 + 4000
    for kind, rules in (("tou", {"periods": [[0, 8, 30], [9, 24, 80]]}),
                        ("steps", {"steps": [[100, 50]]}), ("flat", {"cents": 5}),
                        ("dynamic", {})):
        try:
            domain.check_tariff(kind, rules)
        except domain.HeadendError as e:
            assert "tariff" in str(e)
        else:
            raise AssertionError(f"{kind} {rules} accepted")


def test_a_new_connection_from_a_cabinet_replaces_its_stale_one(headend):
    """A query manager that rebooted reconnects before the head end saw the old connection
    drop: the new one takes over and the cabinet stays online."""
    hs, admin, op = headend
    old = FakeQueryManager(hs.link_ports["block-A"])
    old.send("HELLO query-manager 1.0")
    wait_for(lambda: op.get("/api/cabinets").json()[0]["online"], what="online")
    new = FakeQueryManager(hs.link_ports["block-A"])
    new.send("HELLO query-manager 1.0", r_line(1), "END")
    wait_for(lambda: len(stored(hs)) == 1, what="the new link's reading")
    assert old.read_to_close() == []                 # the stale connection was closed
    assert op.get("/api/cabinets").json()[0]["online"]
    new.close()
    wait_for(lambda: not op.get("/api/cabinets").json()[0]["online"], what="offline")
    old.close()
