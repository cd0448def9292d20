"""STM32F1 RTC: 20-bit prescaler, 32-bit counter and alarm, running from RTCCLK in virtual time.

Followed: RM0008 §18 (STM32F10x real-time clock):
- §18.3.1-2: TR_CLK = RTCCLK / (PRL + 1); the divider RTC_DIV counts down from PRL each RTCCLK
  period and reloads, giving a TR_CLK tick that increments RTC_CNT and sets SECF; ALRF sets
  when the counter reaches RTC_ALR; OWF when it rolls over from 0xFFFFFFFF to 0.
- §18.4.4 RTC_DIV: the divider is reloaded from RTC_PRL at each TR_CLK period, so a new PRL
  takes effect at the next reload: the current second runs out on the old divider (DIV keeps
  counting down from where it was, even above the new PRL) and only the periods after it have
  PRL + 1 cycles.
- §18.3.3 "Reading RTC registers": after a system reset (APB1 reset) RSF is 0 until the
  registers are resynchronised; software clears RSF and waits for it to be set again.
- §18.3.4 "Configuring RTC registers": writes to PRL, CNT and ALR need configuration mode (CNF
  set); they take effect only when CNF is cleared, in a write operation lasting three RTCCLK
  periods during which RTOFF reads 0 and no RTC register can be written.
- §18.4 registers (16-bit halves at 4-byte spacing): CRH (SECIE ALRIE OWIE), CRL (SECF ALRF
  OWF rc_w0, RSF rc_w0, CNF, RTOFF), PRLH/PRLL (write-only), DIVH/DIVL (read-only), CNTH/CNTL,
  ALRH/ALRL (write-only).
- Backup domain: PRL, DIV, CNT and ALR keep running through a system reset (`reset()` resets
  CRH/CRL only); `backup_domain_reset()` (RCC BDRST / power-on) clears them.
Outputs: IRQ (RTC global interrupt: SECF/ALRF/OWF with their enables) and AlarmIRQ (alarm with
ALRIE, for EXTI line 17 / RTCAlarm).

The counter is computed in closed form; events are scheduled only for the next second tick,
alarm or overflow somebody has enabled an interrupt for. The alarm fires on the tick at which
CNT becomes equal to ALR.

Crystal error: `drift_ppm` (constructor, or `set_drift_ppm()` at any time) makes RTCCLK run
that many parts per million fast (+) or slow (-), as a 32.768 kHz watch crystal does (±20 ppm
at 25 °C, more over temperature and age); it is kept in parts per billion, integer arithmetic.

Not modelled: PWR_CR.DBP write protection, the RTC calibration and output on the TAMPER pin
(BKP_RTCCR), the APB1-clock-stop resynchronisation beyond RSF, the write-only registers reading
as 0 on real parts (PRL/ALR read back here as 0 too).
"""

from __future__ import annotations

import datetime as _dt
import logging

from metersim._errors import SetupError
from metersim.peripherals.base import GPIO, Context, Peripheral
from metersim.peripherals.registry import model
from metersim.peripherals.regmap import Reg, RegisterMap
from metersim.peripherals.stm32 import clock_tree
from metersim._units import PS_PER_S

CRH, CRL, PRLH, PRLL, DIVH, DIVL, CNTH, CNTL, ALRH, ALRL = range(0, 0x28, 4)
REGS = RegisterMap([
    Reg("CRH", CRH, 16, 0, doc="SECIE ALRIE OWIE"),
    Reg("CRL", CRL, 16, 0x0020, doc="SECF ALRF OWF RSF CNF RTOFF"),
    Reg("PRLH", PRLH, 16, 0, "w"), Reg("PRLL", PRLL, 16, 0x8000, "w"),
    Reg("DIVH", DIVH, 16, 0, "r"), Reg("DIVL", DIVL, 16, 0x8000, "r"),
    Reg("CNTH", CNTH, 16, 0), Reg("CNTL", CNTL, 16, 0),
    Reg("ALRH", ALRH, 16, 0xFFFF, "w"), Reg("ALRL", ALRL, 16, 0xFFFF, "w"),
])
SECIE, ALRIE, OWIE = 1, 2, 4
SECF, ALRF, OWF, RSF, CNF, RTOFF = 1, 2, 4, 8, 16, 32
_W0C = SECF | ALRF | OWF | RSF
_WRAP = 1 << 32
_PPB = 1_000_000_000


