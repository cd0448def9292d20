"""SysTick timer (ARMv7-M B3.3; PM0214 4.5): 24-bit down counter, event-driven.

The counter is never ticked: while enabled, CVR is computed from the time the count started,
and one event is scheduled at each wrap to 0 (COUNTFLAG, TICKINT -> exception 15). The clock is
HCLK with CLKSOURCE=1 or the STM32 external reference HCLK/8 with CLKSOURCE=0, read from the
machine's clock tree, so a clock change applies at once.
"""

from __future__ import annotations

from metersim._units import PS_PER_S

CSR_ENABLE = 1 << 0
CSR_TICKINT = 1 << 1
CSR_CLKSOURCE = 1 << 2
CSR_COUNTFLAG = 1 << 16


class SysTick:
    def __init__(self, clock, rate_fn, pend_fn, log_fn):
        self._clock = clock
        # Counter clocks are numbered from this instant, when the core clock last changed: the
        # core's cycles fall on whole picoseconds rounded down from it, so counting edges from
        # here (rounding up) gives every CVR read the exact cycle count even when a cycle is
        # not a whole number of picoseconds (72 MHz).
        self._anchor_ps = clock.now_ps
        self._rate_fn = rate_fn        # () -> HCLK in Hz
        self._pend = pend_fn           # () -> pend exception 15
        self._log = log_fn
        self.reset()

    def reset(self) -> None:
        ev = getattr(self, "_event", None)
        if ev is not None:
            ev.cancel()
        self.csr = 0
        self.rvr = 0
        self._cvr_at_start = 0     # CVR value when counting (re)started
        self._start_edge = 0       # counter clock number (since the anchor) of that start
        self._event = None
        self._hz = 0
        self._last_wrap = None
        self._reload = 0

    # -- clocking ---------------------------------------------------------------------------
    def _rate(self) -> int:
        hclk = self._rate_fn()
        return hclk if self.csr & CSR_CLKSOURCE else hclk // 8

    def _edge(self, now_ps: int) -> int:
        return -(-(now_ps - self._anchor_ps) * self._hz // PS_PER_S)

    def _ticks_since_start(self, now_ps: int) -> int:
        return self._edge(now_ps) - self._start_edge

    def _tick_time(self, ticks: int) -> int:
        """Time of the `ticks`-th count after the start, rounded up to a picosecond."""
        return self._anchor_ps + -(-(self._start_edge + ticks) * PS_PER_S // self._hz)

    @property
    def running(self) -> bool:
        return bool(self.csr & CSR_ENABLE)

    def _restart(self, cvr: int) -> None:
        """(Re)anchor counting at now with CVR = cvr and schedule the next wrap."""
        if self._event is not None:
            self._event.cancel()
            self._event = None
        self._cvr_at_start = cvr
        self._hz = self._rate()
        self._start_edge = self._edge(self._clock.now_ps) if self._hz > 0 else 0
        self._last_wrap = None     # tick index (since the start) of the last wrap to 0
        self._reload = self.rvr    # RVR loaded after that wrap
        if self.running and self._hz > 0:
            # The counter decrements each tick and reaches 0 after cvr ticks; from 0 the next
            # tick reloads RVR, so later wraps come every RVR+1 ticks. RVR=0 stops it.
            ticks = cvr if cvr else self.rvr + 1
            if cvr or self.rvr:
                self._schedule_wrap(ticks)

    def _schedule_wrap(self, ticks: int) -> None:
        self._event = self._clock.schedule_at(self._tick_time(ticks), self._on_wrap, ticks)

    def _on_wrap(self, ticks: int) -> None:
        self._event = None
        if not self.running:
            return
        self.csr |= CSR_COUNTFLAG
        self._last_wrap = ticks
        # The counter reloads RVR on the next tick; a later RVR write only applies at the
        # following reload (ARMv7-M B3.3.1), so CVR reads use the value loaded here.
        self._reload = self.rvr
        if self.csr & CSR_TICKINT:
            self._pend()
        if self.rvr:
            # Anchored on the tick count since the start, so rounding never accumulates.
            self._schedule_wrap(ticks + self.rvr + 1)

    def current(self) -> int:
        hz = self._hz
        if not self.csr & CSR_ENABLE or hz <= 0:
            return self._cvr_at_start
        # _ticks_since_start, inlined: CVR is read at every RTOS wake-up
        elapsed = -(-(self._clock.now_ps - self._anchor_ps) * hz // PS_PER_S) - self._start_edge
        if self._last_wrap is None:
            if elapsed <= self._cvr_at_start:
                return self._cvr_at_start - elapsed
            # Counting from CVR = 0: RVR was loaded on the first clock (the value captured at
            # the restart, as the wrap event was scheduled), not whatever RVR holds now.
            last_wrap, reload = self._cvr_at_start, self._reload
        else:
            last_wrap, reload = self._last_wrap, self._reload
        k = elapsed - last_wrap
        if k <= 0 or reload == 0:
            return 0
        return reload - (k - 1) % (reload + 1)

    def on_clock_change(self) -> None:
        """HCLK changed: keep the current count, continue at the new rate."""
        cvr = self.current()
        self._anchor_ps = self._clock.now_ps
        if self.running:
            self._restart(cvr)

    # -- registers --------------------------------------------------------------------------
    def hot_registers(self) -> list:
        """CSR, RVR and CVR, read at every RTOS tick and wake-up, are answered in C by the
        engine (metersim._engine.hot_regs: word reads, privileged only, as the NVIC allows),
        from these attributes: `current()` and `read(0)` computed the same way, from csr,
        rvr, _hz, _anchor_ps, _start_edge, _cvr_at_start, _last_wrap and _reload. Their word
        writes (a tickless RTOS rewrites RVR and CVR around every sleep) are made in C the
        same way as `write`: the same attributes set, the wrap event cancelled and the next
        one scheduled on the clock (`_restart`, with the rate from `_rate_fn`). Offsets are
        in the System Control Space (SYST_CSR at 0xE000E010)."""
        from metersim._engine.hot_regs import HotRegister

        return [HotRegister(0x10 + off, kind, self, (4,), privileged=True)
                for off, kind in ((0x0, "systick_csr"), (0x4, "systick_rvr"),
                                  (0x8, "systick_cvr"), (0x0, "systick_csr_write"),
                                  (0x4, "systick_rvr_write"), (0x8, "systick_cvr_write"))]

    def read_rvr(self) -> int:
        return self.rvr

    def write_rvr(self, value: int) -> None:
        self.rvr = value & 0xFFFFFF

    def write_cvr(self, _value: int = 0) -> None:
        # Any write clears CVR and COUNTFLAG.
        self.csr &= ~CSR_COUNTFLAG
        if self.running:
            self._restart(0)
        else:
            self._cvr_at_start = 0

    def read(self, offset: int) -> int:
        if offset == 0x0:
            value = self.csr
            self.csr &= ~CSR_COUNTFLAG  # COUNTFLAG clears on read
            return value
        if offset == 0x4:
            return self.rvr
        if offset == 0x8:
            return self.current()
        if offset == 0xC:
            # CALIB: NOREF=0, SKEW=1, TENMS for a 1 ms reference at HCLK/8 (PM0214 4.5.4)
            return (1 << 30) | ((self._rate_fn() // 8 // 1000 - 1) & 0xFFFFFF)
        return 0

    def write(self, offset: int, value: int) -> None:
        if offset == 0x0:
            was_running = self.running
            current = self.current()
            self.csr = (self.csr & CSR_COUNTFLAG) | (value & 0x7)
            if self.running and not was_running:
                self._restart(current)
            elif was_running and not self.running:
                if self._event is not None:
                    self._event.cancel()
                    self._event = None
                self._cvr_at_start = current
            elif self.running:
                self._restart(current)  # CLKSOURCE may have changed
        elif offset == 0x4:
            self.write_rvr(value)
        elif offset == 0x8:
            self.write_cvr(value)
