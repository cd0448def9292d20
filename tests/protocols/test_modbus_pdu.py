"""Modbus PDU codec: requests of the controller's function codes, replies checked against their
request, exception replies, malformed PDUs, and the one-line names a text trace shows."""

import pytest

from metersim._protocols.modbus import pdu
from metersim._protocols.modbus.errors import ModbusException, ModbusPduError


def test_requests_have_the_standard_layouts():
    assert pdu.read_request(3, 0x0008, 1) == bytes.fromhex("0300080001")
    assert pdu.read_request(4, 0x1000, 16) == bytes.fromhex("0410000010")
    assert pdu.write_single_request(0x2000, 1) == bytes.fromhex("0620000001")
    assert pdu.write_multiple_request(0x2001, [0, 500]) == bytes.fromhex("1020010002040000 01f4".replace(" ", ""))
    assert pdu.diagnostics_request(0x0C) == bytes.fromhex("08000c0000")


@pytest.mark.parametrize("build, match", [
    (lambda: pdu.read_request(4, 0, 0), "count must be 1..125"),
    (lambda: pdu.read_request(4, 0, 126), "count must be 1..125"),
    (lambda: pdu.read_request(5, 0, 1), "read function must be 3 or 4"),
    (lambda: pdu.read_request(4, 0x10000, 1), "register address must be 0..0xFFFF"),
    (lambda: pdu.write_single_request(0, -1), "value must be 0..0xFFFF"),
    (lambda: pdu.write_multiple_request(0, []), "1..123 registers"),
])
def test_bad_requests_are_refused_before_anything_is_sent(build, match):
    with pytest.raises(ModbusPduError, match=match):
        build()


def test_replies_give_registers_or_check_the_echo():
    read = pdu.read_request(4, 0x1000, 2)
    assert pdu.parse_reply(read, bytes.fromhex("04041234abcd")) == [0x1234, 0xABCD]
    write = pdu.write_single_request(8, 60)
    assert pdu.parse_reply(write, write) is None
    multi = pdu.write_multiple_request(2, [2026, 12, 6, 5, 0, 0])
    assert pdu.parse_reply(multi, multi[:5]) is None
    diag = pdu.diagnostics_request(0x0C)
    assert pdu.parse_reply(diag, bytes.fromhex("08000c0003")) == 3          # CRC errors counted
    echo = pdu.diagnostics_request(0, 0x1234)
    assert pdu.parse_reply(echo, echo) is None


def test_exception_replies_raise_with_their_code_and_name():
    with pytest.raises(ModbusException, match="illegal data address") as e:
        pdu.parse_reply(pdu.read_request(4, 0x5000, 1), bytes([0x84, 2]))
    assert (e.value.function, e.value.code) == (4, 2)


@pytest.mark.parametrize("request_, reply, match", [
    (pdu.read_request(4, 0, 2), bytes.fromhex("0404123456"), "read of 2 registers is 6 bytes, got 5"),
    (pdu.read_request(4, 0, 1), bytes.fromhex("04041234"), "announces 4 bytes, expected 2"),
    (pdu.read_request(4, 0, 1), bytes.fromhex("03021234"), "reply function 0x03 to request 0x04"),
    (pdu.write_single_request(8, 60), pdu.write_single_request(8, 61), "echo .* differs"),
    (pdu.write_multiple_request(2, [1]), bytes.fromhex("1000020002"), "differs from the request header"),
    (pdu.read_request(4, 0, 1), bytes([0x84]), "exception reply to 0x04 is 2 bytes"),
    (bytes([0x41, 0]), bytes([0x41, 0]), "not one the metering controller serves"),
    (b"", b"\x04", "empty PDU"),
    (pdu.diagnostics_request(0x0C), bytes.fromhex("08000b0003"), "sub-function 000b to a request for 000c"),
    (pdu.diagnostics_request(0, 5), pdu.diagnostics_request(0, 6), "echo .* differs"),
])
def test_malformed_replies_say_what_was_expected(request_, reply, match):
    with pytest.raises(ModbusPduError, match=match):
        pdu.parse_reply(request_, reply)


def test_descriptions_name_requests_replies_and_exceptions_and_survive_garbage():
    assert pdu.describe(pdu.read_request(4, 0x1000, 16), True) == "read input registers 0x1000 x16"
    assert pdu.describe(bytes.fromhex("03020001"), False) == "read holding registers: 1 registers"
    assert pdu.describe(pdu.write_single_request(8, 60), True) == "write single register 0x0008 = 60"
    assert pdu.describe(bytes([0x83, 2]), False) == "exception to 0x03: code 2 (illegal data address)"
    assert pdu.describe(bytes([0x86]), False) == "exception to 0x06: code None (unknown)"
    assert pdu.describe(bytes([0x41, 1]), True) == "function 0x41 (1 data bytes)"
    assert pdu.describe(b"", True) == "empty PDU"


def test_who_sent_a_frame_is_guessed_from_its_layout():
    read = pdu.read_request(3, 0x10, 2)
    assert pdu.looks_like_request(read)
    assert not pdu.looks_like_request(bytes.fromhex("030412345678"))
    multi = pdu.write_multiple_request(1, [10, 20])
    assert pdu.looks_like_request(multi) and not pdu.looks_like_request(multi[:5])
    assert not pdu.looks_like_request(bytes([0x83, 2]))
    echo = pdu.write_single_request(1, 3)
    assert pdu.looks_like_request(echo) and not pdu.looks_like_request(echo, echo)
