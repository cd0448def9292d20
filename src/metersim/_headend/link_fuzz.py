"""A seeded fuzzer of the query manager's side of the head end's link (docs/headend.md,
"Malformed lines"), run against a real head end started in this process on 127.0.0.1.

Frames are lines: well-formed ones (HELLO, T, R, END, answers), replays and duplicates of R
lines, R lines out of order, and malformed ones (bad or out-of-range fields, wrong counts, lines
cut short, overlong lines, binary garbage, bad UTF-8, control characters, unknown words), sent
split at random points across TCP segments; a line cut by an abrupt close; storms of connections
at once. Checks: every report is answered by the ACK the well-formed lines call for and nothing
else (malformed lines get no reply), no report waits more than HANG_S (a hang), no error logged
by the server, the partial line a connection holds stays bounded, and the database holds exactly
the well-formed readings (each once, with its content; every acknowledged one; no room, epoch or
event text from a malformed line). The same seed gives the same frames."""

from __future__ import annotations

import logging
import random
import socket
import struct
import time
from dataclasses import dataclass, field

from sqlalchemy import select

from . import domain, link as link_mod
from .models import Cabinet, Event, Reading, Room

HANG_S = 10.0
CABINET = "fuzz"
_BAD_NUMBERS = ("1.5", "0x10", "+5", "1_0", "", "abc", "99999999999", "-", "--1", "1e3",
                "2147483648", "-2147483649", "٣")
_UNKNOWN = ("ACK 5", "r 1 2 3", "HELLO\tx", "END ", " END", "OK", "OK topup", "ERR", "TIME 5",
            "T", "T -5", "T 1.5", "T 99999999999", "T 0", "PERIOD 1 2", "R", "", "   ",
            "HELLOX", "END END", "R  1", "OK TOPUP extra", "DROP TABLE readings")


@dataclass
class Figures:
    frames: int = 0                 # lines sent, well-formed or not
    malformed: int = 0              # of them malformed
    readings_sent: int = 0          # distinct well-formed R lines (seq numbers)
    repeats: int = 0                # R lines sent again (replays, duplicates)
    out_of_order: int = 0           # R lines sent after a later seq
    overlong: int = 0
    cut_by_close: int = 0           # connections closed in the middle of a line
    storms: int = 0                 # episodes of many connections at once
    storm_malformed: int = 0        # malformed lines and readings sent in storms: the head end
    storm_readings: int = 0         # may close a replaced connection before reading them
    connections: int = 0
    reports: int = 0                # END lines whose ACK was checked
    wrong_replies: int = 0
    hangs: int = 0
    server_errors: int = 0          # ERROR records logged by the head end or asyncio
    readings_stored: int = 0
    readings_wrong: int = 0         # stored with content no well-formed line had
    acknowledged_missing: int = 0   # acknowledged but not stored
    stray_rooms: int = 0
    bad_event_text: int = 0
    epochs: int = 0
    lines_dropped: int = 0          # the head end's count of malformed lines
    max_buffered: int = 0           # bytes of a partial line held for a connection, largest
    health_ok: bool = False
    wall_s: float = 0.0
    notes: list = field(default_factory=list)

    def failures(self) -> list[str]:
        bad = [f"{k} {getattr(self, k)}" for k in
               ("wrong_replies", "hangs", "server_errors", "readings_wrong",
                "acknowledged_missing", "stray_rooms", "bad_event_text") if getattr(self, k)]
        if self.epochs != 1:
            bad.append(f"epochs {self.epochs} (expected 1)")
        if self.max_buffered > link_mod.MAX_LINE + link_mod.READ_CHUNK:
            bad.append(f"max_buffered {self.max_buffered}")
        if not self.health_ok:
            bad.append("the head end stopped answering")
        return bad + self.notes

    def lines(self) -> list[str]:
        return [f"frames {self.frames:,} ({self.malformed:,} malformed, "
                f"{self.overlong:,} overlong), {self.connections:,} connections "
                f"({self.storms:,} storms with {self.storm_malformed:,} malformed lines and "
                f"{self.storm_readings:,} readings, {self.cut_by_close:,} closed mid-line)",
                f"readings: {self.readings_sent:,} sent, {self.repeats:,} repeats, "
                f"{self.out_of_order:,} out of order; {self.readings_stored:,} stored, "
                f"{self.readings_wrong} wrong, {self.acknowledged_missing} acknowledged but "
                f"missing, epochs {self.epochs}",
                f"replies: {self.reports:,} reports acknowledged, {self.wrong_replies} wrong, "
                f"{self.hangs} hangs; server errors {self.server_errors}; malformed lines "
                f"dropped by the head end {self.lines_dropped:,}; largest partial line held "
                f"{self.max_buffered:,} bytes; stray rooms {self.stray_rooms}; health "
                f"{'ok' if self.health_ok else 'FAILED'}; wall {self.wall_s:.1f} s"]


