"""Fixtures of the head-end suite: every database test runs on SQLite and on a real PostgreSQL
server started here from Debian's binaries (initdb + pg_ctl in a temporary directory; as the
unprivileged user `nobody` when the tests run as root, because PostgreSQL refuses root)."""

import datetime as dt
import glob
import os
import shutil
import socket
import signal
import subprocess
import tempfile
import time
import uuid

import httpx
import pytest

from metersim._headend import Headend
from metersim._headend import domain
from metersim._headend.screenshot import chromium_available, headless_chromium

PG_BINS = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
ADMIN, OPERATOR, PASSWORD = "admin1", "operator1", "correct horse 1"


class VirtualClock:
    """A head end's clock in a test with emulated cabinets: `base` plus the emulation's virtual
    time, so the head end's times (and the clock it pushes to the cabinets) run with the
    cabinets' and not with the wall clock."""

    def __init__(self, emu, base: dt.datetime):
        self.emu = emu
        self.base = base

    def __call__(self) -> dt.datetime:
        return self.base + dt.timedelta(microseconds=self.emu.clock.now_ps // 1_000_000)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_url():
    """A throw-away PostgreSQL server for the session; yields a function making a new
    database URL (its own schema) per test."""
    if not PG_BINS:
        pytest.skip("PostgreSQL server binaries are absent (make setup installs them)")
    bindir = os.path.dirname(PG_BINS[-1])
    tmp = tempfile.mkdtemp(prefix="metersim-pg-")
    as_user = []
    if os.geteuid() == 0:
        shutil.chown(tmp, "nobody", "nogroup")
        as_user = ["runuser", "-u", "nobody", "--"]
    data = os.path.join(tmp, "data")
    port = _free_port()

    def run(*cmd):
        subprocess.run(as_user + list(cmd), check=True, cwd=tmp, capture_output=True,
                       timeout=60)

    run(f"{bindir}/initdb", "-D", data, "-U", "postgres", "-A", "trust", "--no-sync",
        "-E", "UTF8")
    run(f"{bindir}/pg_ctl", "-D", data, "-l", os.path.join(tmp, "log"), "-w", "-o",
        f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off", "start")
    import psycopg
    from psycopg import sql

    def new_db() -> str:
        """A fresh schema per test (cheaper to make and to throw away than a database)."""
        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(f"host=127.0.0.1 port={port} user=postgres dbname=postgres",
                             autocommit=True) as c:
            c.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
        return (f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
                f"?options=-csearch_path%3D{name}")

    yield new_db
    # immediate shutdown (SIGQUIT to the postmaster), without pg_ctl's one-second polling
    with open(os.path.join(data, "postmaster.pid")) as f:
        pid = int(f.readline())
    os.kill(pid, signal.SIGQUIT)
    for _ in range(500):        # gone, or a zombie where nothing reaps orphans
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    break
        except FileNotFoundError:
            break
        time.sleep(0.01)
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'headend.db'}"
    return request.getfixturevalue("postgres_url")()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def module_db_url(request, tmp_path_factory):
    """`db_url` for a module whose tests share one head end (emulated cabinets, expensive to
    start): a database per module and backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('headend') / 'headend.db'}"
    return request.getfixturevalue("postgres_url")()


class Api:
    """An HTTP client of the running head end, logged in as `name`."""

    def __init__(self, base: str, name: str | None = None):
        self.http = httpx.Client(base_url=base, timeout=30)
        if name:
            r = self.http.post("/api/login", json={"name": name, "password": PASSWORD})
            assert r.status_code == 200, r.text
            self.http.headers["Authorization"] = "Bearer " + r.json()["token"]

    def __getattr__(self, verb):
        return getattr(self.http, verb)


class Clock:
    """The head end's clock: wall time unless a test sets `t` (an aware datetime)."""

    def __init__(self):
        self.t = None

    def __call__(self):
        return self.t or domain.now_utc()


class FakeQueryManager:
    """The cabinet end of the link, typed by the test: what the firmware sends and reads."""

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def send(self, *lines: str) -> None:
        self.sock.sendall("".join(ln + "\n" for ln in lines).encode())

    def read_line(self, skip=(b"ACK ", b"TIME ")) -> str:
        """The next command, past the link's housekeeping (ACK of readings, TIME): `skip`."""
        while True:
            while b"\n" not in self.buf:
                chunk = self.sock.recv(4096)
                assert chunk, "the head end closed the link"
                self.buf += chunk
            line, self.buf = self.buf.split(b"\n", 1)
            if not line.startswith(skip):
                return line.decode()

    def read_to_close(self, skip=(b"ACK ", b"TIME ")) -> list[bytes]:
        """Everything the head end still sends until it closes the link, housekeeping lines
        (`skip`) left out; fails if it does not close within the socket's timeout."""
        data = self.buf
        while chunk := self.sock.recv(4096):
            data += chunk
        self.buf = b""
        return [ln for ln in data.split(b"\n") if ln and not ln.startswith(skip)]

    def close(self) -> None:
        self.sock.close()


def r_line(seq, ctrl=1, room=0, status=1, reason=0, energy_Wh=1000, cost=500, balance=4000,
           power_100mW=20000, trips=0) -> str:
    return (f"R {seq} {ctrl} {room} {status} {reason} {energy_Wh} {cost} {balance} 22000 9090 "
            f"{power_100mW} 1000 5000 {trips} 1")


def wait_for(cond, timeout_s=10.0, what="the condition"):
    import time
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


@pytest.fixture
def headend(db_url):
    """A running head end (link port of cabinet "block-A", API) with an admin and an operator;
    yields (headend, admin Api, operator Api)."""
    hs = Headend(db_url, cabinets={"block-A": 0}, api_port=0, clock=Clock())
    with hs.sessions.begin() as s:
        domain.add_user(s, ADMIN, PASSWORD, "admin", domain.now_utc())
        domain.add_user(s, OPERATOR, PASSWORD, "operator", domain.now_utc())
    hs.start()
    yield hs, Api(hs.url(), ADMIN), Api(hs.url(), OPERATOR)
    hs.stop()


@pytest.fixture
def browser():
    """Debian's Chromium, headless, driven by Selenium through Debian's chromedriver."""
    if not chromium_available():
        pytest.skip("Debian's chromium and chromium-driver are absent (make setup installs them)")
    with headless_chromium() as driver:
        driver.implicitly_wait(0)
        yield driver


def log_in_page(b, url: str, name: str) -> None:
    """Open the dashboard at `url` in browser `b` and log in as `name` through its form."""
    from selenium.webdriver.common.by import By

    b.get(url + "/")
    b.find_element(By.ID, "login-name").send_keys(name)
    b.find_element(By.ID, "login-password").send_keys(PASSWORD)
    b.find_element(By.ID, "login-button").click()


def page_cell(b, row_id: str, cls: str):
    """The text of the cell of class `cls` in the dashboard's table row `row_id`, read in one
    script (the table is redrawn each second, so element handles go stale); None while absent."""
    return b.execute_script(
        "const c = document.querySelector('#' + arguments[0] + ' .' + arguments[1]);"
        "return c && c.textContent;", row_id, cls)
