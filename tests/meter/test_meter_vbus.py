"""The management unit's middle layer through its ports: DL/T645-2007 requests on RS-485 and IR
answered by the owning service through the virtual bus, password rules, broadcast time, the
relay, the bus's routing, combined reads, app registration, and its checks (bulk replies
through shared memory: test_meter_bulk.py)."""

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

import metersim
from metersim.dlt645 import Dlt645Abnormal, Frame, address_bytes, encode_frame

START = datetime(2026, 12, 6, 10, 0, 0)       # the firmware's clock after a cold start
ADDR = "000000123456"
FE4 = bytes.fromhex("FEFEFEFE")


def meter_clock(m):
    date, time = m.master.read(0x04000101), m.master.read(0x04000102)
    ww, dd, mo, yy = (int(f"{b:02x}") for b in date)
    ss, mi, hh = (int(f"{b:02x}") for b in time)
    return datetime(2000 + yy, mo, dd, hh, mi, ss), ww


def test_reads_energy_voltage_current_clock_and_the_apps_identifier(meter):
    m = meter()
    # the worked frame of the reference, byte for byte, and its reply (1234.56 kWh)
    m.rs485.send(FE4 + bytes.fromhex("68563412000000681104333334334E16"))
    m.emu.run_for("400ms")                  # 270 ms, more while the metering service is busy
    assert m.rs485.read() == FE4 + bytes.fromhex("6856341200000068910833333433896745333A16")
    assert m.master.read_value(0x02010100) == Decimal("220.1")
    assert m.master.read_value(0x02020100) == Decimal("5.123")
    assert m.master.read_value(0x02030000) == Decimal("1.1234")
    # the metrology unit meters the total; the basic app books it by rate from its start
    # (tests/meter/test_meter_basic_tou.py): the block holds the total and the four rates,
    # which have only the seconds since the app began (peak at 10:00 in the factory tables)
    block = m.master.read(0x0001FF00)
    assert len(block) == 20 and block[:4] == metersim.dlt645.bcd_encode("1234.56", 4, 2)
    assert block[4:] == bytes(16) and m.master.read(0x00010200) == bytes(4)
    clock, weekday = meter_clock(m)
    assert timedelta(0) <= clock - START < timedelta(seconds=5) and weekday == 0   # a Sunday
    # the extended app's identifier, answered by the app through the bus: nothing seen yet
    assert m.master.read(0x04A10001) == bytes.fromhex("0000") + bytes([0]) + bytes(3)
    # the reads share the unit's answers: one MEASURE serves a second (display, apps, masters)
    n, t0 = len(m.unit.requests), m.emu.now_ps
    volts = [m.master.read_value(0x02010100) for _ in range(10)]
    elapsed_s = (m.emu.now_ps - t0) / 1e12
    asked = len(m.unit.requests) - n
    assert set(m.unit.requests[n:]) == {"MEASURE"}
    assert volts == [Decimal("220.1")] * 10 and 1 <= asked <= int(elapsed_s) + 1, (asked, elapsed_s)
    # and a value is never older than that second: a load step shows in the next one
    m.unit.power_W = 2345.6
    m.emu.run_for("1s")
    assert m.master.read_value(0x02030000) == Decimal("2.3456")


def test_unknown_identifier_and_function_get_the_abnormal_reply(meter):
    m = meter()
    with pytest.raises(Dlt645Abnormal) as e:
        m.master.read(0x0A0B0C0D)
    assert e.value.serr == 0x02                                     # no requested data
    assert m.master.received[-1] == Frame(address_bytes(ADDR), 0xD1, b"\x02")
    with pytest.raises(Dlt645Abnormal) as e:
        m.master.request(0x1F, b"")
    assert e.value.serr == 0x01 and m.master.received[-1].control == 0xDF
    # frames for another meter and damaged frames get no reply at all
    m.rs485.send(FE4 + encode_frame(Frame(address_bytes("000000999999"), 0x11, bytes(4))))
    bad = bytearray(encode_frame(Frame(address_bytes(ADDR), 0x11, bytes.fromhex("00000100"))))
    bad[-2] ^= 1
    m.rs485.send(bytes(bad))
    m.emu.run_for("400ms")
    assert m.rs485.read() == b""