class _Errors(logging.Handler):
    def __init__(self):
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


class _Conn:
    """One connection of the fuzzing query manager."""

    def __init__(self, port: int, rng: random.Random):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=HANG_S)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.rng, self.buf = rng, b""

    def send(self, data: bytes) -> None:
        """`data` in 1 to 4 pieces cut at seeded points, each its own segment."""
        cuts = sorted(self.rng.sample(range(1, len(data)), min(len(data) - 1,
                                                                self.rng.randint(0, 3))))
        for a, b in zip([0] + cuts, cuts + [len(data)]):
            self.sock.sendall(data[a:b])

    def replies(self, n_acks: int) -> list[str]:
        """Lines received until `n_acks` ACK lines came, past TIME and PERIOD; raises
        TimeoutError after HANG_S."""
        out, acks = [], 0
        while acks < n_acks:
            while b"\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("the head end closed the link")
                self.buf += chunk
            raw, self.buf = self.buf.split(b"\n", 1)
            line = raw.decode("ascii", "replace")
            if line.startswith(("TIME ", "PERIOD ")):
                continue
            out.append(line)
            acks += line.startswith("ACK ")
        return out

    def close(self, reset: bool = False) -> None:
        if reset:      # RST instead of FIN
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()


class LinkFuzzer:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.next_seq = 1
        self.sent: dict[int, str] = {}     # seq -> its one well-formed line
        self.held: list[int] = []          # seqs made but not yet delivered
        self.fig = Figures()

    # -- lines -----------------------------------------------------------------------------------
    def _fields(self, seq: int) -> list[int]:
        r = self.rng
        out = []
        for name in domain.R_FIELDS:
            lo, hi = domain.R_RANGES[name]
            if name == "seq":
                out.append(seq)
            elif r.random() < 0.1:
                out.append(r.choice((lo, hi)))
            else:
                out.append(r.randint(lo, min(hi, lo + 100000)) if hi - lo > 100000
                           else r.randint(lo, hi))
        return out

    def new_reading(self) -> int:
        seq = self.next_seq
        self.next_seq += 1
        self.sent[seq] = "R " + " ".join(map(str, self._fields(seq)))
        self.fig.readings_sent += 1
        return seq

    def malformed(self) -> bytes:
        r, fig = self.rng, self.fig
        fig.malformed += 1
        parts = ["R"] + [str(v) for v in self._fields(r.randint(1, self.next_seq + 5))]
        kind = r.randrange(8)
        if kind == 0:                                   # one field bad or out of range
            i = r.randint(1, len(domain.R_FIELDS))
            lo, hi = domain.R_RANGES[domain.R_FIELDS[i - 1]]
            parts[i] = r.choice(_BAD_NUMBERS + (str(hi + 1), str(lo - 1)))
            return " ".join(parts).encode("utf-8") + b"\n"
        if kind == 1:                                   # wrong count
            if r.random() < 0.5:
                i = r.randint(1, len(parts) - 1)
                del parts[i:i + r.randint(1, 3)]
            else:
                parts += [str(r.randint(0, 9))] * r.randint(1, 3)
            return " ".join(parts).encode() + b"\n"
        if kind == 2:                                   # cut short (at least one field lost)
            line = " ".join(parts)
            return line[:r.randint(0, line.rindex(" "))].encode() + b"\n"
        if kind == 3:                                   # overlong, a valid line at its start
            fig.overlong += 1
            n = r.choice((link_mod.MAX_LINE + 1, r.randint(513, 5000), r.randint(5000, 200000)))
            line = (" ".join(parts) + " ").encode()
            return (line + b"7" * max(0, n - len(line)))[:max(n, len(line))] + b"\n"
        if kind == 4:                                   # binary garbage
            return bytes(b for b in r.randbytes(r.randint(1, 200)) if b != 10) + b"\n"
        if kind == 5:                                   # bad UTF-8 or a control character
            line = bytearray(" ".join(parts).encode())
            bad = r.choice((r.randint(0x80, 0xff), r.randint(0, 31), 0x7f))
            if bad in (10, 13):         # a newline splits it; a CR at its end is allowed
                bad = 0
            pos = r.randint(0, len(line))
            if r.random() < 0.5 and pos < len(line):
                line[pos] = bad
            else:
                line.insert(pos, bad)
            return bytes(line) + b"\n"
        if kind == 6:                                   # separators other than one space
            return r.choice(("  ", "\t", " \t", ",")).join(parts).encode() + b"\n"
        return r.choice(_UNKNOWN).encode("utf-8") + b"\n"

    def batch(self) -> tuple[list[bytes], list[int]]:
        """One report's frames and the ACKs they call for (the head end's rule: END is
        answered by ACK of the last well-formed R line since the previous END)."""
        r, fig = self.rng, self.fig
        out: list[bytes] = []
        goods: list[int] = []
        if r.random() < 0.3:
            out.append(f"T {r.randint(1_700_000_000, 2_000_000_000)}\n".encode())
        for _ in range(r.randint(1, 40)):
            x = r.random()
            if x < 0.35:
                seq = self.held.pop(0) if self.held and r.random() < 0.3 else self.new_reading()
                out.append(self.sent[seq].encode() + b"\n")
                goods.append(seq)
            elif x < 0.42 and self.sent:                # a replay or duplicate
                seq = r.choice((r.randint(1, self.next_seq - 1), self.next_seq - 1))
                out.append(self.sent[seq].encode() + b"\n")
                goods.append(seq)
                fig.repeats += 1
            elif x < 0.45:                              # out of order: a later one first
                self.held.append(self.new_reading())
                fig.out_of_order += 1
            elif x < 0.47:
                out.append(b"END\n")
                goods.append(0)
            elif x < 0.49:
                out.append(r.choice((b"OK TOPUP\n", b"ERR TIME\n", b"OK RELAY\n")))
            else:
                out.append(self.malformed())
        seq = self.new_reading()                        # a report ends R ..., END
        out += [self.sent[seq].encode() + b"\n", b"END\n"]
        goods += [seq, 0]
        acks, last = [], None
        for g in goods:
            if g == 0:
                if last is not None:
                    acks.append(last)
                last = None
            else:
                last = g
        return out, acks


