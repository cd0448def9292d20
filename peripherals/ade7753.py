"""ADE7753 single-phase energy-metering IC: SPI registers, energy maths, IRQ / CF / ZX outputs.

Followed (ADE7753 data sheet Rev. C, via /work/shared/reference/protocols-and-chips.md section 3):
- SPI (section 3.1): CS low, one communications byte (bit 7 = write, bits 5..0 = address), then
  the register's bytes MSB first (12-bit registers in two bytes, 6-bit in one). After a complete
  transfer the part expects a new communications byte even if CS stays low; CS high mid-transfer
  aborts and an incomplete write is not applied. SPI modes and the t9 >= 4 us gap are not checked.
- Register map (section 3.2, `ade7753_regs.py`), MODE / STATUS bits (section 3.3), reset values
  drivers rely on (section 3.6): CFNUM 0x3F, MODE 0x000C, IRQEN 0x0040, STATUS.RESET set 18 us
  after a software reset (MODE.SWRST) or after the RESET pin (GPIO input 1, active low) rises.
- Active energy (pp. 29-31, eq. 11): LPF2 output is 0xCCCCD for full-scale sinusoids in phase on
  both channels (0.5 V peak at the PGA output), P' = (P_LPF2 + APOS/256) * (1 + WGAIN/2^12),
  divided by WDIV (0 = 1) and added every 4/CLKIN into a 49-bit signed accumulator whose bits
  48..25 are AENERGY. AEHF when |AENERGY| passes 0x400000, AEOF when it wraps. MODE.POAM drops
  negative power. RAENERGY is the same quantity reset on read (sub-LSB remainder kept).
- Apparent energy (p. 46, eq. 68, preliminary data sheet figs. 43-44): full-scale VA signal
  0xD1B71 [R], * (1 + VAGAIN/2^12) / VADIV, 48-bit accumulator, VAENERGY = bits 47..24 [R];
  VAEHF at 0x800000, VAEOF on wrap.
- Line-cycle mode (MODE.CYCMODE): from the first voltage zero crossing after it is set, every
  LINECYC zero crossings (half line cycles) latch LAENERGY / LVAENERGY / LVARENERGY and set CYCEND.
  LVARENERGY uses the active-power scale applied to Budeanu reactive power [R].
- CF (p. 31): f_CF = f(AENERGY LSBs before WDIV) * (CFNUM+1)/(CFDEN+1); off while MODE.DISCF.
  Active-low pulses of 90 ms, or half the period when faster [R].
- RMS (p. 46, eqs. 64, 66): VRMS = VRMS0 + VRMSOS, IRMS^2 = IRMS0^2 + 32768 IRMSOS with full-scale
  sinusoid codes 1 868 467 (IRMS) and 1 561 400 (VRMS) [R].
- PERIOD = CLKIN / (8 f_line); ZX: STATUS.ZX on rising voltage zero crossings [R], the ZX pin a
  square wave (high after a rising crossing); ZXTO when no crossing for ZXTOUT * 128/CLKIN.
- Peaks: IPEAK / VPEAK in waveform codes (ch1 full scale 0x2851EC, ch2 0x2852); PKI / PKV when the
  upper byte (bits 23..16 of ch1, 15..8 of ch2) exceeds IPKLVL / VPKLVL. SAG when the ch2 peak's
  upper byte stays below SAGLVL for SAGCYC half cycles (unless MODE.DISSAG, set at reset).
- TEMP: MODE.TEMPSEL starts a conversion; after 26.8 us [R] TEMP = T/0.67 + 25 [R, Linux driver
  scale and offset] and TEMPC is set. CHKSUM = number of 1 bits in the last register read.
- IRQ (open drain, active low: level False = asserted) while STATUS & IRQEN (RESET excluded).

How it runs: nothing is computed per sample. The model keeps the accumulators at the last sync
time and brings them up to `clock.now_ps` in closed form from the attached `LoadProfile`
(integrals over the elapsed interval, with the sub-LSB fraction carried) whenever a register is
read or written or an event is due. When the interval lies inside one segment of a piecewise-
constant profile (a HarmonicProfile), the segment's powers and peaks are looked up once and the
integrals are plain products (the same floating-point operations the profile does, so the
registers are the same to the bit as through the profile's integrals). Events are scheduled only
when something outside must see
a change at its exact time: an IRQ whose source is enabled in IRQEN, the CF pin when connected and
enabled, the ZX pin when connected, reset completion, temperature conversion.

Analog front end: channel 2 sees v / v_divider_ratio, channel 1 sees i / ct_ratio * burden_ohm
(or i * shunt_ohm). Defaults match the prepaid cabinet: 1000:1 divider, 50 A / 20 mA CT with a
10 ohm burden. `attach_load(profile, v_scale, i_scale)` overrides with volts-at-the-pin per volt /
per amp.

Not modelled: ADC noise, non-linearity and clipping of over-range inputs (logged once), the HPF
and LPF1/LPF2/LPF3 dynamics (mean values are used, so a step shows at once), DC content and
CH1OS / CH2OS offsets (stored only), the di/dt integrator, SWAP, DISLPF2, WAVEFORM filtering
(samples are the instantaneous profile values), the SAG output pin, CLKOUT, and SPI bit timing.
"""

from __future__ import annotations

import bisect
import logging
import math
import operator
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from metersim._errors import SetupError
from metersim.peripherals.ade7753_regs import (
    ADE7753_REGS, DIEREV_DEFAULT, MODE_ASUSPEND, MODE_CYCMODE, MODE_DISCF, MODE_DISCH1,
    MODE_DISCH2, MODE_DISSAG, MODE_DTRT_SHIFT, MODE_POAM, MODE_SWRST, MODE_TEMPSEL,
    MODE_WAVSEL_SHIFT, ST_AEHF, ST_AEOF, ST_CYCEND, ST_PKI, ST_PKV, ST_PNEG, ST_PPOS, ST_RESET,
    ST_SAG, ST_TEMPC, ST_VAEHF, ST_VAEOF, ST_WSMP, ST_ZX, ST_ZXTO,
)
from metersim.peripherals.base import GPIO, Context, SPIDevice
from metersim.peripherals.registry import model
from metersim._units import PS_PER_S, PS_PER_US

