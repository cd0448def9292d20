"""Access control and hostile input, on SQLite and PostgreSQL: every API route refuses an
unauthenticated request, an operator cannot do admin actions, tokens expire, and 200 injection
strings in every text field are stored and returned verbatim while changing nothing else."""

import datetime as dt
import itertools

from metersim._headend import domain

from .conftest import OPERATOR, PASSWORD, Api, FakeQueryManager, r_line, wait_for

BASES = [
    "' OR '1'='1", "' OR 1=1 --", "'; DROP TABLE users; --", "\"; DROP TABLE rooms; --",
    "1; DELETE FROM readings", "' UNION SELECT name, pw_hash FROM users --",
    "admin'--", "') OR ('a'='a", "1' AND SLEEP(5) --", "'; SELECT pg_sleep(5); --",
    "' OR EXISTS(SELECT * FROM tokens) --", "%' AND 1=0 UNION SELECT 1 --",
    "'; UPDATE users SET role='admin' --", "\\'; TRUNCATE topups; --", "' || (SELECT 1) || '",
    "<script>alert(1)</script>", "\"><img src=x onerror=alert(1)>", "=cmd|' /C calc'!A0",
    "${jndi:ldap://x/a}", "{{7*7}}", "../../etc/passwd", "\x00nul", "ʼ OR ʼ1ʼ=ʼ1",
    "Robert'); DROP TABLE accounts;--", "'; INSERT INTO users VALUES (99,'x') --",
]
WRAPS = ["{}", "x{}", "{} ", "{}/*", "'{}'", "\"{}\"", "({})", "{};--"]
INJECTIONS = [w.format(b) for b, w in itertools.product(BASES, WRAPS)][:200]


def snapshot(admin):
    """Everything an operator can see, minus the fields the test itself changes."""
    cabs = admin.get("/api/cabinets").json()
    return {"users": admin.get("/api/users").json(),
            "rooms": [{k: r[k] for k in ("id", "energy_Wh", "balance_cents", "relay_closed")}
                      for c in cabs for r in c["rooms"]],
            "topups": admin.get("/api/topups").json(),
            "tariffs": admin.get("/api/tariffs").json(),
            "commands": admin.get("/api/commands").json()}


def test_unauthenticated_requests_are_refused(headend):
    hs, admin, op = headend
    anon = Api(hs.url())
    routes = [(m, r.path) for r in hs.app.routes for m in getattr(r, "methods", ())
              if r.path.startswith("/api/") and r.path != "/api/login" and m != "HEAD"]
    assert len(routes) >= 15
    for method, path in routes:
        url = path.replace("{room_id}", "1").replace("{cabinet_id}", "1").replace("{topup_id}", "1")
        url = url.replace("{command_id}", "1").replace("{tariff_id}", "1")
        for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic eDp5"}):
            r = anon.request(method, url, headers=headers, json={})
            assert r.status_code == 401, (method, url, headers, r.text)
    assert anon.post("/api/login", json={"name": OPERATOR, "password": "wrong"}).status_code == 401
    assert anon.post("/api/login", json={"name": "nobody", "password": "x"}).status_code == 401


def test_operator_cannot_do_admin_actions(headend):
    hs, admin, op = headend
    before = snapshot(admin)
    cab_id = admin.get("/api/cabinets").json()[0]["id"]
    for method, url, body in (
            ("POST", "/api/users", {"name": "mallory", "password": "12345678", "role": "admin"}),
            ("GET", "/api/users", None),
            ("POST", "/api/tariffs", {"name": "t", "kind": "flat", "rules": {"cents_per_kWh": 1}}),
            ("PUT", "/api/tariffs/1", {"name": "t", "kind": "flat", "rules": {"cents_per_kWh": 1}}),
            ("PATCH", f"/api/cabinets/{cab_id}", {"location": "moved"}),
            ("PATCH", f"/api/cabinets/{cab_id}", {"tariff_id": 1}),
            ("PATCH", "/api/rooms/1", {"label": "x"}),
            ("PUT", "/api/rooms/1/schedule", {"off_min": 0, "on_min": 360}),
            ("POST", f"/api/cabinets/{cab_id}/clock", None)):
        r = op.request(method, url, json=body)
        assert r.status_code == 403, (method, url, r.text)
        assert "needs an admin" in r.json()["detail"]
    assert snapshot(admin) == before
    assert op.get("/api/me").json() == {"name": OPERATOR, "role": "operator"}
    # the admin may
    assert admin.post("/api/users", json={"name": "op2", "password": "12345678",
                                          "role": "operator"}).status_code == 201


