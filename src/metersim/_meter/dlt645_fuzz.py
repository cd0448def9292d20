"""Seeded malformed DL/T645-2007 traffic for robustness campaigns against a meter.

`malformed_frames(seed, count, address)` yields `FuzzCase`s: the bytes to put on the line and
the control code of the abnormal reply the standard demands (None when no reply is due: a
damaged frame is ignored by a meter, as is one for another address). Kinds, in equal shares:

- `checksum`:   a valid read with its checksum changed                        -> no reply
- `length`:     L one more or one less than the data that follows            -> no reply
- `control`:    a valid frame with a control code the standard does not have  -> C | 0xC0, SERR 01
- `data`:       a known function with a data field of the wrong size         -> C | 0xC0
- `random`:     1..40 random bytes                                            -> no reply
- `truncated`:  a valid read cut short                                        -> no reply
- `back2back`:  garbage and, without a gap, an unknown-control frame          -> C | 0xC0

The same seed gives the same cases.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from metersim._protocols.dlt645.framer import Frame, address_bytes, encode_frame

KINDS = ("checksum", "length", "control", "data", "random", "truncated", "back2back")
# function codes DL/T645-2007 defines (requests); anything else is "unknown"
KNOWN = {0x03, 0x08, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x1B, 0x1C}
# (function, a wrong data length, the SERR bit the meter answers with)
BAD_DATA = ((0x11, 3, 0x01), (0x11, 7, 0x01), (0x12, 4, 0x01), (0x14, 9, 0x01),
            (0x17, 2, 0x08), (0x1A, 5, 0x01), (0x1C, 9, 0x01), (0x16, 2, 0x01))


@dataclass(frozen=True)
class FuzzCase:
    kind: str
    raw: bytes
    reply: int | None        # control code of the due abnormal reply, or None


def _unknown_control(rng: random.Random) -> int:
    while True:
        c = rng.randrange(0x00, 0x20)
        if c not in KNOWN:
            return c


def malformed_frames(seed: int, count: int, address: str = "000000123456"):
    rng = random.Random(seed)
    addr = address_bytes(address)
    read = Frame(addr, 0x11, bytes.fromhex("00000100"))          # forward active, total
    for i in range(count):
        kind = KINDS[i % len(KINDS)]
        pre = bytes([0xFE] * rng.randrange(0, 5))
        if kind == "checksum":
            raw = bytearray(encode_frame(read))
            raw[-2] = (raw[-2] + rng.randrange(1, 256)) & 0xFF
            yield FuzzCase(kind, pre + bytes(raw), None)
        elif kind == "length":
            raw = bytearray(encode_frame(read))
            raw[9] += rng.choice((-1, 1))
            yield FuzzCase(kind, pre + bytes(raw), None)
        elif kind == "control":
            c = _unknown_control(rng)
            data = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 9)))
            yield FuzzCase(kind, pre + encode_frame(Frame(addr, c, data)), c | 0xC0)
        elif kind == "data":
            fn, n, _ = BAD_DATA[rng.randrange(len(BAD_DATA))]
            data = bytes(rng.randrange(256) for _ in range(n))
            yield FuzzCase(kind, pre + encode_frame(Frame(addr, fn, data)), fn | 0xC0)
        elif kind == "random":
            yield FuzzCase(kind, bytes(rng.randrange(256) for _ in range(rng.randrange(1, 41))),
                           None)
        elif kind == "truncated":
            raw = encode_frame(read)
            yield FuzzCase(kind, pre + raw[:rng.randrange(1, len(raw) - 1)], None)
        else:
            junk = bytes(rng.choice((0x68, 0x16, 0xFE, rng.randrange(256)))
                         for _ in range(rng.randrange(1, 12)))
            c = _unknown_control(rng)
            yield FuzzCase(kind, junk + pre + encode_frame(Frame(addr, c, b"")), c | 0xC0)


@dataclass
class FuzzReport:
    sent: int = 0
    replies_due: int = 0
    abnormal_ok: int = 0                  # due abnormal replies received with the right C
    missing: list = None                  # cases whose due reply never came
    wrong: list = None                    # (case, bytes received) where something else came
    trailing: bytes = b""                 # what the meter sent after the last case's window
    chars: int = 0                        # characters on the line, both ways
    straddled: int = 0                    # cases whose first bytes completed the one before

    def __post_init__(self):
        self.missing, self.wrong = [], []

    @property
    def ok(self) -> bool:
        return not self.missing and not self.wrong and not self.trailing

    def summary(self) -> str:
        return (f"{self.sent} frames, {self.replies_due} abnormal replies due, "
                f"{self.abnormal_ok} received, {len(self.missing)} missing, "
                f"{len(self.wrong)} unexpected, {len(self.trailing)} bytes after the last")


def straddling_frame(prev: bytes, raw: bytes) -> bool:
    """Do the bytes of `prev` and the first bytes of `raw` make one valid frame by chance? The
    meter reads the line as one stream (a partial frame waits 500 ms for the rest), so a
    truncated case followed, 2 ms later, by bytes that happen to finish it with the right
    checksum and 16 (one time in tens of thousands) is a frame the meter rightly answers, and
    that answer collides on the half-duplex line with the rest of `raw` still being sent."""
    from metersim._protocols.dlt645.framer import START, Dlt645FrameError, decode_frame

    stream = prev + raw
    for j in (j for j, b in enumerate(prev) if b == START):
        if j + 10 > len(stream) or stream[j + 7] != START:
            continue
        end = j + 12 + stream[j + 9]
        if len(prev) < end <= len(stream):
            try:
                decode_frame(stream[j:end])
                return True
            except Dlt645FrameError:
                pass
    return False


# The firmware's latest answer: a request the communication service routes over the virtual
# bus is given up after 1 s (com_service.c PENDING_MS); DL/T645-2007 allows a meter 500 ms.
LAST_ANSWER = "1200ms"


def run_fuzz(emu, port, cases, reply_timeout: str = "600ms", gap: str = "2ms",
             final_quiet: str = LAST_ANSWER) -> FuzzReport:
    """Send each case on `port` (send/read on the emulation's clock) and check every byte the
    meter sends back.

    A case due an abnormal reply waits for it (up to `reply_timeout`; the meter answers a
    malformed request itself, within a millisecond of its last byte), then the line rests for
    `gap` before the next case; a case due no reply is followed by the gap alone. Nothing the
    meter sends can go unseen: the bytes received in a case's window (from its first byte to
    the next case's) must be exactly the due reply (FE preamble allowed) or nothing, and after
    the last case the line is watched for `final_quiet`, longer than the firmware's latest
    answer, so a late or spurious reply is reported (against the window it arrived in, or as
    `trailing`). A case whose first bytes finish the previous case's bytes into a valid frame
    (`straddling_frame`) is counted in `straddled`: the meter answers that frame while the rest
    of the case is on the line, so whatever comes back (a collision) is accepted, and the line
    is left quiet for `final_quiet` before the next case."""
    from metersim._errors import EmulationTimeout
    from metersim._protocols.dlt645.framer import (PREAMBLE, START, Dlt645FrameError,
                                                   decode_frame)

    rx = bytearray()

    def reply_complete() -> bool:
        rx.extend(port.read())
        body = rx.lstrip(bytes([PREAMBLE]))
        if body and body[0] != START:
            return True                       # not a frame: wrong anyway, stop waiting
        return len(body) >= 10 and len(body) >= 12 + body[9]

    report = FuzzReport()
    prev = b""
    for case in cases:
        rx.clear()
        straddle = straddling_frame(prev, case.raw)
        prev = case.raw
        emu.run_until_time(port.send(case.raw))
        report.sent += 1
        report.chars += len(case.raw)
        if straddle:
            report.straddled += 1
            emu.run_for(final_quiet)
            report.chars += len(port.read())
            prev = b""
            continue
        if case.reply is not None:
            report.replies_due += 1
            try:
                emu.run_until(reply_complete, reply_timeout, "abnormal reply")
            except EmulationTimeout:
                pass
        emu.run_for(gap)
        rx.extend(port.read())
        got = bytes(rx)
        report.chars += len(got)
        if case.reply is None:
            if got:
                report.wrong.append((case, got))
            continue
        if not got:
            report.missing.append(case)
            continue
        try:
            frame = decode_frame(got)
        except Dlt645FrameError:
            frame = None
        if frame is not None and frame.control == case.reply and len(frame.data) == 1:
            report.abnormal_ok += 1
        else:
            report.wrong.append((case, got))
    if report.sent:
        emu.run_for(final_quiet)
        report.trailing = bytes(port.read())
        report.chars += len(report.trailing)
    return report
