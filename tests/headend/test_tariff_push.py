"""Tariffs pushed to the cabinets, against a test-side query manager, on SQLite and PostgreSQL:
setting a cabinet's tariff or changing a tariff queues one TARIFF line per controller with the
registers the controller is to hold (docs/modbus_map.md, device settings 0x0008..0x001F); each
ends done, failed (with an event) or, cut by a lost link, pending and sent again, the same
line; a controller first seen after the tariff was set gets it; bad prices are refused with
422 and change nothing."""

import pytest

from metersim._headend import domain
from metersim._headend.models import Cabinet, Tariff

from .conftest import FakeQueryManager, r_line, wait_for

UNUSED = " 65535 0"          # a period register pair the controller leaves unused


def state(op, cmd) -> str:
    return op.get(f"/api/commands/{cmd['id']}").json()["state"]


def answered(op, cmd, want: str) -> None:
    wait_for(lambda: state(op, cmd) == want, what=f"command {cmd['id']} {want}")


def connect(hs, *lines) -> FakeQueryManager:
    qm = FakeQueryManager(hs.link_ports["block-A"])
    qm.send("HELLO query-manager 1.1", *lines)
    return qm


def test_a_tariff_set_or_changed_goes_to_every_controller_and_ends_done_failed_or_resent(headend):
    hs, admin, op = headend
    qm = connect(hs, r_line(1, ctrl=1, room=0), r_line(2, ctrl=2, room=0),
                 r_line(3, ctrl=2, room=1), "END")
    wait_for(lambda: len(op.get("/api/cabinets").json()[0]["rooms"]) == 3, what="three rooms")
    cab_id = op.get("/api/cabinets").json()[0]["id"]
    flat = admin.post("/api/tariffs", json={"name": "flat 2.50", "kind": "flat",
                                            "rules": {"cents_per_kWh": 250}}).json()
    assert op.patch(f"/api/cabinets/{cab_id}", json={"tariff_id": flat["id"]}).status_code == 403
    r = admin.patch(f"/api/cabinets/{cab_id}", json={"tariff_id": flat["id"]})
    assert r.status_code == 200 and r.json()["tariff_id"] == flat["id"]
    c1, c2 = r.json()["commands"]            # one per controller, in address order
    assert (c1["kind"], c1["args"]["controller"], c1["state"]) == ("tariff", 1, "pending")
    assert c2["args"]["controller"] == 2 and c1["room_id"] is None
    # flat: the price in the flat register and every TOU price, mode 0, no periods
    assert qm.read_line() == "TARIFF 1 250 0 250 250 250 250" + UNUSED * 8
    assert state(op, c1) == "sent"
    qm.send("OK TARIFF")
    answered(op, c1, "done")
    assert qm.read_line() == "TARIFF 2 250 0 250 250 250 250" + UNUSED * 8
    qm.send("ERR TARIFF")                    # controller 2 did not take it
    answered(op, c2, "failed")
    ev = op.get("/api/events", params={"kind": "command_failed"}).json()[0]
    assert ev["detail"] == (f"tariff {flat['id']} for controller 2 refused or not answered by "
                            "the cabinet")
    assert op.get("/api/cabinets").json()[0]["controller_tariffs"] == [
        {"controller": 1, "tariff_id": flat["id"], "command_id": c1["id"], "state": "done"},
        {"controller": 2, "tariff_id": flat["id"], "command_id": c2["id"], "state": "failed"}]

    # the tariff changed to time of use: valley 0.30 from 23:00 to 07:00 (one period over
    # midnight), peak 0.80 from 07:00, sharp 1.20 from 19:00; prices highest first
    tou = {"periods": [[0, 7, 30], [7, 19, 80], [19, 23, 120], [23, 24, 30]]}
    assert op.put(f"/api/tariffs/{flat['id']}", json={"name": "tou", "kind": "tou",
                                                      "rules": tou}).status_code == 403
    r = admin.put(f"/api/tariffs/{flat['id']}", json={"name": "tou", "kind": "tou", "rules": tou})
    assert r.status_code == 200 and r.json()["rules"] == tou
    t1, t2 = r.json()["commands"]
    tou_regs = "30 1 120 80 30 30 420 1 1140 0 1380 2" + UNUSED * 5
    assert qm.read_line() == f"TARIFF 1 {tou_regs}"
    qm.send("OK TARIFF")
    answered(op, t1, "done")
    assert qm.read_line() == f"TARIFF 2 {tou_regs}"
    qm.close()                               # the link drops before the answer
    answered(op, t2, "pending")
    qm = connect(hs)
    assert qm.read_line() == f"TARIFF 2 {tou_regs}"      # the same registers again: idempotent
    qm.send("OK TARIFF")
    answered(op, t2, "done")
    assert [c["state"] for c in op.get("/api/cabinets").json()[0]["controller_tariffs"]] == [
        "done", "done"]
    # the same tariff set again is pushed again (an admin's retry after a failure)
    again = admin.patch(f"/api/cabinets/{cab_id}", json={"tariff_id": flat["id"]}).json()
    assert len(again["commands"]) == 2
    assert qm.read_line() == f"TARIFF 1 {tou_regs}"
    qm.close()


