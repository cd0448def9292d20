"""STM32F1/F4 general-purpose, basic and advanced-control timers (TIM1..TIM14), counted in
closed form in virtual time.

Followed: RM0008 §14-15 (TIM1/8, TIM2-5), §16 (TIM9-14), §17 (TIM6/7); RM0430 §16-19:
- "Time-base unit": CK_CNT = TIMCLK / (PSC + 1); PSC and (with ARPE=1) ARR are preloaded and
  transferred at the update event (UEV); the counter counts up 0..ARR (overflow), down ARR..0
  (underflow) or centre-aligned 0..ARR..0 (CMS != 0, UEV at both ends, DIR read-only).
- UEV: on overflow/underflow unless UDIS; UG in EGR re-initialises the counter and the
  prescaler and transfers the preloads (UIF unless URS=1); with UDIS=1 UG only re-initialises.
- "One-pulse mode": CEN is cleared at the next UEV.
- "Repetition counter" (TIM1/TIM8): UEV only every RCR+1 overflows/underflows.
- "Output compare": CCxIF is set when the counter reaches CCRx (CCRx preloaded when OCxPE=1);
  OCxREF follows OCxM (frozen, active/inactive/toggle on match, forced, PWM 1/2) and drives
  output x (`connections[x]`) as OCxREF xor CCxP when CCxE (and MOE on advanced timers).
- "Input capture": an edge on input x (CCxS=01) or on the paired input (CCxS=10), of the
  polarity chosen by CCxP/CCxNP, copies CNT to CCRx and sets CCxIF (CCxOF if it was set);
  reading CCRx clears CCxIF.
- Interrupts: IRQ is the OR of all enabled flags (general timers have one vector); the
  advanced timers' separate vectors are UpdateInterrupt, CaptureCompareInterrupt,
  TriggerInterrupt, CommutationInterrupt, BreakInterrupt (Renode's output names).
- TIMCLK is RCC's TIMCLK2 for timers on APB2 (TIM1, 8, 9, 10, 11) and TIMCLK1 otherwise,
  i.e. PCLK or 2 x PCLK per the APB-prescaler rule applied by the RCC model; a change re-bases
  the running counter at once.

Time model: the counter state is (start cycle, count, prescaler phase, direction) of the
current segment of counting; CNT is computed on read. One clock event is scheduled for the
next update or compare that anything listens to (an enabled interrupt or a connected output);
flags nobody listens to are brought up to date when the firmware reads the timer, with whole
periods skipped in one step. The cycle of the segment's next compare or update is kept
(`_quiet_until`), so an access before it (a Modbus silence timer restarted at every character)
costs one comparison; starting, stopping or re-basing the segment and a preload transfer
forget it.

- "Slave mode: Reset mode" (SMS=100): a trigger edge on TI1F_ED, TI1FP1 or TI2FP2 (TS=100,
  101, 110) sets TIF and re-initialises the counter as UG does, after the edge's captures:
  with CC1 on TI1 rising and CC2 on TI1 falling this is "PWM input mode" (CCR1 = period,
  CCR2 = pulse).

- "Encoder interface mode" (SMS=001/010/011): the counter moves only on TI1/TI2 edges, up or
  down by the other input's level, wrapping at ARR with an update event; DIR reads the last
  direction.

Not modelled: gated, trigger and external-clock slave modes (SMCR stored, logged), trigger
output and master/slave chaining, DMA requests and DMAR/DCR bursts, break input and dead time
(BDTR stored; only MOE gates outputs), complementary outputs, input filters and prescalers,
ETR, the one-cycle latencies of CEN and of the capture path. When ARR is lowered below CNT
without preload, the counter runs on to its maximum and wraps with an update.
"""

from __future__ import annotations

import logging
from typing import Any

from metersim.peripherals.base import GPIO, Context, Peripheral
from metersim.peripherals.registry import model
from metersim.peripherals.regmap import Reg, RegisterMap
from metersim.peripherals.stm32.usart import ApbClock
from metersim._units import PS_PER_S

(CR1, CR2, SMCR, DIER, SR, EGR, CCMR1, CCMR2, CCER, CNT, PSC, ARR, RCR,
 CCR1, CCR2, CCR3, CCR4, BDTR, DCR, DMAR, OR) = range(0, 0x54, 4)
