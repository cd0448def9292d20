"""DL/T645-2007 framer and read-data codec against the reference document's worked frames
(reference/protocols-and-chips.md §1.9)."""

from decimal import Decimal

import pytest

from metersim._protocols.dlt645.codec import (
    abnormal_reply, bcd_decode, bcd_encode, data_id, parse_read_reply, read_reply, read_request,
)
from metersim._protocols.dlt645.errors import Dlt645Abnormal, Dlt645Error, Dlt645FrameError
from metersim._protocols.dlt645.framer import (
    WILDCARD, Dlt645Splitter, Frame, address_bytes, address_digits, decode_frame, encode_frame,
)

METER = address_bytes("000000123456")


def h(s):
    return bytes.fromhex(s)


def test_addresses_go_least_significant_byte_first():
    assert METER == h("563412000000")
    assert address_digits(METER) == "000000123456"
    assert address_bytes("AAAAAAAAAAAA") == WILDCARD
    with pytest.raises(Dlt645FrameError, match="12 digits"):
        address_bytes("12345")


@pytest.mark.parametrize("di, wire", [
    (0x00010000, "68 56 34 12 00 00 00 68 11 04 33 33 34 33 4E 16"),
    (0x02010100, "68 56 34 12 00 00 00 68 11 04 33 34 34 35 51 16"),
    (0x05060001, "68 56 34 12 00 00 00 68 11 04 34 33 39 38 59 16"),
    (0x04000503, "68 56 34 12 00 00 00 68 11 04 36 38 33 37 59 16"),
])
def test_read_requests_are_the_reference_frames(di, wire):
    assert encode_frame(read_request(METER, di)) == h(wire)
    assert decode_frame(h(wire)) == read_request(METER, di)


@pytest.mark.parametrize("di, value, wire", [
    (0x00010000, "1234.56", "68 56 34 12 00 00 00 68 91 08 33 33 34 33 89 67 45 33 3A 16"),
    (0x02010100, "220.1", "68 56 34 12 00 00 00 68 91 06 33 34 34 35 34 55 5C 16"),
    (0x02020100, "5.123", "68 56 34 12 00 00 00 68 91 07 33 34 35 35 56 84 33 E2 16"),
    (0x02030000, "1.1234", "68 56 34 12 00 00 00 68 91 07 33 33 36 35 67 45 34 B5 16"),
    (0x02800002, "50.00", "68 56 34 12 00 00 00 68 91 06 35 33 B3 35 33 83 09 16"),
    (0x00900200, "123.45", "68 56 34 12 00 00 00 68 91 08 33 35 C3 33 78 56 34 33 98 16"),
])
def test_read_replies_decode_to_the_reference_values_and_encode_back(di, value, wire):
    fmt = data_id(di)
    reply = decode_frame(h(wire))
    assert reply.from_meter and not reply.abnormal and reply.function == 0x11
    got = parse_read_reply(read_request(METER, di), reply)
    assert fmt.decode(got) == Decimal(value)
    assert encode_frame(read_reply(METER, di, fmt.encode(Decimal(value)))) == h(wire)


def test_an_abnormal_reply_raises_with_its_error_word():
    wire = h("68 56 34 12 00 00 00 68 D1 01 35 73 16")
    assert encode_frame(abnormal_reply(METER, 0x11, 0x02)) == wire
    with pytest.raises(Dlt645Abnormal, match="SERR 0x02 \\(no requested data\\)") as e:
        parse_read_reply(read_request(METER, 0x04000101), decode_frame(wire))
    assert e.value.serr == 2


def test_public_examples_and_other_functions_decode():
    f = decode_frame(h("68 29 25 07 07 21 20 68 91 08 33 33 33 33 A9 4A 36 33 2E 16"))
    assert f.address_digits == "202107072529"
    assert data_id(0).decode(parse_read_reply(read_request(f.address, 0), f)) == Decimal("317.76")
    assert decode_frame(h("68 AA AA AA AA AA AA 68 13 00 DF 16")) == Frame(WILDCARD, 0x13)
    ok = decode_frame(h("68 56 34 12 00 00 00 68 94 00 00 16"))
    assert ok.control == 0x94 and ok.data == b""