def test_write_with_the_right_password_and_the_error_word_for_a_wrong_one(meter):
    m = meter()
    # the reference's worked frame: time 12:34:56 with PA 02, password 123456
    m.rs485.send(FE4 + bytes.fromhex("68563412000000681 40F353433373589674533333333896745CD16"
                                     .replace(" ", "")))
    m.emu.run_for("400ms")
    assert m.rs485.read() == FE4 + bytes.fromhex("685634120000006894000016")
    m.con.expect("platform: clock set to 2026-12-06 12:34:56 (write)", timeout="100ms")
    clock, _ = meter_clock(m)
    assert clock.strftime("%H:%M") == "12:34"
    with pytest.raises(Dlt645Abnormal) as e:
        m.master.write(0x04000102, bytes.fromhex("000010"), password="654321")
    assert e.value.serr == 0x04 and m.master.received[-1].control == 0xD4
    with pytest.raises(Dlt645Abnormal):            # level 04 may not write parameters
        m.master.write(0x04000102, bytes.fromhex("000010"), level=4, password="000000")
    assert meter_clock(m)[0].strftime("%H:%M") == "12:34"       # nothing was written


def test_three_wrong_passwords_lock_writes(meter):
    m = meter()
    for _ in range(3):
        with pytest.raises(Dlt645Abnormal):
            m.master.write(0x04000102, bytes.fromhex("000010"), password="000001")
    m.con.expect("com: 3 wrong passwords, locked for 24 h", timeout="100ms")
    with pytest.raises(Dlt645Abnormal) as e:                    # even the right one now
        m.master.write(0x04000102, bytes.fromhex("000010"))
    assert e.value.serr == 0x04
    assert m.master.read_value(0x02010100) == Decimal("220.1")  # reads still work


def test_broadcast_time_sets_the_clock_within_five_minutes(meter):
    m = meter()
    target = START + timedelta(minutes=3)
    m.master.broadcast_time(target)                 # no reply (the master checks)
    m.con.expect("platform: clock set to 2026-12-06 10:03:00 (broadcast)", timeout="100ms")
    assert timedelta(0) <= meter_clock(m)[0] - target < timedelta(seconds=3)
    m.master.broadcast_time(target + timedelta(hours=2))
    m.con.expect("platform: broadcast time refused, off by 72", timeout="100ms")
    assert meter_clock(m)[0] - target < timedelta(seconds=5)


def test_relay_trips_and_closes_and_keep_power_refuses_trips(meter):
    m = meter()
    relay, until = m.board["relay"], START + timedelta(days=1)
    assert not relay.closed                         # a latching relay starts open
    m.master.relay(metersim.dlt645.RELAY_CLOSE, until)
    assert relay.closed and m.master.received[-1].control == 0x9C
    status = int.from_bytes(m.master.read(0x04000503), "little")
    assert not status & 0x10                        # bit 4: the relay is closed
    m.master.relay(metersim.dlt645.RELAY_TRIP, until)
    assert not relay.closed
    assert int.from_bytes(m.master.read(0x04000503), "little") & 0x50 == 0x50  # open, tripped
    m.master.relay(metersim.dlt645.RELAY_CLOSE, until)
    m.master.relay(metersim.dlt645.KEEP_POWER_ON, until)
    with pytest.raises(Dlt645Abnormal):
        m.master.relay(metersim.dlt645.RELAY_TRIP, until)
    assert relay.closed
    with pytest.raises(Dlt645Abnormal):             # a command whose validity has passed
        m.master.relay(metersim.dlt645.KEEP_POWER_OFF, START - timedelta(days=1))
    with pytest.raises(Dlt645Abnormal) as e:        # and a wrong password
        m.master.relay(metersim.dlt645.RELAY_TRIP, until, password="111111")
    assert e.value.serr == 0x04 and relay.closed