def run(db_url: str, frames: int, seed: int, progress=None) -> Figures:
    """Fuzz a fresh head end on `db_url` with about `frames` lines; returns the figures."""
    import httpx

    from . import Headend

    fuzz = LinkFuzzer(seed)
    fig, r = fuzz.fig, fuzz.rng
    errors = _Errors()
    link_log = logging.getLogger("metersim._headend.link")
    old_level = link_log.level
    link_log.setLevel(logging.ERROR)        # a warning per malformed line otherwise
    logging.getLogger().addHandler(errors)
    t0 = time.monotonic()
    hs = Headend(db_url, cabinets={CABINET: 0}, api_port=0).start()
    try:
        port = hs.link_ports[CABINET]
        acked: set[int] = set()

        def connect() -> _Conn:
            fig.connections += 1
            c = _Conn(port, r)
            c.send(b"HELLO query-manager 1.1\n")
            fig.frames += 1
            return c

        main = connect()
        while fig.frames < frames:
            x = r.random()
            if x < 0.02:                                # a storm of connections at once
                fig.storms += 1
                main.close()
                conns = [connect() for _ in range(r.randint(2, 12))]
                for c in conns:
                    lines = []
                    for _ in range(r.randint(1, 8)):
                        if r.random() < 0.7:
                            lines.append(fuzz.malformed())
                            fig.storm_malformed += 1
                        else:
                            lines.append(fuzz.sent[fuzz.new_reading()].encode() + b"\n")
                            fig.storm_readings += 1
                    fig.frames += len(lines)
                    try:
                        c.send(b"".join(lines))
                    except OSError:
                        pass                            # replaced by a newer one meanwhile
                for c in conns:
                    c.close(reset=r.random() < 0.5)
                main = connect()
                continue
            if x < 0.05:                                # closed in the middle of a line
                fig.cut_by_close += 1
                seq = fuzz.new_reading()
                line = fuzz.sent[seq].encode()
                main.send(line[:r.randint(1, len(line))])     # no newline: never a line
                fuzz.held.append(seq)
                fig.frames += 1
                main.close(reset=r.random() < 0.3)
                main = connect()
                continue
            lines, acks = fuzz.batch()
            fig.frames += len(lines)
            try:
                main.send(b"".join(lines))
                got = main.replies(len(acks))
            except (TimeoutError, ConnectionError) as e:
                fig.hangs += 1
                fig.notes.append(f"report {fig.reports}: {e!r}")
                main.close()
                main = connect()
                continue
            want = [f"ACK {a}" for a in acks]
            fig.reports += len(acks)
            if got != want:
                fig.wrong_replies += 1
                fig.notes.append(f"replies {got[:5]} where {want[:5]} were due")
            else:
                acked.update(s for ln in lines
                             if ln.startswith(b"R ") and (s := _seq_of(ln)) in fuzz.sent
                             and fuzz.sent[s].encode() + b"\n" == ln)
            if progress and fig.reports % 200 == 0:
                progress(fig)
        # a well-formed session at the end: the held readings and a new one, acknowledged
        main.close()
        main = connect()
        finals = fuzz.held + [fuzz.new_reading()]
        fuzz.held = []
        main.send(b"".join(fuzz.sent[s].encode() + b"\n" for s in finals) + b"END\n")
        fig.frames += len(finals) + 1
        try:
            got = main.replies(1)
            if got != [f"ACK {finals[-1]}"]:
                fig.wrong_replies += 1
                fig.notes.append(f"final session answered {got}")
            acked.update(finals)
        except (TimeoutError, ConnectionError):
            fig.hangs += 1
        main.close()
        fig.health_ok = httpx.get(hs.url() + "/", timeout=HANG_S).status_code == 200
        _check_database(hs, fuzz, acked)
        fig.lines_dropped = hs.links.lines_dropped
        fig.max_buffered = hs.links.max_buffered
    finally:
        hs.stop()
        logging.getLogger().removeHandler(errors)
        link_log.setLevel(old_level)
    fig.server_errors = len(errors.records)
    fig.notes += [f"logged: {e.getMessage()[:200]}" for e in errors.records[:3]]
    fig.wall_s = time.monotonic() - t0
    return fig


