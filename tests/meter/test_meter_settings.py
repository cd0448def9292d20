"""The communication service keeps the meter's address and passwords in the AT24C256: two copies
(pages 0x0000 and 0x0040) with a CRC and a sequence number. A new address (15H) or password (18H)
is in effect after a reset or a power cut; a damaged copy is repaired from the other at start."""

from decimal import Decimal

import pytest

import metersim
from metersim.dlt645 import Dlt645Abnormal

from tests.meter.conftest import started

COPY_A, COPY_B, RECORD = 0x0000, 0x0040, 48


def restarted(m, how, *lines):
    """Reset or cut the power; wait for `lines` of the start, in order, and the start's end."""
    if how == "reset":
        m.board.reset()
    else:
        metersim.power_cut(m.board, holdup="10ms", off="200ms")
    started(m.con, *lines)


def test_a_new_address_survives_a_reset(meter):
    m = meter()
    m.master.write_address("000000654321")
    m.con.expect("com: address now 000000654321", timeout="100ms")
    restarted(m, "reset", "com: settings from EEPROM copy A (seq 3)")
    assert m.master.address == "000000654321"
    assert m.master.read_value(0x02010100) == Decimal("220.1")   # answered at the new address
    assert m.master.read_address() == "000000654321"
    old = metersim.dlt645.Master(m.emu, m.rs485, address="000000123456")
    with pytest.raises(metersim.EmulationTimeout):
        old.read(0x02010100)


def test_a_new_password_survives_a_power_cut(meter):
    m = meter()
    m.master.change_password(2, "777777")
    restarted(m, "power cut", "com: settings from EEPROM copy A (seq 3)")
    with pytest.raises(Dlt645Abnormal) as e:         # the factory password no longer opens writes
        m.master.write(0x04000102, bytes.fromhex("000011"))
    assert e.value.serr == 0x04
    m.master.password = "777777"
    m.master.write(0x04000102, bytes.fromhex("000011"))


# A blank EEPROM gets the factory settings in A (seq 1) and B (seq 2); then the new address goes
# over A (seq 3) and the new password over B (seq 4). Damaging B leaves A: the address without
# the password; damaging A leaves B: both.
@pytest.mark.parametrize("damaged, password", [(COPY_A, "777777"), (COPY_B, "123456")])
def test_a_damaged_copy_is_repaired_from_the_other(meter, damaged, password):
    m = meter()
    m.master.write_address("000000654321")
    m.master.change_password(2, "777777")
    eeprom = m.board["eeprom"]
    eeprom.mem[damaged + 10] ^= 0x5A                  # one byte of that copy's record
    name, other = ("A", "B") if damaged == COPY_A else ("B", "A")
    restarted(m, "reset", f"com: settings copy {name} damaged, repaired from copy {other}")
    assert eeprom.read_image(COPY_A, RECORD) == eeprom.read_image(COPY_B, RECORD)
    assert m.master.read_address() == "000000654321"
    m.master.password = password
    m.master.write(0x04000102, bytes.fromhex("000011"))


def test_a_blank_eeprom_gets_the_factory_settings_in_both_copies(meter):
    m = meter()
    eeprom = m.board["eeprom"]
    a, b = eeprom.read_image(COPY_A, RECORD), eeprom.read_image(COPY_B, RECORD)
    assert a[:4] == b"CSET" and b[:4] == b"CSET"
    assert a[8:14] == b[8:14] == bytes.fromhex("563412000000")
    assert m.master.read_address() == "000000123456"
