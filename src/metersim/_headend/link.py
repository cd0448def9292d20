"""The TCP service the query managers connect to (their text protocol, docs/firmware_query_manager.md):
HELLO, T, R lines and END every 10 s (each END answered by ACK of the last R line's seq, so
the query manager may forget the readings it buffered; each R line stored with the time of the
T line before it), TOPUP, RELAY, SCHED, TIME and TARIFF commands answered OK word / ERR word.

One listening port per cabinet: the query manager's HELLO does not name its cabinet, so the port
it was configured with does. Each connection is read line by line in the event loop and every R
line is committed as it comes (domain.ingest keeps each once and in order). Top-ups wait in the
database as 'pending' and are sent one at a time while the cabinet is connected; one sent but
unanswered when the link drops becomes 'unconfirmed' with an event, because re-sending it could
credit the room twice (the TOPUP line carries no id the cabinet could check). Relay, schedule,
clock and tariff commands (the commands table) go out the same way, after the pending top-ups;
one cut by a lost link goes back to 'pending' and out again on the next connection, since
sending it twice does what sending it once does."""

from __future__ import annotations

import asyncio
import logging
import re
import time

from sqlalchemy import select

from . import domain
from .models import Cabinet, Command, Room, TopUp

log = logging.getLogger("metersim._headend.link")
ANSWER_TIMEOUT_S = 120.0     # wall time: an emulated cabinet may run slower than real time
TIME_EVERY_S = 600.0         # the cabinet's clock is set at connection and then every 10 min:
                             # its ±100 ppm crystal drifts 0.06 s meanwhile at most
MAX_LINE = 512               # bytes before the newline: the longest R line is under 128
READ_CHUNK = 4096            # so a connection holds at most MAX_LINE + READ_CHUNK bytes
_PRINTABLE = re.compile(r"[ -~]*")
_ANSWER = re.compile(r"(OK|ERR) [A-Z]{1,16}")
OFFLINE_PERIOD_S = 1800      # the cabinet's snapshots while the link is down (its default)


class Link:
    """One cabinet's connection: the writer and the top-up in flight."""

    def __init__(self, cabinet_id: int, writer: asyncio.StreamWriter):
        self.cabinet_id = cabinet_id
        self.writer = writer
        self.wake = asyncio.Event()
        self.in_flight: tuple[str, int] | None = None    # ("topup" or "command", id)
        self.expect: str | None = None       # the word of the answer awaited: TOPUP, RELAY...
        self.answer: asyncio.Future | None = None
        self.last_r_seq: int | None = None   # of the R lines since the last END: acknowledged
        self.snapshot_at = None              # the last T line's time: the R lines that follow