@model("metersim.STM32F1_RTC")
class STM32F1Rtc(Peripheral):
    size = 0x400

    def __init__(self, ctx: Context, frequency: int = 32768, clock: str = "RTCCLK",
                 drift_ppm: float = 0.0, **_ignored):
        super().__init__(ctx)
        self._ppb = self._check_ppm(drift_ppm)
        self.IRQ = GPIO("IRQ")
        self.AlarmIRQ = GPIO("AlarmIRQ")
        self._tree = clock_tree(ctx)
        self._clock_name = clock
        self._fallback_hz = int(frequency)
        self._tree.subscribe(clock, lambda hz: self._rate_changed())
        self._ev = self._rtoff_ev = self._rsf_ev = None
        self.backup_domain_reset()

    # -- resets ---------------------------------------------------------------------------
    def backup_domain_reset(self) -> None:
        self._cancel(("_ev", "_rtoff_ev", "_rsf_ev"))
        self._prl = 0x8000
        self._alr = 0xFFFFFFFF
        self._f = self._rate()
        self._t0 = self.ctx.clock.now_ps
        self._cnt_base = 0
        self._phase_base = 0        # PRL - DIV at _t0 (< 0 while a longer old period runs out)
        self._ticks_done = 0        # TR_CLK ticks since _t0 already reflected in the flags
        self.reset()

    def reset(self) -> None:
        """System reset: CRH/CRL only (the counter lives in the backup domain)."""
        self._cancel(("_rtoff_ev", "_rsf_ev"))
        self._catch_up()
        self.crh = 0
        self.crl = 0                # RSF = 0 until resynchronised; RTOFF computed
        self._pending: dict[str, int] = {}
        self._schedule_rsf()
        self._update_irq()
        self._reschedule()

    def _cancel(self, names) -> None:
        for name in names:
            ev = getattr(self, name, None)
            if ev is not None:
                ev.cancel()
            setattr(self, name, None)

    # -- time base ------------------------------------------------------------------------
    def _rate(self) -> int:
        if getattr(self.ctx.machine, "clocks", None) is None:
            return self._tree.rate_hz(self._clock_name) or self._fallback_hz
        return self._tree.rate_hz(self._clock_name)

    def _cycles(self) -> int:
        if self._f <= 0:
            return 0
        return ((self.ctx.clock.now_ps - self._t0) * self._f * (_PPB + self._ppb)
                // (PS_PER_S * _PPB))

    def _ticks(self) -> int:
        # _phase_base < 0: the period under way is longer than PRL + 1 (a PRL lowered in it)
        return max(0, (self._phase_base + self._cycles()) // (self._prl + 1))

    def _tick_ps(self, tick: int) -> int:
        cycles = tick * (self._prl + 1) - self._phase_base
        return self._t0 + -(-cycles * PS_PER_S * _PPB // (self._f * (_PPB + self._ppb)))

    @staticmethod
    def _check_ppm(ppm) -> int:
        if isinstance(ppm, bool) or not isinstance(ppm, (int, float)) or not -1e5 <= ppm <= 1e5:
            raise SetupError(f"RTC drift_ppm must be a number within ±100000, got {ppm!r}")
        return round(ppm * 1000)

    @property
    def drift_ppm(self) -> float:
        return self._ppb / 1000

    def set_drift_ppm(self, ppm: float) -> None:
        """RTCCLK runs `ppm` parts per million fast (+) or slow (-) from now on."""
        ppb = self._check_ppm(ppm)
        self._rebase()
        self._ppb = ppb
        self._reschedule()

    @property
    def counter(self) -> int:
        return (self._cnt_base + self._ticks()) % _WRAP

    @property
    def divider(self) -> int:
        x = self._phase_base + self._cycles()
        return self._prl - x if x <= self._prl else self._prl - x % (self._prl + 1)

    def _rebase(self) -> None:
        """Fold elapsed time into the base (before PRL/CNT/rate changes)."""
        self._catch_up()
        div = self.divider
        self._cnt_base = self.counter
        self._phase_base = self._prl - div      # the next tick when DIV has counted down
        self._t0 = self.ctx.clock.now_ps
        self._ticks_done = 0

    def _rate_changed(self) -> None:
        self._rebase()
        self._f = self._rate()
        self._reschedule()

    # -- flags ----------------------------------------------------------------------------
    def _first_tick_reaching(self, value: int, after: int) -> int:
        """First tick index > after at which CNT becomes `value`."""
        j0 = (value - self._cnt_base) % _WRAP
        if j0 > after:
            return j0
        return j0 + -(-(after + 1 - j0) // _WRAP) * _WRAP

    def _catch_up(self) -> None:
        if self._f <= 0:
            return
        n = self._ticks()
        done = self._ticks_done
        if n <= done:
            return
        flags = SECF
        if self._first_tick_reaching(self._alr, done) <= n:
            flags |= ALRF
        if self._first_tick_reaching(0, done) <= n:
            flags |= OWF
        self.crl |= flags
        self._ticks_done = n
        self._update_irq()

    def _update_irq(self) -> None:
        active = self.crl & self.crh & 7
        self.IRQ.set(bool(active))
        self.AlarmIRQ.set(bool(active & ALRF))

    def _reschedule(self) -> None:
        self._cancel(("_ev",))
        if self._f <= 0 or not self.crh & 7:
            return
        done = self._ticks_done
        candidates = []
        if self.crh & SECIE:
            candidates.append(done + 1)
        if self.crh & ALRIE:
            candidates.append(self._first_tick_reaching(self._alr, done))
        if self.crh & OWIE:
            candidates.append(self._first_tick_reaching(0, done))
        self._ev = self.ctx.clock.schedule_at(self._tick_ps(min(candidates)), self._on_event)

    def _on_event(self) -> None:
        self._ev = None
        self._catch_up()
        self._reschedule()

    def _schedule_rsf(self) -> None:
        self._cancel(("_rsf_ev",))
        if self._f > 0:
            self._rsf_ev = self.ctx.clock.schedule(-(-2 * PS_PER_S // self._f), self._rsf_set)

    def _rsf_set(self) -> None:
        self._rsf_ev = None
        self.crl |= RSF

    # -- register access ------------------------------------------------------------------
    def read(self, offset: int, size: int) -> int:
        self._catch_up()
        if offset == CRH:
            return self.crh
        if offset == CRL:
            return self.crl | (RTOFF if self._rtoff_ev is None else 0)
        if offset in (DIVH, DIVL):
            div = self.divider
            return div >> 16 if offset == DIVH else div & 0xFFFF
        if offset in (CNTH, CNTL):
            cnt = self.counter
            return cnt >> 16 if offset == CNTH else cnt & 0xFFFF
        if offset in (PRLH, PRLL, ALRH, ALRL):
            return 0                                   # write-only
        return super().read(offset, size)

    def write(self, offset: int, size: int, value: int) -> None:
        value &= 0xFFFF
        self._catch_up()
        if self._rtoff_ev is not None:
            self.ctx.log_once("rtoff", logging.WARNING,
                              "RTC register written while RTOFF = 0 (previous write still in progress): ignored")
            return
        if offset == CRH:
            self.crh = value & 7
            self._update_irq()
            self._reschedule()
        elif offset == CRL:
            self._write_crl(value)
        elif offset in (PRLH, PRLL, CNTH, CNTL, ALRH, ALRL):
            if not self.crl & CNF:
                self.ctx.log_once(("cnf", offset), logging.WARNING,
                                  "%s written outside configuration mode (CNF = 0): ignored",
                                  REGS[offset].name)
                return
            name = REGS[offset].name[:3]
            current = self._pending.get(name, {"PRL": self._prl, "CNT": self.counter, "ALR": self._alr}[name])
            if REGS[offset].name.endswith("H"):
                current = (current & 0xFFFF) | (value << 16)
            else:
                current = (current & ~0xFFFF) | value
            self._pending[name] = current & (0xFFFFF if name == "PRL" else 0xFFFFFFFF)
        elif offset in (DIVH, DIVL):
            pass                                       # read-only
        else:
            super().write(offset, size, value)

    def _write_crl(self, value: int) -> None:
        old = self.crl
        self.crl = (old & (value | ~_W0C) & ~CNF) | (value & CNF)
        if old & RSF and not value & RSF:
            self._schedule_rsf()
        if old & CNF and not value & CNF:
            # Leaving configuration mode starts the write operation (three RTCCLK periods).
            if self._f > 0:
                self._rtoff_ev = self.ctx.clock.schedule(-(-3 * PS_PER_S // self._f), self._apply)
            else:
                self.ctx.log_once("noclk", logging.WARNING, "RTC configured with RTCCLK off: "
                                  "the write does not complete until the clock runs")
        self._update_irq()

    def _apply(self) -> None:
        self._rtoff_ev = None
        pending, self._pending = self._pending, {}
        if not pending:
            return
        self._rebase()
        if "PRL" in pending:
            # DIV runs out from where it is; the new PRL is loaded at its next reload
            div = self._prl - self._phase_base
            self._prl = pending["PRL"]
            self._phase_base = self._prl - div
        if "CNT" in pending:
            self._cnt_base = pending["CNT"]
        if "ALR" in pending:
            self._alr = pending["ALR"]
        self._reschedule()

    # -- host helpers ---------------------------------------------------------------------
    def set_counter(self, value: int) -> None:
        """Set RTC_CNT from Python at once (as a completed configuration would)."""
        if not 0 <= int(value) < _WRAP:
            raise SetupError(f"RTC counter is 32-bit, got {value}")
        self._rebase()
        self._cnt_base = int(value)
        self._reschedule()

    def set_datetime(self, when: _dt.datetime, epoch: _dt.datetime = _dt.datetime(1970, 1, 1)) -> None:
        """Set the counter to the seconds from `epoch` (the firmware's convention) to `when`."""
        self.set_counter(int((when - epoch).total_seconds()))

    def datetime(self, epoch: _dt.datetime = _dt.datetime(1970, 1, 1)) -> _dt.datetime:
        return epoch + _dt.timedelta(seconds=self.counter)
