"""pcap traces: file format, Modbus RTU framing by the t3.5 silence, tshark decoding, UART text."""

import struct
from types import SimpleNamespace

import pytest

from metersim._engine.clock import Clock
from metersim.peripherals.base import Context
from metersim.peripherals.clock_tree import ClockTree
from metersim.peripherals.console_uart import ConsoleUART
from metersim.peripherals.rs485 import Rs485Bus
from metersim.peripherals.stm32 import usart as u
from metersim._traces.errors import TraceError
from metersim._protocols.modbus.framer import encode_adu
from metersim._traces.pcap import (
    LINKTYPE_RAW, LINKTYPE_USER0, LINKTYPE_USER1, PcapWriter, capture_rs485_pcap,
    capture_uart_pcap, read_pcap,
)
from metersim._units import PS_PER_MS, PS_PER_S, PS_PER_US
from tests.traces.modbus_decode import tshark_fields, udp_records

REQUEST = encode_adu(5, bytes([3, 0x00, 0x10, 0x00, 0x02]))        # read 2 holding regs at 16
RESPONSE = encode_adu(5, bytes([3, 4, 0x12, 0x34, 0x56, 0x78]))
CHAR_8E1_9600_PS = 11 * PS_PER_S // 9600


def modbus_exchange(tmp_path, gap_ps=5 * PS_PER_MS, corrupt_extra=False):
    """Master and slave host endpoints on one bus; the slave answers `gap_ps` after the query."""
    ctx = Context.standalone("bus")
    bus = Rs485Bus(ctx)
    master = bus.attach_host("master", 9600, parity="E")
    slave = bus.attach_host("slave5", 9600, parity="E")
    cap = capture_rs485_pcap(bus, tmp_path / "modbus.pcap")
    end = master.send(REQUEST)
    slave.send(RESPONSE, at_ps=end + gap_ps)
    ctx.clock.run_for(100 * PS_PER_MS)
    if corrupt_extra:
        bad = bytearray(encode_adu(5, bytes([6, 0, 1, 0, 3])))
        bad[-1] ^= 0x01
        master.send(bytes(bad))
        ctx.clock.run_for(100 * PS_PER_MS)
    cap.close()
    return bus, cap


# ------------------------------------------------------------------ file format
def test_pcap_header_is_nanosecond_libpcap_and_records_carry_virtual_time(tmp_path):
    p = tmp_path / "x.pcap"
    with PcapWriter(p, LINKTYPE_USER1) as w:
        w.write(1_234_567_891_234, b"abc")      # 1.234567891234 s -> 1 s + 234567891 ns
        w.write(3 * PS_PER_S, b"")
    raw = p.read_bytes()
    magic, vmaj, vmin, _, _, snaplen, link = struct.unpack("<IHHiIII", raw[:24])
    assert (magic, vmaj, vmin, link) == (0xA1B23C4D, 2, 4, 148)
    assert snaplen == 65535
    sec, ns, incl, orig = struct.unpack("<IIII", raw[24:40])
    assert (sec, ns, incl, orig) == (1, 234_567_891, 3, 3)
    assert raw[40:43] == b"abc"
    link, recs = read_pcap(p)
    assert link == LINKTYPE_USER1
    assert [(r.time_ns, r.data) for r in recs] == [(1_234_567_891, b"abc"), (3_000_000_000, b"")]


def test_writer_refuses_records_after_close_and_negative_times(tmp_path):
    w = PcapWriter(tmp_path / "y.pcap", LINKTYPE_USER0)
    with pytest.raises(TraceError, match="must be >= 0"):
        w.write(-1, b"x")
    w.close()
    with pytest.raises(TraceError, match="closed"):
        w.write(0, b"x")
    with pytest.raises(TraceError, match="cannot create"):
        PcapWriter(tmp_path / "no" / "such" / "dir.pcap", LINKTYPE_USER0)


