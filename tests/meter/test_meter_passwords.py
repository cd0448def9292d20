"""DL/T645-2007 password levels and the lock-out, through both ports of the meter
(firmware/services/com_service.c): a command needing level N takes a password of level N or a
higher one (a lower PA); a level never set opens nothing; three wrong passwords in a row, on
either port, lock password-protected commands on both (the lock is the meter's) for 24 h of the
battery-backed calendar clock; the count and the lock are kept in the EEPROM, so a reset or a
power cut clears neither; a right password ends a run of wrong ones. A refusal is the
standard's abnormal reply: C | C0 with SERR bit 2 (password wrong or not authorised)."""

import random
from decimal import Decimal

import pytest

import metersim
from metersim.dlt645 import Dlt645Abnormal

from tests.meter.conftest import started

RIGHT = {2: "123456", 4: "000000"}        # the factory's; levels 0, 1, 3, 5..9 are not set
TIME = 0x04000102                          # hh:mm:ss, a level-02 write
SERR_PASSWORD = 0x04


def write_time(master, level, password):
    master.write(TIME, bytes.fromhex("000010"), level=level, password=password)


def refused(call, *args):
    """The abnormal reply's (control, SERR), or None when the command was carried out."""
    try:
        call(*args)
    except Dlt645Abnormal as e:
        return e.control | 0xC0, e.serr
    return None


def test_a_level_never_set_opens_nothing_and_a_higher_level_is_needed(meter):
    m = meter()
    # level 00 is the highest, but it has no password: 000000 (the blank EEPROM's bytes) and
    # FF-free guesses are wrong passwords, counted
    assert refused(write_time, m.master, 0, "000000") == (0xD4, SERR_PASSWORD)
    m.con.expect("com: wrong password (1)", timeout="100ms")
    # the operator's level 04 may clear demand but not write parameters (not counted: the
    # password is right, the level too low)
    assert refused(write_time, m.master, 4, "000000") == (0xD4, SERR_PASSWORD)
    m.master.clear_demand(level=4, password="000000")          # the right one: count ends
    write_time(m.master, 2, "123456")
    # 18H may not set a password that is not six BCD digits (it would read as "not set")
    frame = bytes.fromhex("01 0c 00 04") + bytes([2, 0x56, 0x34, 0x12]) + bytes([1, 0xFF, 0xFF, 0xFF])
    assert refused(m.master.request, 0x18, frame) == (0x18 | 0xC0, SERR_PASSWORD)
    write_time(m.master, 2, "123456")                           # level 02 unchanged


def test_three_wrong_across_ports_and_levels_lock_both_ports(meter):
    m = meter()
    assert refused(write_time, m.master, 2, "654321") == (0xD4, SERR_PASSWORD)      # RS-485
    assert refused(m.ir.clear_demand, 4, "111111") == (0xD9, SERR_PASSWORD)          # IR
    assert refused(write_time, m.ir, 1, "123456") == (0xD4, SERR_PASSWORD)           # IR, unset
    m.con.expect("com: 3 wrong passwords, locked for 24 h", timeout="100ms")
    for master in (m.master, m.ir):            # right passwords, both ports, both levels
        assert refused(write_time, master, 2, "123456") == (0xD4, SERR_PASSWORD)
        assert refused(master.clear_demand, 4, "000000") == (0xD9, SERR_PASSWORD)
        assert refused(master.relay, metersim.dlt645.RELAY_CLOSE, _tomorrow(m)) == (0xDC, SERR_PASSWORD)
    m.con.expect("com: password-protected commands locked", timeout="100ms")
    assert not m.board["relay"].closed
    # reads need no password and still work on both ports
    assert m.master.read_value(0x02010100) == Decimal("220.1")
    assert m.ir.read_value(0x00010000) == Decimal("1234.56")