def test_tokens_expire(headend):
    hs, admin, op = headend
    assert op.get("/api/cabinets").status_code == 200
    hs.clock.t = domain.now_utc() + domain.TOKEN_TTL + dt.timedelta(seconds=1)
    assert op.get("/api/cabinets").status_code == 401
    fresh = Api(hs.url(), OPERATOR)              # logging in again gives a new token
    assert fresh.get("/api/cabinets").status_code == 200


def test_injection_strings_in_every_text_field_change_nothing(headend):
    hs, admin, op = headend
    assert len(set(INJECTIONS)) == 200
    qm = FakeQueryManager(hs.link_ports["block-A"])
    qm.send("HELLO query-manager 1.0", r_line(1, room=0), r_line(2, room=1), "END")
    wait_for(lambda: len(admin.get("/api/cabinets").json()[0]["rooms"]) == 2, what="2 rooms")
    qm.close()
    cab_id = admin.get("/api/cabinets").json()[0]["id"]
    room_id = admin.get("/api/cabinets").json()[0]["rooms"][0]["id"]
    before = snapshot(admin)
    names, refused = [], 0
    for i, s in enumerate(INJECTIONS):
        s64 = s[:64]
        if "\x00" in s:          # control characters: refused with a clear 422, nothing stored
            for method, url, body in (
                    (op.post, "/api/accounts", {"name": s}),
                    (admin.patch, f"/api/rooms/{room_id}", {"label": s64}),
                    (admin.patch, f"/api/cabinets/{cab_id}", {"location": s}),
                    (admin.post, "/api/users", {"name": s64, "password": s + "12345678",
                                                "role": "operator"})):
                r = method(url, json=body)
                assert r.status_code == 422 and "pattern" in r.text, (url, r.text)
            assert op.get("/api/accounts", params={"name": s}).status_code == 422
            refused += 1
            continue
        a = op.post("/api/accounts", json={"name": s, "phone": s[:40]})
        assert a.status_code == 201, (s, a.text)
        assert (a.json()["name"], a.json()["phone"]) == (s, s[:40])
        names.append(s)
        r = admin.patch(f"/api/rooms/{room_id}", json={"label": s64})
        assert r.status_code == 200 and r.json()["label"] == s64
        r = admin.patch(f"/api/cabinets/{cab_id}", json={"location": s})
        assert r.status_code == 200 and r.json()["location"] == s
        if i % 10 == 0:
            assert op.post("/api/login", json={"name": s64, "password": s}).status_code == 401
            found = op.get("/api/accounts", params={"name": s}).json()
            assert [x["name"] for x in found] == [s] * names.count(s)
        if i % 20 == 1:     # names of users and tariffs (admin-made): a sample, each one stored
            assert admin.post("/api/users", json={"name": s64, "password": s + "12345678",
                                                  "role": "operator"}).status_code == 201
            assert Api(hs.url()).post("/api/login", json={"name": s64, "password": s + "12345678"}
                                      ).json()["role"] == "operator"
            r = admin.post("/api/tariffs", json={"name": s64, "kind": "flat",
                                                 "rules": {"cents_per_kWh": 1}})
            assert r.status_code == 201 and r.json()["name"] == s64
    after = snapshot(admin)
    assert after["rooms"] == before["rooms"] and after["topups"] == before["topups"]
    assert [u["name"] for u in after["users"]] == [u["name"] for u in before["users"]] + [
        s[:64] for s in INJECTIONS[1::20]]
    assert all(u["role"] == "operator" for u in after["users"][2:])
    assert refused == 8
    assert [a["name"] for a in op.get("/api/accounts").json()] == names
    assert len(names) == 200 - refused
    assert admin.get("/api/cabinets").json()[0]["location"] == INJECTIONS[-1]
    assert admin.get("/api/cabinets").json()[0]["name"] == "block-A"
    # the operator still has the same rights, and the report quotes formula-like cells
    assert op.post("/api/users", json={"name": "z", "password": "12345678",
                                       "role": "admin"}).status_code == 403
