"""1,000 seeded malformed DL/T645 frames (bad checksum, wrong length, unknown control code,
wrong data field, random bytes, truncated, back to back) on RS-485 and on IR: the meter never
crashes, hangs or restarts, answers abnormally wherever the standard wants an answer, stays
silent otherwise, and still serves reads afterwards. (10,000: benchmarks/meter_dlt645_fuzz.py.)"""

from decimal import Decimal

from metersim._meter.dlt645_fuzz import KINDS, malformed_frames, run_fuzz

RS485_FRAMES, IR_FRAMES = 700, 300


def test_malformed_frames_on_rs485_and_ir(meter):
    m = meter()
    m.master.change_baud(9600)               # the fastest rate all readers take: more frames
    r485 = run_fuzz(m.emu, m.rs485, malformed_frames(seed=645, count=RS485_FRAMES))
    ir = run_fuzz(m.emu, m.board["ir"], malformed_frames(seed=646, count=IR_FRAMES))
    for name, rep in (("rs485", r485), ("ir", ir)):
        assert rep.ok, f"{name}: {rep.summary()}; first missing {rep.missing[:3]}, wrong {rep.wrong[:3]}"
    # unknown control codes, bad data fields and back-to-back frames are due abnormal replies
    assert r485.replies_due == r485.abnormal_ok > 3 * RS485_FRAMES // len(KINDS) - 3
    assert ir.replies_due == ir.abnormal_ok > 0
    # alive and well: one boot, no watchdog reset, both ports still serve the services
    assert m.con.text.count("meter management unit on") == 1 and "watchdog" not in m.con.text
    assert m.master.read_value(0x02010100) == Decimal("220.1")
    assert m.ir.read_value(0x00010000) == Decimal("1234.56")
