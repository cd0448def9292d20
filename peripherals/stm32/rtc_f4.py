"""STM32F4 RTC (BCD calendar with alarms A/B, wake-up timer and backup registers), running from
RTCCLK in virtual time.

Followed: RM0430 §24 (STM32F413 RTC), identical in the parts below to RM0090 §26:
- "Clock and prescalers": ck_apre = RTCCLK / (PREDIV_A + 1), ck_spre = ck_apre / (PREDIV_S + 1)
  (1 Hz with LSE 32768 Hz and the reset values 127/255) advances the calendar; SSR is the
  synchronous prescaler's down-counter.
- "RTC initialization and configuration": the WPR key 0xCA then 0x53 unlocks the protected
  registers (any other write locks them again); INIT=1 stops the calendar and INITF sets about
  2 RTCCLK periods later; TR, DR and PRER can only be written while INITF=1; INIT=0 restarts
  counting; INITS says the year is not 0.
- "Reading the calendar": with BYPSHAD=0 the shadow registers are read; reading SSR or TR locks
  the higher-order shadow registers until DR is read; RSF (cleared by software) sets again when
  the shadow registers are next copied (2 RTCCLK periods).
- "Programming the alarm": ALRMxR (seconds/minutes/hours/date-or-weekday with MSK1..4, PM,
  WDSEL) can be written while ALRxE=0 (ALRxWF=1) or in INIT; ALRxF sets when the unmasked
  fields match the calendar at a second update; interrupt with ALRxIE.
- "Periodic auto-wakeup": WUTR (writable while WUTE=0, WUTWF=1), WUCKSEL = RTCCLK/16, /8, /4,
  /2 or ck_spre (with 2^16 added to WUT for 11x); WUTF every WUT+1 periods, interrupt WUTIE.
- 12-hour format (FMT, PM), ADD1H/SUB1H, 20 backup registers BKPxR at 0x50 (not reset).
- Backup domain: the calendar, prescalers, alarms and backup registers survive a system reset
  (`reset()`); `backup_domain_reset()` (RCC BDRST / power-on) clears them.
Outputs: AlarmIRQ (alarm A or B, EXTI line 17) and WakeupIRQ (EXTI line 22), Renode's names.
Renode's `wakeupTimerFrequency` property sets the RTCCLK rate while the RCC clocks the RTC.

The calendar is computed in closed form from the time base; events are scheduled only for the
next alarm match and wake-up, never per second.

- Backup-domain write protection (RM0430 §5.1.2): with a `pwr` (the PWR model), writes to any
  RTC register, backup registers included, are ignored while PWR_CR.DBP is clear (logged once);
  reads are not affected.

Not modelled: timestamp and tamper
(TSTR/TSDR/TSSSR/TAFCR stored), smooth/coarse calibration (CALR/CALIBR stored), SHIFTR, the
sub-second alarm comparison (ALRMxSSR stored, MASKSS treated as 0), reference clock detection,
calibration/alarm outputs, the 4-RTCCLK restart delay after INIT, years beyond 2099 (wrap).
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

(TR, DR, CR, ISR, PRER, WUTR, CALIBR, ALRMAR, ALRMBR, WPR, SSR, SHIFTR, TSTR, TSDR, TSSSR,
 CALR, TAFCR, ALRMASSR, ALRMBSSR) = range(0, 0x4C, 4)
BKP0R = 0x50
REGS = RegisterMap([
    Reg("TR", TR, 32, 0, doc="time: SU ST MU MT HU HT PM (BCD)"),
    Reg("DR", DR, 32, 0x2101, doc="date: DU DT MU MT WDU YU YT (BCD)"),
    Reg("CR", CR, 32, 0, doc="WUCKSEL TSEDGE REFCKON BYPSHAD FMT ALRAE ALRBE WUTE TSE ALRAIE "
                            "ALRBIE WUTIE TSIE ADD1H SUB1H BKP COSEL POL OSEL COE"),
    Reg("ISR", ISR, 32, 0x7, doc="ALRAWF ALRBWF WUTWF SHPF INITS RSF INITF INIT ALRAF ALRBF "
                                "WUTF TSF TSOVF TAMP1F TAMP2F RECALPF"),
    Reg("PRER", PRER, 32, 0x007F00FF, doc="PREDIV_S[14:0] PREDIV_A[22:16]"),
    Reg("WUTR", WUTR, 32, 0xFFFF),
    Reg("CALIBR", CALIBR, 32, 0), Reg("ALRMAR", ALRMAR, 32, 0), Reg("ALRMBR", ALRMBR, 32, 0),
    Reg("WPR", WPR, 32, 0, "w"), Reg("SSR", SSR, 32, 0, "r"), Reg("SHIFTR", SHIFTR, 32, 0, "w"),
    Reg("TSTR", TSTR, 32, 0, "r"), Reg("TSDR", TSDR, 32, 0, "r"), Reg("TSSSR", TSSSR, 32, 0, "r"),
    Reg("CALR", CALR, 32, 0), Reg("TAFCR", TAFCR, 32, 0),
    Reg("ALRMASSR", ALRMASSR, 32, 0), Reg("ALRMBSSR", ALRMBSSR, 32, 0),
])

# CR
BYPSHAD, FMT, ALRAE, ALRBE, WUTE = 1 << 5, 1 << 6, 1 << 8, 1 << 9, 1 << 10
ALRAIE, ALRBIE, WUTIE, ADD1H, SUB1H = 1 << 12, 1 << 13, 1 << 14, 1 << 16, 1 << 17
# ISR
ALRAWF, ALRBWF, WUTWF, INITS, RSF, INITF, INIT = 1, 2, 4, 1 << 4, 1 << 5, 1 << 6, 1 << 7
ALRAF, ALRBF, WUTF = 1 << 8, 1 << 9, 1 << 10
ISR_W0C = 0x7F00 | RSF            # flags cleared by writing 0 (bits 14:8 and RSF)
_UNPROTECTED = {WPR, TAFCR}
_EPOCH = _dt.datetime(2000, 1, 1)


def _bcd(v: int) -> int:
    return ((v // 10) << 4) | (v % 10)


def _unbcd(v: int) -> int:
    return (v >> 4) * 10 + (v & 0xF)


@model("Timers.STM32F4_RTC", "metersim.STM32F4_RTC")
class STM32F4Rtc(Peripheral):
    size = 0x400

    def __init__(self, ctx: Context, backup_registers: int = 20, frequency: int = 32768,
                 clock: str = "RTCCLK", wakeup_timer_frequency: int | None = None, pwr=None,
                 **_ignored):
        super().__init__(ctx)
        self.pwr = pwr                # PWR model: DBP gates every write (None: always writable)
        self.AlarmIRQ = GPIO("AlarmIRQ")
        self.WakeupIRQ = GPIO("WakeupIRQ")
        self.n_bkp = int(backup_registers)
        self._tree = clock_tree(ctx)
        self._clock_name = clock
        # Without an RCC (unit tests) the RTC runs from a 32768 Hz LSE; with one, RTCCLK = 0
        # means the clock is off (RTCEN clear) and the calendar does not advance.
        self._fallback_hz = int(frequency)
        # Renode's `wakeupTimerFrequency`: the RTCCLK its model counts, whatever RTCSEL picks.
        # Here the RCC still gates the clock (RTCEN, a selected source), and while it runs the
        # RTC counts at this rate: a platform can state the exact oscillator (32000 Hz LSI
        # versus the nominal 32 kHz of a real part's RC) the firmware was trimmed for.
        self._rtcclk_hz = None
        if wakeup_timer_frequency is not None:
            self._rtcclk_hz = int(wakeup_timer_frequency)
            if self._rtcclk_hz <= 0:
                raise SetupError(f"{ctx.name}: wakeupTimerFrequency must be a positive number "
                                 f"of Hz, got {wakeup_timer_frequency}")
            self._fallback_hz = self._rtcclk_hz
        self._tree.subscribe(clock, lambda hz: self._rate_changed())
        self._alarm_ev = [None, None]
        self._wut_ev = None
        self._rsf_ev = None
        self._initf_ev = None
        self.backup_domain_reset()

    # -- resets ---------------------------------------------------------------------------
    def backup_domain_reset(self) -> None:
        """Power-on / RCC BDRST: everything goes to its reset value."""
        self._cancel_all()
        self.regs = REGS.resets()
        self.bkp = [0] * self.n_bkp
        self._f = self._rate()
        self._t0 = self.ctx.clock.now_ps
        self._base_s = 0          # calendar seconds since 2000-01-01 00:00:00 at _t0
        self._base_wd = 1         # weekday (1 = Monday .. 7) at _t0
        self._base_sub = 0        # RTCCLK cycles into the current second at _t0
        self.reset()

    def reset(self) -> None:
        """System reset: the RTC is in the backup domain; only the key lock and latches reset."""
        self._wpr_state = 0
        self._latch = None        # (TR, DR) locked by an SSR read, (None, DR) by a TR read,
        #                           until DR is read
        self.regs["ISR"] &= ~RSF
        self._schedule_rsf()
        self._reschedule()

    def _cancel_all(self) -> None:
        for ev in (*self._alarm_ev, self._wut_ev, self._rsf_ev, self._initf_ev):
            if ev is not None:
                ev.cancel()
        self._alarm_ev = [None, None]
        self._wut_ev = self._rsf_ev = self._initf_ev = None

    # -- time base ------------------------------------------------------------------------
    def _rate(self) -> int:
        if getattr(self.ctx.machine, "clocks", None) is None:
            return self._tree.rate_hz(self._clock_name) or self._fallback_hz
        hz = self._tree.rate_hz(self._clock_name)
        return self._rtcclk_hz if hz and self._rtcclk_hz else hz

    @property
    def _running(self) -> bool:
        return self._f > 0 and not self.regs["ISR"] & INIT

    def _prediv(self) -> tuple[int, int]:
        prer = self.regs["PRER"]
        return (prer >> 16) & 0x7F, prer & 0x7FFF

    def _cycles_per_s(self) -> int:
        a, s = self._prediv()
        return (a + 1) * (s + 1)

    def _position(self) -> tuple[int, int]:
        """(calendar seconds since 2000, RTCCLK cycles into the current second) now."""
        if not self._running:
            return self._base_s, self._base_sub
        cycles = (self.ctx.clock.now_ps - self._t0) * self._f // PS_PER_S + self._base_sub
        per = self._cycles_per_s()
        return self._base_s + cycles // per, cycles % per

    def _rebase(self) -> None:
        secs, sub = self._position()
        self._base_wd = self._weekday_at(secs)
        self._base_s, self._base_sub = secs, sub
        self._t0 = self.ctx.clock.now_ps

    def _weekday_at(self, secs: int) -> int:
        days = secs // 86400 - self._base_s // 86400
        return (self._base_wd - 1 + days) % 7 + 1

    def _second_time_ps(self, secs: int) -> int:
        """Virtual time at which the calendar becomes `secs` (running calendar only)."""
        cycles = (secs - self._base_s) * self._cycles_per_s() - self._base_sub
        return self._t0 + -(-cycles * PS_PER_S // self._f)

    def _rate_changed(self) -> None:
        self._rebase()
        self._f = self._rate()
        self._reschedule()

    # -- calendar fields ------------------------------------------------------------------
    def _calendar(self, secs: int) -> _dt.datetime:
        secs %= 100 * 365 * 86400 + 25 * 86400     # 2000-2099 then wrap
        return _EPOCH + _dt.timedelta(seconds=secs)

    def _encode(self, secs: int) -> tuple[int, int]:
        t = self._calendar(secs)
        hour, pm = t.hour, 0
        if self.regs["CR"] & FMT:
            pm = int(hour >= 12)
            hour = hour % 12 or 12
        tr = _bcd(t.second) | _bcd(t.minute) << 8 | _bcd(hour) << 16 | pm << 22
        dr = (_bcd(t.day) | _bcd(t.month) << 8 | self._weekday_at(secs) << 13
              | _bcd(t.year - 2000) << 16)
        return tr, dr

    def _hour24(self, hour_bcd: int, pm: int) -> int:
        hour = _unbcd(hour_bcd)
        if self.regs["CR"] & FMT:
            return hour % 12 + (12 if pm else 0)
        return hour

    def _set_calendar(self, tr: int, dr: int) -> bool:
        try:
            t = _dt.datetime(2000 + _unbcd((dr >> 16) & 0xFF), _unbcd((dr >> 8) & 0x1F),
                             _unbcd(dr & 0x3F), self._hour24((tr >> 16) & 0x3F, (tr >> 22) & 1),
                             _unbcd((tr >> 8) & 0x7F), _unbcd(tr & 0x7F))
        except ValueError as exc:
            self.ctx.log(logging.WARNING, "invalid calendar TR=0x%06x DR=0x%06x ignored (%s)", tr, dr, exc)
            return False
        self._base_s = int((t - _EPOCH).total_seconds())
        self._base_wd = ((dr >> 13) & 7) or 1
        self._base_sub = 0
        self._t0 = self.ctx.clock.now_ps
        return True

    # -- host helpers ---------------------------------------------------------------------
    def set_datetime(self, when: _dt.datetime) -> None:
        """Set the calendar from Python (weekday from the date), as if firmware had done it."""
        if not 2000 <= when.year <= 2099:
            raise SetupError(f"the STM32 RTC calendar covers 2000-2099, got {when.year}")
        self._base_s = int((when.replace(microsecond=0, tzinfo=None) - _EPOCH).total_seconds())
        self._base_wd = when.isoweekday()
        self._base_sub = 0
        self._t0 = self.ctx.clock.now_ps
        self._reschedule()

    def datetime(self) -> _dt.datetime:
        return self._calendar(self._position()[0])

    def weekday(self) -> int:
        return self._weekday_at(self._position()[0])

    # -- flags and interrupts -------------------------------------------------------------
    def _update_irq(self) -> None:
        isr, cr = self.regs["ISR"], self.regs["CR"]
        self.AlarmIRQ.set(bool((isr & ALRAF and cr & ALRAIE) or (isr & ALRBF and cr & ALRBIE)))
        self.WakeupIRQ.set(bool(isr & WUTF and cr & WUTIE))

    def _schedule_rsf(self) -> None:
        if self._rsf_ev is not None:
            self._rsf_ev.cancel()
            self._rsf_ev = None
        if self._f > 0:
            self._rsf_ev = self.ctx.clock.schedule(-(-2 * PS_PER_S // self._f), self._rsf_set)

    def _rsf_set(self) -> None:
        self._rsf_ev = None
        if not self.regs["ISR"] & INIT:
            self.regs["ISR"] |= RSF

    # -- alarms ---------------------------------------------------------------------------
    def _alarm_matches_day(self, alrm: int, secs: int) -> bool:
        if alrm >> 31 & 1:                       # MSK4: date/weekday don't care
            return True
        if alrm >> 30 & 1:                       # WDSEL: weekday
            return self._weekday_at(secs) == (alrm >> 24) & 0xF
        return self._calendar(secs).day == _unbcd((alrm >> 24) & 0x3F)

    def _next_alarm_s(self, alrm: int, after_s: int) -> int | None:
        """First calendar second > after_s matching the alarm register, within 62 days."""
        secs = [_unbcd(alrm & 0x7F)] if not alrm >> 7 & 1 else range(60)
        mins = [_unbcd((alrm >> 8) & 0x7F)] if not alrm >> 15 & 1 else range(60)
        hours = ([self._hour24((alrm >> 16) & 0x3F, (alrm >> 22) & 1)]
                 if not alrm >> 23 & 1 else range(24))
        start = after_s + 1
        day0 = start - start % 86400
        for d in range(63):
            day_s = day0 + d * 86400
            if not self._alarm_matches_day(alrm, day_s):
                continue
            lo = start - day_s if d == 0 else 0
            for h in hours:
                if h * 3600 + 3599 < lo:
                    continue
                for m in mins:
                    if h * 3600 + m * 60 + 59 < lo:
                        continue
                    for s in secs:
                        tod = h * 3600 + m * 60 + s
                        if tod >= lo and tod < 86400:
                            return day_s + tod
        return None

    def _alarm_fire(self, which: int, secs: int) -> None:
        self._alarm_ev[which] = None
        self.regs["ISR"] |= (ALRAF, ALRBF)[which]
        self._update_irq()
        self._schedule_alarm(which, secs)

    def _schedule_alarm(self, which: int, after_s: int | None = None) -> None:
        ev = self._alarm_ev[which]
        if ev is not None:
            ev.cancel()
        self._alarm_ev[which] = None
        if not self._running or not self.regs["CR"] & (ALRAE, ALRBE)[which]:
            return
        if after_s is None:
            after_s = self._position()[0]
        target = self._next_alarm_s(self.regs[("ALRMAR", "ALRMBR")[which]], after_s)
        if target is not None:
            self._alarm_ev[which] = self.ctx.clock.schedule_at(
                self._second_time_ps(target), self._alarm_fire, which, target)

    # -- wake-up timer --------------------------------------------------------------------
    def _start_wakeup(self) -> None:
        if self._wut_ev is not None:
            self._wut_ev.cancel()
            self._wut_ev = None
        if not self.regs["CR"] & WUTE or self._f <= 0:
            return
        self._wut_base_ps = self.ctx.clock.now_ps
        self._wut_base_s = self._position()[0]
        self._wut_n = 0
        self._schedule_wakeup()

    def _schedule_wakeup(self) -> None:
        sel = self.regs["CR"] & 7
        wut = self.regs["WUTR"] & 0xFFFF
        self._wut_n += 1
        if sel < 4:
            div = (16, 8, 4, 2)[sel]
            cycles = self._wut_n * (wut + 1) * div
            when = self._wut_base_ps + -(-cycles * PS_PER_S // self._f)
        else:
            if not self._running:
                return
            period = wut + 1 + (0x10000 if sel >= 6 else 0)
            when = self._second_time_ps(self._wut_base_s + self._wut_n * period)
        self._wut_ev = self.ctx.clock.schedule_at(when, self._wakeup_fire)

    def _wakeup_fire(self) -> None:
        self._wut_ev = None
        self.regs["ISR"] |= WUTF
        self._update_irq()
        self._schedule_wakeup()

    def _reschedule(self) -> None:
        self._schedule_alarm(0)
        self._schedule_alarm(1)
        if self._wut_ev is None or (self.regs["CR"] & 7) >= 4:
            self._start_wakeup()

    # -- register access ------------------------------------------------------------------
    def read(self, offset: int, size: int) -> int:
        bypass = self.regs["CR"] & BYPSHAD
        if offset == SSR:
            a, s = self._prediv()
            secs, sub = self._position()
            if not bypass:
                self._latch = self._encode(secs)
            return s - sub // (a + 1)
        if offset == TR:
            # An SSR read locked TR too; a TR read locks only DR (the higher-order register).
            if self._latch is not None and self._latch[0] is not None and not bypass:
                return self._latch[0]
            tr, dr = self._encode(self._position()[0])
            if not bypass and self._latch is None:
                self._latch = (None, dr)
            return tr
        if offset == DR:
            if self._latch is not None and not bypass:
                value = self._latch[1]
                self._latch = None
                return value
            return self._encode(self._position()[0])[1]
        if offset == ISR:
            isr, cr = self.regs["ISR"], self.regs["CR"]
            isr &= ~(ALRAWF | ALRBWF | WUTWF | INITS)
            if not cr & ALRAE or isr & INITF:
                isr |= ALRAWF
            if not cr & ALRBE or isr & INITF:
                isr |= ALRBWF
            if not cr & WUTE:
                isr |= WUTWF
            if self._calendar(self._position()[0]).year != 2000:
                isr |= INITS
            return isr
        if BKP0R <= offset < BKP0R + 4 * self.n_bkp:
            return self.bkp[(offset - BKP0R) // 4]
        reg = REGS.get(offset)
        if reg is None or reg.access == "w":
            return 0 if reg is not None else super().read(offset, size)
        return self.regs[reg.name]

    def write(self, offset: int, size: int, value: int) -> None:
        value &= 0xFFFFFFFF
        if self.pwr is not None and not getattr(self.pwr, "backup_writable", True):
            self.ctx.log_once("rtc-dbp", logging.WARNING,
                              "write to 0x%02X ignored: backup domain is write-protected "
                              "(set PWR_CR.DBP first)", offset)
            return
        if BKP0R <= offset < BKP0R + 4 * self.n_bkp:
            self.bkp[(offset - BKP0R) // 4] = value
            return
        if offset == WPR:
            key = value & 0xFF
            self._wpr_state = (1 if key == 0xCA else 0) if self._wpr_state != 1 else (
                2 if key == 0x53 else 0)
            return
        reg = REGS.get(offset)
        if reg is None:
            super().write(offset, size, value)
            return
        if offset == ISR:
            self._write_isr(value)
            return
        if offset not in _UNPROTECTED and self._wpr_state != 2:
            self.ctx.log_once(("locked", offset), logging.WARNING,
                              "write to %s ignored: registers locked (write 0xCA, 0x53 to WPR)", reg.name)
            return
        in_init = bool(self.regs["ISR"] & INITF)
        if offset in (TR, DR, PRER):
            if not in_init:
                self.ctx.log_once(("init", offset), logging.WARNING,
                                  "write to %s ignored outside initialization mode", reg.name)
                return
            if offset == PRER:
                self.regs["PRER"] = value & 0x007F7FFF
                return
            tr, dr = self._encode(self._base_s)
            if offset == TR:
                tr = value & 0x007F7F7F
            else:
                dr = value & 0x00FFFF3F
            if self._set_calendar(tr, dr):
                self.regs["ISR"] &= ~RSF
                self._latch = None               # the shadow registers are copied afresh
            return
        if offset == CR:
            self._write_cr(value)
        elif offset in (ALRMAR, ALRMBR):
            which = 0 if offset == ALRMAR else 1
            if self.regs["CR"] & (ALRAE, ALRBE)[which] and not in_init:
                self.ctx.log_once(("alrm", which), logging.WARNING,
                                  "ALRM%sR written while the alarm is enabled: ignored", "AB"[which])
                return
            self.regs[reg.name] = value
            self._schedule_alarm(which)
        elif offset == WUTR:
            if self.regs["CR"] & WUTE:
                self.ctx.log_once("wutr", logging.WARNING, "WUTR written while WUTE=1: ignored")
                return
            self.regs["WUTR"] = value & 0xFFFF
        elif reg.access != "r":
            self.regs[reg.name] = value

    def _write_cr(self, value: int) -> None:
        old = self.regs["CR"]
        self.regs["CR"] = value & ~(ADD1H | SUB1H)
        if value & (ADD1H | SUB1H) and self._running:
            self._rebase()
            self._base_s += 3600 if value & ADD1H else -3600
        if (old ^ value) & (WUTE | 7):
            self._start_wakeup()
        self._schedule_alarm(0)
        self._schedule_alarm(1)
        self._update_irq()

    def _write_isr(self, value: int) -> None:
        isr = self.regs["ISR"]
        rsf_cleared = bool(isr & RSF and not value & RSF)
        isr &= value | ~ISR_W0C                  # rc_w0 flags, not write protected
        entering = leaving = False
        if self._wpr_state == 2:
            entering = bool(value & INIT and not isr & INIT)
            leaving = bool(not value & INIT and isr & INIT)
        elif (value ^ isr) & INIT:
            self.ctx.log_once("isr-locked", logging.WARNING, "ISR.INIT write ignored: registers locked")
        if entering:
            self._rebase()                       # the calendar stops where it is
            isr = (isr | INIT) & ~RSF
            if self._f > 0:                      # INITF after ~2 RTCCLK periods
                self._initf_ev = self.ctx.clock.schedule(-(-2 * PS_PER_S // self._f), self._initf_set)
        elif leaving:
            isr &= ~(INIT | INITF)
            self._latch = None
            if self._initf_ev is not None:
                self._initf_ev.cancel()
                self._initf_ev = None
            self._t0 = self.ctx.clock.now_ps     # counting restarts from the programmed value
        self.regs["ISR"] = isr
        if leaving or (rsf_cleared and not isr & INIT):
            self._schedule_rsf()                 # shadow registers copied again shortly
        if entering or leaving:
            self._reschedule()
        self._update_irq()

    def _initf_set(self) -> None:
        self._initf_ev = None
        if self.regs["ISR"] & INIT:
            self.regs["ISR"] |= INITF