CLKIN_HZ = 3_579_545
P_FULL_SCALE = 0xCCCCD        # LPF2 output, full-scale in-phase sinusoids, WGAIN = 0
VA_FULL_SCALE = 0xD1B71       # apparent power signal at full scale [R]
IRMS_FULL_SCALE = 1_868_467   # IRMS code for a full-scale sinusoid [R]
VRMS_FULL_SCALE = 1_561_400   # VRMS code for a full-scale sinusoid [R]
CH1_WAVE_FULL_SCALE = 0x2851EC
CH2_WAVE_FULL_SCALE = 0x2852
ACTIVE_SHIFT = 25             # AENERGY = accumulator bits 48..25
VA_SHIFT = 24                 # VAENERGY = accumulator bits 47..24 [R]
RESET_PS = 18 * PS_PER_US
TEMP_CONVERSION_PS = 26_800_000  # 26.8 us [R]
CF_PULSE_PS = 90 * 1_000_000_000  # 90 ms [R]
_M24 = 1 << 24
ZC_WINDOW_S = 2.0             # zero crossings are looked up this far ahead (see _crossings);
                              # cabinet controllers come back to each chip about once a second
# Registers whose read value is computed (or has read side effects) in Ade7753._value.
_COMPUTED = frozenset({
    "WAVEFORM", "AENERGY", "RAENERGY", "VAENERGY", "RVAENERGY", "STATUS", "RSTSTATUS", "IRMS",
    "VRMS", "IPEAK", "RSTIPEAK", "VPEAK", "RSTVPEAK", "PERIOD"})


class Ade7753Error(SetupError):
    """Bad configuration of the ADE7753 model."""


@dataclass(frozen=True)
class FrontEnd:
    """Voltage divider and current sensor between the mains and the chip's inputs.

    v_divider_ratio: line volts per volt at V2P (1000 means 230 V rms -> 0.23 V rms).
    ct_ratio, burden_ohm: the CT's primary/secondary ratio (50 A / 20 mA = 2500) and burden;
    or shunt_ohm for a shunt (then the CT fields are ignored).
    """

    v_divider_ratio: float = 1000.0
    ct_ratio: float = 2500.0
    burden_ohm: float = 10.0
    shunt_ohm: float | None = None

    def __post_init__(self) -> None:
        if not self.v_divider_ratio > 0:
            raise Ade7753Error(f"v_divider_ratio must be > 0, got {self.v_divider_ratio!r}")
        if self.shunt_ohm is None:
            if not (self.ct_ratio > 0 and self.burden_ohm > 0):
                raise Ade7753Error("ct_ratio and burden_ohm must be > 0")
        elif not self.shunt_ohm > 0:
            raise Ade7753Error(f"shunt_ohm must be > 0, got {self.shunt_ohm!r}")

    @property
    def v_scale(self) -> float:
        """Volts at the voltage input per line volt."""
        return 1.0 / self.v_divider_ratio

    @property
    def i_scale(self) -> float:
        """Volts at the current input per line amp."""
        return self.shunt_ohm if self.shunt_ohm is not None else self.burden_ohm / self.ct_ratio


def _gains(gain_reg: int) -> tuple[float, float, float]:
    """(PGA1, channel-1 full scale V, PGA2) from the GAIN register."""
    pga1 = float(min(1 << (gain_reg & 7), 16))
    fs1 = (0.5, 0.25, 0.125, 0.125)[(gain_reg >> 3) & 3]
    pga2 = float(min(1 << ((gain_reg >> 5) & 7), 16))
    return pga1, fs1, pga2


def _signed(raw: int, bits: int) -> int:
    raw &= (1 << bits) - 1
    return raw - (1 << bits) if raw >> (bits - 1) else raw


def _norm_scales(v_scale: float, i_scale: float, gain_reg: int) -> tuple[float, float]:
    """Channel signals as fractions of full scale (peak): per line amp (ch1), per line volt (ch2)."""
    pga1, fs1, pga2 = _gains(gain_reg)
    return i_scale * pga1 / fs1, v_scale * pga2 / 0.5


def _active_units_per_J(k1: float, k2: float, clkin_hz: float) -> float:
    # mean(x1*x2) = 0.5 for full-scale in-phase sinusoids gives P_FULL_SCALE every 4/CLKIN.
    return 2.0 * P_FULL_SCALE * (clkin_hz / 4.0) * k1 * k2


def active_energy_lsb_Wh(front_end: FrontEnd | None = None, gain: int = 0, wgain: int = 0,
                         wdiv: int = 0, clkin_hz: float = CLKIN_HZ) -> float:
    """Watt-hours per AENERGY / RAENERGY / LAENERGY LSB for a front end and calibration."""
    fe = front_end or FrontEnd()
    k1, k2 = _norm_scales(fe.v_scale, fe.i_scale, gain)
    units = _active_units_per_J(k1, k2, clkin_hz) * (1 + _signed(wgain, 12) / 4096) / (wdiv or 1)
    return (1 << ACTIVE_SHIFT) / units / 3600.0


def apparent_energy_lsb_VAh(front_end: FrontEnd | None = None, gain: int = 0, vagain: int = 0,
                            vadiv: int = 0, clkin_hz: float = CLKIN_HZ) -> float:
    """VA-hours per VAENERGY LSB."""
    fe = front_end or FrontEnd()
    k1, k2 = _norm_scales(fe.v_scale, fe.i_scale, gain)
    units = 2.0 * VA_FULL_SCALE * (clkin_hz / 4.0) * k1 * k2 * (1 + _signed(vagain, 12) / 4096) / (vadiv or 1)
    return (1 << VA_SHIFT) / units / 3600.0


def cf_imp_per_kWh(front_end: FrontEnd | None = None, gain: int = 0, wgain: int = 0,
                   cfnum: int = 0x3F, cfden: int = 0x3F, clkin_hz: float = CLKIN_HZ) -> float:
    """Meter constant (CF pulses per kWh) for a front end and CF divider (WDIV does not apply)."""
    lsb_Wh = active_energy_lsb_Wh(front_end, gain, wgain, 0, clkin_hz)
    return 1000.0 / lsb_Wh * (cfnum + 1) / (cfden + 1)


def cf_divisors_for(meter_constant_imp_per_kWh: float, front_end: FrontEnd | None = None,
                    gain: int = 0, wgain: int = 0, clkin_hz: float = CLKIN_HZ) -> tuple[int, int]:
    """(CFNUM, CFDEN) giving the closest meter constant the 12-bit divider can express."""
    native = cf_imp_per_kWh(front_end, gain, wgain, 0, 0, clkin_hz)
    ratio = meter_constant_imp_per_kWh / native
    if not ratio > 0:
        raise Ade7753Error(f"meter constant must be > 0, got {meter_constant_imp_per_kWh!r}")
    if ratio <= 1:
        f = Fraction(ratio).limit_denominator(4096)
        num, den = max(f.numerator, 1), f.denominator
    else:
        f = Fraction(1 / ratio).limit_denominator(4096)
        num, den = f.denominator, max(f.numerator, 1)
    if num > 4096 or den > 4096:
        raise Ade7753Error(f"meter constant {meter_constant_imp_per_kWh} imp/kWh is out of the CF "
                           f"divider's range for this front end (native {native:.6g} imp/kWh)")
    return num - 1, den - 1


