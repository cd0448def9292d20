"""Register maps as data: access modes, sub-word accesses, reserved bits, callbacks and the
unknown-register log of the `Peripheral` dispatch."""

import logging

import pytest

from metersim.peripherals.base import Context, Peripheral
from metersim.peripherals.regmap import Field, Reg, RegisterMap

MAP = RegisterMap([
    Reg("CTRL", 0x00, 32, fields=(
        Field("EN", 0), Field("MODE", 4, 3, reset=5),
        Field("GO", 8, access="w", on_write="_go"),
        Field("ARM", 9, access="rs"),
        Field("LEVEL", 16, 8, on_change="_level_changed"))),
    Reg("STATUS", 0x04, 32, fields=(
        Field("DONE", 0, access="rc_w1"), Field("ERR", 1, access="rc_w0"),
        Field("OVR", 2, access="rc_r"), Field("READY", 3, access="r"),
        Field("BUSY", 4, access="r", on_read="_busy"))),
    Reg("DATA", 0x08, 32, on_write="_data_written"),
    Reg("NOW", 0x0C, 32, access="r", on_read="_now"),
    Reg("KEY", 0x10, 16, access="w", on_write="_key", attr="unused"),
], title="test block")


class Block(Peripheral):
    registers = MAP

    def __init__(self, ctx):
        super().__init__(ctx)
        self.calls = []
        self.busy = 0
        self.reset_registers()

    def _go(self, value):
        self.calls.append(("go", value))

    def _level_changed(self, old, new):
        self.calls.append(("level", old, new))

    def _busy(self):
        return self.busy

    def _data_written(self, old, value):
        self.calls.append(("data", old, value, self.data))

    def _now(self):
        return 0x12345678

    def _key(self, old, value):
        self.calls.append(("key", old, value))


@pytest.fixture
def blk():
    return Block(Context.standalone("blk"))


def test_reset_values_come_from_the_fields(blk):
    assert MAP["CTRL"].reset == 5 << 4
    assert blk.read(0x00, 4) == 0x50 and blk.ctrl == 0x50


def test_rw_fields_store_and_reserved_bits_read_zero(blk):
    blk.write(0x00, 4, 0xFFFFFFFF)
    # EN, MODE, ARM, LEVEL stored; GO write-only; bits 1-3, 7, 10-15, 24-31 reserved
    assert blk.read(0x00, 4) == 0x00FF0271


def test_write_only_field_reads_zero_and_reaches_its_callback(blk):
    blk.write(0x00, 4, 1 << 8)
    assert blk.calls == [("go", 1)] and not blk.read(0x00, 4) & (1 << 8)


def test_rs_field_is_set_by_one_and_kept_by_zero(blk):
    blk.write(0x00, 4, 1 << 9)
    blk.write(0x00, 4, 0)
    assert blk.read(0x00, 4) & (1 << 9)


def test_rc_w1_clears_by_one_rc_w0_by_zero_r_ignores_writes(blk):
    blk.status = 0b1111
    blk.write(0x04, 4, 0b1110)        # DONE kept (0), ERR kept (1), READY is read-only
    assert blk.status == 0b1111
    blk.write(0x04, 4, 0b0001)        # DONE cleared (1), ERR cleared (0)
    assert blk.status == 0b1100


def test_rc_r_clears_when_read(blk):
    blk.status = 0b0100
    assert blk.read(0x04, 4) == 0b0100
    assert blk.read(0x04, 4) == 0


def test_field_provider_replaces_the_stored_bits(blk):
    blk.busy = 1
    assert blk.read(0x04, 4) == 0b10000
    blk.busy = 0
    assert blk.read(0x04, 4) == 0


def test_register_provider_is_read_every_time_and_never_written(blk):
    blk.write(0x0C, 4, 0)
    assert blk.read(0x0C, 4) == 0x12345678
    assert blk.read(0x0E, 2) == 0x1234 and blk.read(0x0D, 1) == 0x56


