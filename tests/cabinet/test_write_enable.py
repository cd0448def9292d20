"""The metering controller's write enable (docs/modbus_map.md, "Write enable"): the installer
settings (slave address, baud, calibration, the key and its scope) are written only after the
key was written to holding 0x0120 (function 16, both registers), for 300 s or until 0x0122 is
written 0; otherwise the write gets exception 01 (the server is in the wrong state) and
changes nothing. Three wrong keys in a row refuse the enable for 600 s. A new key is kept in
the EEPROM (A/B copies) across a power cut; scope 1 protects every setting, top-ups and relay
commands too, but never the read selectors."""

import pytest

from metersim._cabinet.modbus_master import FACTORY_WRITE_KEY
from metersim._cabinet.checks import power_cut
from metersim._protocols.modbus.errors import ModbusException

WE, WE_LEFT, WE_KEY, WE_SCOPE = 0x0120, 0x0122, 0x0123, 0x0125
WGAIN0, V_SCALE0 = 0x3000, 0x3006


def words(v):
    return [v >> 16, v & 0xFFFF]


def code(call, *args):
    """The exception code the controller answered with, 0 when the write was accepted."""
    try:
        call(*args)
    except ModbusException as e:
        return e.code
    return 0


@pytest.fixture
def ctl(controller):
    board, master = controller()
    board.emu.run_for("1.5s")
    return board, master


def test_installer_settings_need_the_write_enable(ctl):
    board, m = ctl
    before = m.read_holding(0x3000, 8)
    assert code(m.write_single, 0x0000, 7) == 1                 # slave address
    assert code(m.write_single, 0x0001, 3) == 1                 # baud
    assert code(m.write_single, WGAIN0, 100) == 1               # calibration
    assert code(m.write_multiple, WE_KEY, words(0x1111)) == 1   # the key itself
    assert code(m.write_single, WE_SCOPE, 1) == 1
    # the whole write is refused when one register in it is protected
    assert code(m.write_multiple, 0x0000, [1, 2]) == 1
    # an address past the map is still 02 (addresses are checked first)
    assert code(m.write_multiple, 0x3000 + 8 * 4 - 1, [1, 2]) == 2
    assert m.read_holding(0x0000, 2) == [1, 2] and m.read_holding(0x3000, 8) == before
    # operational settings stay open at scope 0 (the query manager writes them)
    m.set_flat_price(77)
    m.top_up(0, 5000)
    assert m.read_holding(0x0008, 1) == [77]
    assert m.read_holding(WE, 6) == [0, 0, 0, 0, 0, 0]          # closed, keys read 0


def test_the_key_opens_writes_for_300_s_and_0_closes_them(ctl):
    board, m = ctl
    assert code(m.write_multiple, WE, words(0x12345679)) == 3   # a wrong key: illegal value
    assert code(m.write_single, WE, 0x1234) == 3                # half a key
    m.write_enable()
    assert 299 <= m.read_holding(WE_LEFT, 1)[0] <= 300
    m.write_single(WGAIN0, 100)
    m.write_multiple(V_SCALE0, [22000, 4700])
    assert m.read_holding(WGAIN0, 1) == [100] and m.read_holding(V_SCALE0, 2) == [22000, 4700]
    assert code(m.write_single, WE_LEFT, 5) == 3                # only 0 closes
    m.write_single(WE_LEFT, 0)
    assert m.read_holding(WE_LEFT, 1) == [0]
    assert code(m.write_single, WGAIN0, 200) == 1
    m.write_enable()
    board.emu.run_for("299s")
    m.write_single(WGAIN0, 300)                                 # still open at 299 s
    board.emu.run_for("2s")
    assert m.read_holding(WE_LEFT, 1) == [0]
    assert code(m.write_single, WGAIN0, 400) == 1               # and closed after 300
    assert m.read_holding(WGAIN0, 1) == [300]


def test_three_wrong_keys_refuse_the_enable_for_600_s(ctl):
    board, m = ctl
    for _ in range(2):
        assert code(m.write_enable, 0x0BADBEEF) == 3
    m.write_enable()                                            # a right key ends the run
    m.write_single(WE_LEFT, 0)
    for _ in range(3):
        assert code(m.write_enable, 0x0BADBEEF) == 3
    assert code(m.write_enable) == 1                            # the right key: wrong state
    assert m.read_holding(WE_LEFT, 1) == [0]
    board.emu.run_for("590s")
    assert code(m.write_enable) == 1
    board.emu.run_for("12s")
    m.write_enable()
    assert m.read_holding(WE_LEFT, 1)[0] > 0


def test_a_broadcast_does_not_open_writes(ctl):
    board, m = ctl
    m.write_multiple(WE, words(FACTORY_WRITE_KEY), address=0)   # no reply to a broadcast
    assert m.read_holding(WE_LEFT, 1) == [0]
    assert code(m.write_single, 0x0001, 3) == 1


def test_a_new_key_survives_a_power_cut_and_the_old_one_is_refused(ctl):
    board, m = ctl
    m.write_enable()
    assert code(m.write_multiple, WE_KEY, [0, 0]) == 3          # never 0
    assert code(m.write_single, WE_KEY, 0x4321) == 3            # whole, with 16
    m.write_multiple(WE_KEY, words(0x0C0FFEE5))
    assert m.read_holding(WE_KEY, 2) == [0, 0]                  # never read back
    power_cut(board, off_ms=300)
    board.emu.run_for("1.5s")
    assert m.read_holding(WE_LEFT, 1) == [0]                    # a restart closes writes
    assert code(m.write_enable) == 3                            # the factory key is no more
    m.write_enable(0x0C0FFEE5)
    m.write_single(0x0001, 2)                                   # baud 9600: the same, allowed


def test_scope_1_protects_every_setting_but_the_read_selectors(ctl):
    board, m = ctl
    m.write_enable()
    m.write_single(WE_SCOPE, 1)
    m.write_single(WE_LEFT, 0)
    assert m.read_holding(WE_SCOPE, 1) == [1]
    assert code(m.set_flat_price, 90) == 1
    assert code(m.top_up, 0, 5000) == 1
    assert code(m.relay_command, 0, 1) == 1
    assert code(m.set_clock, 2026, 12, 7, 10, 0, 0) == 1
    assert code(lambda: m.set_room(0, alarm1_cents=900)) == 1
    m.write_single(0x0110, 3)                                   # an event index: a read window
    assert m.read_holding(0x0110, 1) == [3]
    m.write_enable()
    m.set_flat_price(90)
    m.top_up(0, 5000)
    assert m.read_holding(0x0008, 1) == [90] and m.room_balance_cents(0) == 5000