CCR_OFFSETS = (CCR1, CCR2, CCR3, CCR4)
_CCR_NAMES = ("CCR1", "CCR2", "CCR3", "CCR4")
_CCR_CHANNEL = {off: ch for ch, off in enumerate(CCR_OFFSETS)}
REGS = RegisterMap([
    Reg("CR1", CR1, 16, 0, doc="CEN UDIS URS OPM DIR CMS[6:5] ARPE CKD[9:8]"),
    Reg("CR2", CR2, 16, 0, doc="CCDS MMS TI1S OISx (stored)"),
    Reg("SMCR", SMCR, 16, 0, doc="slave mode (stored)"),
    Reg("DIER", DIER, 16, 0, doc="UIE CC1IE..CC4IE COMIE TIE BIE UDE CCxDE COMDE TDE"),
    Reg("SR", SR, 16, 0, "rc_w0", doc="UIF CC1IF..CC4IF COMIF TIF BIF CC1OF..CC4OF"),
    Reg("EGR", EGR, 16, 0, "w", doc="UG CC1G..CC4G COMG TG BG"),
    Reg("CCMR1", CCMR1, 16, 0, doc="CC1S OC1PE OC1M CC2S OC2PE OC2M"),
    Reg("CCMR2", CCMR2, 16, 0, doc="CC3S OC3PE OC3M CC4S OC4PE OC4M"),
    Reg("CCER", CCER, 16, 0, doc="CCxE CCxP CCxNE CCxNP"),
    Reg("CNT", CNT, 32, 0),
    Reg("PSC", PSC, 16, 0),
    Reg("ARR", ARR, 32, 0xFFFF),
    Reg("RCR", RCR, 16, 0, doc="repetition counter (advanced timers)"),
    Reg("CCR1", CCR1, 32, 0), Reg("CCR2", CCR2, 32, 0), Reg("CCR3", CCR3, 32, 0), Reg("CCR4", CCR4, 32, 0),
    Reg("BDTR", BDTR, 16, 0, doc="DTG LOCK OSSI OSSR BKE BKP AOE MOE (stored; MOE gates outputs)"),
    Reg("DCR", DCR, 16, 0), Reg("DMAR", DMAR, 16, 0), Reg("OR", OR, 16, 0),
])

# CR1
CEN, UDIS, URS, OPM, DIR, ARPE = 1, 2, 4, 8, 16, 128
# DIER / SR bit positions
UIF, COMIF, TIF, BIF = 1, 1 << 5, 1 << 6, 1 << 7
SMS_RESET = 4          # SMCR.SMS = 100: a trigger edge re-initialises the counter
MOE = 1 << 15

# Addresses of advanced (TIM1/TIM8) and basic (TIM6/TIM7) timers on F1 and F4.
_ADVANCED = {0x40010000, 0x40010400, 0x40012C00, 0x40013400}
_BASIC = {0x40001000, 0x40001400}


_NEVER = float("inf")


def _ccif(ch: int) -> int:
    return 1 << (ch + 1)


_CCIF = tuple(_ccif(ch) for ch in range(4))   # CCxIF (and CCxIE) bit of each channel