def _tomorrow(m):
    from datetime import datetime, timedelta
    return datetime(2026, 12, 7, 10, 0, 0) + timedelta(seconds=m.emu.now_ps // 10**12)


def test_a_right_password_resets_the_count(meter):
    m = meter()
    for _ in range(2):
        assert refused(write_time, m.master, 2, "000001") is not None
    write_time(m.ir, 2, "123456")              # a right one, on the other port
    for _ in range(2):
        assert refused(write_time, m.ir, 2, "000001") is not None
    m.con.expect("com: wrong password (2)", timeout="100ms")
    write_time(m.master, 2, "123456")          # 4 wrong in all, never 3 in a row: not locked
    assert "locked" not in m.con.text


@pytest.mark.parametrize("how", ["reset", "power cut"])
def test_neither_a_reset_nor_a_power_cut_clears_the_count_or_the_lock(meter, how):
    m = meter()

    def restart(line):
        if how == "reset":
            m.board.reset()
        else:
            metersim.power_cut(m.board, holdup="10ms", off="200ms")
        started(m.con, line)
        return next(x for x in m.con.text.splitlines()[::-1] if line in x)

    for _ in range(2):
        assert refused(write_time, m.master, 2, "000001") is not None
    restart("com: 2 wrong password(s) kept")
    assert refused(write_time, m.ir, 2, "000002") == (0xD4, SERR_PASSWORD)  # the third
    m.con.expect("com: 3 wrong passwords, locked for 24 h", timeout="100ms")
    line = restart("com: password lock kept, ")
    assert 86000 < int(line.split("kept, ")[1].split()[0]) <= 86400
    assert refused(write_time, m.master, 2, "123456") == (0xD4, SERR_PASSWORD)


def test_the_lock_ends_after_24_hours_of_the_calendar_clock(meter):
    """A day without mains counts (the clock runs on its battery): both units unplugged for
    23 h the lock holds, one more hour and the right password opens writes again."""
    m = meter()
    for _ in range(3):
        refused(write_time, m.master, 2, "000001")
    m.con.expect("com: 3 wrong passwords, locked for 24 h", timeout="100ms")

    def unplugged(duration, line=None):
        m.board.power_off()
        m.unit.machine.power_off()
        m.emu.run_for(duration)
        m.unit.machine.power_on()
        m.board.power_on()
        started(m.con, *[line] if line else [], timeout="5s")
        return line and next(x for x in m.con.text.splitlines()[::-1] if line in x)

    line = unplugged("23h", "com: password lock kept, ")
    assert 3000 < int(line.split("kept, ")[1].split()[0]) <= 3600
    assert refused(write_time, m.master, 2, "123456") == (0xD4, SERR_PASSWORD)
    unplugged("1h")
    write_time(m.master, 2, "123456")
    m.con.expect("com: password lock ended", timeout="1ms")
    # the count starts again from 0: two wrong ones do not lock
    for _ in range(2):
        refused(write_time, m.ir, 2, "000001")
    write_time(m.ir, 2, "123456")


# A seeded sequence of attempts on random ports, commands, levels and passwords, with resets
# between some, against a model of the rules above.
def _model_outcome(state, level, need, right):
    if state["locked"]:
        return "locked"
    if level > need:
        return "level"
    if not right:
        state["wrong"] += 1
        if state["wrong"] == 3:
            state.update(wrong=0, locked=True)
        return "wrong"
    state["wrong"] = 0
    return "ok"


@pytest.mark.parametrize("seed", [17])
def test_seeded_password_sequence_matches_the_rules(meter, seed):
    rng = random.Random(seed)
    m = meter()
    state = {"wrong": 0, "locked": False}
    seen = []
    for step in range(40):
        port = rng.choice((m.master, m.ir))
        cmd = rng.choice(("write", "clear_demand"))
        need = 2 if cmd == "write" else 4
        level = rng.choice((0, 1, 2, 2, 2, 3, 4, 4, 5, 9))
        right = level in RIGHT and rng.random() < 0.6
        password = RIGHT[level] if right else rng.choice(("000001", "999999", "123457"))
        if not right and password == RIGHT.get(level):
            password = "000002"
        want = _model_outcome(state, level, need, right)
        call = (lambda: write_time(port, level, password)) if cmd == "write" else \
            (lambda: port.clear_demand(level=level, password=password))
        got = refused(call)
        expected = None if want == "ok" else ((0xD4 if cmd == "write" else 0xD9), SERR_PASSWORD)
        assert got == expected, (f"step {step}: {cmd} level {level} password {password} "
                                 f"({'right' if right else 'wrong'}): {got}, model {want} {state}")
        seen.append(want)
        if rng.random() < 0.1:
            m.board.reset()
            started(m.con)
    assert {"ok", "wrong", "level", "locked"} <= set(seen)     # the sequence met every rule