@dataclass(frozen=True)
class _Segment:
    """One segment of a piecewise-constant load: mean powers (v delayed by PHCAL) and peaks."""

    p_W: float
    p_pos_W: float
    q_var: float
    s_VA: float
    vpk: float
    ipk: float


def _count_up(l0: int, l1: int, r: int, m: int = _M24) -> bool:
    """Some value congruent to r (mod m) lies in (l0, l1]."""
    return (l1 - r) // m > (l0 - r) // m


@model("Sensors.ADE7753", "metersim.ADE7753")
class Ade7753(SPIDevice):
    """ADE7753 on an SPI bus. Inputs: GPIO 0 = CS (active low), 1 = RESET (active low).
    Outputs: `IRQ` (active low), `CF` (active-low pulses), `ZX` (square wave)."""

    regmap = ADE7753_REGS
    fast_segments = True   # single-segment intervals from cached segment constants (see above)

    def __init__(self, ctx: Context, front_end: FrontEnd | None = None, clkin_hz: int = CLKIN_HZ,
                 die_rev: int = DIEREV_DEFAULT, temperature_C: float = 25.0,
                 v_divider_ratio: float | None = None, ct_ratio: float | None = None,
                 burden_ohm: float | None = None, shunt_ohm: float | None = None):
        self.ctx = ctx
        fe = front_end or FrontEnd()
        # Flat keyword overrides so a .repl entry can set the front end without a FrontEnd object.
        self.front_end = FrontEnd(
            float(v_divider_ratio) if v_divider_ratio is not None else fe.v_divider_ratio,
            float(ct_ratio) if ct_ratio is not None else fe.ct_ratio,
            float(burden_ohm) if burden_ohm is not None else fe.burden_ohm,
            float(shunt_ohm) if shunt_ohm is not None else fe.shunt_ohm)
        if not clkin_hz > 0:
            raise Ade7753Error(f"clkin_hz must be > 0, got {clkin_hz!r}")
        self.clkin_hz = int(clkin_hz)
        self.die_rev = int(die_rev) & 0xFF
        self.temperature_C = float(temperature_C)
        self.IRQ = GPIO("IRQ", True)
        self.CF = GPIO("CF", True)
        self.ZX = GPIO("ZX", False)
        self._profile = None
        self._origin_ps = 0
        self._v_scale = self.front_end.v_scale
        self._i_scale = self.front_end.i_scale
        self._segment = None   # (profile, segment end, v delay, _Segment) of the last lookup
        self._zc_cache = None  # (profile, a, b, crossing times, rising) of (a, b], see _crossings
        self._k_memo = None    # (inputs, (k1, k2)) of the last _k
        self._va_memo = None   # (inputs, units) of the last _va_units_per_J
        self._event = None
        self._reset_event = None
        self._temp_event = None
        self._hold_reset = False
        self._spi_idle()
        self._reset_state()
        self.regs["STATUS"] = ST_RESET  # power-on reset completed before time 0

    # ------------------------------------------------------------------ wiring / identity
    @property
    def name(self) -> str:
        return self.ctx.name

    def outputs(self) -> dict[str, GPIO]:
        return {"IRQ": self.IRQ, "CF": self.CF, "ZX": self.ZX}

    def attach_load(self, profile, v_scale: float | None = None, i_scale: float | None = None,
                    origin_ps: int = 0) -> None:
        """Feed the chip from `profile`; profile time 0 is virtual time `origin_ps`.

        v_scale / i_scale: volts at the chip's inputs per line volt / line amp (default: from
        `front_end`). Energy up to now stays accumulated from the previous load.
        """
        for n in ("integrals", "zero_crossing_lists", "peak_track", "power_W"):
            if profile is not None and not hasattr(profile, n):
                raise Ade7753Error(f"{profile!r} is not a LoadProfile (no {n})")
        if v_scale is not None and not v_scale > 0 or i_scale is not None and not i_scale > 0:
            raise Ade7753Error("v_scale and i_scale must be > 0")
        self._sync()
        self._profile = profile
        self._segment = None
        self._origin_ps = int(origin_ps)
        self._v_scale = float(v_scale) if v_scale is not None else self.front_end.v_scale
        self._i_scale = float(i_scale) if i_scale is not None else self.front_end.i_scale
        self._last_zx_s = self._now_s()
        self._zx_level = self._voltage_positive()
        self.ZX.set(self._zx_level)
        self._check_range()
        self._reschedule()

    def _voltage_positive(self) -> bool:
        """Sign of the voltage just after now (the ZX pin's level between crossings)."""
        p = self._profile
        t = self._pt(self._now_s()) + 1e-9
        if p is None or not p.start_s <= t <= p.end_s:
            return False
        v, _ = p.waveforms(np.array([t]))
        return bool(v[0] > 0)

    def energy_lsb_Wh(self) -> float:
        """Wh per AENERGY LSB with the current GAIN, WGAIN, WDIV and input scales."""
        return (1 << ACTIVE_SHIFT) / self._active_units_per_J_cal() / 3600.0

    def va_energy_lsb_VAh(self) -> float:
        return (1 << VA_SHIFT) / self._va_units_per_J() / 3600.0

    @property
    def cf_pulses(self) -> int:
        """CF pulses produced so far (counted whether or not the CF pin is connected)."""
        self._sync()
        return self._cf_int

    # ------------------------------------------------------------------ GPIO inputs
    def on_gpio(self, pin: int, level: bool) -> None:
        if pin == 0:
            super().on_gpio(pin, level)
        elif pin == 1:
            if not level and not self._hold_reset:
                self._hold_reset = True
                self._begin_reset()
            elif level and self._hold_reset:
                self._hold_reset = False
                self._schedule_reset_end()
        else:
            self.ctx.log_once(("gpio", pin), logging.WARNING, "ADE7753 has no GPIO input %d", pin)

    def reset(self) -> None:
        """Machine reset: registers to their defaults at once."""
        self._begin_reset()
        self._end_reset()

    # ------------------------------------------------------------------ SPI
    def _spi_idle(self) -> None:
        self._spi_reg = None
        self._spi_write = False
        self._spi_out: list[int] = []
        self._spi_in: list[int] = []
        self._spi_nbytes = 0

    def set_chip_select(self, active: bool) -> None:
        if active and not self.cs_active:
            self._spi_idle()  # a CS falling edge resynchronises: next byte is a command
        super().set_chip_select(active)

    def finish_transmission(self) -> None:
        if self._spi_write and self._spi_nbytes:
            name = self._spi_reg.name if self._spi_reg is not None else "?"
            self.ctx.log(logging.INFO, "write to %s aborted by CS after %d of %d bytes; not applied",
                         name, len(self._spi_in), self._spi_nbytes)
        self._spi_idle()

    def transmit(self, byte: int) -> int:
        if not self.cs_active:
            self.ctx.log_once("spi-no-cs", logging.WARNING, "SPI byte 0x%02x while CS is high: ignored", byte)
            return 0
        if self._in_reset:
            self.ctx.log_once("spi-reset", logging.WARNING,
                              "SPI byte 0x%02x during reset (18 us after reset): ignored", byte)
            return 0
        byte &= 0xFF
        if self._spi_nbytes == 0:
            return self._command(byte)
        if self._spi_write:
            self._spi_in.append(byte)
            if len(self._spi_in) == self._spi_nbytes:
                reg = self._spi_reg
                value = int.from_bytes(bytes(self._spi_in), "big")
                self._spi_idle()
                if reg is not None:
                    self._write_reg(reg, value)
            return 0
        out = self._spi_out.pop(0)
        if not self._spi_out:
            self._spi_idle()
        return out

    def _command(self, byte: int) -> int:
        addr = byte & 0x3F
        reg = self.regmap.by_offset.get(addr)
        if byte & 0x40:
            self.ctx.log_once(("bit6", byte), logging.WARNING,
                              "communications byte 0x%02x has bit 6 set (must be 0)", byte)
        if reg is None:
            self.ctx.log_once(("unknown", addr), logging.WARNING,
                              "%s of unknown ADE7753 register 0x%02x (returns 0)",
                              "write" if byte & 0x80 else "read", addr)
        nbytes = (reg.width + 7) // 8 if reg is not None else 1
        self._spi_reg = reg
        self._spi_nbytes = nbytes
        if byte & 0x80:
            self._spi_write = True
            self._spi_in = []
        else:
            value = self._read_reg(reg) if reg is not None else 0
            self._spi_out = list(value.to_bytes(nbytes, "big"))
        return 0

    # ------------------------------------------------------------------ backdoor (monitor, tests of maths)
    def peek(self, name: str) -> int:
        """Register value as a read would return it, without read side effects."""
        reg = self.regmap[name]
        return self._value(reg, consume=False)

    # ------------------------------------------------------------------ reset
    def _reset_state(self) -> None:
        self.regs = {r.name: r.reset for r in self.regmap}
        self.regs["DIEREV"] = self.die_rev
        if self._event is not None:
            self._event.cancel()
            self._event = None
        if self._temp_event is not None:
            self._temp_event.cancel()
            self._temp_event = None
        self._t_ps = self.ctx.clock.now_ps
        self._in_reset = False
        self._acc_a = 0
        self._frac_a = 0.0
        self._ra_base = 0
        self._acc_va = 0
        self._frac_va = 0.0
        self._rva_base = 0
        self._acc_var = 0
        self._frac_var = 0.0
        self._cf_int = 0
        self._cf_frac = 0.0
        self._cf_emitted = 0
        self._lc_started = False
        self._lc_count = 0
        self._lc_E = (0, 0, 0)
        self._ipeak = 0
        self._vpeak = 0
        self._sag_run_start = None
        self._sag_done = False
        self._psign = 0
        self._zx_level = False
        self._last_zx_s = self._now_s()
        self._zxto_fired = False
        self._period_code = 0
        self._ranged = False
        self._update_irq()

    def _begin_reset(self) -> None:
        self._reset_state()
        self._in_reset = True
        self._spi_idle()
        if self._reset_event is not None:
            self._reset_event.cancel()
            self._reset_event = None

    def _schedule_reset_end(self) -> None:
        if self._reset_event is not None:
            self._reset_event.cancel()
        self._reset_event = self.ctx.clock.schedule(RESET_PS, self._end_reset)

    def _end_reset(self) -> None:
        self._reset_event = None
        if self._hold_reset:
            return
        self._in_reset = False
        self._t_ps = self.ctx.clock.now_ps
        self._last_zx_s = self._now_s()
        self.regs["STATUS"] |= ST_RESET
        self._update_irq()
        self._reschedule()

    # ------------------------------------------------------------------ register access
    def _read_reg(self, reg) -> int:
        value = self._value(reg, consume=True)
        if reg.name != "CHKSUM":
            self.regs["CHKSUM"] = value.bit_count()   # ones in the last value read
        return value

    def _value(self, reg, consume: bool) -> int:
        self._sync()
        n = reg.name
        r = self.regs
        if n not in _COMPUTED:
            return reg.to_raw(r[n])     # a stored register (most reads): no name tests below
        if n == "WAVEFORM":
            v = self._waveform()
        elif n == "AENERGY":
            v = self._acc_a >> ACTIVE_SHIFT
        elif n == "RAENERGY":
            v = (self._acc_a - self._ra_base) >> ACTIVE_SHIFT
            if consume:
                self._ra_base += v << ACTIVE_SHIFT
        elif n == "VAENERGY":
            v = self._acc_va >> VA_SHIFT
        elif n == "RVAENERGY":
            v = (self._acc_va - self._rva_base) >> VA_SHIFT
            if consume:
                self._rva_base += v << VA_SHIFT
        elif n in ("STATUS", "RSTSTATUS"):
            v = r["STATUS"]
            if consume and n == "RSTSTATUS":
                r["STATUS"] = 0
                self._update_irq()
                self._reschedule()
        elif n == "IRMS":
            v = self._irms_code()
        elif n == "VRMS":
            v = self._vrms_code()
        elif n in ("IPEAK", "RSTIPEAK"):
            v = self._ipeak
            if consume and n == "RSTIPEAK":
                self._ipeak = 0
        elif n in ("VPEAK", "RSTVPEAK"):
            v = self._vpeak
            if consume and n == "RSTVPEAK":
                self._vpeak = 0
        elif n == "PERIOD":
            v = self._period()
        else:
            v = r[n]
        return reg.to_raw(v)

    def _write_reg(self, reg, value: int) -> None:
        value &= reg.mask
        if reg.access not in ("rw",):
            self.ctx.log_once(("ro", reg.name), logging.WARNING,
                              "write 0x%x to read-only register %s (0x%02x) ignored", value, reg.name, reg.offset)
            return
        self._sync()
        if reg.name == "MODE":
            old = self.regs["MODE"]
            if value & MODE_SWRST:
                self._begin_reset()
                self._schedule_reset_end()
                return
            if value & MODE_TEMPSEL and not old & MODE_TEMPSEL:
                self._temp_event = self.ctx.clock.schedule(TEMP_CONVERSION_PS, self._temp_done)
            elif old & MODE_TEMPSEL:
                value |= MODE_TEMPSEL  # self-clearing: stays set until the conversion ends
            if value & MODE_CYCMODE and not old & MODE_CYCMODE:
                self._lc_started = False
                self._lc_count = 0
            if (value ^ old) & MODE_DISSAG:
                self._sag_run_start = None
                self._sag_done = False
        self.regs[reg.name] = value
        if reg.name in ("GAIN",):
            self._ranged = False
            self._check_range()
        self._update_irq()
        self._reschedule()

    def _temp_done(self) -> None:
        self._temp_event = None
        code = int(round(self.temperature_C / 0.67 + 25))
        self.regs["TEMP"] = max(-128, min(127, code)) & 0xFF
        self.regs["MODE"] &= ~MODE_TEMPSEL
        self._set_flags(ST_TEMPC)

    # ------------------------------------------------------------------ scales
    def _now_s(self) -> float:
        return self.ctx.clock.now_ps / PS_PER_S

    def _k(self) -> tuple[float, float]:
        """Channel 1 / 2 full-scale fractions per line amp / volt (0 for a disabled channel).
        Asked several times per register read; recomputed only when its inputs change."""
        mode = self.regs["MODE"] & (MODE_DISCH1 | MODE_DISCH2)
        key = (mode, self.regs["GAIN"], self._v_scale, self._i_scale)
        memo = self._k_memo
        if memo is not None and memo[0] == key:
            return memo[1]
        k1, k2 = _norm_scales(self._v_scale, self._i_scale, self.regs["GAIN"])
        if mode & MODE_DISCH1:
            k1 = 0.0
        if mode & MODE_DISCH2:
            k2 = 0.0
        self._k_memo = (key, (k1, k2))
        return k1, k2

    def _wg(self) -> float:
        return 1.0 + _signed(self.regs["WGAIN"], 12) / 4096.0

    def _active_units_per_J_cal(self) -> float:
        k1, k2 = _norm_scales(self._v_scale, self._i_scale, self.regs["GAIN"])
        return _active_units_per_J(k1, k2, self.clkin_hz) * self._wg() / (self.regs["WDIV"] or 1)

    def _va_units_per_J(self) -> float:
        r = self.regs
        key = (r["GAIN"], r["VAGAIN"], r["VADIV"], self._v_scale, self._i_scale)
        memo = self._va_memo
        if memo is not None and memo[0] == key:
            return memo[1]
        k1, k2 = _norm_scales(self._v_scale, self._i_scale, self.regs["GAIN"])
        vag = 1.0 + _signed(self.regs["VAGAIN"], 12) / 4096.0
        units = 2.0 * VA_FULL_SCALE * (self.clkin_hz / 4.0) * k1 * k2 * vag / (self.regs["VADIV"] or 1)
        self._va_memo = (key, units)
        return units

    def _v_delay_s(self) -> float:
        return (_signed(self.regs["PHCAL"], 6) - 0x0D) * 8.0 / self.clkin_hz

    def _cf_ratio(self) -> float:
        return (self.regs["CFNUM"] + 1) / (self.regs["CFDEN"] + 1) / (1 << ACTIVE_SHIFT)

    def _check_range(self) -> None:
        """Over-range inputs are not clipped by the model; say so once per configuration."""
        p = self._profile
        if p is None or self._ranged or not hasattr(p, "segments"):
            return
        self._ranged = True
        k1, k2 = self._k()
        vpk = float(max(p._vpk)) * k2
        ipk = float(max(p._ipk)) * k1
        if vpk > 1.0 or ipk > 1.0:
            self.ctx.log(logging.WARNING, "input over full scale (ch1 %.0f%%, ch2 %.0f%%): the real "
                         "ADC would clip, the model stays linear", ipk * 100, vpk * 100)

    # ------------------------------------------------------------------ time advance
    def _pt(self, t_s: float) -> float:
        return t_s - self._origin_ps / PS_PER_S

    def _clip(self, t0_s: float, t1_s: float):
        """The part of [t0, t1] (chip time) covered by the profile, in profile time, or None."""
        p = self._profile
        if p is None:
            return None
        a = max(self._pt(t0_s), p.start_s)
        b = min(self._pt(t1_s), p.end_s)
        return (a, b) if b > a else None

    def _increments(self, t0_s: float, t1_s: float, iv=False,
                    seg: "_Segment | None" = None) -> tuple[float, float, float, float]:
        """Accumulator units added over [t0, t1]: active, apparent, reactive, CF pulses.
        `iv`, `seg`: self._clip(t0, t1) and its _segment_of when the caller has them."""
        mode = self.regs["MODE"]
        if mode & MODE_ASUSPEND or t1_s <= t0_s:
            return 0.0, 0.0, 0.0, 0.0
        dt = t1_s - t0_s
        k1, k2 = self._k()
        kp = _active_units_per_J(k1, k2, self.clkin_hz)
        apos = _signed(self.regs["APOS"], 16) / 256.0 * (self.clkin_hz / 4.0)
        p_J = q_J = s_J = 0.0
        if iv is False:
            iv = self._clip(t0_s, t1_s)
            if iv is not None and kp != 0.0:
                seg = self._segment_of(iv[0], iv[1])
        if iv is not None and kp != 0.0:
            if seg is not None:
                # np.dot over the one overlapping segment is this product (overlap = b - a)
                ov = iv[1] - iv[0]
                p_J = (seg.p_pos_W if mode & MODE_POAM else seg.p_W) * ov
                q_J, s_J = seg.q_var * ov, seg.s_VA * ov
            else:
                g = self._profile.integrals(iv[0], iv[1], self._v_delay_s())
                p_J = g.active_positive_J if mode & MODE_POAM else g.active_J
                q_J, s_J = g.reactive_J, g.apparent_J
        wg = self._wg()
        raw = (kp * p_J + apos * dt) * wg
        if mode & MODE_POAM:
            raw = max(raw, 0.0)
        d_a = raw / (self.regs["WDIV"] or 1)
        d_var = kp * q_J * wg / (self.regs["WDIV"] or 1)
        d_va = s_J * self._va_units_per_J() if kp != 0.0 else 0.0
        d_cf = 0.0 if mode & MODE_DISCF else abs(raw) * self._cf_ratio()
        return d_a, d_va, d_var, d_cf

    def _segment_of(self, a: float, b: float) -> "_Segment | None":
        """Constants of the profile segment holding profile-time [a, b], when one piecewise-
        constant segment holds all of it with no segment start in (a, b]; else None."""
        p = self._profile
        if not self.fast_segments or not hasattr(p, "segments"):
            return None
        end = p.next_change_s(a)
        if not b < end:
            return None
        delay = self._v_delay_s()
        cached = self._segment
        if cached is not None and cached[0] is p and cached[1] == end and cached[2] == delay:
            return cached[3]
        # The profile's own scalar lookups: the same values its integrals use for this segment.
        p_W = float(p.power_W(a, delay))
        _, vpk, ipk = p.peak_track(a, b)
        seg = _Segment(p_W, max(p_W, 0.0), float(p.reactive_var(a)),
                       float(p.vrms_V(a)) * float(p.irms_A(a)), float(vpk[0]), float(ipk[0]))
        self._segment = (p, end, delay, seg)
        return seg

    def _acc_at(self, t0_s: float, t_s: float) -> tuple[int, int, int]:
        d_a, d_va, d_var, _ = self._increments(t0_s, t_s)
        return (self._acc_a + math.floor(self._frac_a + d_a),
                self._acc_va + math.floor(self._frac_va + d_va),
                self._acc_var + math.floor(self._frac_var + d_var))

    def _sync(self) -> None:
        now = self.ctx.clock.now_ps
        if now <= self._t_ps:
            return
        t0, t1 = self._t_ps / PS_PER_S, now / PS_PER_S
        if not self._in_reset:
            self._advance(t0, t1)
        self._t_ps = now

    def _advance(self, t0: float, t1: float) -> None:
        p = self._profile
        mode = self.regs["MODE"]
        flags = 0
        origin = self._origin_ps / PS_PER_S
        iv = self._clip(t0, t1)
        if iv is not None:
            zc, rising = self._crossings(iv[0], iv[1])
            if zc:                       # (most syncs span no crossing)
                zc = [z + origin for z in zc]
            # One segment lookup for the energy, peak and sign updates of this interval.
            seg = self._segment_of(iv[0], iv[1])
        else:
            zc, rising = (), ()
            seg = None
        # Line-cycle accumulation latches at zero crossings.
        if mode & MODE_CYCMODE and len(zc):
            flags |= self._line_cycles(t0, list(zc))
        # Energy accumulators.
        d_a, d_va, d_var, d_cf = self._increments(t0, t1, iv, seg)
        flags |= self._add_active(d_a)
        flags |= self._add_va(d_va)
        tot = self._frac_var + d_var
        n = math.floor(tot)
        self._acc_var += n
        self._frac_var = tot - n
        tot = self._cf_frac + d_cf
        n = math.floor(tot)
        self._cf_int += n
        self._cf_frac = tot - n
        # Zero crossings and their timeout (the counter fires once per missing stretch): the
        # first gap counts unless the timeout already fired, every later gap counts.
        timeout = self.regs["ZXTOUT"] * 128.0 / self.clkin_hz
        last = self._last_zx_s
        fired = self._zxto_fired
        if len(zc):
            if (zc[0] - last > timeout and not fired) or (
                    len(zc) > 1 and max(map(operator.sub, zc[1:], zc)) > timeout):
                flags |= ST_ZXTO
            fired = False
            last = zc[-1]
        if t1 - last > timeout and not fired:
            flags |= ST_ZXTO
            fired = True
        self._zxto_fired = fired
        if len(zc):
            if any(rising):
                flags |= ST_ZX
            self._zx_level = bool(rising[-1])
            self._last_zx_s = float(zc[-1])
        # Peaks, SAG and the sign of active power.
        if iv is not None:
            flags |= self._peaks_and_sag(iv[0], iv[1], seg)
            flags |= self._power_sign(iv[0], iv[1], seg)
        # New waveform samples.
        per = (128 << ((mode >> MODE_DTRT_SHIFT) & 3)) / self.clkin_hz
        if math.floor(t1 / per) > math.floor(t0 / per):
            flags |= ST_WSMP
        if flags:
            self.regs["STATUS"] |= flags
            self._update_irq()

    def _crossings(self, a: float, b: float) -> tuple[list[float], list[bool]]:
        """The profile's voltage zero crossings in profile-time (a, b]: (times, rising).

        Syncs come every few microseconds (a register read each) or about once a second (a
        cabinet controller polling 32 chips), so the profile is asked once per ZC_WINDOW_S
        (about 200 crossings at 50 Hz) and the crossings in (a, b] are picked from that answer:
        the profile computes each crossing's time from its own index whatever the window asked,
        so these are the values (and float64s) it would return for (a, b]."""
        p = self._profile
        c = self._zc_cache
        if c is None or c[0] is not p or a < c[1] or b > c[2]:
            hi = max(b, min(a + ZC_WINDOW_S, p.end_s))
            times, rising = p.zero_crossing_lists(a, hi)
            c = self._zc_cache = (p, a, hi, times, rising)
        times = c[3]
        lo = bisect.bisect_right(times, a)
        hi = bisect.bisect_right(times, b, lo)
        return times[lo:hi], c[4][lo:hi]

    def _add_active(self, d: float) -> int:
        tot = self._frac_a + d
        n = math.floor(tot)
        self._frac_a = tot - n
        old = self._acc_a >> ACTIVE_SHIFT
        self._acc_a += n
        new = self._acc_a >> ACTIVE_SHIFT
        flags = 0
        if new > old:
            if _count_up(old, new, 1 << 22):
                flags |= ST_AEHF
            if _count_up(old, new, 1 << 23):
                flags |= ST_AEOF
        elif new < old:
            # downwards: reaching -0x400000 (half full negative), wrapping -0x800000 -> 0x7FFFFF
            if _count_up(new - 1, old - 1, -(1 << 22)):
                flags |= ST_AEHF
            if _count_up(new, old, 1 << 23):
                flags |= ST_AEOF
        return flags

    def _add_va(self, d: float) -> int:
        tot = self._frac_va + d
        n = math.floor(tot)
        self._frac_va = tot - n
        old = self._acc_va >> VA_SHIFT
        self._acc_va += n
        new = self._acc_va >> VA_SHIFT
        flags = 0
        if new > old:
            if _count_up(old, new, 1 << 23):
                flags |= ST_VAEHF
            if _count_up(old, new, 0):
                flags |= ST_VAEOF
        return flags

    def _line_cycles(self, t0: float, zc: list) -> int:
        if not self._lc_started:
            self._lc_started = True
            self._lc_count = 0
            self._lc_E = self._acc_at(t0, zc[0])
            zc = zc[1:]
        n = self.regs["LINECYC"] or 1
        need = max(n - self._lc_count, 1)   # LINECYC lowered mid-period: ends at the next crossing
        if len(zc) < need:
            self._lc_count += len(zc)
            return 0
        last = need - 1 + n * ((len(zc) - need) // n)
        prev_E = self._acc_at(t0, zc[last - n]) if last - n >= 0 else self._lc_E
        end_E = self._acc_at(t0, zc[last])
        self.regs["LAENERGY"] = ((end_E[0] >> ACTIVE_SHIFT) - (prev_E[0] >> ACTIVE_SHIFT)) & 0xFFFFFF
        self.regs["LVAENERGY"] = ((end_E[1] >> VA_SHIFT) - (prev_E[1] >> VA_SHIFT)) & 0xFFFFFF
        self.regs["LVARENERGY"] = ((end_E[2] >> ACTIVE_SHIFT) - (prev_E[2] >> ACTIVE_SHIFT)) & 0xFFFFFF
        self._lc_E = end_E
        self._lc_count = len(zc) - (last + 1)
        return ST_CYCEND

    def _peaks_and_sag(self, a: float, b: float, seg: "_Segment | None") -> int:
        """`seg`: self._segment_of(a, b), looked up once by the caller."""
        k1, k2 = self._k()
        if seg is not None:
            return self._segment_peaks_and_sag(a, b, int(seg.ipk * k1 * CH1_WAVE_FULL_SCALE),
                                               int(seg.vpk * k2 * CH2_WAVE_FULL_SCALE))
        edges, vpk, ipk = self._profile.peak_track(a, b)
        icode = [int(x * k1 * CH1_WAVE_FULL_SCALE) for x in ipk]
        vcode = [int(x * k2 * CH2_WAVE_FULL_SCALE) for x in vpk]
        flags = 0
        self._ipeak = max(self._ipeak, max(icode))
        self._vpeak = max(self._vpeak, max(vcode))
        if any((c >> 16) > self.regs["IPKLVL"] for c in icode):
            flags |= ST_PKI
        if any((c >> 8) > self.regs["VPKLVL"] for c in vcode):
            flags |= ST_PKV
        if self.regs["MODE"] & MODE_DISSAG:
            return flags
        origin = self._origin_ps / PS_PER_S
        for k, code in enumerate(vcode):
            flags |= self._sag_step(code, float(edges[k]) + origin, float(edges[k + 1]) + origin)
        return flags

    def _segment_peaks_and_sag(self, a: float, b: float, icode: int, vcode: int) -> int:
        """_peaks_and_sag over one profile segment (the general case's loop with one peak)."""
        r = self.regs
        flags = 0
        if icode > self._ipeak:
            self._ipeak = icode
        if vcode > self._vpeak:
            self._vpeak = vcode
        if (icode >> 16) > r["IPKLVL"]:
            flags |= ST_PKI
        if (vcode >> 8) > r["VPKLVL"]:
            flags |= ST_PKV
        if r["MODE"] & MODE_DISSAG:
            return flags
        origin = self._origin_ps / PS_PER_S
        return flags | self._sag_step(vcode, float(a) + origin, float(b) + origin)

    def _sag_step(self, vcode: int, start_s: float, end_s: float) -> int:
        """The SAG detector over [start_s, end_s] (absolute s) with the voltage peak code
        `vcode`: a run below SAGLVL raises ST_SAG once SAGCYC half-cycles have passed."""
        if (vcode >> 8) >= self.regs["SAGLVL"]:
            self._sag_run_start = None
            self._sag_done = False
            return 0
        if self._sag_run_start is None:
            self._sag_run_start = start_s
        if not self._sag_done and self._sag_due() <= end_s:
            self._sag_done = True
            return ST_SAG
        return 0

    def _sag_due(self) -> float:
        f = float(self._profile.frequency_hz(max(self._pt(self._sag_run_start), self._profile.start_s)))
        return self._sag_run_start + self.regs["SAGCYC"] / (2.0 * f)

    def _power_sign(self, a: float, b: float, seg: "_Segment | None") -> int:
        """`seg`: self._segment_of(a, b), looked up once by the caller."""
        if seg is not None:
            pw = (seg.p_W,)                        # no segment start in (a, b]
        else:
            pts = np.concatenate(([a], self._profile.breakpoints(a, b)))
            pw = np.atleast_1d(self._profile.power_W(pts, self._v_delay_s()))
        flags = 0
        for x in pw:
            s = 1 if x > 0 else (-1 if x < 0 else 0)
            if s and s != self._psign:
                if self._psign < 0 < s:
                    flags |= ST_PPOS
                elif s < 0 < self._psign:
                    flags |= ST_PNEG
                self._psign = s
        return flags

    # ------------------------------------------------------------------ instantaneous registers
    def _signal_at_now(self):
        """Profile time of now, or None when no profile covers it."""
        p = self._profile
        if p is None:
            return None
        t = self._pt(self._now_s())
        return t if p.start_s <= t <= p.end_s else None

    def _irms_code(self) -> int:
        t = self._signal_at_now()
        irms0 = 0.0
        if t is not None and not self.regs["MODE"] & MODE_ASUSPEND:
            k1, _ = self._k()
            irms0 = IRMS_FULL_SCALE * math.sqrt(2.0) * float(self._profile.irms_A(t)) * k1
        sq = irms0 * irms0 + 32768.0 * _signed(self.regs["IRMSOS"], 12)
        return min(int(round(math.sqrt(max(sq, 0.0)))), 0xFFFFFF)

    def _vrms_code(self) -> int:
        t = self._signal_at_now()
        vrms0 = 0.0
        if t is not None and not self.regs["MODE"] & MODE_ASUSPEND:
            _, k2 = self._k()
            vrms0 = VRMS_FULL_SCALE * math.sqrt(2.0) * float(self._profile.vrms_V(t)) * k2
        return max(0, min(int(round(vrms0 + _signed(self.regs["VRMSOS"], 12))), 0xFFFFFF))

    def _period(self) -> int:
        t = self._signal_at_now()
        if t is not None and float(self._profile.vrms_V(t)) > 0:
            f = float(self._profile.frequency_hz(t))
            if f > 0:
                self._period_code = min(int(round(self.clkin_hz / (8.0 * f))), 0xFFFF)
        return self._period_code

    def _waveform(self) -> int:
        mode = self.regs["MODE"]
        per = (128 << ((mode >> MODE_DTRT_SHIFT) & 3)) / self.clkin_hz
        now = self._now_s()
        t = self._pt(math.floor(now / per) * per)
        p = self._profile
        if p is None or not p.start_s <= t <= p.end_s:
            return 0
        k1, k2 = self._k()
        sel = (mode >> MODE_WAVSEL_SHIFT) & 3
        if sel == 0:
            return int(round(2.0 * P_FULL_SCALE * k1 * k2 * float(self._profile.power_W(t, self._v_delay_s()))))
        v, i = self._profile.waveforms(np.array([t]))
        if sel == 2:
            return int(round(float(i[0]) * k1 * CH1_WAVE_FULL_SCALE))
        if sel == 3:
            return int(round(float(v[0]) * k2 * CH2_WAVE_FULL_SCALE))
        return 0

    # ------------------------------------------------------------------ IRQ and events
    def _set_flags(self, bits: int) -> None:
        self._sync()
        self.regs["STATUS"] |= bits
        self._update_irq()

    def _update_irq(self) -> None:
        asserted = (self.regs["STATUS"] & self.regs["IRQEN"] & ~ST_RESET) != 0
        self.IRQ.set(not asserted)

    def _rate_active(self, t_s: float) -> float:
        """Accumulator units per second at t (before WDIV), from the mean power in force."""
        mode = self.regs["MODE"]
        if mode & MODE_ASUSPEND:
            return 0.0
        k1, k2 = self._k()
        kp = _active_units_per_J(k1, k2, self.clkin_hz)
        iv = self._clip(t_s, t_s + 1e-9)
        pw = float(self._profile.power_W(iv[0], self._v_delay_s())) if iv is not None and kp else 0.0
        raw = (kp * pw + _signed(self.regs["APOS"], 16) / 256.0 * self.clkin_hz / 4.0) * self._wg()
        return max(raw, 0.0) if mode & MODE_POAM else raw

    def _next_change(self, t_s: float) -> float:
        if self._profile is None:
            return math.inf
        nxt = self._profile.next_change_s(self._pt(t_s))
        return nxt + self._origin_ps / PS_PER_S

    def _due_times(self) -> list[float]:
        now = self._now_s()
        en = self.regs["IRQEN"] & ~ST_RESET & ~self.regs["STATUS"]
        mode = self.regs["MODE"]
        p = self._profile
        due = []
        origin = self._origin_ps / PS_PER_S
        pnow = self._pt(now)
        live = p is not None and p.start_s <= pnow < p.end_s
        if live and (self.ZX.connected or en & ST_ZX):
            due.append(p.nth_zero_crossing_after(pnow, 1) + origin)
        if live and en & ST_CYCEND and mode & MODE_CYCMODE:
            n = max((self.regs["LINECYC"] or 1) - self._lc_count, 1) + (0 if self._lc_started else 1)
            due.append(p.nth_zero_crossing_after(pnow, n) + origin)
        if en & ST_ZXTO and not self._zxto_fired:
            due.append(self._last_zx_s + self.regs["ZXTOUT"] * 128.0 / self.clkin_hz)
        wdiv = self.regs["WDIV"] or 1
        if en & (ST_AEHF | ST_AEOF) or (self.CF.connected and not mode & MODE_DISCF):
            rate = self._rate_active(now)
            nxt = self._next_change(now)
            if rate != 0.0 and en & (ST_AEHF | ST_AEOF):
                due.append(min(nxt, now + self._units_to_flag(rate / wdiv, en) / abs(rate / wdiv)))
            elif en & (ST_AEHF | ST_AEOF):
                due.append(nxt)
            if self.CF.connected and not mode & MODE_DISCF:
                cf_rate = abs(rate) * self._cf_ratio()
                due.append(min(nxt, now + (1.0 - self._cf_frac) / cf_rate) if cf_rate > 0 else nxt)
        if en & (ST_VAEHF | ST_VAEOF) and live:
            va_rate = (self._va_units_per_J() * float(p.apparent_VA(pnow)))
            nxt = self._next_change(now)
            if va_rate > 0:
                l = self._acc_va >> VA_SHIFT
                target = l + ((1 << 23) - l - 1) % (1 << 23) + 1  # next multiple of 2^23
                units = (target << VA_SHIFT) - self._acc_va - self._frac_va
                due.append(min(nxt, now + units / va_rate))
            else:
                due.append(nxt)
        if live and en & (ST_PKV | ST_PKI | ST_PPOS | ST_PNEG | ST_SAG):
            due.append(self._next_change(now))
            if en & ST_SAG and self._sag_run_start is not None and not self._sag_done \
                    and not mode & MODE_DISSAG:
                due.append(self._sag_due())
        if en & ST_WSMP:
            per = (128 << ((mode >> MODE_DTRT_SHIFT) & 3)) / self.clkin_hz
            due.append((math.floor(now / per) + 1) * per)
        return [d for d in due if math.isfinite(d)]

    def _units_to_flag(self, rate: float, en: int) -> float:
        """Accumulator units until the next AEHF/AEOF boundary in the direction of `rate`."""
        l = self._acc_a >> ACTIVE_SHIFT
        pos = self._acc_a + self._frac_a
        best = math.inf
        for bit, r in ((ST_AEHF, 1 << 22), (ST_AEOF, 1 << 23)):
            if not en & bit:
                continue
            if rate > 0:
                v = l + ((r - l - 1) % _M24) + 1
                best = min(best, (v << ACTIVE_SHIFT) - pos)
            else:
                rr = -(1 << 22) if bit == ST_AEHF else (1 << 23)
                v = l - ((l - rr) % _M24) if bit == ST_AEOF else l - 1 - ((l - 1 - rr) % _M24)
                edge = v if bit == ST_AEOF else v + 1
                best = min(best, pos - (edge << ACTIVE_SHIFT))
        return max(best, 1.0)

    def _reschedule(self) -> None:
        if self._event is not None:
            self._event.cancel()
            self._event = None
        if self._in_reset:
            return
        due = self._due_times()
        if not due:
            return
        now_ps = self.ctx.clock.now_ps
        t_ps = max(now_ps + 1, math.ceil(min(due) * PS_PER_S) + 1)
        self._event = self.ctx.clock.schedule_at(t_ps, self._on_event)

    def _on_event(self) -> None:
        self._event = None
        self._sync()
        if self.ZX.connected:
            self.ZX.set(self._zx_level)
        if self.CF.connected and self._cf_int > self._cf_emitted:
            self._cf_emitted = self._cf_int
            if self.CF.level:
                self.CF.set(False)
                self.ctx.clock.schedule(self._cf_width_ps(), self.CF.set, True)
        self._reschedule()

    def _cf_width_ps(self) -> int:
        rate = abs(self._rate_active(self._now_s())) * self._cf_ratio()
        if rate <= 0:
            return CF_PULSE_PS
        return int(min(CF_PULSE_PS, PS_PER_S / rate / 2))
