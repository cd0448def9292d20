"""Modbus RTU transport and framer: the character time the line uses, CRC, ADUs, t1.5/t3.5
and the frame splitter shared by the master and the pcap writer."""

import pytest

from metersim._engine.clock import Clock
from metersim.peripherals.base import Context, UartFrame
from metersim._protocols.modbus.errors import ModbusError, ModbusFrameError
from metersim._protocols.modbus.framer import (
    RtuSplitter, crc16, crc_ok, decode_adu, encode_adu, rtu_timing,
)
from metersim._protocols.modbus.transport import BusLink, Char, SerialFormat, char_time_ps
from metersim.peripherals.rs485 import Rs485Bus
from metersim._units import PS_PER_US


def test_character_time_is_the_line_models_own_to_the_picosecond():
    # 10 bits at 9600 bit/s is 1,041,666,666.67 ps: the line rounds to ...667; a master that
    # truncated to ...666 left silences a few ps short of the receivers' t3.5
    assert char_time_ps(9600) == 1_041_666_667
    for baud, parity, stop in [(9600, "N", 1), (9600, "E", 1), (2400, "O", 2), (19200, "N", 2),
                               (38400, "E", 1), (115200, "N", 1)]:
        on_line = UartFrame(0x55, 8, parity, 2 * stop, baud).duration_ps
        assert char_time_ps(baud, parity, stop) == on_line
        assert SerialFormat(baud, parity, stop).char_ps == on_line


@pytest.mark.parametrize("kw, match", [({"baud": 0}, "baud"), ({"parity": "X"}, "parity"),
                                        ({"stop_bits": 3}, "stop bits")])
def test_a_bad_serial_format_is_refused_with_what_was_expected(kw, match):
    with pytest.raises(ModbusError, match=match):
        SerialFormat(**kw)


def test_crc_and_adu_match_the_reference_frame():
    # protocols-and-chips.md §2.1: 01 03 00 00 00 01 84 0A
    assert crc16(bytes.fromhex("010300000001")) == 0x0A84
    adu = encode_adu(1, bytes([3, 0, 0, 0, 1]))
    assert adu == bytes.fromhex("010300000001840A")
    assert crc_ok(adu) and decode_adu(adu) == (1, bytes([3, 0, 0, 0, 1]))


def test_frames_that_are_not_rtu_frames_get_clear_errors():
    adu = encode_adu(1, bytes([3, 0, 0, 0, 1]))
    with pytest.raises(ModbusFrameError, match="bad CRC"):
        decode_adu(adu[:-1] + bytes([adu[-1] ^ 1]))
    with pytest.raises(ModbusFrameError, match="4..256 bytes, got 3"):
        decode_adu(adu[:3])
    with pytest.raises(ModbusFrameError, match="would be 258"):
        encode_adu(1, bytes(255))
    with pytest.raises(ModbusFrameError, match="address"):
        encode_adu(256, b"\x03")


def test_silences_are_three_and_a_half_and_one_and_a_half_characters_rounded_up():
    t = rtu_timing(char_time_ps(9600), 9600)
    assert (t.t15_ps, t.t35_ps) == (1_562_500_001, 3_645_833_335)
    assert t.t35_ps * 2 >= 7 * t.char_ps and t.t15_ps * 2 >= 3 * t.char_ps
    fast = rtu_timing(char_time_ps(38400), 38400)                  # fixed above 19200 bit/s
    assert (fast.t15_ps, fast.t35_ps) == (750 * PS_PER_US, 1750 * PS_PER_US)
    at_19200 = rtu_timing(char_time_ps(19200), 19200)
    assert at_19200.t35_ps == (7 * char_time_ps(19200) + 1) // 2
    with pytest.raises(ModbusFrameError, match="character time"):
        rtu_timing(0, 9600)


def chars(data, start, char, gaps=None):
    """Characters back to back from `start`; `gaps[i]` extra silence before character i."""
    out, t = [], start
    for i, b in enumerate(data):
        t += (gaps or {}).get(i, 0)
        out.append(Char(b, t, t + char, 9600))
        t += char
    return out


def split(cs):
    frames = []
    s = RtuSplitter(frames.append)
    for c in cs:
        s.feed(c)
    s.flush()
    return frames


def test_a_silence_of_exactly_t35_ends_a_frame_and_one_picosecond_less_does_not():
    char = char_time_ps(9600)
    t35 = rtu_timing(char, 9600).t35_ps
    req, rep = encode_adu(1, bytes([4, 0, 0, 0, 1])), encode_adu(1, bytes([4, 2, 0, 7]))
    two = split(chars(req + rep, 0, char, {len(req): t35}))
    assert [f.data for f in two] == [req, rep] and all(f.valid for f in two)
    assert two[1].start_ps == two[0].end_ps + t35
    glued = split(chars(req + rep, 0, char, {len(req): t35 - 1}))
    assert [f.data for f in glued] == [req + rep] and not glued[0].valid
    assert glued[0].gap_error                     # over t1.5 inside: unusable even if the CRC fit


def test_a_silence_over_t15_inside_a_frame_makes_it_unusable_and_t15_itself_does_not():
    char = char_time_ps(9600)
    t15 = rtu_timing(char, 9600).t15_ps
    req = encode_adu(1, bytes([4, 0, 0, 0, 1]))
    ok = split(chars(req, 0, char, {3: t15}))
    assert len(ok) == 1 and ok[0].valid and not ok[0].gap_error
    bad = split(chars(req, 0, char, {3: t15 + 1}))
    assert len(bad) == 1 and bad[0].gap_error and not bad[0].valid and crc_ok(bad[0].data)


def test_damaged_characters_and_drivers_are_kept_with_the_frame():
    char = char_time_ps(9600)
    req = encode_adu(1, bytes([4, 0, 0, 0, 1]))
    cs = chars(req, 0, char)
    cs[2] = Char(cs[2].value, cs[2].start_ps, cs[2].end_ps, 9600, "slave", corrupted=True)
    cs[0] = Char(cs[0].value, cs[0].start_ps, cs[0].end_ps, 9600, "master")
    (f,) = split(cs)
    assert f.corrupted and not f.valid and f.driver == "master+slave"


def test_a_live_receiver_may_close_a_frame_only_once_a_late_character_could_have_arrived():
    char = char_time_ps(9600)
    t35 = rtu_timing(char, 9600).t35_ps
    frames = []
    s = RtuSplitter(frames.append)
    for c in chars(b"\x01\x04", 0, char):
        s.feed(c)
    deadline = s.idle_deadline_ps()
    assert deadline == 2 * char + t35 + char
    s.flush_if_idle(deadline - 1)
    assert frames == []
    s.flush_if_idle(deadline)
    assert [f.data for f in frames] == [b"\x01\x04"]


def test_a_link_hands_every_character_on_and_keeps_none_of_them_behind():
    """A master's link takes each character from its callback: its host endpoint must not
    also pile them up (a cabinet's day is ~70 million characters)."""
    clock = Clock()
    bus = Rs485Bus(Context(clock, name="bus"))
    link = BusLink(bus, "master", SerialFormat(9600))
    other = bus.attach_host("slave", baud=9600)
    got = []
    link.on_char(got.append)
    end = other.send(b"\x01\x04\x00\x00")
    clock.advance_to(end + char_time_ps(9600))
    assert bytes(c.value for c in got) == b"\x01\x04\x00\x00"
    assert link.endpoint.rx == bytearray()
    other.read()                                   # a plain endpoint still keeps what it hears
    link.send(b"\x05")
    clock.advance_to(clock.now_ps + 3 * char_time_ps(9600))
    assert other.read() == b"\x05"