def _seq_of(line: bytes) -> int:
    try:
        return int(line.split(b" ")[1])
    except (IndexError, ValueError):
        return -1


def _check_database(hs, fuzz: LinkFuzzer, acked: set[int]) -> None:
    fig = fuzz.fig
    good_rooms = {tuple(map(int, ln.split(" ")[2:4])) for ln in fuzz.sent.values()}
    with hs.sessions.begin() as s:
        cab = s.scalar(select(Cabinet).where(Cabinet.name == CABINET))
        rooms = {rm.id: (rm.controller, rm.room)
                 for rm in s.scalars(select(Room).where(Room.cabinet_id == cab.id))}
        fig.stray_rooms = sum(1 for k in rooms.values() if k not in good_rooms)
        stored = set()
        for rd in s.scalars(select(Reading).where(Reading.cabinet_id == cab.id)):
            ctrl, room = rooms[rd.room_id]
            vals = {"controller": ctrl, "room": room,
                    **{k: getattr(rd, k) for k in domain.R_FIELDS if k not in ("controller", "room")}}
            line = "R " + " ".join(str(vals[k]) for k in domain.R_FIELDS)
            if fuzz.sent.get(rd.seq) != line:
                fig.readings_wrong += 1
            stored.add(rd.seq)
            fig.readings_stored += 1
        fig.epochs = len({e for (e,) in s.execute(select(Reading.epoch)
                                                  .where(Reading.cabinet_id == cab.id))})
        fig.acknowledged_missing = len(acked - stored)
        for ev in s.scalars(select(Event)):
            if not all(" " <= ch <= "~" for ch in ev.detail or ""):
                fig.bad_event_text += 1