@model("Timers.STM32_Timer", "metersim.STM32_GeneralTimer")
class STM32Timer(Peripheral):
    size = 0x400
    variant = "general"

    def __init__(self, ctx: Context, frequency: int = 10_000_000, initial_limit: int = 0xFFFF,
                 channels: int | None = None, advanced: bool | None = None,
                 clock: str | None = None, **_ignored):
        super().__init__(ctx)
        addr = ctx.address
        if advanced is None:
            advanced = self.variant == "advanced" or addr in _ADVANCED
        basic = self.variant == "basic" or (self.variant == "general" and addr in _BASIC)
        if channels is None:
            channels = 0 if basic else 4
        self.advanced = bool(advanced)
        self.channels = max(0, min(4, int(channels)))
        self.initial_limit = int(initial_limit)
        self.max_count = 0xFFFFFFFF if self.initial_limit > 0xFFFF else 0xFFFF
        self.IRQ = GPIO("IRQ")
        self.UpdateInterrupt = GPIO("UpdateInterrupt")
        self.CaptureCompareInterrupt = GPIO("CaptureCompareInterrupt")
        self.TriggerInterrupt = GPIO("TriggerInterrupt")
        self.CommutationInterrupt = GPIO("CommutationInterrupt")
        self.BreakInterrupt = GPIO("BreakInterrupt")
        self.connections = {ch: GPIO(f"OC{ch + 1}") for ch in range(self.channels)}
        # Renode's `frequency` is only a fallback: the RCC's timer clock rules.
        self._clk = ApbClock(ctx, "TIMCLK", clock, fallback_hz=int(frequency) or 10_000_000,
                             on_change=self._rate_changed)
        self._ev = None
        self._clock = ctx.clock
        self._inputs = [False] * 4
        self.reset()

    # -- state ----------------------------------------------------------------------------
    def reset(self) -> None:
        if self._ev is not None:
            self._ev.cancel()
        self._ev = None
        self.regs = REGS.resets()
        self.regs["ARR"] = self.initial_limit & self.max_count
        self._psc = 0                     # active prescaler (PSC register is the preload)
        self._arr = self.regs["ARR"]      # active auto-reload
        self._ccr = [0, 0, 0, 0]          # active compare values
        self._rep = 0                     # repetition down-counter
        self._oc_ref = [False] * 4
        self._running = False
        self._t0 = self.ctx.clock.now_ps  # time base of cycle counting
        self._f = self._clk.hz
        self._stopped = (0, 0, 1)         # (cnt, prescaler phase, dir) while not counting
        self._seg = None                  # [cycle, cnt, phase, dir, fired tick] while counting
        self._quiet_until = 0             # no compare or update before this cycle (0: unknown)
        self._mode_changed()
        self._irq_active = None           # enabled flags the lines show (None: drive them all)
        self._update_irq()
        for ch in sorted(getattr(self, "_input_channels", ())):
            self._release_pins(ch, False)
        self._input_channels: set[int] = set()
        for gpio in self.connections.values():
            gpio.unset()

    # -- clock arithmetic -----------------------------------------------------------------
    def _now_cycles(self) -> int:
        return (self._clock.now_ps - self._t0) * self._f // PS_PER_S

    def _cycle_ps(self, cycle: int) -> int:
        return self._t0 + -(-cycle * PS_PER_S // self._f)

    def _center(self) -> int:
        return (self.regs["CR1"] >> 5) & 3

    def _tick_cycle(self, k: int) -> int:
        seg = self._seg
        return seg[0] + k * (self._psc + 1) - seg[2]

    # -- segment geometry -----------------------------------------------------------------
    def _end_tick(self) -> int | None:
        """Tick (from the segment start) of the next overflow/underflow; None when blocked."""
        _, cnt, _, d, _ = self._seg
        arr = self._arr
        if arr == 0:
            return None                   # the counter is blocked while ARR = 0
        if self.regs["CR1"] & 0x60:       # _center(): CMS != 0
            return (arr - cnt) if d > 0 else cnt
        if d > 0:
            return (self.max_count if cnt > arr else arr) - cnt + 1
        return cnt + 1

    def _is_output(self, ch: int) -> bool:
        return self._output[ch]

    def _mode_changed(self) -> None:
        """CCMR1/CCMR2 written (or reset): which channels compare (CCxS = 00), kept as data
        because every event and access walks them."""
        self._output = [ch < self.channels and self._ccs(ch) == 0 for ch in range(4)]
        self._out_chans = tuple(ch for ch in range(4) if self._output[ch])

    def _ccs(self, ch: int) -> int:
        reg = self.regs["CCMR1" if ch < 2 else "CCMR2"]
        return (reg >> (8 * (ch & 1))) & 3

    def _ocm(self, ch: int) -> int:
        reg = self.regs["CCMR1" if ch < 2 else "CCMR2"]
        return (reg >> (8 * (ch & 1) + 4)) & 7

    def _ocpe(self, ch: int) -> bool:
        reg = self.regs["CCMR1" if ch < 2 else "CCMR2"]
        return bool((reg >> (8 * (ch & 1) + 3)) & 1)

    def _next(self, interesting_only: bool = False):
        """(tick, [channels], is_end) of the next event in the segment, or None."""
        end = self._end_tick()
        if end is None:
            return None
        _, cnt, _, d, fired = self._seg
        best, chans = end, []
        regs = self.regs
        dier, ccer = regs["DIER"], regs["CCER"]
        arr, ccrs = self._arr, self._ccr
        cms = (regs["CR1"] >> 5) & 3      # _center()
        top = self.max_count if cnt > arr else arr
        for ch in self._out_chans:
            # interesting: its interrupt is enabled or it drives a pin (_drives_output)
            if interesting_only and not (dier & _CCIF[ch] or (
                    ccer >> (4 * ch) & 1 and self.connections[ch].connected)):
                continue
            # the tick at which the counter meets CCRx in this segment (none: skip it)
            ccr = ccrs[ch]
            if cms:
                if (d > 0 and cms == 1) or (d < 0 and cms == 2):
                    continue              # flags only in the selected counting direction
                if d > 0 and cnt < ccr <= arr:
                    k = ccr - cnt
                elif d < 0 and ccr < cnt:
                    k = cnt - ccr
                else:
                    continue
            elif d > 0:
                if not cnt < ccr <= top:
                    continue
                k = ccr - cnt
            elif ccr < cnt:
                k = cnt - ccr
            else:
                continue
            if k <= fired or k > end:
                continue
            if k < best:
                best, chans = k, [ch]
            elif k == best:
                chans.append(ch)
        return best, chans, best == end

    # -- advancing ------------------------------------------------------------------------
    def _advance(self) -> int | None:
        """Process every compare and update due up to now, in order. Returns the counter's
        cycle now (None when stopped), for the rest of the same register access."""
        if not self._running:
            return None
        now_c = (self._clock.now_ps - self._t0) * self._f // PS_PER_S   # _now_cycles()
        if now_c < self._quiet_until:
            return now_c                  # nothing due yet: the common case, O(1)
        self._skip_whole_periods(now_c)   # needs two periods past, so never before the next event
        while self._running:
            nxt = self._next()
            if nxt is None:
                self._quiet_until = _NEVER  # blocked (ARR = 0) until something changes
                break
            k, chans, is_end = nxt
            cycle = self._tick_cycle(k)
            if cycle > now_c:
                self._quiet_until = cycle
                break
            self._seg[4] = k
            for ch in chans:
                self._compare_match(ch, self._seg[1] + self._seg[3] * k)
            if is_end:
                self._overflow(cycle)
        return now_c if self._running else None

    def _skip_whole_periods(self, now_c: int) -> None:
        """Steady edge-aligned counting nobody watched: account for many periods at once."""
        seg = self._seg
        period = (self._arr + 1) * (self._psc + 1)
        if now_c - seg[0] < 2 * period:
            return                        # less than two periods: nothing to skip (n < 2 below)
        cr1 = self.regs["CR1"]
        if (self._center() or cr1 & (OPM | UDIS) or self._arr == 0 or seg[2] != 0 or seg[4] != 0
                or self.regs["PSC"] != self._psc or (self.advanced and (self.regs["RCR"] or self._rep))
                or (cr1 & ARPE and self.regs["ARR"] != self._arr)):
            return
        if seg[1] != (0 if seg[3] > 0 else self._arr):
            return
        for ch in range(self.channels):
            if self._is_output(ch) and self._ocpe(ch) and self._ccr[ch] != self.regs[_CCR_NAMES[ch]]:
                return
        n = (now_c - seg[0]) // period
        flags = UIF
        for ch in range(self.channels):
            if self._is_output(ch) and self._ccr[ch] <= self._arr:
                flags |= _ccif(ch)
        seg[0] += (n - 1) * period
        self.regs["SR"] |= flags
        self._update_irq()

    def _overflow(self, cycle: int) -> None:
        """Counter overflow/underflow at `cycle`: UEV (unless held back), new segment."""
        _, _, _, d, _ = self._seg
        cr1 = self.regs["CR1"]
        uev = not cr1 & UDIS
        if self.advanced:
            if self._rep > 0:
                self._rep -= 1
                uev = False
            elif uev:
                self._rep = self.regs["RCR"] & 0xFF
        if uev:
            self._transfer_preloads()
        center = self._center()
        if center:
            new_d = -d
            new_cnt = self._arr if d > 0 else 0
        else:
            new_d = d
            new_cnt = 0 if d > 0 else self._arr
        self._seg = [cycle, new_cnt, 0, new_d, 0]
        if uev:
            self.regs["SR"] |= UIF
            if cr1 & OPM:
                self._stop(new_cnt, 0, new_d)
                self.regs["CR1"] &= ~CEN
        if not center:                    # a compare equal to the reload value matches now
            for ch in range(self.channels):
                if self._is_output(ch) and self._ccr[ch] == new_cnt:
                    self._compare_match(ch, new_cnt)
        self._refresh_pwm(new_cnt, new_d)
        self._update_irq()

    def _transfer_preloads(self) -> None:
        self._quiet_until = 0
        self._psc = self.regs["PSC"]
        self._arr = self.regs["ARR"]
        regs = self.regs
        self._ccr[:] = (regs["CCR1"], regs["CCR2"], regs["CCR3"], regs["CCR4"])

    def _compare_match(self, ch: int, cnt: int) -> None:
        self.regs["SR"] |= _ccif(ch)
        mode = self._ocm(ch)
        if mode == 1:
            self._oc_ref[ch] = True
        elif mode == 2:
            self._oc_ref[ch] = False
        elif mode == 3:
            self._oc_ref[ch] = not self._oc_ref[ch]
        elif mode in (6, 7):
            self._oc_ref[ch] = self._pwm_ref(ch, cnt, self._seg[3] if self._seg else 1)
        self._drive(ch)
        self._update_irq()

    def _pwm_ref(self, ch: int, cnt: int, d: int) -> bool:
        ccr = self._ccr[ch]
        active = cnt < ccr if d > 0 else cnt <= ccr
        return active if self._ocm(ch) == 6 else not active

    def _refresh_pwm(self, cnt: int, d: int) -> None:
        for ch in range(self.channels):
            mode = self._ocm(ch)
            if self._is_output(ch) and mode in (4, 5, 6, 7):
                self._oc_ref[ch] = (mode == 5) if mode < 6 else self._pwm_ref(ch, cnt, d)
                self._drive(ch)

    def _drives_output(self, ch: int) -> bool:
        return bool(self.regs["CCER"] >> (4 * ch) & 1) and self.connections[ch].connected

    def _drive(self, ch: int) -> None:
        if ch >= self.channels:
            return
        is_input = not self._is_output(ch)
        if is_input != (ch in self._input_channels):
            self._input_channels ^= {ch}
            self._release_pins(ch, is_input)
        if is_input:
            return
        ccer = self.regs["CCER"] >> (4 * ch)
        enabled = ccer & 1 and (not self.advanced or self.regs["BDTR"] & MOE)
        self.connections[ch].set(bool(enabled) and (self._oc_ref[ch] ^ bool(ccer & 2)))

    def _release_pins(self, ch: int, released: bool) -> None:
        """A channel configured as input (CCxS != 00) does not drive the pins its alternate
        function reaches: tell those GPIO ports (`timer3: 0 -> gpioPortA#06@02`) to treat the
        pin as an input; back to output, it drives them with its level again."""
        line = self.connections[ch]
        for rx, pin in line._targets:   # noqa: SLF001 - the receivers this output was wired to
            if getattr(rx, "accepts_release", False):
                rx.on_gpio(pin, None if released else line.level)

    # -- start / stop / rebase ------------------------------------------------------------
    def _state_now(self, now_c: int | None = None) -> tuple[int, int, int]:
        """(count, prescaler phase, direction) now; call after _advance() (`now_c`: the cycle
        it returned, saving a second look at the clock)."""
        if not self._running:
            return self._stopped
        cycle, cnt, phase, d, _ = self._seg
        if self._end_tick() is None:
            return cnt, 0, d
        if now_c is None:
            now_c = (self._clock.now_ps - self._t0) * self._f // PS_PER_S   # _now_cycles()
        elapsed = now_c - cycle + phase
        ticks, phase_now = divmod(elapsed, self._psc + 1)
        return (cnt + d * ticks) & self.max_count, phase_now, d

    def _start(self, cnt: int, phase: int, d: int, now_c: int | None = None) -> None:
        if now_c is None:
            now_c = (self._clock.now_ps - self._t0) * self._f // PS_PER_S   # _now_cycles()
        self._running = True
        self._quiet_until = 0
        self._seg = [now_c, cnt, phase, d, 0]

    def _stop(self, cnt: int, phase: int, d: int) -> None:
        self._running = False
        self._quiet_until = 0
        self._seg = None
        self._stopped = (cnt, phase, d)

    def _rebase(self, cnt: int, phase: int, d: int, now_c: int | None = None) -> None:
        """Restart counting from (cnt, phase, d) now, according to CEN (in encoder mode the
        counter holds still between input edges: on_gpio counts them); `now_c` as for
        _state_now."""
        if self.regs["CR1"] & CEN and not 1 <= self.regs["SMCR"] & 7 <= 3:   # not encoder mode
            self._start(cnt, phase, d, now_c)
        else:
            self._stop(cnt, phase, d)
        self._reschedule()

    def _rate_changed(self, hz: int) -> None:
        self._advance()
        self._quiet_until = 0
        state = self._state_now()
        self._t0 = self.ctx.clock.now_ps
        self._f = self._clk.hz
        if self._running:
            self._rebase(*state)

    # -- scheduling -----------------------------------------------------------------------
    def _reschedule(self) -> None:
        if self._ev is not None:
            self._ev.cancel()
            self._ev = None
        if not self._running:
            return
        nxt = self._next(interesting_only=True)
        if nxt is None:
            return
        k, chans, is_end = nxt
        if not chans and not (is_end and (self.regs["DIER"] & UIF or self._drives_any()
                                          or self._listened())):
            return
        self._ev = self.ctx.clock.schedule_at(self._cycle_ps(self._tick_cycle(k)), self._on_event)

    def _drives_any(self) -> bool:
        for ch in range(self.channels):
            if self._drives_output(ch):
                return True
        return False

    def _listened(self) -> bool:
        """Something needs the next update even without UIE: compare interrupts in later
        periods, or OPM stopping the counter (a CEN read must see it)."""
        dier = self.regs["DIER"]
        return bool(dier & 0x1E or self.regs["CR1"] & OPM)

    def _on_event(self) -> None:
        self._ev = None
        self._advance()
        self._reschedule()

    # -- interrupts -----------------------------------------------------------------------
    def _update_irq(self) -> None:
        active = self.regs["SR"] & self.regs["DIER"] & 0xFF
        if active == self._irq_active:
            return                        # the six lines already show it
        self._irq_active = active
        self.IRQ.set(bool(active))
        self.UpdateInterrupt.set(bool(active & UIF))
        self.CaptureCompareInterrupt.set(bool(active & 0x1E))
        self.CommutationInterrupt.set(bool(active & COMIF))
        self.TriggerInterrupt.set(bool(active & TIF))
        self.BreakInterrupt.set(bool(active & BIF))

    # -- register access ------------------------------------------------------------------
    def hot_registers(self) -> list:
        """SR, which firmware polls for an update or a compare, is answered in C by the engine
        (metersim._engine.hot_regs) when `_advance` has nothing to process: the counter
        stopped or its cycle now before `_quiet_until`. It reads _running, _t0, _f,
        _quiet_until and regs["SR"].

        An SR write (clearing flags) is made in C while the counter is stopped with no event
        scheduled (`_advance` and `_reschedule` have nothing to do), where every line
        `_update_irq` moves has only NVICs' C on_gpio as receivers (an ISR clearing UIF
        lowers the IRQ line). It reads _running, _ev, _irq_active, regs["DIER"], the lines
        and their receivers, and sets regs["SR"], _irq_active, the lines' levels and calls
        the NVIC's on_gpio."""
        from metersim._engine.hot_regs import HotRegister

        return [HotRegister(SR, "timer_sr", self), HotRegister(SR, "timer_sr_write", self)]

    def read(self, offset: int, size: int) -> int:
        self._advance()
        if offset == SR:
            return self.regs["SR"]
        if offset == CNT:
            note = getattr(self.ctx.machine, "time_register_read", None)
            if note is not None:
                note()            # a loop timing out on CNT: its skip is bounded (CortexM.poll_hint)
            return self._state_now()[0]
        if offset == CR1:
            value = self.regs["CR1"] & ~DIR
            if self._state_now()[2] < 0:
                value |= DIR
            return value
        ch = _CCR_CHANNEL.get(offset)
        if ch is not None:
            if ch < self.channels and not self._is_output(ch):
                self.regs["SR"] &= ~_ccif(ch)       # reading a capture clears CCxIF
                self._update_irq()
                self._reschedule()
            return self.regs[_CCR_NAMES[ch]]
        if offset == RCR and not self.advanced:
            return super().read(offset, size)
        name = REGS.name_at.get(offset)
        if name is None:
            return super().read(offset, size)
        return self.regs[name]

    def write(self, offset: int, size: int, value: int) -> None:
        now_c = self._advance()
        if offset == CR1:
            self._write_cr1(value & 0x3FF)
        elif offset == CNT:
            # (a Modbus silence timer is restarted so at every received character)
            _, phase, d = self._state_now(now_c)
            self._rebase(value & self.max_count, phase, d, now_c)
        elif offset == PSC:
            self.regs["PSC"] = value & 0xFFFF          # preload: applies at the next UEV
            self._reschedule()
        elif offset == ARR:
            self.regs["ARR"] = value & self.max_count
            if not self.regs["CR1"] & ARPE:
                state = self._state_now()
                self._arr = self.regs["ARR"]
                self._rebase(*state)
        elif offset in _CCR_CHANNEL:
            ch = _CCR_CHANNEL[offset]
            self.regs[_CCR_NAMES[ch]] = value & self.max_count
            if ch < self.channels and self._is_output(ch) and not self._ocpe(ch):
                state = self._state_now()
                self._ccr[ch] = self.regs[_CCR_NAMES[ch]]
                self._rebase(*state)
        elif offset == SR:
            self.regs["SR"] &= value | ~0x1EFF          # rc_w0
            self._update_irq()
            self._reschedule()
        elif offset == DIER:
            self.regs["DIER"] = value & 0xFFFF
            self._update_irq()
            self._reschedule()
        elif offset == EGR:
            self._write_egr(value)
        elif offset in (CCMR1, CCMR2, CCER, BDTR):
            state = self._state_now()
            self.regs[REGS[offset].name] = value & 0xFFFF
            if offset in (CCMR1, CCMR2):
                self._mode_changed()
            self._refresh_pwm(state[0], state[2])
            for ch in range(self.channels):
                self._drive(ch)
            if self._running:
                self._rebase(*state)
        elif offset == SMCR:
            self._advance()
            state = self._state_now()
            self.regs["SMCR"] = value & 0xFFFF
            if value & 7 not in (0, 1, 2, 3, SMS_RESET):
                self.ctx.log_once("sms", logging.WARNING,
                                  "slave mode %d (SMCR.SMS) is not modelled", value & 7)
            self._rebase(*state)
        elif offset == RCR and self.advanced:
            self.regs["RCR"] = value & 0xFF
        elif offset in (CR2, DCR, DMAR, OR):
            self.regs[REGS[offset].name] = value & 0xFFFF
        else:
            super().write(offset, size, value)

    def _write_cr1(self, value: int) -> None:
        cnt, phase, d = self._state_now()
        old = self.regs["CR1"]
        if (value >> 5) & 3:
            value = (value & ~DIR) | (old & DIR)      # DIR is read-only in centre-aligned mode
        else:
            d = -1 if value & DIR else 1
        self.regs["CR1"] = value
        self._rebase(cnt, phase, d)

    def _write_egr(self, value: int) -> None:
        if value & 1:                                   # UG
            cr1 = self.regs["CR1"]
            if not cr1 & UDIS:
                self._transfer_preloads()
                self._rep = self.regs["RCR"] & 0xFF if self.advanced else 0
            d = -1 if (not self._center() and cr1 & DIR) else 1
            cnt = self._arr if d < 0 else 0
            if not cr1 & UDIS and not cr1 & URS:
                self.regs["SR"] |= UIF
            self._refresh_pwm(cnt, d)
            self._rebase(cnt, 0, d)
        for ch in range(self.channels):
            if value & _ccif(ch):                        # CCxG
                if not self._is_output(ch):
                    self._capture(ch)
                else:
                    self.regs["SR"] |= _ccif(ch)
        self.regs["SR"] |= value & (COMIF | TIF | (BIF if self.advanced else 0))
        self._update_irq()
        self._reschedule()

    # -- input capture --------------------------------------------------------------------
    def on_gpio(self, pin: int, level: bool) -> None:
        """Timer input x (TIx, Renode's `gpioPortA: 0 -> timer2@0`): captures on CCx edges."""
        if not 0 <= pin < 4:
            return
        rising = bool(level) and not self._inputs[pin]
        falling = not level and self._inputs[pin]
        self._inputs[pin] = bool(level)
        if not (rising or falling):
            return
        self._advance()
        for ch in range(self.channels):
            ccs = self._ccs(ch)
            source = ch if ccs == 1 else (ch ^ 1) if ccs == 2 else None
            if source != pin or not self.regs["CCER"] >> (4 * ch) & 1:
                continue
            ccer = self.regs["CCER"] >> (4 * ch)
            both = ccer & 2 and ccer & 8
            want_falling = bool(ccer & 2)
            if both or (falling if want_falling else rising):
                self._capture(ch)
        if self._encoder_mode() and self.regs["CR1"] & CEN and pin < 2:
            self._encoder_edge(pin, rising)
        if self._slave_triggered(pin, rising):
            self.regs["SR"] |= TIF
            self._write_egr(1)                          # reset mode: as UG, after the capture
        self._update_irq()
        self._reschedule()

    def _encoder_mode(self) -> bool:
        return 1 <= self.regs["SMCR"] & 7 <= 3

    def _encoder_edge(self, pin: int, rising: bool) -> None:
        """Encoder mode (RM0090 18.3.16, table "Counting direction versus encoder signals"):
        SMS=001 counts TI2 edges, 010 TI1 edges, 011 both; each counted edge steps the counter
        up or down by the level of the other input, TIxFPx taken after the CCxP inversion.
        Past ARR it wraps to 0 (down: from 0 to ARR) with an update event."""
        sms = self.regs["SMCR"] & 7
        if not (sms == 3 or (sms == 1 and pin == 1) or (sms == 2 and pin == 0)):
            return
        ccer = self.regs["CCER"]
        edge_up = rising != bool(ccer >> (4 * pin) & 2)           # TIxFPx rising
        other = 1 - pin
        other_high = self._inputs[other] != bool(ccer >> (4 * other) & 2)
        # TI1 edge: up when (rising and TI2 low) or (falling and TI2 high); TI2 the opposite
        up = (edge_up != other_high) if pin == 0 else (edge_up == other_high)
        cnt = self._stopped[0]
        if up:
            wrap, cnt = cnt >= self._arr, (0 if cnt >= self._arr else cnt + 1)
        else:
            wrap, cnt = cnt == 0, (self._arr if cnt == 0 else cnt - 1)
        self._stopped = (cnt, 0, 1 if up else -1)
        if wrap and not self.regs["CR1"] & UDIS:
            self._transfer_preloads()
            self.regs["SR"] |= UIF

    def _slave_triggered(self, pin: int, rising: bool) -> bool:
        """Whether this edge is the trigger (TRGI) of the slave mode controller in reset
        mode: TI1F_ED (TS=100, both edges of TI1), TI1FP1 (TS=101) or TI2FP2 (TS=110), the
        last two with the polarity of CC1P / CC2P (RM0090 18.3.14, 18.4.3)."""
        smcr = self.regs["SMCR"]
        if smcr & 7 != SMS_RESET:
            return False
        ts = (smcr >> 4) & 7
        if ts == 4:
            return pin == 0
        if ts in (5, 6) and pin == ts - 5:
            inverted = bool(self.regs["CCER"] >> (4 * pin) & 2)
            return rising != inverted
        return False

    def _capture(self, ch: int) -> None:
        self.regs[_CCR_NAMES[ch]] = self._state_now()[0]
        if self.regs["SR"] & _ccif(ch):
            self.regs["SR"] |= 1 << (ch + 9)            # CCxOF
        self.regs["SR"] |= _ccif(ch)
        self._update_irq()

    # -- host helpers ---------------------------------------------------------------------
    @property
    def counter_hz(self) -> float:
        return self._clk.hz / (self._psc + 1)

    @property
    def update_hz(self) -> float:
        """Update-event rate with the active PSC, ARR and RCR (centre-aligned: UEV at both ends)."""
        if self._arr == 0:
            return 0.0
        ticks = self._arr if self._center() else self._arr + 1
        rep = (self.regs["RCR"] & 0xFF) + 1 if self.advanced else 1
        return self.counter_hz / ticks / rep


@model("metersim.STM32_BasicTimer")
class STM32BasicTimer(STM32Timer):
    """TIM6/TIM7: up-counting time base only, no channels."""
    variant = "basic"

    def __init__(self, ctx: Context, **kw: Any):
        kw.setdefault("channels", 0)
        super().__init__(ctx, **kw)


@model("metersim.STM32_AdvancedTimer")
class STM32AdvancedTimer(STM32Timer):
    """TIM1/TIM8: repetition counter, MOE-gated outputs, separate interrupt vectors."""
    variant = "advanced"