# ------------------------------------------------------------------ RTU framing
def test_request_and_reply_become_two_modbus_udp_datagrams_at_their_start_times(tmp_path):
    bus, cap = modbus_exchange(tmp_path)
    assert [c.data for c in cap.frames] == [REQUEST, RESPONSE]
    assert (cap.valid, cap.invalid) == (2, 0)
    link, recs = read_pcap(tmp_path / "modbus.pcap")
    assert link == LINKTYPE_RAW
    starts = [bus.tap[0].start_ps, bus.tap[len(REQUEST)].start_ps]
    assert [r.time_ns for r in recs] == [s // 1000 for s in starts]
    # the reply starts 5 ms after the 8-character query ended (8 x 11 bits at 9600 bit/s)
    assert recs[1].time_ns - recs[0].time_ns == (8 * CHAR_8E1_9600_PS + 5 * PS_PER_MS) // 1000
    q, r = recs[0].data, recs[1].data
    assert q[9] == 17 and q[12:16] == bytes([10, 0, 0, 1]) and q[16:20] == bytes([10, 0, 1, 5])
    assert struct.unpack("!HH", q[20:24])[1] == 502                 # query to port 502
    assert struct.unpack("!HH", r[20:24])[0] == 502                 # reply from port 502
    tid_q, proto, length, unit = struct.unpack("!HHHB", q[28:35])
    tid_r = struct.unpack("!H", r[28:30])[0]
    assert (proto, length, unit) == (0, 6, 5) and tid_q == tid_r == 1
    assert q[35:] == REQUEST[1:-2] and r[35:] == RESPONSE[1:-2]     # PDU without the CRC
    link, raw = read_pcap(tmp_path / "modbus.rtu.pcap")
    assert link == LINKTYPE_USER0 and [x.data for x in raw] == [REQUEST, RESPONSE]


def test_a_reply_sooner_than_t35_merges_with_the_query_into_one_invalid_frame(tmp_path):
    # 3 character times of silence is below t3.5 = 3.5 characters: one frame, CRC fails
    _, cap = modbus_exchange(tmp_path, gap_ps=3 * CHAR_8E1_9600_PS)
    assert [c.data for c in cap.frames] == [REQUEST + RESPONSE]
    assert cap.frames[0].driver == "master+slave5"
    assert (cap.valid, cap.invalid) == (0, 1)
    _, recs = read_pcap(tmp_path / "modbus.pcap")
    assert recs[0].data[9] == 253                   # kept as raw bytes, not mis-decoded


def test_bad_crc_frame_stays_out_of_the_modbus_decode(tmp_path):
    _, cap = modbus_exchange(tmp_path, corrupt_extra=True)
    assert (cap.valid, cap.invalid) == (2, 1)
    _, recs = read_pcap(tmp_path / "modbus.pcap")
    assert [r.data[9] for r in recs] == [17, 17, 253]
    _, raw = read_pcap(tmp_path / "modbus.rtu.pcap")
    assert len(raw) == 3 and raw[2].data[:2] == bytes([5, 6])


# ------------------------------------------------------------------ decoding it back
def test_the_exchange_decodes_as_modbus_udp_and_in_tshark_without_any_setup(tmp_path):
    modbus_exchange(tmp_path, corrupt_extra=True)
    recs = udp_records(tmp_path / "modbus.pcap")
    assert recs[0] == (1, 5, 49502, 502, 1, 5, REQUEST[1:-2])               # query
    assert recs[1] == (5, 1, 502, 49502, 1, 5, RESPONSE[1:-2])              # its response
    assert recs[2] is None                                                  # bad CRC: raw bytes
    rows = tshark_fields(tmp_path / "modbus.pcap",
                         ["frame.number", "mbtcp.trans_id", "mbtcp.unit_id", "modbus.func_code",
                          "modbus.reference_num", "modbus.word_cnt", "modbus.request_frame",
                          "modbus.regval_uint16"])
    if rows is not None:                                                    # tshark installed
        assert rows[0] == ["1", "1", "5", "3", "16", "2", "", ""]
        assert rows[1] == ["2", "1", "5", "3", "", "", "1", "4660,22136"]
        assert rows[2][1:] == [""] * 7


def test_the_text_listing_names_each_frame_with_its_direction(tmp_path):
    modbus_exchange(tmp_path, corrupt_extra=True)
    lines = (tmp_path / "modbus.txt").read_text().splitlines()[1:]
    assert [ln.split()[2] for ln in lines] == ["master->slave", "slave", "master->slave"]
    assert "master->slave 5" in lines[0] and "read holding registers 0x0010 x2" in lines[0]
    assert "slave 5->master" in lines[1] and "2 registers" in lines[1]
    assert lines[2].endswith("not a Modbus frame (bad CRC)")
    assert lines[0].startswith("0.000000000 s")


# ------------------------------------------------------------------ UARTs
def test_console_text_goes_out_one_record_per_line_with_the_time_of_its_first_byte(tmp_path):
    ctx = Context.standalone("usart1")
    uart = ConsoleUART(ctx)
    cap = capture_uart_pcap(uart, tmp_path / "console.pcap")
    for t_ms, text in ((1, b"boot ok\r\n"), (7, b"energy 12.5 Wh\n"), (20, b"> ")):
        ctx.clock.run_for(t_ms * PS_PER_MS - ctx.clock.now_ps)
        for b in text:
            uart.write(0x04, 4, b)
    cap.close()
    link, recs = read_pcap(tmp_path / "console.pcap")
    assert link == LINKTYPE_USER1
    assert [(r.time_ns, r.data) for r in recs] == [
        (1_000_000, b"boot ok\r\n"), (7_000_000, b"energy 12.5 Wh\n"), (20_000_000, b"> ")]


def test_stm32_usart_modbus_slave_replies_framed_from_its_own_baud_timing(tmp_path):
    machine = SimpleNamespace(name="m", clocks=ClockTree({"PCLK1": 36_000_000}))
    dev = u.STM32Usart(Context(Clock(), name="usart2", machine=machine, address=0x40004400))
    dev.write(u.BRR, 4, 36_000_000 // 19200)
    dev.write(u.CR1, 4, u.UE | u.TE)
    clock = dev.ctx.clock
    clock.run_for(5 * PS_PER_MS)
    cap = capture_uart_pcap(dev, tmp_path / "slave.pcap", protocol="modbus", role="slave")
    t_first = []
    for reply in (RESPONSE, encode_adu(5, bytes([0x83, 2]))):
        clock.run_for(10 * PS_PER_MS)
        for i, b in enumerate(reply):
            while not dev.read(u.SR, 4) & u.TXE:
                clock.run_for(5 * PS_PER_US)
            if i == 0:
                t_first.append(clock.now_ps)    # idle line: the start bit goes out at once
            dev.write(u.DR, 4, b)
    clock.run_for(10 * PS_PER_MS)
    cap.close()
    assert [c.data for c in cap.frames] == [RESPONSE, encode_adu(5, bytes([0x83, 2]))]
    _, recs = read_pcap(tmp_path / "slave.pcap")
    assert [r.time_ns for r in recs] == [t // 1000 for t in t_first]
    assert all(struct.unpack("!H", r.data[20:22])[0] == 502 for r in recs)   # from the slave


def test_capture_refuses_unknown_protocols_and_non_uarts(tmp_path):
    with pytest.raises(TraceError, match="protocol"):
        capture_uart_pcap(ConsoleUART(Context.standalone("u")), tmp_path / "a.pcap", protocol="dlt")
    with pytest.raises(TraceError, match="not a UART"):
        capture_uart_pcap(object(), tmp_path / "b.pcap")
    with pytest.raises(TraceError, match="not an RS-485 bus"):
        capture_rs485_pcap(object(), tmp_path / "c.pcap")


def test_a_noise_burst_on_the_reply_marks_it_invalid_and_keeps_the_line_bytes(tmp_path):
    ctx = Context.standalone("bus")
    bus = Rs485Bus(ctx)
    master = bus.attach_host("master", 9600, parity="E")
    slave = bus.attach_host("slave5", 9600, parity="E")
    cap = capture_rs485_pcap(bus, tmp_path / "noisy.pcap", master="master")
    end = master.send(REQUEST)
    reply_at = end + 5 * PS_PER_MS
    slave.send(RESPONSE, at_ps=reply_at)
    bus.noise_burst(2 * CHAR_8E1_9600_PS, at_ps=reply_at + 2 * CHAR_8E1_9600_PS)
    ctx.clock.run_for(100 * PS_PER_MS)
    cap.close()
    assert (cap.valid, cap.invalid) == (1, 1)
    assert cap.frames[1].corrupted and cap.frames[1].driver == "slave5"
    line_bytes = bytes(r.value for r in bus.tap if r.driver == "slave5")
    assert line_bytes != RESPONSE
    _, raw = read_pcap(tmp_path / "noisy.rtu.pcap")
    assert raw[1].data == line_bytes                  # what receivers read, damage included
    _, recs = read_pcap(tmp_path / "noisy.pcap")
    assert recs[1].data[9] == 253 and recs[1].data[12:16] == bytes([10, 0, 1, 254])


def test_a_raw_bus_capture_keeps_one_record_per_driver_burst(tmp_path):
    # DL/T645-style traffic: no Modbus framing; a quick reply still gets its own record
    ctx = Context.standalone("bus")
    bus = Rs485Bus(ctx)
    master = bus.attach_host("master", 2400, parity="E")
    meter = bus.attach_host("meter", 2400, parity="E")
    cap = capture_rs485_pcap(bus, tmp_path / "raw.pcap", protocol="raw")
    end = master.send(b"\xfe\xfe\x68\x01\x16")
    meter.send(b"\x68\x02\x16", at_ps=end + 2 * PS_PER_MS)      # under one character at 2400
    ctx.clock.run_for(100 * PS_PER_MS)
    master.send(b"\x68\x03")
    ctx.clock.run_for(100 * PS_PER_MS)
    master.send(b"\x16")                                         # 100 ms later: a new burst
    ctx.clock.run_for(100 * PS_PER_MS)
    cap.close()
    link, recs = read_pcap(tmp_path / "raw.pcap")
    assert link == LINKTYPE_USER0
    assert [r.data for r in recs] == [b"\xfe\xfe\x68\x01\x16", b"\x68\x02\x16", b"\x68\x03", b"\x16"]
    assert [c.driver for c in cap.chunks] == ["master", "meter", "master", "master"]
