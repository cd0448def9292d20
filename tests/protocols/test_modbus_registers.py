"""The metering controller's register table: the single source of docs/modbus_map.md and of
the master's decoding."""

from pathlib import Path

import pytest

from metersim._protocols.modbus.errors import ModbusError
from metersim._protocols.modbus.registers import (
    BLOCKS, CALIBRATION, DEVICE_INFO, ROOM_MEASUREMENTS, ROOM_SETTINGS, update_doc,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "modbus_map.md"


def test_the_doc_shows_exactly_the_tables_of_the_register_table():
    text = DOC.read_text()
    assert update_doc(text) == text, (
        "docs/modbus_map.md is out of date with metersim._protocols.modbus.registers: run "
        "`python -m metersim._protocols.modbus.registers docs/modbus_map.md`")
    assert "| +0x08 | energy total | u32 | Wh (0.001 kWh) |" in text


def test_a_doc_without_a_blocks_table_or_with_an_unknown_one_is_an_error():
    text = DOC.read_text()
    with pytest.raises(ModbusError, match="no marked table for calibration"):
        update_doc(text.replace("<!-- register table: calibration -->", "<!-- -->"))
    with pytest.raises(ModbusError, match="'meters', which is not a register block"):
        update_doc(text.replace("register table: calibration", "register table: meters"))


def test_fields_never_overlap_and_repeated_blocks_fit_their_stride():
    for b in BLOCKS:
        ends = [f.offset + f.words for f in b.fields]
        assert all(end <= nxt.offset for end, nxt in zip(ends, b.fields[1:])), b.key
        assert b.stride == 0 or b.size <= b.stride, b.key
    for table in ("input", "holding"):
        spans = sorted((b.base, b.base + (32 * b.stride if b.stride else b.size)) for b in BLOCKS
                       if b.table == table)
        assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:])), table


def test_a_room_block_decodes_into_units_with_signs_and_high_words_first():
    regs = [0] * ROOM_MEASUREMENTS.size
    regs[2], regs[3] = 23012, 4350                      # 230.12 V, 4.350 A
    regs[4:6] = [0xFFFF, 0xFFF6]                        # -1.0 W
    regs[6] = 0x10000 - 950                             # power factor -0.95
    regs[8:10] = [0x0001, 0x0002]                       # 65538 Wh
    regs[12:14] = [0xFFFF, 0xFF38]                      # balance -200 cents
    v = ROOM_MEASUREMENTS.decode(regs)
    assert (v["voltage_V"], v["current_A"], v["power_W"], v["power_factor"]) == (230.12, 4.35, -1.0, -0.95)
    assert (v["energy_Wh"], v["balance_cents"]) == (65538, -200)


def test_addresses_and_encodings_of_room_and_channel_fields():
    assert ROOM_MEASUREMENTS.address(3, "energy_Wh") == 0x1000 + 0x60 + 8
    assert ROOM_SETTINGS.address(2, "top_up_cents") == 0x2052
    assert ROOM_SETTINGS.address(2, "top_up_token") == 0x2054
    assert CALIBRATION.address(1, "current_scale") == 0x300F
    assert ROOM_SETTINGS.field("top_up_cents").encode(70000) == [1, 4464]
    assert CALIBRATION.field("apos").encode(-2) == [0xFFFE]


@pytest.mark.parametrize("call, match", [
    (lambda: ROOM_SETTINGS.address(32), "room must be 0..31"),
    (lambda: DEVICE_INFO.address(1), "single block"),
    (lambda: ROOM_SETTINGS.field("price"), "no field 'price'"),
    (lambda: ROOM_SETTINGS.field("top_up_cents").encode(-1), "u32 integer"),
    (lambda: ROOM_SETTINGS.field("relay_command").encode(0x10000), "u16 integer"),
    (lambda: DEVICE_INFO.decode([0] * 3), "14 registers, got 3"),
])
def test_bad_register_requests_say_what_was_expected(call, match):
    with pytest.raises(ModbusError, match=match):
        call()
