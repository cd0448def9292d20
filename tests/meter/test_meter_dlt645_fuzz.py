"""10,000 seeded malformed DL/T645 frames (bad checksum, wrong length, unknown control code,
wrong data field, random bytes, truncated, back to back) on RS-485 and on IR: the meter never
crashes, hangs or restarts, answers abnormally wherever the standard wants an answer, sends
nothing else (every byte it sends is checked, and the line is watched past its latest answer
at the end), and still serves reads afterwards. benchmarks/meter_dlt645_fuzz.py runs the same
campaign with timings."""

from decimal import Decimal

from metersim._meter.dlt645_fuzz import KINDS, malformed_frames, run_fuzz

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
    assert m.con.text.count("meter management unit on") == 1 and "watchdog" not in m.con.text
    assert m.master.read_value(0x02010100) == Decimal("220.1")
    assert m.ir.read_value(0x00010000) == Decimal("1234.56")