def test_address_read_and_write_with_the_wildcard(meter):
    m = meter()
    assert m.master.read_address() == ADDR
    m.rs485.read()
    m.master.write_address("000000654321")
    m.con.expect("com: address now 000000654321", timeout="100ms")
    assert m.master.read_value(0x02010100) == Decimal("220.1")        # at the new address
    assert m.master.read(0x04000401) == address_bytes("000000654321")  # owned by com, via the bus
    old = metersim.dlt645.Master(m.emu, m.rs485, address=ADDR)
    with pytest.raises(metersim.EmulationTimeout):
        old.read(0x02010100)


def test_ir_port_answers_at_1200_baud(meter):
    m = meter()
    assert m.ir.read_value(0x00010000) == Decimal("1234.56")
    assert m.ir.read_address() == ADDR
    assert m.board["ir"].errors == []


def test_baud_change_and_password_change(meter):
    m = meter()
    m.master.change_baud(9600)
    assert m.master.received[-1].data == b"\x20"
    m.con.expect("com: rs485 now at 9600 baud", timeout="200ms")
    assert m.master.read_value(0x02010100) == Decimal("220.1")
    with pytest.raises(Dlt645Abnormal) as e:
        m.master.request(0x17, b"\x03")              # two bits: not a rate
    assert e.value.serr == 0x08
    m.master.change_password(2, "777777")
    with pytest.raises(Dlt645Abnormal):
        m.master.write(0x04000102, bytes.fromhex("000011"))
    m.master.password = "777777"
    m.master.write(0x04000102, bytes.fromhex("000011"))
    assert meter_clock(m)[0].strftime("%H:%M") == "11:00"


def test_freeze_and_clears(meter):
    m = meter(voltage_V=230.0, power_W=12000.0)     # 12 kW: 0.01 kWh every 3 s
    m.master.freeze()                                 # 99999999: instantaneous freeze
    m.emu.run_for("7s")
    frozen = m.master.read(0x05010101)                # the basic app's: total, four rates
    assert frozen == metersim.dlt645.bcd_encode("1234.56", 4, 2) + bytes(16)
    assert m.master.read_value(0x00010000) >= Decimal("1234.58")     # it metered on
    m.master.clear_demand(password="000000")
    m.master.clear_events()
    m.master.clear_meter()
    assert m.master.read_value(0x00010000) < Decimal("0.01") and "CLEAR" in m.unit.requests
    assert m.unit.stored_energy()[0] < 0.01


def test_metrology_unit_unplugged_and_back(meter):
    m = meter(voltage_V=230.0, power_W=12000.0)
    assert m.master.read_value(0x00010000) == Decimal("1234.56")
    m.unit.plugged = False                          # the cable between the units pulled
    assert m.master.read_value(0x00010000) == Decimal("1234.56")   # the last values
    # noticed at the first read after the last answer's second (SNAPSHOT_MS): the display's
    m.con.expect("metering: metrology unit not answering", timeout="1.2s")
    m.emu.run_for("9s")                             # the unit meters on alone
    m.unit.plugged = True
    assert m.master.read_value(0x00010000) >= Decimal("1234.58")
    m.con.expect("metering: metrology unit answers again, re-synchronised", timeout="100ms")


def test_combined_read_gathers_three_services_and_the_app_into_one_reply(meter):
    m = meter()
    m.trace_on()
    value = m.master.read(0x04A0FF01)
    bcd = metersim.dlt645.bcd_encode
    assert value[:4] == bcd("1234.56", 4, 2)                   # metering: energy
    assert value[4:6] == bcd("220.1", 2, 1)                    # metering: voltage
    assert value[6] == 0x00 and value[8] == 0x10               # platform: time 10:00:ss
    assert value[9:15] == address_bytes(ADDR)                  # communication: address
    assert value[15:] == bytes(6)                              # LOADID: its identifier
    trace = metersim.parse_vbus_trace(m.con.texts())
    asked = {(r.pipe, r.di) for r in trace if r.ca == 0xF0 and r.control == 0x11}
    assert asked == {("V_BUS_TO_MTR_SRV", 0x00010000), ("V_BUS_TO_MTR_SRV", 0x02010100),
                     ("V_BUS_TO_PLAT_SRV", 0x04000102), ("V_BUS_TO_COM_SRV", 0x04000401),
                     ("V_BUS_TO_LOADID", 0x04A10001)}
    # the requester (RS-485, communication thread 4) got one reply from the bus
    assert [(r.pipe, r.ca, r.sa, r.control) for r in trace if r.sa == 0x24] == [
        ("V_BUS_TO_COM_SRV", 0xF0, 0x24, 0x91)]


