"""The Python side of the meter tests, without firmware: the DL/T645 master's field encoders
against the reference's worked frames, the fuzz generator, the trace parser (the metrology link's
codec: test_metrology_link.py)."""

from datetime import datetime

import pytest

import metersim
from metersim.dlt645 import (BROADCAST, Frame, address_bytes, bcd_time, encode_frame,
                             operator_field, password_field)
from metersim._meter.dlt645_fuzz import KINDS, KNOWN, malformed_frames
from metersim._protocols.dlt645.framer import decode_frame


def test_fields_rebuild_the_reference_worked_frames():
    assert encode_frame(Frame(BROADCAST, 0x08, bcd_time(datetime(2025, 3, 14, 15, 9, 26)))) == \
        bytes.fromhex("689999999999996808 06593C4847365826 16".replace(" ", ""))
    relay = (password_field(2, "123456") + operator_field("00000000") + bytes([0x1A, 0])
             + bcd_time(datetime(2025, 12, 31, 23, 59, 59)))
    assert encode_frame(Frame(address_bytes("000000123456"), 0x1C, relay)) == bytes.fromhex(
        "685634120000006 81C10358967453333333 34D338C8C56644558BD16".replace(" ", ""))
    with pytest.raises(metersim.dlt645.Dlt645Error):
        password_field(2, "12345")
    with pytest.raises(metersim.dlt645.Dlt645Error):
        password_field(10, "123456")


def test_fuzz_cases_are_seeded_and_say_which_reply_is_due():
    a, b = list(malformed_frames(7, 70)), list(malformed_frames(7, 70))
    assert a == b and a != list(malformed_frames(8, 70))
    assert {c.kind for c in a} == set(KINDS)
    for c in a:
        if c.kind == "control":
            f = decode_frame(c.raw)
            assert f.control not in KNOWN and c.reply == f.control | 0xC0
        elif c.kind in ("checksum", "length", "truncated"):
            assert c.reply is None
            with pytest.raises(metersim.dlt645.Dlt645FrameError):
                decode_frame(c.raw)


def test_vbus_trace_lines_parse_into_records():
    lines = ["[1 ms] vbus: V_BUS_TO_MTR_SRV ca 24 sa 30 c 11 di 02010100",
             "com: something else", "vbus: V_BUS_TO_PLAT_SRV ca f0 sa 40 c 94"]
    recs = metersim.parse_vbus_trace(lines)
    assert recs == [metersim.VbusRecord("V_BUS_TO_MTR_SRV", 0x24, 0x30, 0x11, 0x02010100),
                    metersim.VbusRecord("V_BUS_TO_PLAT_SRV", 0xF0, 0x40, 0x94, None)]
    assert recs[0].source_process == 2 and recs[0].destination_process == 3

