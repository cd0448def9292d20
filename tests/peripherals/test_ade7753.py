"""ADE7753 model: SPI byte protocol, reset values, energy maths against the reference integrator."""

import logging
import math

import pytest

from metersim._orchestration import HarmonicProfile, ResistiveHeater, Supply
from metersim.peripherals.ade7753 import (
    Ade7753, FrontEnd, active_energy_lsb_Wh, cf_divisors_for, cf_imp_per_kWh,
)
from metersim.peripherals.ade7753_regs import (
    MODE_CYCMODE, MODE_DISCF, MODE_DISSAG, MODE_SWRST, MODE_TEMPSEL, ST_AEHF, ST_AEOF, ST_CYCEND,
    ST_PKV, ST_RESET, ST_SAG, ST_TEMPC, ST_ZXTO,
)
from metersim.peripherals.base import Context
from metersim._units import PS_PER_MS, PS_PER_S, PS_PER_US

S = PS_PER_S
MS = PS_PER_MS

# register addresses and byte widths
MODE, IRQEN, STATUS, RSTSTATUS = 0x09, 0x0A, 0x0B, 0x0C
AENERGY, RAENERGY, LAENERGY, VAENERGY = 0x02, 0x03, 0x04, 0x05
GAIN, PHCAL, APOS, WGAIN, CFNUM, CFDEN = 0x0F, 0x10, 0x11, 0x12, 0x14, 0x15
IRMS, VRMS, LINECYC, SAGCYC, SAGLVL = 0x16, 0x17, 0x1C, 0x1E, 0x1F
VPKLVL, VPEAK, TEMP, PERIOD, CHKSUM, DIEREV = 0x21, 0x24, 0x26, 0x27, 0x3E, 0x3F
WIDTH = {r.offset: (r.width + 7) // 8 for r in Ade7753.regmap}


class Bus:
    """Drives the chip exactly as an SPI controller would: CS GPIO plus transmit()."""

    def __init__(self, chip):
        self.chip = chip

    def read(self, addr, nbytes=None):
        n = nbytes or WIDTH.get(addr, 1)
        self.chip.on_gpio(0, False)
        assert self.chip.transmit(addr) == 0
        data = bytes(self.chip.transmit(0x00) for _ in range(n))
        self.chip.on_gpio(0, True)
        return int.from_bytes(data, "big")

    def write(self, addr, value, nbytes=None):
        n = nbytes or WIDTH[addr]
        self.chip.on_gpio(0, False)
        self.chip.transmit(0x80 | addr)
        for b in value.to_bytes(n, "big"):
            self.chip.transmit(b)
        self.chip.on_gpio(0, True)


def signed(v, bits):
    return v - (1 << bits) if v >> (bits - 1) else v


class EdgeCounter:
    def __init__(self):
        self.falls = []
        self.levels = []

    def on_gpio(self, pin, level):
        self.levels.append(level)
        if not level:
            self.falls.append(self.clock.now_ps)


def make(profile=None, **kw):
    ctx = Context.standalone("ade")
    chip = Ade7753(ctx, **kw)
    if profile is not None:
        chip.attach_load(profile)
    return ctx.clock, chip, Bus(chip)


# ------------------------------------------------------------------ reset values and protocol
def test_reset_values_drivers_rely_on():
    _, chip, bus = make()
    assert bus.read(CFNUM) == 0x3F          # ADI no-OS probes this to identify the part
    assert bus.read(MODE) == 0x000C         # DISCF and DISSAG set
    assert bus.read(IRQEN) == 0x0040
    assert bus.read(PHCAL) == 0x0D
    assert bus.read(LINECYC) == 0xFFFF
    assert bus.read(STATUS) & ST_RESET
    assert bus.read(DIEREV) == chip.die_rev
    assert chip.IRQ.level is True           # RESET is not routed to the pin


@pytest.mark.parametrize("addr,bits,value", [
    (GAIN, 8, 0xA5), (SAGLVL, 8, 0x3C), (PHCAL, 6, 0x2A), (WGAIN, 12, -5), (CFDEN, 12, 0xABC),
    (APOS, 16, -300), (LINECYC, 16, 0x1234), (IRQEN, 16, 0x0004),
])
def test_write_read_round_trip_through_spi_bytes(addr, bits, value):
    _, _, bus = make()
    bus.write(addr, value & ((1 << bits) - 1))
    raw = bus.read(addr)
    assert raw == value & ((1 << bits) - 1)
    assert (signed(raw, bits) if value < 0 else raw) == value


def test_wide_write_is_masked_to_register_width():
    _, _, bus = make()
    bus.write(CFNUM, 0xFFFF)
    assert bus.read(CFNUM) == 0x0FFF


def test_24_bit_signed_read_of_reverse_energy():
    p = HarmonicProfile.constant(230.0, 10.0, pf=-1.0)  # power flowing back to the grid
    clock, chip, bus = make(p)
    clock.run_for(2 * S)
    raw = bus.read(AENERGY)
    assert raw >> 23 == 1  # sign bit on the wire
    expected = p.energy(0, 2).active_Wh / chip.energy_lsb_Wh()
    assert signed(raw, 24) == pytest.approx(expected, abs=1.0)


def test_back_to_back_transfers_without_cs_toggle_and_aborted_write():
    _, chip, bus = make()
    chip.on_gpio(0, False)
    for b in (0x80 | GAIN, 0x21, CFNUM, 0, 0):
        chip.transmit(b)
    chip.on_gpio(0, True)
    assert bus.read(GAIN) == 0x21
    # CS high in the middle of a 16-bit write: nothing applied
    chip.on_gpio(0, False)
    chip.transmit(0x80 | LINECYC)
    chip.transmit(0x12)
    chip.on_gpio(0, True)
    assert bus.read(LINECYC) == 0xFFFF


def test_unknown_address_reads_zero_and_is_logged_once(caplog):
    _, _, bus = make()
    with caplog.at_level(logging.WARNING, logger="metersim"):
        assert bus.read(0x30, 3) == 0
        assert bus.read(0x30, 3) == 0
    assert sum("0x30" in r.getMessage() for r in caplog.records) == 1
    assert bus.read(CFNUM) == 0x3F  # protocol still in step


def test_read_only_register_ignores_writes_and_chksum_counts_ones():
    _, _, bus = make()
    bus.write(DIEREV, 0x77)
    rev = bus.read(DIEREV)
    assert rev != 0x77
    assert bus.read(CHKSUM) == bin(rev).count("1")
    bus.read(CFNUM)
    assert bus.read(CHKSUM) == 6


def test_software_reset_restores_defaults_and_sets_status_reset():
    clock, chip, bus = make()
    bus.write(CFNUM, 0x100)
    bus.read(RSTSTATUS)
    bus.write(MODE, MODE_SWRST)
    assert bus.read(CFNUM) == 0  # SPI ignored during the 18 us reset
    clock.run_for(20 * PS_PER_US)
    assert bus.read(CFNUM) == 0x3F
    assert bus.read(STATUS) & ST_RESET


def test_reset_pin_holds_the_chip_in_reset():
    clock, chip, bus = make(HarmonicProfile.constant(230.0, 10.0))
    clock.run_for(1 * S)
    bus.write(GAIN, 0x21)
    chip.on_gpio(1, False)
    clock.run_for(1 * S)
    chip.on_gpio(1, True)
    clock.run_for(20 * PS_PER_US)
    assert bus.read(GAIN) == 0
    assert bus.read(AENERGY) == 0  # energy restarts; nothing counted while held in reset


# ------------------------------------------------------------------ energy
@pytest.mark.parametrize("pf", [1.0, 0.5])
def test_sixty_seconds_agree_with_reference_within_0_01_percent(pf):
    p = HarmonicProfile.constant(220.0, 10.0, pf=pf)
    clock, chip, bus = make(p)
    clock.run_for(60 * S)
    lsb = active_energy_lsb_Wh(FrontEnd())  # default calibration, cabinet front end
    measured_Wh = signed(bus.read(AENERGY), 24) * lsb
    ref = p.energy(0.0, 60.0).active_Wh
    assert abs(measured_Wh - ref) / ref < 1e-4
    assert lsb == pytest.approx(chip.energy_lsb_Wh())


def test_raenergy_clears_on_read_aenergy_does_not_and_nothing_is_lost():
    p = HarmonicProfile.constant(230.0, 10.0)
    clock, chip, bus = make(p)
    total = 0
    for _ in range(7):
        clock.run_for(333 * MS)
        total += bus.read(RAENERGY)
    assert bus.read(RAENERGY) == 0
    a = bus.read(AENERGY)
    assert a == total and a == bus.read(AENERGY) > 0


def test_energy_scales_with_wgain_and_wdiv():
    p = HarmonicProfile.constant(230.0, 10.0)
    clock, chip, bus = make(p)
    bus.write(WGAIN, 0x400)    # +25 %
    bus.write(0x13, 2)         # WDIV
    clock.run_for(10 * S)
    ref = p.energy(0, 10).active_Wh / active_energy_lsb_Wh()
    assert bus.read(AENERGY) == pytest.approx(ref * 1.25 / 2, abs=1)


def test_aenergy_half_full_then_overflow_flags_and_irq():
    p = HarmonicProfile.constant(250.0, 60.0)
    clock, chip, bus = make(p)
    bus.write(IRQEN, ST_AEHF)
    rate = p.power_W(0.0) / 3600 / chip.energy_lsb_Wh()  # LSB per second
    t_half = (1 << 22) / rate
    clock.run_for(int((t_half - 0.01) * S))
    assert not bus.read(STATUS) & ST_AEHF and chip.IRQ.level is True
    clock.run_for(int(0.02 * S))
    assert chip.IRQ.level is False          # asserted by a scheduled event, not by a read
    assert bus.read(STATUS) & ST_AEHF
    assert not bus.read(STATUS) & ST_AEOF
    clock.run_for(int((1 << 22) / rate * S))
    assert bus.read(RSTSTATUS) & ST_AEOF
    assert chip.IRQ.level is True           # RSTSTATUS released the pin
    assert signed(bus.read(AENERGY), 24) < 0  # wrapped past 0x7FFFFF


def test_line_cycle_accumulation_latches_and_raises_irq_at_cycend():
    p = HarmonicProfile.constant(230.0, 10.0, pf=0.8)
    clock, chip, bus = make(p)
    clock.run_for(3 * MS)
    bus.write(LINECYC, 100)                 # 100 half cycles = 1 s at 50 Hz
    bus.write(IRQEN, ST_CYCEND)
    bus.write(MODE, 0x000C | MODE_CYCMODE)
    # first zero crossing after 3 ms is at 10 ms; the latch comes 100 crossings later
    clock.run_for(1007 * MS - 1)
    assert chip.IRQ.level is True
    clock.run_for(2)
    assert chip.IRQ.level is False
    assert bus.read(RSTSTATUS) & ST_CYCEND
    expected = p.energy(0.01, 1.01).active_Wh / chip.energy_lsb_Wh()
    assert signed(bus.read(LAENERGY), 24) == pytest.approx(expected, abs=1)
    clock.run_for(1 * S)
    assert chip.IRQ.level is False          # the next period latched again


def test_cf_pulses_over_a_minute_match_the_meter_constant():
    p = HarmonicProfile.constant(220.0, 10.0)
    clock, chip, bus = make(p)
    cfnum, cfden = cf_divisors_for(3200.0)
    assert cf_imp_per_kWh(cfnum=cfnum, cfden=cfden) == pytest.approx(3200.0, rel=1e-3)
    counter = EdgeCounter()
    counter.clock = clock
    chip.CF.connect(counter)
    bus.write(CFNUM, cfnum)
    bus.write(CFDEN, cfden)
    bus.write(MODE, 0x000C & ~MODE_DISCF)
    clock.run_for(60 * S)
    expected = p.energy(0, 60).active_Wh / 1000 * cf_imp_per_kWh(cfnum=cfnum, cfden=cfden)
    assert len(counter.falls) == math.floor(expected) == chip.cf_pulses
    gaps = [b - a for a, b in zip(counter.falls, counter.falls[1:])]
    assert max(gaps) - min(gaps) < 2 * MS  # evenly spaced at a constant load


def test_cf_is_silent_while_discf_is_set():
    clock, chip, _ = make(HarmonicProfile.constant(220.0, 10.0))
    counter = EdgeCounter()
    counter.clock = clock
    chip.CF.connect(counter)
    clock.run_for(10 * S)
    assert counter.falls == [] and chip.cf_pulses == 0


# ------------------------------------------------------------------ rms, period, peaks, sag, zx
def test_vrms_irms_proportional_to_input():
    codes = {}
    for v, i in ((220.0, 10.0), (110.0, 5.0)):
        clock, chip, bus = make(HarmonicProfile.constant(v, i))
        clock.run_for(100 * MS)
        codes[v] = (bus.read(VRMS), bus.read(IRMS))
    assert codes[110.0][0] / codes[220.0][0] == pytest.approx(0.5, abs=1e-5)
    assert codes[110.0][1] / codes[220.0][1] == pytest.approx(0.5, abs=1e-5)
    # 220 V through 1000:1 is 0.311 V peak of the 0.5 V full scale
    assert codes[220.0][0] == pytest.approx(1_561_400 * 220 * math.sqrt(2) / 1000 / 0.5, rel=1e-6)


@pytest.mark.parametrize("freq,code", [(50.0, 8949), (60.0, 7457)])
def test_period_register_follows_line_frequency(freq, code):
    clock, _, bus = make(HarmonicProfile.constant(230.0, 1.0, freq_hz=freq))
    clock.run_for(50 * MS)
    assert bus.read(PERIOD) == code


def test_sag_flag_and_irq_during_a_sag():
    p = Supply(230.0, 50.0).sag(1.0, 0.5, retained=0.3).profile(ResistiveHeater(1000.0))
    clock, chip, bus = make(p)
    bus.write(SAGLVL, 0x10)
    bus.write(SAGCYC, 4)
    bus.write(IRQEN, ST_SAG)
    bus.write(MODE, 0x000C & ~MODE_DISSAG)
    clock.run_for(1039 * MS)
    assert chip.IRQ.level is True and not bus.read(STATUS) & ST_SAG
    clock.run_for(2 * MS)                   # 4 half cycles after the sag began
    assert chip.IRQ.level is False
    assert bus.read(RSTSTATUS) & ST_SAG
    clock.run_for(2 * S)
    assert not bus.read(STATUS) & ST_SAG    # one flag per sag


def test_no_sag_flag_while_dissag_is_set_at_reset():
    p = Supply(230.0, 50.0).sag(1.0, 0.5, retained=0.3).profile(ResistiveHeater(1000.0))
    clock, chip, bus = make(p)
    bus.write(SAGLVL, 0x10)
    bus.write(SAGCYC, 4)
    clock.run_for(2 * S)
    assert not bus.read(STATUS) & ST_SAG


def test_vpeak_and_pkv_against_level():
    p = Supply(230.0, 50.0).swell(1.0, 0.2, factor=1.2).profile(ResistiveHeater(500.0))
    clock, _, bus = make(p)
    normal = int(230 * math.sqrt(2) / 1000 / 0.5 * 0x2852)
    bus.write(VPKLVL, (normal >> 8) + 1)
    clock.run_for(900 * MS)
    assert bus.read(0x25) == normal         # RSTVPEAK, then cleared
    assert not bus.read(STATUS) & ST_PKV
    clock.run_for(500 * MS)
    assert bus.read(VPEAK) == int(1.2 * 230 * math.sqrt(2) / 1000 / 0.5 * 0x2852)
    assert bus.read(STATUS) & ST_PKV


def test_zx_pin_toggles_at_zero_crossings_and_zxto_in_outage():
    p = Supply(230.0, 50.0).outage(1.0, 0.5).profile(ResistiveHeater(500.0))
    clock, chip, bus = make(p)
    zx = EdgeCounter()
    zx.clock = clock
    chip.ZX.connect(zx)
    bus.write(IRQEN, ST_ZXTO)
    clock.run_for(1 * S)
    assert 99 <= len(zx.levels) <= 100 and len(zx.falls) == 50
    assert chip.IRQ.level is True
    clock.run_for(200 * MS)                 # ZXTOUT 0xFFF * 128 / CLKIN = 146 ms
    assert chip.IRQ.level is False and bus.read(RSTSTATUS) & ST_ZXTO
    n = len(zx.levels)
    clock.run_for(200 * MS)
    assert len(zx.levels) == n              # no crossings while the supply is out


def test_temperature_conversion_sets_tempc():
    clock, chip, bus = make(temperature_C=40.0)
    bus.write(MODE, 0x000C | MODE_TEMPSEL)
    clock.run_for(30 * PS_PER_US)
    assert bus.read(STATUS) & ST_TEMPC
    assert bus.read(MODE) & MODE_TEMPSEL == 0
    assert signed(bus.read(TEMP), 8) == round(40.0 / 0.67 + 25)


def test_idle_chip_schedules_nothing():
    clock, chip, bus = make(HarmonicProfile.constant(230.0, 10.0))
    clock.run_for(10 * S)
    assert clock.pending() == 0
    assert bus.read(AENERGY) > 0            # yet energy is there when read


def test_energy_lsb_follows_front_end():
    base = active_energy_lsb_Wh(FrontEnd())
    assert active_energy_lsb_Wh(FrontEnd(burden_ohm=5.0)) == pytest.approx(2 * base)
    assert active_energy_lsb_Wh(FrontEnd(), gain=0x01) == pytest.approx(base / 2)  # PGA1 x2
    # cabinet numbers: 500 V x 125 A peak full scale over 22 372 LSB/s
    assert base == pytest.approx(500 * 125 / 2 / (0xCCCCD * 3_579_545 / 4 / 2**25) / 3600, rel=1e-12)


# ------------------------------------------------------------------ calibration registers and modes
def test_phcal_shifts_the_voltage_channel_by_8_clkin_per_lsb():
    p = HarmonicProfile.constant(220.0, 10.0, pf=0.5)
    clock, chip, bus = make(p)
    bus.write(PHCAL, 0x0D + 10)  # 10 LSB = 22.35 us of voltage delay = 0.402 deg at 50 Hz
    clock.run_for(10 * S)
    shift = 2 * math.pi * 50 * 10 * 8 / 3_579_545
    expected = 220 * 10 * math.cos(math.acos(0.5) - shift) * 10 / 3600 / chip.energy_lsb_Wh()
    got = bus.read(AENERGY)
    assert got == pytest.approx(expected, abs=1)
    assert got > 1.01 * p.energy(0, 10).active_Wh / chip.energy_lsb_Wh()  # a visible 1.2 % change


def test_vaenergy_and_lvarenergy_track_apparent_and_reactive_energy():
    p = HarmonicProfile.constant(230.0, 10.0, pf=0.8)
    clock, chip, bus = make(p)
    bus.write(LINECYC, 200)
    bus.write(MODE, 0x000C | MODE_CYCMODE)
    clock.run_for(5 * S)
    va = bus.read(VAENERGY)
    assert va * chip.va_energy_lsb_VAh() == pytest.approx(p.energy(0, 5).apparent_VAh, rel=1e-4)
    lvar = signed(bus.read(0x08), 24)
    la = signed(bus.read(LAENERGY), 24)
    assert lvar / la == pytest.approx(0.75, abs=2 / la)  # tan(acos 0.8); lagging -> positive
    lva = bus.read(0x07)
    assert lva * chip.va_energy_lsb_VAh() == pytest.approx(230 * 10 * 2 / 3600, rel=1e-4)


def test_poam_ignores_reverse_power():
    p = HarmonicProfile.constant(230.0, 10.0, pf=-1.0)
    clock, chip, bus = make(p)
    bus.write(MODE, 0x000C | 0x8000)
    clock.run_for(5 * S)
    assert bus.read(AENERGY) == 0


def test_power_direction_flags():
    from metersim._orchestration import Segment
    p = HarmonicProfile([Segment(0.0, 50.0, v=[(1, 230.0)], i=[(1, 5.0)]),
                         Segment(1.0, 50.0, v=[(1, 230.0)], i=[(1, 5.0, math.pi)]),
                         Segment(2.0, 50.0, v=[(1, 230.0)], i=[(1, 5.0)])])
    clock, chip, bus = make(p)
    bus.write(IRQEN, 1 << 14)                # PNEG
    clock.run_for(999 * MS)
    assert chip.IRQ.level is True
    clock.run_for(2 * MS)
    assert chip.IRQ.level is False           # reversal seen at 1 s without any read
    st = bus.read(RSTSTATUS)
    assert st & (1 << 14) and not st & (1 << 13)
    clock.run_for(1500 * MS)
    assert bus.read(STATUS) & (1 << 13)      # PPOS at 2 s


def test_waveform_register_samples_channel_2():
    p = HarmonicProfile.constant(230.0, 10.0)
    clock, chip, bus = make(p)
    bus.write(MODE, 0x000C | (3 << 13))      # WAVSEL = channel 2
    clock.run_for(5 * MS)                    # voltage peak (quarter cycle)
    code = signed(bus.read(0x01), 24)
    assert code == pytest.approx(230 * math.sqrt(2) / 1000 / 0.5 * 0x2852, rel=1e-3)
    clock.run_for(10 * MS)                   # negative peak
    assert signed(bus.read(0x01), 24) == pytest.approx(-code, rel=1e-3)


def test_sampled_recording_drives_the_chip():
    import numpy as np
    from metersim._orchestration import SampledProfile
    rate = 20_000.0
    t = np.arange(int(rate * 2.0)) / rate
    v = 230 * math.sqrt(2) * np.sin(2 * np.pi * 50 * t)
    i = 8 * math.sqrt(2) * np.sin(2 * np.pi * 50 * t - 0.3)
    p = SampledProfile(v, i, rate)
    clock, chip, bus = make(p)
    clock.run_for(1900 * MS)
    assert bus.read(AENERGY) * chip.energy_lsb_Wh() == pytest.approx(
        230 * 8 * math.cos(0.3) * 1.9 / 3600, rel=1e-3)
    assert bus.read(PERIOD) == 8949


def test_front_end_keywords_for_platform_files():
    ctx = Context.standalone()
    chip = Ade7753(ctx, burden_ohm="5", v_divider_ratio=2000)
    assert chip.front_end == FrontEnd(2000.0, 2500.0, 5.0)
    assert chip.energy_lsb_Wh() == pytest.approx(4 * active_energy_lsb_Wh(FrontEnd()))


def _cabinet_burst_readings(fast: bool, monkeypatch) -> tuple[list, list]:
    """What a cabinet controller reads from one room over 12 s: RAENERGY, IRMS, VRMS, PERIOD
    every second, as bytes 15 us apart, while a motor starts (inrush), runs and stops, with
    PHCAL and IRQs on AEHF/PNEG/PKI, and the IRQ pin's edges."""
    from metersim._orchestration import Motor

    monkeypatch.setattr(Ade7753, "fast_segments", fast)
    p = Supply().profile(Motor(1500.0, pf=0.8, inrush_factor=4.0, inrush_s=0.4,
                               schedule=[(2.0, 7.5)]), end_s=20.0)
    clock, chip, bus = make(p)
    falls = EdgeCounter()
    falls.clock = clock
    chip.IRQ.connect(falls, 0)
    bus.write(PHCAL, 0x10)
    bus.write(IRQEN, ST_AEHF | (1 << 14) | (1 << 11))
    out = []
    for _ in range(12):
        clock.run_for(1 * S - 4 * 60 * PS_PER_US)
        for reg in (RAENERGY, IRMS, VRMS, PERIOD):
            clock.run_for(60 * PS_PER_US)
            out.append((clock.now_ps, reg, bus.read(reg)))
    # the accumulators below the register LSB too: the shortcut must agree to the bit
    tail = [bus.read(RSTSTATUS), chip.cf_pulses, chip._acc_a, chip._frac_a, chip._acc_va,
            chip._frac_va, chip._cf_frac] + falls.falls
    return out, tail


def test_single_segment_shortcut_reads_the_same_registers_as_the_profile_integrals(monkeypatch):
    fast = _cabinet_burst_readings(True, monkeypatch)
    slow = _cabinet_burst_readings(False, monkeypatch)
    assert fast == slow
    energies = [v for _, reg, v in fast[0] if reg == RAENERGY]
    assert energies[0] == energies[9] == 0                      # motor off before 2 s, after 7.5 s
    assert energies[2] > energies[4] > 0                        # inrush, then running


def test_segment_change_exactly_at_a_read_is_seen_once():
    """A load reversal starting exactly at the instant of a read: that read already sees the
    reversal (PNEG), it is not flagged again later, and the energy on each side matches the
    reference."""
    from metersim._orchestration import Segment

    p = HarmonicProfile([Segment(0.0, 50.0, v=[(1, 230.0)], i=[(1, 5.0)]),
                         Segment(1.0, 50.0, v=[(1, 230.0)], i=[(1, 5.0, math.pi)])], end_s=3.0)
    clock, chip, bus = make(p)
    clock.run_for(1 * S)                      # exactly at the segment start
    first = signed(bus.read(RAENERGY), 24)
    assert bus.read(RSTSTATUS) & (1 << 14)    # PNEG at the segment's first instant
    clock.run_for(1 * S)
    second = signed(bus.read(RAENERGY), 24)
    assert not bus.read(STATUS) & (1 << 14)
    ref = p.energy(0.0, 1.0).active_Wh / chip.energy_lsb_Wh()
    assert first == pytest.approx(ref, abs=1) and second == pytest.approx(-ref, abs=1)


def test_linecyc_lowered_during_a_line_cycle_period_ends_it_at_the_next_crossing():
    """Firmware shortening LINECYC while line-cycle accumulation runs: the period already
    past the new count ends at the next zero crossing (it used to crash the model)."""
    p = HarmonicProfile.constant(230.0, 10.0)
    clock, chip, bus = make(p)
    bus.write(LINECYC, 100)
    bus.write(IRQEN, ST_CYCEND)
    bus.write(MODE, 0x000C | MODE_CYCMODE)
    clock.run_for(505 * MS)                 # 50 half cycles into a 100-half-cycle period
    bus.write(LINECYC, 10)
    assert chip.IRQ.level is True
    clock.run_for(10 * MS)                  # the next crossing (at 510 ms) closes the period
    assert chip.IRQ.level is False and bus.read(RSTSTATUS) & ST_CYCEND
    expected = p.energy(0.01, 0.51).active_Wh / chip.energy_lsb_Wh()
    assert signed(bus.read(LAENERGY), 24) == pytest.approx(expected, abs=1)
    clock.run_for(100 * MS)                 # then every 10 half cycles
    assert chip.IRQ.level is False


def test_gain_divider_and_channel_writes_take_effect_from_the_write_on():
    # The chip keeps its channel scales between reads: each write must still change the rate.
    p = HarmonicProfile.constant(230.0, 2.0)
    clock, chip, bus = make(p)
    clock.run_for(5 * S)
    a1, va1 = bus.read(AENERGY), bus.read(VAENERGY)
    assert a1 > 0 and va1 > 0
    bus.write(GAIN, 0x01)                       # PGA1 x2: twice the active and apparent rate
    clock.run_for(5 * S)
    a2, va2 = bus.read(AENERGY), bus.read(VAENERGY)
    assert a2 - a1 == pytest.approx(2 * a1, abs=2) and va2 - va1 == pytest.approx(2 * va1, abs=2)
    bus.write(0x1B, 2)                          # VADIV 2: apparent back to the x1 rate
    clock.run_for(5 * S)
    a3, va3 = bus.read(AENERGY), bus.read(VAENERGY)
    assert a3 - a2 == pytest.approx(2 * a1, abs=2) and va3 - va2 == pytest.approx(va1, abs=2)
    bus.write(MODE, 0x000C | (1 << 8))          # DISCH1: channel 1 off, no more energy
    clock.run_for(5 * S)
    assert bus.read(AENERGY) == a3 and bus.read(VAENERGY) == va3
