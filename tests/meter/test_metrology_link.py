"""The metrology unit on its own (platforms/boards/meter_metrology_unit.repl, firmware/targets/
metrology_unit): its link frames from the test's side of the cable (STATUS with the measured
values, a damaged frame ignored, an unknown command refused), its energy record in the EEPROM
(two copies with CRC, the newer one taken), and a power cut that loses less than 0.01 kWh."""

import struct
from decimal import Decimal

import pytest

import metersim
from metersim._engine.platform_builder import load_firmware
from metersim._meter.metrology_unit import (EE_COPY_A, EE_COPY_B, LinkDecoder, MetrologyUnit,
                                            crc16, energy_record, frame, parse_energy_record)
from metersim._units import PS_PER_S


def test_frames_and_records_have_the_documented_layout():
    # docs/meter_metrology_unit.md: STATUS with sequence 7
    assert frame(0x01, 7) == bytes.fromhex("A5 02 01 07") + crc16(b"\x02\x01\x07").to_bytes(2, "little")
    dec = LinkDecoder()
    got = [dec.feed(b) for b in b"\x00\x13" + frame(0x82, 9, b"\x01" + bytes(28))]
    assert got[-1] == (0x82, 9, b"\x01" + bytes(28)) and dec.bad == 0
    bad = bytearray(frame(0x81, 1, bytes(40)))
    bad[10] ^= 0x40                                     # one bit flipped on the line
    assert [dec.feed(b) for b in bad][-1] is None and dec.bad == 1
    rec = energy_record(1_234_560_000, 5, intervals=3, seq=9)
    assert len(rec) == 30 and parse_energy_record(rec) == (9, 1_234_560_000, 5, 3)
    assert parse_energy_record(rec[:-1] + b"\x00") is None
    with pytest.raises(metersim.SetupError):
        frame(1, 1, bytes(249))


class _Bench:
    """The unit alone, the test at the management unit's end of the cable."""

    def __init__(self, firmware, power_W=2000.0, stored_kWh=None):
        self.emu = metersim.Emulation(seed=1)
        mt = metersim.create_machine(self.emu, metersim.find_platform("meter_metrology_unit"),
                                     name="metrology")
        self.usart = mt["usart2"]
        self.unit = MetrologyUnit(mt, link=None, voltage_V=230.0, current_A=power_W / 230.0 / 0.8,
                                  power_W=power_W)
        if stored_kWh is not None:
            self.unit.store_energy(stored_kWh)
        self.dec, self.replies = LinkDecoder(), []
        self.usart.tx.connect(self._rx)
        load_firmware(mt, firmware("f103rb", "metrology_unit"))
        self.con = metersim.capture_uart(mt)
        self.con.expect("metrology: link on USART2", timeout="2s")

    def _rx(self, f):
        got = self.dec.feed(f.value)
        if got is not None:
            self.replies.append(got)

    def ask(self, raw: bytes, wait="200ms"):
        self.usart.write_bytes(raw)
        self.emu.run_for(wait)
        out, self.replies = self.replies, []
        return out


def test_status_carries_the_measured_values_and_a_damaged_request_gets_no_answer(firmware):
    b = _Bench(firmware, power_W=2000.0, stored_kWh=10.0)
    b.emu.run_for("3s")
    [(cmd, seq, p)] = b.ask(frame(0x01, 7))
    assert cmd == 0x81 and seq == 7 and len(p) == 40
    clock, fwd, rev, n, v, i, pw, pf, f, flags = struct.unpack("<IQQIHiihHH", p)
    assert v == 2300 and pw == 20000 and pf == 800 and f == 5000      # 0.1 V, 0.1 W, 0.001, 0.01 Hz
    assert abs(i - round(2000 / 230 / 0.8 * 1000)) <= 1                # mA
    assert flags & 7 == 6                                              # measuring, energy stored
    ref_mWh = b.unit.reference_Wh() * 1000
    assert 10_000_000 + ref_mWh - 1200 <= fwd <= 10_000_000 + ref_mWh  # within one 2 s window
    assert rev == 0 and n == 0
    damaged = bytearray(frame(0x01, 8))
    damaged[3] ^= 1
    assert b.ask(bytes(damaged)) == []                                 # a CRC error: silence
    assert b.ask(frame(0x42, 9)) == [(0xFF, 9, bytes([0x42, 1]))]      # unknown command
    assert b.ask(frame(0x01, 10, b"\x00")) == [(0xFF, 10, bytes([0x01, 2]))]   # bad length


def test_a_power_cut_loses_less_than_0_01_kWh_and_the_newer_copy_wins(firmware):
    b = _Bench(firmware, power_W=5000.0, stored_kWh=100.0)
    b.emu.run_until_time(40 * PS_PER_S)
    cut_ps = b.emu.now_ps
    metersim.power_cut(b.unit.machine, holdup="20ms", off="2s")
    b.con.expect("metrology: power failing, totals saved", timeout="10ms")
    stored, _, _ = b.unit.stored_energy()
    assert 0 <= 100.0 + b.unit.reference_Wh(0, cut_ps) / 1000 - stored < 0.01
    # back on: it goes on from the newer copy (the power-fail save)
    line = b.con.expect("metrology: energy from EEPROM copy", timeout="3s").line
    seqs = [parse_energy_record(b.unit.eeprom.read_image(a, 30))[0] for a in (EE_COPY_A, EE_COPY_B)]
    assert f"copy {'AB'[seqs.index(max(seqs))]} (seq {max(seqs)})" in line
    mWh = round(stored * 1e6)
    assert f"forward {mWh // 1_000_000}.{mWh // 1000 % 1000:03d} kWh" in line