def test_trace_shows_each_message_with_pipe_addresses_and_identifier(meter):
    m = meter()
    m.trace_on()
    m.master.read(0x02010100)
    m.ir.read(0x04000102)
    trace = [r for r in metersim.parse_vbus_trace(m.con.texts())
             if (r.pipe != "V_BUS_TO_PLAT_SRV" or r.ca != 0xF0)   # the trace switch's answer
             and 0x50 not in (r.ca, r.sa)       # and LOADID's own power readings aside
             and 1 not in (r.ca >> 4, r.sa >> 4)]   # and the basic app's (rates, voltage)
    assert [(r.pipe, r.ca, r.sa, r.control, r.di) for r in trace] == [
        ("V_BUS_TO_MTR_SRV", 0x24, 0x30, 0x11, 0x02010100),     # RS-485 -> metering
        ("V_BUS_TO_COM_SRV", 0x30, 0x24, 0x91, 0x02010100),     # and back
        ("V_BUS_TO_PLAT_SRV", 0x25, 0x40, 0x11, 0x04000102),    # IR -> platform
        ("V_BUS_TO_COM_SRV", 0x40, 0x25, 0x91, 0x04000102),
    ]
    m.con.write("vbus trace off\r")
    m.con.expect("vbus: trace off", timeout="1s")
    m.master.read(0x02010100)
    assert len([r for r in metersim.parse_vbus_trace(m.con.texts())
                if 0x50 not in (r.ca, r.sa) and 1 not in (r.ca >> 4, r.sa >> 4)]) == 5


def test_app_registered_at_run_time_identifies_a_switched_on_heater(meter):
    m = meter(power_W=100.0)
    assert "vbus: registered app LOADID as 50 with 2 identifiers" in m.con.text
    m.emu.run_for("1.5s")
    m.unit.power_W = 2100.0                         # a 2 kW heater switched on
    m.con.expect("loadid: appliance on, 2.0000 kW step, class 3, count 1", timeout="1.5s")
    m.trace_on()
    m.emu.run_for("1.1s")                           # one more of the app's power readings
    assert m.master.read(0x04A10001) == bytes.fromhex("0100") + b"\x03" + bytes.fromhex("000002")
    trace = metersim.parse_vbus_trace(m.con.texts())
    # the app asks the metering service for the power through the bus, and is asked in turn
    assert ("V_BUS_TO_MTR_SRV", 0x50, 0x30, 0x11, 0x02030000) in {
        (r.pipe, r.ca, r.sa, r.control, r.di) for r in trace}
    assert ("V_BUS_TO_LOADID", 0x24, 0x50, 0x11, 0x04A10001) in {
        (r.pipe, r.ca, r.sa, r.control, r.di) for r in trace}
    assert m.master.read(0x04A00001) == b"\x01"     # the platform reports the app running


def vbus_message(ca, sa, frame, cmd=1, datalen=None):
    raw = encode_frame(frame)
    n = len(raw) if datalen is None else datalen
    return bytes([0x68, ca, sa, 0, 3, 1, cmd, 0, 0, 0, n & 0xFF, n >> 8]) + raw


