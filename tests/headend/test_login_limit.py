"""Login rate limiting (src/metersim/_headend/login_limit.py): five failed logins for a user
name within 15 minutes, or thirty from one client address, and POST /api/login answers 429
with Retry-After, the right password included, until the window has moved on; names that do
not exist are limited and answered exactly like names that do (status, text, Retry-After, and
one password hash computed either way); a burst of parallel guesses gets no more than the limit.
On SQLite (the limiter is in the API, not the database)."""

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from metersim._headend import Headend, domain

from .conftest import ADMIN, OPERATOR, PASSWORD, Clock

T0 = dt.datetime(2026, 12, 7, 8, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def hs(tmp_path):
    clock = Clock()
    clock.t = T0                               # frozen: the test moves it
    h = Headend(f"sqlite:///{tmp_path / 'headend.db'}", cabinets={"block-A": 0}, api_port=0,
                clock=clock)
    with h.sessions.begin() as s:
        domain.add_user(s, ADMIN, PASSWORD, "admin", T0)
        domain.add_user(s, OPERATOR, PASSWORD, "operator", T0)
    h.start()
    yield h
    h.stop()


def client(h, source="127.0.0.1"):
    return httpx.Client(base_url=h.url(), timeout=30,
                        transport=httpx.HTTPTransport(local_address=source))


def login(c, name, password):
    return c.post("/api/login", json={"name": name, "password": password})


def test_five_failures_hold_a_name_off_for_the_window_known_or_not(hs):
    c = client(hs)
    answers = {}
    for name in (OPERATOR, "no-such-user"):
        first = [login(c, name, "wrong password") for _ in range(5)]
        assert [r.status_code for r in first] == [401] * 5
        assert {r.json()["detail"] for r in first} == {"wrong user name or password"}
        r = login(c, name, PASSWORD)                       # even the right one, now
        answers[name] = (r.status_code, r.headers.get("retry-after"), r.json()["detail"])
    assert answers[OPERATOR] == answers["no-such-user"] == (
        429, "900", "too many failed logins for this user name or from this address: "
                    "try again in 900 s")
    assert login(c, ADMIN, PASSWORD).status_code == 200   # another name is not held off
    hs.clock.t = T0 + dt.timedelta(seconds=600)
    r = login(c, OPERATOR, PASSWORD)
    assert r.status_code == 429 and r.headers["retry-after"] == "300"
    hs.clock.t = T0 + dt.timedelta(seconds=900)
    assert login(c, OPERATOR, PASSWORD).status_code == 200


def test_a_right_password_forgives_the_failures_before_it(hs):
    c = client(hs)
    for _ in range(2):
        assert [login(c, OPERATOR, "nope").status_code for _ in range(4)] == [401] * 4
        assert login(c, OPERATOR, PASSWORD).status_code == 200


def test_thirty_failures_from_one_address_hold_it_off_not_others(hs):
    c = client(hs)
    for i in range(30):               # password spraying: one try per name
        hs.clock.t = T0 + dt.timedelta(seconds=i)
        assert login(c, f"user{i}", "Winter2026!").status_code == 401
    r = login(c, ADMIN, PASSWORD)
    assert r.status_code == 429 and r.headers["retry-after"] == str(900 - 29)
    assert login(client(hs, "127.0.0.2"), ADMIN, PASSWORD).status_code == 200
    hs.clock.t = T0 + dt.timedelta(seconds=900)       # the first failure left the window
    assert login(c, ADMIN, PASSWORD).status_code == 200


def test_a_parallel_burst_gets_no_more_guesses_than_the_limit(hs):
    with ThreadPoolExecutor(16) as pool:
        codes = sorted(pool.map(lambda _: login(client(hs), OPERATOR, "guess").status_code,
                                range(16)))
    assert codes == [401] * 5 + [429] * 11


def test_unknown_names_cost_one_hash_like_known_ones(hs, monkeypatch):
    hashed = []
    real = domain.hash_password
    monkeypatch.setattr(domain, "hash_password", lambda p, salt: hashed.append(p) or real(p, salt))
    c = client(hs)
    for name in (OPERATOR, "ghost"):
        r = login(c, name, "not it")
        assert (r.status_code, r.json()) == (401, {"detail": "wrong user name or password"})
    assert hashed == ["not it", "not it"]