def test_reverse_power_goes_to_the_reverse_register(firmware):
    b = _Bench(firmware, power_W=-1500.0, stored_kWh=10.0)      # a feed-in: power flows back
    b.emu.run_for("9s")
    [(_, _, p)] = b.ask(frame(0x01, 1))
    _, fwd, rev, _, v, i, pw, pf, _, _ = struct.unpack("<IQQIHiihHH", p)
    assert pw == -15000 and pf == -800 and i < 0 and v == 2300
    assert fwd == 10_000_000                                            # forward untouched
    ref_mWh = -b.unit.reference_Wh() * 1000
    assert ref_mWh - 900 <= rev <= ref_mWh                             # within one 2 s window


def test_measure_carries_the_parts_asked_and_the_energy_only_when_it_changed(firmware):
    # docs/meter_metrology_unit.md, MEASURE: want (1 NOW, 2 TOTALS, 4 HELD, 8 POWER), the
    # generation of the totals held; the answer: parts, generation, hold ms, the parts
    b = _Bench(firmware, power_W=2000.0, stored_kWh=10.0)
    b.emu.run_for("5s")                                         # two windows seen: a hold
    [(cmd, seq, p)] = b.ask(frame(0x04, 1, bytes([0x03, 0, 0])))
    assert cmd == 0x84 and seq == 1 and len(p) == 5 + 20 + 20
    parts, gen, hold = struct.unpack("<BHH", p[:5])
    clock, v, i, pw, pf, f, flags = struct.unpack("<IHiihHH", p[5:25])
    fwd, rev, n = struct.unpack("<QQI", p[25:])
    assert parts == 3 and v == 2300 and pw == 20000 and pf == 800 and f == 5000
    assert flags & 7 == 6 and rev == 0 and n == 0 and 0 <= hold < 2000
    ref_mWh = b.unit.reference_Wh() * 1000
    assert 10_000_000 + ref_mWh - 1200 <= fwd <= 10_000_000 + ref_mWh
    # P alone, and the totals only when they are not the ones held: over 6 s of asking every
    # 300 ms both kinds of answer come, the energy grows window by window, and an answer
    # within the hold of the one before has the same generation
    kinds, last_hold, held = set(), hold, 0
    for k in range(20):
        [(cmd, _, p)] = b.ask(frame(0x04, 2 + k, bytes([0x0E]) + gen.to_bytes(2, "little")),
                              wait="300ms")
        parts, g, hold = struct.unpack("<BHH", p[:5])
        assert cmd == 0x84 and struct.unpack("<i", p[5:9])[0] == 20000      # P, 0.1 W
        if 300 + 50 < last_hold:                   # the answers are 300 ms apart
            assert g == gen, (k, last_hold)
            held += 1
        if g == gen:
            assert parts == 0x08 and len(p) == 9                            # no totals
        else:
            assert parts == 0x0A and len(p) == 29
            now_fwd = struct.unpack("<Q", p[9:17])[0]
            assert now_fwd > fwd
            fwd, gen = now_fwd, g
        kinds.add(parts)
        last_hold = hold
    assert kinds == {0x08, 0x0A} and held >= 3
    assert b.ask(frame(0x04, 30, b"\x01")) == [(0xFF, 30, bytes([0x04, 2]))]   # bad length


def test_a_unit_without_measure_is_asked_status_and_served_the_same(meter_image):
    # a metrology unit of an older firmware (STATUS only) at the end of the management unit's
    # link, played by the test: "unknown command" to MEASURE, then STATUS answers
    emu = metersim.Emulation(seed=1)
    m = metersim.build_meter(emu, meter_image, voltage_V=230.0, power_W=1000.0,
                             current_A=1000.0 / 230.0, energy_kWh=10.0)
    m.unit.plugged = False                                  # the emulated unit is not on it
    end = m.mu["metrology"]
    end.connected = True
    dec, asked = LinkDecoder(), []
    status = struct.pack("<IQQIHiihHH", 850_000_000, 1_234_560_000, 7_000, 0, 2301, 4321,
                         9876, 990, 5001, 3)

    def answer(b):
        got = dec.feed(b)
        if got is None:
            return
        cmd, seq, _ = got
        asked.append(cmd)
        end.send(frame(0x81, seq, status) if cmd == 0x01 else frame(0xFF, seq, bytes([cmd, 1])))
    end.on_receive(answer)
    con = metersim.capture_uart(m.mu)
    con.expect("metering: the metrology unit does not know MEASURE, asking STATUS", timeout="8s")
    con.expect("metering: metrology unit synchronised: forward 1234.56 kWh", timeout="1s")
    master = metersim.dlt645.Master(emu, m.mu["rs485Bus"].attach_host("pc", baud=2400, parity="E"))
    n = len(asked)
    assert master.read_value(0x02030000) == Decimal("0.9876")          # kW
    assert master.read_value(0x02010100) == Decimal("230.1")
    assert master.read_value(0x00020000) == Decimal("0.00")            # 7 Wh reverse
    emu.run_for("3s")
    assert asked.count(0x04) == 1 and set(asked[n:]) == {0x01}          # STATUS from then on