def test_bus_drops_and_counts_a_foreign_source_and_a_bad_length(meter):
    m = meter()
    read_v = Frame(bytes([0xAA] * 6), 0x11, (0x02010100).to_bytes(4, "little"))
    # on the platform's pipe, a message claiming to come from extended app 3 (0x70)
    m.con.write(f"vbus send {vbus_message(0x70, 0xF0, read_v).hex()}\r")
    m.con.expect("vbus: dropped from PLAT_SRV_TO_V_BUS: source 70 is not this pipe's process "
                 "(dropped 1)", timeout="1s")
    # DataLen says 20 bytes, the DL/T645 frame is 16
    m.con.write(f"vbus send {vbus_message(0x40, 0xF0, read_v, datalen=20).hex()}\r")
    m.con.expect("vbus: dropped from PLAT_SRV_TO_V_BUS: bad length (dropped 1)", timeout="1s")
    # and a frame with a damaged checksum inside a well-formed message
    raw = bytearray(vbus_message(0x40, 0xF0, read_v))
    raw[-2] ^= 0x55
    m.con.write(f"vbus send {bytes(raw).hex()}\r")
    m.con.expect("vbus: dropped from PLAT_SRV_TO_V_BUS: damaged DL/T645 frame (dropped 2)",
                 timeout="1s")
    # the bus goes on routing, and its counters say what happened (read over RS-485)
    assert m.master.read_value(0x02010100) == Decimal("220.1")
    stats = m.master.read(0x04A0FE03)
    counts = [int(metersim.dlt645.bcd_decode(stats[i:i + 4], 0)) for i in range(0, 24, 4)]
    routed, bad_integrity, bad_source, timeouts, no_route, lost = counts
    assert (bad_integrity, bad_source, timeouts, lost) == (2, 1, 0, 0) and routed >= 1
    m.con.write("vbus stats\r")
    m.con.expect("vbus: routed", timeout="1s")
    assert "bad integrity 2, bad source 1" in m.con.texts()[-1]


def test_a_stopped_app_is_unregistered_and_the_meter_runs_on(meter):
    m = meter()
    assert m.master.read(0x04A00001) == b"\x01"
    m.master.exchange(Frame(address_bytes("000000123456"), 0x11,
                            (0x04A10002).to_bytes(4, "little")))   # LOADID's bulk record set
    m.con.expect("vbus: COM_SRV may read /shm/LOADID", timeout="100ms")
    m.con.write("app stop COM_SRV\r")                   # services are not apps
    m.con.expect("platform: app COM_SRV not stopped", timeout="1s")
    m.con.write("app stop LOADID\r")
    m.con.expect("platform: app LOADID stopped (0)", timeout="1s")
    assert m.master.read(0x04A00001) == b"\x00"
    with pytest.raises(Dlt645Abnormal) as e:            # its identifiers have no owner now
        m.master.read(0x04A10001)
    assert e.value.serr == 0x02
    # the bus let go of it: pipes closed and removed, the grant it gave withdrawn
    m.con.expect("vbus: app LOADID ended, unregistered; read grants withdrawn: 1", timeout="1s")
    m.con.expect("vbus: pipes of LOADID removed", timeout="100ms")
    assert "no answer from process 5" not in m.con.text
    iwdg = m.board["iwdg"]
    assert iwdg.running and 1.9e12 < iwdg.timeout_ps() <= 2.1e12  # the 2 s watchdog runs
    m.emu.run_for("3s")                                 # longer than the watchdog's 2 s
    assert iwdg.expiries == 0                           # the services are all there
    assert m.con.text.count("meter management unit on") == 1 and "watchdog:" not in m.con.text
    assert m.master.read_value(0x02010100) == Decimal("220.1")


def test_rs485_capture_lists_the_dlt645_frames_decoded(meter, tmp_path):
    m = meter()
    cap = metersim.capture_rs485_pcap(m.board["rs485Bus"], tmp_path / "dlt.pcap", protocol="dlt645")
    m.master.read(0x02010100)
    with pytest.raises(Dlt645Abnormal):
        m.master.read(0x0A0B0C0D)
    cap.close()
    lines = (tmp_path / "dlt.txt").read_text().splitlines()
    assert [ln.split("  ")[-1] for ln in lines] == [
        "read 02010100", "reply 91 to 000000123456 DI 02010100 value 01 22",
        "read 0A0B0C0D", "abnormal D1 SERR 02 (no requested data)"]
    assert lines[0].split()[1] == "reader" and lines[1].split()[1].endswith("rs485")
    _, records = metersim.read_pcap(tmp_path / "dlt.pcap")
    assert len(records) == 4


def test_same_seed_same_traffic_and_console(meter):
    def run():
        m = meter(seed=3)
        m.trace_on()
        m.master.read(0x04A0FF01)
        m.ir.read(0x02020100)
        m.master.relay(metersim.dlt645.RELAY_CLOSE, START + timedelta(days=1))
        return m.con.text, [f.control for f in m.master.received], m.board["relay"].history
    assert run() == run()