class LinkService:
    def __init__(self, sessions, clock=domain.now_utc, host: str = "127.0.0.1",
                 report_period_s: int | None = None):
        self.sessions = sessions
        self.report_period_s = report_period_s   # sent as PERIOD at each HELLO (None: the cabinet's)
        self.clock = clock
        self.host = host
        self.links: dict[int, Link] = {}
        self.servers: dict[str, asyncio.base_events.Server] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self.lines_in = 0
        self.lines_dropped = 0     # malformed lines (docs/headend.md, "Malformed lines")
        self.max_buffered = 0      # the largest partial line held for a connection, bytes
        self.reports_in = 0        # END lines: whole reports received (tests wait on it)
        self.answers_in = 0        # OK / ERR answers to top-ups and commands
        self.readings_in = 0       # R lines stored
        self.reports_from: dict[str, int] = {}     # cabinet name -> reports with readings
        self._fresh: dict[int, int] = {}           # cabinet id -> readings since the last END

    async def listen(self, name: str, port: int) -> int:
        """Listen for cabinet `name`'s query manager; returns the port bound (0 picks one)."""
        self.loop = asyncio.get_running_loop()
        holder = {}
        server = await asyncio.start_server(
            lambda r, w: self._connection(holder["id"], r, w), self.host, port)
        bound = server.sockets[0].getsockname()[1]
        with self.sessions.begin() as s:
            cab = domain.cabinet_named(s, name, bound)
            cab.online = False
            holder["id"] = cab.id
        self.servers[name] = server
        log.info("cabinet %s: listening on %s:%d", name, self.host, bound)
        return bound

    async def close(self) -> None:
        for server in self.servers.values():
            server.close()
        for link in list(self.links.values()):
            link.writer.close()
        for server in self.servers.values():
            await server.wait_closed()
        self.servers.clear()

    def kick(self, cabinet_id: int) -> None:
        """Thread-safe: look for pending top-ups of this cabinet now."""
        link = self.links.get(cabinet_id)
        if link is not None and self.loop is not None:
            self.loop.call_soon_threadsafe(link.wake.set)

    # -- one connection --------------------------------------------------------------------------
    async def _connection(self, cabinet_id: int, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        old = self.links.get(cabinet_id)
        if old is not None:                   # a newer connection replaces a stale one
            old.writer.close()
        link = self.links[cabinet_id] = Link(cabinet_id, writer)
        sender = asyncio.create_task(self._send_jobs(link))
        timer = asyncio.create_task(self._send_time(link))
        try:
            async for raw in self._lines(reader):
                self.lines_in += 1
                line = self._text(raw)
                if line is None:
                    self.lines_dropped += 1
                    log.warning("cabinet %d: malformed line %r dropped", cabinet_id, raw[:80])
                elif not self._line(link, line):
                    self.lines_dropped += 1
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            sender.cancel()
            timer.cancel()
            current = self.links.get(cabinet_id) is link
            if current:
                del self.links[cabinet_id]
            self._closed(link, still_current=current)
            writer.close()

    async def _lines(self, reader: asyncio.StreamReader):
        """The connection's lines, each without its newline. A line is only taken whole: one
        longer than MAX_LINE is dropped as it streams past (never held whole), and the bytes
        after the last newline when the link closes are dropped (a line cut by the close)."""
        buf, overlong = b"", False
        while chunk := await reader.read(READ_CHUNK):
            *lines, rest = (buf + chunk).split(b"\n")
            for i, raw in enumerate(lines):
                if (i == 0 and overlong) or len(raw) > MAX_LINE:
                    self.lines_in += 1
                    self.lines_dropped += 1
                    log.warning("a line over %d bytes dropped", MAX_LINE)
                else:
                    yield raw
                overlong = False
            overlong = overlong or len(rest) > MAX_LINE
            buf = b"" if overlong else rest
            self.max_buffered = max(self.max_buffered, len(rest))

    @staticmethod
    def _text(raw: bytes) -> str | None:
        """The line as text: printable ASCII only (a trailing CR allowed), else None."""
        try:
            line = raw.removesuffix(b"\r").decode("ascii")
        except UnicodeDecodeError:
            return None
        return line if _PRINTABLE.fullmatch(line) else None

    def _line(self, link: Link, line: str) -> bool:
        """Act on one line; False if it is malformed (dropped, logged)."""
        if not (line in ("END", "HELLO") or line.startswith(("HELLO ", "R ", "T "))
                or _ANSWER.fullmatch(line)):
            log.warning("cabinet %d: unexpected line %r dropped", link.cabinet_id, line[:80])
            return False
        now = self.clock()
        with self.sessions.begin() as s:
            cab = s.get(Cabinet, link.cabinet_id)
            if line.startswith("HELLO"):
                cab.online, cab.last_seen = True, now
                domain.add_event(s, cab, "cabinet_online", line[:100], now)
                if self.report_period_s is not None:    # answered OK PERIOD (not awaited)
                    link.writer.write(f"PERIOD {self.report_period_s} {OFFLINE_PERIOD_S}\n".encode())
            elif line.startswith("R "):
                try:
                    f = domain.parse_r_line(line)
                    link.last_r_seq = f["seq"]
                    if domain.ingest(s, cab, f, now, link.snapshot_at) is not None:
                        self.readings_in += 1
                        self._fresh[cab.id] = self._fresh.get(cab.id, 0) + 1
                except domain.HeadendError as e:
                    log.warning("cabinet %s: %s", cab.name, e)
                    return False
            elif line == "END":
                cab.last_seen = now
                if link.last_r_seq is not None:   # stored (or a repeat): the cabinet may drop it
                    link.writer.write(f"ACK {link.last_r_seq}\n".encode())
                    link.last_r_seq = None
                self.reports_in += 1
                if self._fresh.pop(cab.id, 0):
                    self.reports_from[cab.name] = self.reports_from.get(cab.name, 0) + 1
            elif line.startswith("T "):
                try:
                    link.snapshot_at = domain.parse_t_line(line)
                except domain.HeadendError as e:
                    link.snapshot_at = None
                    log.warning("cabinet %s: %s", cab.name, e)
                    return False
            else:                               # OK word / ERR word
                ok, word = line.split(" ", 1)
                if word == link.expect and link.answer is not None and not link.answer.done():
                    self.answers_in += 1
                    link.answer.set_result(ok == "OK")
                elif ok == "ERR":               # the clock set at connection, or a late answer
                    log.warning("cabinet %s answered %r", cab.name, line)
        return True

    def _closed(self, link: Link, still_current: bool) -> None:
        now = self.clock()
        with self.sessions.begin() as s:
            cab = s.get(Cabinet, link.cabinet_id)
            if still_current:                 # not replaced by a newer connection
                cab.online = False
                domain.add_event(s, cab, "cabinet_offline", "link closed", now)
            if link.in_flight is not None and link.in_flight[0] == "topup":
                t = s.get(TopUp, link.in_flight[1])
                if t.state == "sent":
                    t.state = "unconfirmed"
                    domain.add_event(s, cab, "topup_unconfirmed",
                                     f"top-up {t.request_id} sent, link lost before the answer: "
                                     "check the room's balance before paying it again", now,
                                     t.room_ref)
            elif link.in_flight is not None:
                c = s.get(Command, link.in_flight[1])
                if c.state == "sent":
                    domain.command_done(s, c, None, now)

    async def _time_line(self) -> str:
        """TIME unix_s, returned when our clock reaches that whole second. The clock is polled
        rather than slept on, so a clock that is not the wall's (virtual time, in tests) is
        followed too; one that stands still is given up on after 1.5 s of wall time."""
        target = int(self.clock().timestamp()) + 1
        give_up = time.monotonic() + 1.5
        while (left := target - self.clock().timestamp()) > 0 and time.monotonic() < give_up:
            await asyncio.sleep(min(left, 0.01))
        return f"TIME {target}"

    async def _send_time(self, link: Link) -> None:
        """TIME at connection and every TIME_EVERY_S: the cabinet sets its RTC to it (and
        broadcasts it to its controllers), so its seconds start within the link's latency."""
        while True:
            link.writer.write(f"{await self._time_line()}\n".encode())
            await link.writer.drain()
            await asyncio.sleep(TIME_EVERY_S)

    def _next_job(self, cabinet_id: int):
        """The oldest pending top-up, else the oldest pending command, marked sent:
        (kind, id, line, answer word) or None."""
        with self.sessions.begin() as s:
            t = s.scalar(select(TopUp).join(Room, TopUp.room_id == Room.id)
                         .where(Room.cabinet_id == cabinet_id, TopUp.state == "pending")
                         .order_by(TopUp.id).limit(1))
            if t is not None:
                t.state = "sent"
                r = t.room_ref
                return "topup", t.id, f"TOPUP {r.controller} {r.room} {t.cents}", "TOPUP"
            c = s.scalar(select(Command).where(Command.cabinet_id == cabinet_id,
                                               Command.state == "pending")
                         .order_by(Command.id).limit(1))
            if c is None:
                return None
            c.state = "sent"
            return ("command", c.id) + domain.command_line(c, c.room_ref)

    async def _send_jobs(self, link: Link) -> None:
        while True:
            job = self._next_job(link.cabinet_id)
            if job is None:
                link.wake.clear()
                try:
                    await asyncio.wait_for(link.wake.wait(), 1.0)
                except asyncio.TimeoutError:
                    pass
                continue
            kind, job_id, line, word = job
            link.in_flight, link.expect = (kind, job_id), word   # before any wait: a link lost
            if line == "TIME":                                   # meanwhile puts it back
                line = await self._time_line()
            link.answer = asyncio.get_running_loop().create_future()
            link.writer.write(f"{line}\n".encode())
            await link.writer.drain()
            try:
                ok = await asyncio.wait_for(link.answer, ANSWER_TIMEOUT_S)
            except asyncio.TimeoutError:
                ok = None
            with self.sessions.begin() as s:
                now = self.clock()
                if kind == "topup":
                    t = s.get(TopUp, job_id)
                    t.state = {True: "done", False: "failed", None: "unconfirmed"}[ok]
                    t.done_at = now
                    if ok is None:
                        domain.add_event(s, s.get(Cabinet, link.cabinet_id), "topup_unconfirmed",
                                         f"top-up {t.request_id}: no answer in {ANSWER_TIMEOUT_S} s",
                                         now, t.room_ref)
                else:
                    c = s.get(Command, job_id)
                    if ok is None:          # no answer on a live link: a failure, not a retry
                        ok = False
                    domain.command_done(s, c, ok, now)
            link.in_flight = link.expect = None