def test_a_controller_seen_after_the_tariff_was_set_gets_it_and_steps_are_not_pushed(headend):
    hs, admin, op = headend
    cab_id = op.get("/api/cabinets").json()[0]["id"]
    flat = admin.post("/api/tariffs", json={"name": "flat 0.75", "kind": "flat",
                                            "rules": {"cents_per_kWh": 75}}).json()
    r = admin.patch(f"/api/cabinets/{cab_id}", json={"tariff_id": flat["id"]})
    assert r.status_code == 200 and r.json()["commands"] == []     # no controller known yet
    qm = connect(hs, r_line(1, ctrl=3, room=0), r_line(2, ctrl=3, room=1), "END")
    assert qm.read_line() == "TARIFF 3 75 0 75 75 75 75" + UNUSED * 8    # once per controller
    qm.send("OK TARIFF")
    wait_for(lambda: op.get("/api/cabinets").json()[0]["controller_tariffs"][0]["state"] == "done",
             what="the first controller's tariff done")
    steps = admin.post("/api/tariffs", json={"name": "steps", "kind": "steps",
                                             "rules": {"steps": [[100, 50], [None, 90]]}}).json()
    r = admin.patch(f"/api/cabinets/{cab_id}", json={"tariff_id": steps["id"]})
    assert r.status_code == 200 and r.json()["commands"] == []     # the controllers keep theirs
    qm.send(r_line(3, ctrl=4, room=0), "END")            # a new controller: nothing to push
    wait_for(lambda: len(op.get("/api/cabinets").json()[0]["rooms"]) == 3, what="the new room")
    qm.close()
    assert [(c["kind"], c["args"]["controller"], c["state"])
            for c in op.get("/api/commands").json()] == [("tariff", 3, "done")]


BAD = [
    ("flat", {"cents_per_kWh": -1}, "0..65535"),
    ("flat", {"cents_per_kWh": 60.5}, "whole cents"),
    ("flat", {"cents_per_kWh": "60"}, "whole cents"),
    ("flat", {"cents_per_kWh": True}, "whole cents"),
    ("flat", {"cents_per_kWh": 65536}, "0..65535"),
    ("flat", {"cents_per_kWh": 60, "extra": 1}, "do not fit"),
    ("tou", {"periods": [[0, 12, 30], [12, 24, -5]]}, "0..65535"),
    ("tou", {"periods": [[0, 8, 30], [9, 24, 80]]}, "without gap"),
    ("tou", {"periods": [[0, 8, 30], [8, 25, 80]]}, "whole hours"),
    ("tou", {"periods": [[0, 6, 10], [6, 12, 20], [12, 18, 30], [18, 22, 40], [22, 24, 50]]},
     "at most 4 prices"),
    ("tou", {"periods": [[h, h + 1, 10 + 10 * (h % 2)] for h in range(24)]}, "at most 8 periods"),
    ("steps", {"steps": [[100, 50], [200, 70000], [None, 90]]}, "0..65535"),
    ("steps", {"steps": [[200, 50], [100, 70], [None, 90]]}, "rising"),
    ("dynamic", {"cents_per_kWh": 60}, None),                # pydantic: not a kind
]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_bad_tariffs_are_refused_with_422_and_change_nothing(headend):
    hs, admin, op = headend
    good = {"name": "flat", "kind": "flat", "rules": {"cents_per_kWh": 60}}
    tid = admin.post("/api/tariffs", json=good).json()["id"]
    cab_id = op.get("/api/cabinets").json()[0]["id"]
    admin.patch(f"/api/cabinets/{cab_id}", json={"tariff_id": tid})
    for kind, rules, says in BAD:
        body = {"name": "bad", "kind": kind, "rules": rules}
        for r in (admin.post("/api/tariffs", json=body),
                  admin.put(f"/api/tariffs/{tid}", json=body)):
            assert r.status_code == 422, (body, r.text)
            assert says is None or says in r.json()["detail"], (says, r.text)
    assert admin.get("/api/tariffs").json() == [{"id": tid, **good}]
    assert op.get("/api/commands").json() == []
    # at the edges: a free tariff and the highest price the registers hold; 8 periods of 4
    # prices fit when the evening's price runs on past midnight
    assert admin.post("/api/tariffs", json={"name": "edges", "kind": "tou", "rules": {"periods": [
        [0, 12, 0], [12, 24, 65535]]}}).status_code == 201
    eight = [[0, 3, 10], [3, 6, 20], [6, 9, 30], [9, 12, 40], [12, 15, 30], [15, 18, 20],
             [18, 21, 30], [21, 22, 40], [22, 24, 10]]
    assert domain.controller_tariff("tou", {"periods": eight}) == {
        "flat": 10, "mode": 1, "prices": [40, 30, 20, 10],
        "periods": [[180, 2], [360, 1], [540, 0], [720, 1], [900, 2], [1080, 1], [1260, 0],
                    [1320, 3]]}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_tariff_stored_before_the_checks_is_not_pushed_and_readings_go_on(headend):
    """A tariff the controllers cannot hold (a fractional price, from before prices were
    checked as now): a new controller's readings are stored all the same, with an event; an
    admin setting it gets a 422 and nothing is queued."""
    hs, admin, op = headend
    with hs.sessions.begin() as s:
        t = Tariff(name="old", kind="flat", rules={"cents_per_kWh": 60.5})
        s.add(t)
        s.flush()
        tid = t.id
        s.get(Cabinet, op.get("/api/cabinets").json()[0]["id"]).tariff_id = tid
    qm = connect(hs, r_line(1, ctrl=1, room=0), "END")
    wait_for(lambda: op.get("/api/cabinets").json()[0]["rooms"], what="the room")
    qm.close()
    [ev] = op.get("/api/events", params={"kind": "command_failed"}).json()
    assert ev["detail"].startswith(f"tariff {tid} for controller 1 cannot be pushed: a tariff "
                                   "price is whole cents per kWh")
    cab_id = op.get("/api/cabinets").json()[0]["id"]
    r = admin.patch(f"/api/cabinets/{cab_id}", json={"tariff_id": tid})
    assert r.status_code == 422 and "whole cents" in r.json()["detail"]
    assert op.get("/api/commands").json() == []