def test_byte_and_halfword_writes_touch_only_their_bytes(blk):
    blk.write(0x08, 4, 0x11223344)
    blk.write(0x09, 1, 0xAB)
    assert blk.read(0x08, 4) == 0x1122AB44
    blk.write(0x0A, 2, 0xBEEF)
    assert blk.read(0x08, 4) == 0xBEEFAB44
    assert blk.read(0x0B, 1) == 0xBE and blk.read(0x08, 2) == 0xAB44


def test_subword_write_to_rc_w0_leaves_the_other_bytes(blk):
    blk.status = 0b11
    blk.write(0x05, 1, 0x00)          # byte 1 written with zeros: ERR is in byte 0
    assert blk.status == 0b11


def test_register_callback_gets_old_value_and_the_written_bits(blk):
    blk.write(0x08, 4, 0xAABBCCDD)
    blk.write(0x0A, 2, 0x1234)
    assert blk.calls == [("data", 0, 0xAABBCCDD, 0xAABBCCDD),
                         ("data", 0xAABBCCDD, 0x12340000, 0x1234CCDD)]


def test_change_callback_only_on_a_change(blk):
    blk.write(0x02, 1, 7)
    blk.write(0x02, 1, 7)
    blk.write(0x00, 1, 1)
    assert blk.calls == [("level", 0, 7)]


def test_write_only_register_is_not_stored(blk):
    blk.write(0x10, 2, 0x5555)
    assert blk.read(0x10, 2) == 0 and not hasattr(blk, "unused")
    assert blk.calls == [("key", 0, 0x5555)]


def test_unknown_register_is_logged_once_with_address_and_name(caplog):
    ctx = Context.standalone("blk")
    ctx.address = 0x40013000
    blk = Block(ctx)
    with caplog.at_level(logging.WARNING, logger="metersim"):
        assert blk.read(0x20, 4) == 0
        assert blk.read(0x20, 4) == 0
        blk.write(0x20, 4, 1)
        blk.write(0x20, 4, 2)
    msgs = [r.getMessage() for r in caplog.records]
    assert len(msgs) == 2
    assert "blk" in msgs[0] and "0x40013020" in msgs[0] and "read" in msgs[0]
    assert "0x40013020" in msgs[1] and "write of 0x1" in msgs[1]


def test_bad_tables_are_refused():
    with pytest.raises(ValueError, match="overlaps"):
        Reg("X", 0, 32, fields=(Field("A", 0, 4), Field("B", 3)))
    with pytest.raises(ValueError, match="access mode"):
        Field("A", 0, access="wx")
    with pytest.raises(ValueError, match="differs"):
        Reg("X", 0, 32, reset=1, fields=(Field("A", 1),))
    with pytest.raises(ValueError, match="duplicate"):
        RegisterMap([Reg("X", 0, 32), Reg("Y", 0, 32)])


def test_docs_page_is_generated_from_the_tables():
    from pathlib import Path

    from metersim._platform_show import registers_markdown

    page = Path(__file__).resolve().parents[2] / "docs" / "registers.md"
    assert page.read_text() == registers_markdown(), \
        "docs/registers.md is stale: python -m metersim._platform_show --docs docs/registers.md"


def test_platform_show_lists_a_peripherals_registers_at_its_address():
    from pathlib import Path

    from metersim._platform_show import show_registers

    repl = Path(__file__).resolve().parents[2] / "platforms" / "cpus" / "stm32f103rb.repl"
    text = show_registers(str(repl), "gpioPortA")
    assert "0x40010800  CRL" in text and "0x44444444" in text
    assert "CNF7..0 [31:30]..[3:2] rw reset 0x1" in text
    assert "BS15..0 [15]..[0] w" in text and "LCKK [16] rw" in text
    assert text.index("0x40010814  BRR") < text.index("0x40010818  LCKR")