def test_a_preamble_is_skipped_and_can_be_sent():
    wire = encode_frame(read_request(METER, 0x00010000), preamble=4)
    assert wire[:4] == h("FEFEFEFE") and decode_frame(wire) == read_request(METER, 0x00010000)


@pytest.mark.parametrize("wire, match", [
    ("68 56 34 12 00 00 00 68 11 04 33 33 34 33 4F 16", "bad checksum: frame carries 4f, its bytes give 4e"),
    ("68 56 34 12 00 00 00 68 11 04 33 33 34 33 4E 17", "expected end byte 16, got 17"),
    ("68 56 34 12 00 00 00 69 11 04 33 33 34 33 4E 16", "expected 68 at bytes 0 and 7"),
    ("68 56 34 12 00 00 00 68 11 05 33 33 34 33 4E 16", "L = 5 makes a 17-byte frame, got 16"),
    ("68 56 34 12 00 00 00 68 11", "at least 12 bytes"),
])
def test_broken_frames_get_clear_errors(wire, match):
    with pytest.raises(Dlt645FrameError, match=match):
        decode_frame(h(wire))


def test_replies_that_do_not_answer_the_request_are_refused():
    req = read_request(METER, 0x00010000)
    with pytest.raises(Dlt645FrameError, match="DI 02010100 to a read of DI 00010000"):
        parse_read_reply(req, read_reply(METER, 0x02010100, h("0000")))
    with pytest.raises(Dlt645FrameError, match="from 000000654321"):
        parse_read_reply(req, read_reply(address_bytes("000000654321"), 0x00010000, bytes(4)))
    with pytest.raises(Dlt645FrameError, match="control code 0x94"):
        parse_read_reply(req, Frame(METER, 0x94))
    wildcard = read_request(WILDCARD, 0x00010000)                 # any meter may answer
    assert parse_read_reply(wildcard, read_reply(METER, 0x00010000, bytes(4))) == bytes(4)


def test_bcd_values_keep_signs_and_refuse_what_does_not_fit():
    assert bcd_encode(Decimal("-5.123"), 3, 3, signed=True) == h("23 51 80")
    assert bcd_decode(h("23 51 80"), 3, signed=True) == Decimal("-5.123")
    with pytest.raises(Dlt645Error, match="does not fit"):
        bcd_encode(1000, 2, 1)
    with pytest.raises(Dlt645Error, match="more than 1 decimals"):
        bcd_encode(Decimal("1.25"), 2, 1)
    with pytest.raises(Dlt645Error, match="negative and the format is unsigned"):
        bcd_encode(-1, 2, 1)
    with pytest.raises(Dlt645Error, match="not BCD"):
        bcd_decode(h("1A 00"), 1)
    with pytest.raises(Dlt645Error, match="no known format"):
        data_id(0x12345678)


def test_the_splitter_finds_frames_in_a_stream_with_preambles_and_garbage():
    a = encode_frame(read_request(METER, 0x00010000), preamble=2)
    b = encode_frame(read_reply(METER, 0x00010000, h("56 34 12 00")))
    broken = bytearray(encode_frame(read_request(METER, 0x02010100)))
    broken[-2] ^= 1                                               # bad checksum
    noise = h("00 68 11 68")                                      # a false start too
    frames = []
    s = Dlt645Splitter(frames.append)
    for byte in noise + a + bytes(broken) + b:
        s.feed(byte)
    assert frames == [read_request(METER, 0x00010000), read_reply(METER, 0x00010000, h("56 34 12 00"))]
    assert s.discarded == len(noise) + len(broken)
