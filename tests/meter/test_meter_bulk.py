"""Bulk data through shared memory: LOADID's record set (32 records of 12 bytes, more than one
DL/T645 frame) lies in /shm/LOADID; the virtual bus grants the communication service read access
and forwards a bulk reply that only describes it; the master reads it with 11H and follow-up
frames 12H, which the communication service serves from the shared memory without the bus. A
process the bus never granted the region is stopped by the MPU when it touches it."""

from decimal import Decimal

import pytest

import metersim
from metersim.dlt645 import Dlt645Abnormal, Frame, address_bytes
from metersim._image.pack import pack

from tests.meter.conftest import MANIFEST

LOG_DI = 0x04A10002
RECORD, RECORDS = 12, 32                            # 384 bytes: two frames of 192


def request(m, control, data=b""):
    return m.master.exchange(Frame(address_bytes("000000123456"), control,
                                   LOG_DI.to_bytes(4, "little") + data))


def bcd3(kW):
    return metersim.dlt645.bcd_encode(kW, 3, 4)


def test_the_record_set_comes_whole_across_follow_up_frames(meter):
    m = meter(power_W=100.0)
    m.emu.run_for("1.2s")                           # the app's first reading
    for step_W in (600, 2000):                      # two appliances, a second apart
        m.unit.power_W += step_W
        m.emu.run_for("1s")
    # LOADID reads the power each second from the metering service's snapshot, itself at most
    # a second old: a step is counted within 2 s
    m.con.expect("count 2", timeout="1.2s")
    m.trace_on()
    first = request(m, 0x11)
    assert first.control == 0xB1 and len(first.data) == 4 + 16 * RECORD       # more follow
    newest, older = first.data[4:4 + RECORD], first.data[4 + RECORD:4 + 2 * RECORD]
    assert newest[:3] == bytes.fromhex("0200") + b"\x03"                      # no. 2, class 3
    assert newest[3:6] == bcd3("2.0000") and newest[6:9] == bcd3("2.7000")     # step, after
    assert older[:3] == bytes.fromhex("0100") + b"\x02" and older[3:6] == bcd3("0.6000")
    seconds = [int(r[9:12][::-1].hex()) for r in (older, newest)]            # since the start
    assert seconds[1] - seconds[0] == 1
    assert first.data[4 + 2 * RECORD:] == bytes(14 * RECORD)                  # not yet filled
    nxt = request(m, 0x12, b"\x01")
    assert nxt.control == 0x92 and nxt.data[4:-1] == bytes(16 * RECORD) and nxt.data[-1] == 1
    with pytest.raises(Dlt645Abnormal) as e:                                    # past the end
        m.master.read_next(LOG_DI, 2)
    assert e.value.serr == 0x02
    m.con.expect("vbus: COM_SRV may read /shm/LOADID", timeout="10ms")
    # one request through the bus and one short bulk reply; the frames came from the memory
    trace = [(r.pipe, r.control) for r in metersim.parse_vbus_trace(m.con.texts())
             if r.di == LOG_DI]
    assert trace == [("V_BUS_TO_LOADID", 0x11), ("V_BUS_TO_COM_SRV", 0x91)]


def test_a_record_set_rewritten_during_the_read_ends_it(meter):
    m = meter()
    assert request(m, 0x11).control == 0xB1
    ir = metersim.dlt645.Master(m.emu, m.board["ir"], timeout="3s")     # 196 bytes at 1200 Bd
    ir.read(LOG_DI)                                          # the IR reader has it written anew
    with pytest.raises(Dlt645Abnormal) as e:
        m.master.read_next(LOG_DI, 1)
    assert e.value.serr == 0x01
    m.con.expect("com: bulk data of LOADID changed during the read", timeout="10ms")


def test_a_process_without_a_grant_faults_touching_the_region(tmp_path, meter_image):
    image = tmp_path / "isolation.bin"
    image.write_bytes(pack(MANIFEST.with_name("meter_mu_isolation.yaml")))
    # the whole meter: the fault comes while the communication service is writing its port
    # line to the console; the report follows that line whole and everything runs on
    meter = metersim.build_meter(metersim.Emulation(seed=1), image, voltage_V=220.1,
                                 current_A=5.123, power_W=1123.4, energy_kWh=1234.56)
    emu, board = meter.emu, meter.mu
    con = metersim.capture_uart(board)
    peek = con.expect(r"shmpeek: /shm/LOADID at (0x[0-9a-f]+), access 0, file read -1;",
                      regex=True, timeout="2s")
    killed = con.expect(r"process 'shmpeek' killed: MemManage in thread 'shmpeek' at pc 0x0808"
                        r"[0-9a-f]{4} \(cfsr 0x[0-9a-f]+\): data access violation at (0x[0-9a-f]+)",
                        regex=True, timeout="100ms")
    assert killed.groups[0] == peek.groups[0]
    assert killed.line.startswith("process 'shmpeek' killed")       # no line cut by the report
    con.expect("meter: started", timeout="1s")              # every thread ran on after it
    con.expect("metering: metrology unit synchronised", timeout="1s")
    assert "shmpeek: read" not in con.text                   # it never got past the load
    assert ("com: DL/T645-2007 on rs485 (2400 8E1) and ir (1200 8E1), address 000000123456"
            in con.text.splitlines())                     # the line the fault came in, whole
    master = metersim.dlt645.Master(emu, board["rs485Bus"].attach_host("r", baud=2400, parity="E"))
    assert master.read(0x04A10001) == bytes(6)                # LOADID and the meter run on
    assert master.read(LOG_DI) == bytes(16 * RECORD)          # no switch-ons: zero records
    assert master.read_value(0x00010000) == Decimal("1234.56")   # metering runs on too
