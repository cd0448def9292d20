"""10,000 seeded malformed DL/T645 frames (bad checksum, wrong length, unknown control code,
wrong data field, random bytes, truncated, back to back) on RS-485 and on IR: the meter never
crashes, hangs or restarts, answers abnormally wherever the standard wants an answer, sends
nothing else (every byte it sends is checked, and the line is watched past its latest answer
at the end), and still serves reads afterwards. benchmarks/meter_dlt645_fuzz.py runs the same
campaign with timings."""

from decimal import Decimal

from metersim._engine.clock import Clock
from metersim._errors import EmulationTimeout
from metersim._meter.dlt645_fuzz import KINDS, malformed_frames, run_fuzz
from metersim._protocols.dlt645.framer import Frame, address_bytes, encode_frame
from metersim._units import PS_PER_MS, PS_PER_S, PS_PER_US, parse_time_ps

# 70 % on RS-485 at the meter's fastest rate, 30 % on IR at its fixed 1200 baud (an IR frame
# takes 16 times as long on the wire, and the meter's own work goes on meanwhile).
RS485_FRAMES, IR_FRAMES = 7000, 3000


def test_malformed_frames_on_rs485_and_ir(meter):
    m = meter()
    m.master.change_baud(19200)              # the fastest rate the meter takes: more frames
    r485 = run_fuzz(m.emu, m.rs485, malformed_frames(seed=645, count=RS485_FRAMES))
    ir = run_fuzz(m.emu, m.board["ir"], malformed_frames(seed=646, count=IR_FRAMES))
    for name, rep in (("rs485", r485), ("ir", ir)):
        assert rep.ok, (f"{name}: {rep.summary()}; first missing {rep.missing[:3]}, "
                        f"wrong {rep.wrong[:3]}, after the last {rep.trailing.hex(' ')}")
        assert rep.sent == {"rs485": RS485_FRAMES, "ir": IR_FRAMES}[name]
    # unknown control codes, bad data fields and back-to-back frames are due abnormal replies
    assert r485.replies_due == r485.abnormal_ok > 3 * RS485_FRAMES // len(KINDS) - 3
    assert ir.replies_due == ir.abnormal_ok > 3 * IR_FRAMES // len(KINDS) - 3
    # alive and well: one boot, no watchdog reset, both ports still serve the services
    assert m.con.text.count("meter management unit on") == 1 and "watchdog:" not in m.con.text
    assert m.master.read(0x04A00011) == bytes(3)         # its watchdog-reset count (BCD)
    assert m.board["iwdg"].running and m.board["iwdg"].expiries == 0
    assert m.master.read_value(0x02010100) == Decimal("220.1")
    # the metrology unit metered the fixture's 1123.4 W all along (in 0.01 kWh steps)
    metered_kWh = 1234.56 + 1.1234 * (m.emu.now_ps / PS_PER_S) / 3600
    assert abs(float(m.ir.read_value(0x00010000)) - metered_kWh) <= 0.011


class _Line:
    """The harness's view of a meter without firmware: a clock, a port at 19200 8E1 and a
    scripted far end (`answer(case_bytes) -> [(delay_ps, reply bytes)]`)."""

    CHAR_PS = 11 * PS_PER_S // 19200

    def __init__(self, answer):
        self.clock, self.answer, self.rx = Clock(), answer, bytearray()

    @property
    def now_ps(self):
        return self.clock.now_ps

    def run_until_time(self, t_ps, until=None):
        while self.clock.now_ps < t_ps:
            self.clock.advance_to(min(t_ps, self.clock.now_ps + 100 * PS_PER_US))
            if until is not None and until():
                return True
        return False

    def run_until(self, condition, timeout, what=""):
        if not self.run_until_time(self.now_ps + parse_time_ps(timeout), condition):
            raise EmulationTimeout(what)

    def run_for(self, duration):
        self.run_until_time(self.now_ps + parse_time_ps(duration))

    def send(self, raw):
        end = self.now_ps + len(raw) * self.CHAR_PS
        for delay, reply in self.answer(bytes(raw)):
            self.clock.schedule_at(end + delay, self.rx.extend, reply)
        return end

    def read(self):
        out = bytes(self.rx)
        self.rx.clear()
        return out


def _abnormal(raw):
    """The standard answer to a case due one: C | C0 with an SERR byte."""
    case = next(c for c in CASES if c.raw == raw)
    if case.reply is None:
        return None
    return b"\xfe" * 4 + encode_frame(Frame(address_bytes("000000123456"), case.reply, b"\x01"))


CASES = list(malformed_frames(seed=7, count=2 * len(KINDS)))


def test_the_campaign_reports_a_stray_a_wrong_and_a_late_answer():
    def meter(raw):                            # answers as due, 1 ms after the request
        reply = _abnormal(raw)
        return [(PS_PER_MS, reply)] if reply else []

    line = _Line(meter)
    assert run_fuzz(line, line, CASES).ok     # a meter answering as the standard wants

    silent = next(c for c in CASES if c.reply is None)
    due = next(c for c in CASES if c.reply is not None)
    stray = b"\xfe" * 4 + encode_frame(Frame(address_bytes("000000123456"), 0x91, b""))

    def misbehaving(raw):
        extra = []
        if raw == silent.raw:
            extra = [(PS_PER_MS, stray)]      # an answer where none is due
        if raw == due.raw:
            return [(PS_PER_MS, stray)]       # a normal reply instead of the abnormal one
        if raw == CASES[-1].raw:
            extra = [(900 * PS_PER_MS, stray)]   # long after everything, within 1.2 s
        return meter(raw) + extra

    line = _Line(misbehaving)
    rep = run_fuzz(line, line, CASES)
    assert not rep.ok and rep.trailing == stray
    assert [case for case, _ in rep.wrong] == [c for c in CASES if c in (silent, due)]
    assert rep.abnormal_ok == rep.replies_due - 1 and not rep.missing
