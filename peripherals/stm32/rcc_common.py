"""Machinery shared by the F1 and F4 RCC models: oscillators that become ready after their
start-up time, the system-clock switch, reset-cause flags and clock publishing.

Family specifics (register offsets, PLL equations, prescaler tables) live in rcc_f1 / rcc_f4.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

from metersim.peripherals.base import GPIO, Context, Peripheral
from metersim.peripherals.stm32 import clock_tree
from metersim._units import PS_PER_US

# AHB prescaler HPRE[3:0]: 0xxx = /1, 1000 = /2 ... 1111 = /512 (no /32), same on F1 and F4.
AHB_DIV = {8: 2, 9: 4, 10: 8, 11: 16, 12: 64, 13: 128, 14: 256, 15: 512}
# APB prescaler PPREx[2:0]: 0xx = /1, 100 = /2, 101 = /4, 110 = /8, 111 = /16.
APB_DIV = {4: 2, 5: 4, 6: 8, 7: 16}

# Reset-cause flag bit positions in RCC_CSR (identical in RM0008 and RM0430).
CSR_RMVF = 24
CSR_FLAGS = {"pin": 26, "por": 27, "software": 28, "iwdg": 29, "wwdg": 30, "lowpower": 31}
CSR_FLAG_MASK = 0xFE000000  # bits 25..31 (BORRSTF is bit 25 on F4, reserved on F1)


def ahb_div(hpre: int) -> int:
    return AHB_DIV.get(hpre & 0xF, 1)


def apb_div(ppre: int) -> int:
    return APB_DIV.get(ppre & 0x7, 1)


def timer_clock(pclk_hz: int, div: int) -> int:
    """The x2 rule: timers run at PCLK when the APB prescaler is 1, else at 2 x PCLK."""
    return pclk_hz if div == 1 else 2 * pclk_hz


@dataclass
class Osc:
    """One oscillator (or PLL) with an enable bit, a ready bit and a CIR ready flag."""
    name: str
    reg: str          # register holding ON and RDY
    on_bit: int
    rdy_bit: int
    cir_flag: int     # RDYF bit in CIR (interrupt enable is cir_flag + 8, clear is + 16)
    startup_ps: int


class RccBase(Peripheral):
    """Subclasses define REGS (name -> (offset, reset)), OSCS, the SW/SWS source codes and
    `compute_rates()`; the base keeps the registers, timing and publication."""

    size = 0x400
    REGS: dict[str, tuple[int, int]] = {}
    OSCS: tuple[Osc, ...] = ()
    SW_SOURCES: dict[int, str] = {}           # SW value -> oscillator name feeding SYSCLK
    CIR_IE_MASK = 0x1F00                      # ready-interrupt enables
    CR_WRITABLE = 0                           # writable bits of CR (ready bits are not)
    HSEBYP_BIT = 18
    CSR_POR_VALUE = 0x0C000000                # PORRSTF | PINRSTF after power-on
    BACKUP_REGS = ("BDCR",)                   # kept across system resets (backup domain)

    def __init__(self, ctx: Context, hse_hz: int = 8_000_000, lse_hz: int = 32768,
                 pwr=None, vbat: bool = True, **kw):
        super().__init__(ctx)
        self.hse_hz = int(hse_hz)     # 0 = no crystal fitted: HSE never becomes ready
        # A backup battery on VBAT keeps the backup domain (BDCR: LSE, RTC) through a power
        # cut, as on a meter; without one a power-on reset clears it.
        self.vbat = bool(vbat)
        self.lse_hz = int(lse_hz)
        self.pwr = pwr                # PWR model: DBP gates backup-domain (BDCR) writes
        self.clocks = clock_tree(ctx)
        self.IRQ = GPIO("IRQ")        # RCC global interrupt (oscillator ready flags)
        self._by_offset = {off: name for name, (off, _) in self.REGS.items()}
        self._osc = {o.name: o for o in self.OSCS}
        self._pending: dict[str, object] = {}
        self._reset_hooks: dict[str, list[Callable[[], None]]] = {}
        self.regs: dict[str, int] = {}
        self._init_regs(power_on=True)

    # -- state -------------------------------------------------------------------------------
    def _init_regs(self, power_on: bool) -> None:
        for ev in self._pending.values():
            ev.cancel()
        self._pending.clear()
        kept = {n: self.regs[n] for n in self.BACKUP_REGS + ("CSR",) if n in self.regs}
        self.regs = {name: reset for name, (_, reset) in self.REGS.items()}
        if not power_on:
            self.regs.update({n: v for n, v in kept.items() if n != "CSR"})
            # LSION is reset by a system reset; the reset flags are not.
            self.regs["CSR"] = (self.regs["CSR"] & ~CSR_FLAG_MASK) | (kept.get("CSR", 0)
                                                                       & CSR_FLAG_MASK)
        else:
            self.regs["CSR"] = (self.regs["CSR"] & ~CSR_FLAG_MASK) | self.CSR_POR_VALUE
        # Oscillators whose enable bit is set after reset (HSI; LSE in a live backup domain)
        # are already running.
        for o in self.OSCS:
            if self._get(o.reg, o.on_bit):
                self._put(o.reg, o.rdy_bit, 1)
        self._update_rates()

    def reset(self) -> None:
        self._init_regs(power_on=False)
        self.IRQ.unset()

    def _backup_domain_lost(self) -> None:
        """The backup domain went to its reset state (BDRST, or a power-on without a battery):
        the RTC (`rtcPeripheral`) loses its calendar and backup registers with BDCR."""
        rtc = getattr(self, "rtc_peripheral", None)
        if rtc is not None and hasattr(rtc, "backup_domain_reset"):
            rtc.backup_domain_reset()

    def on_machine_reset(self, cause: str) -> None:
        if cause == "por":
            backup = {n: self.regs[n] for n in self.BACKUP_REGS if n in self.regs}
            self.regs = dict(backup) if self.vbat else {}
            self._init_regs(power_on=True)
            if not self.vbat:
                self._backup_domain_lost()
            if self.vbat:
                self.regs.update(backup)
                for o in self.OSCS:       # LSE kept running on the battery
                    if o.reg in backup and self._get(o.reg, o.on_bit):
                        self._put(o.reg, o.rdy_bit, 1)
                self._update_rates()
            return
        flags = self.regs["CSR"]
        flags |= 1 << CSR_FLAGS.get(cause, CSR_FLAGS["pin"])
        # Internal reset sources pulse the NRST pin, so PINRSTF comes with them
        # (RM0008 §7.1.2 / RM0430 §6.1.2: the reset generator drives NRST low).
        flags |= 1 << CSR_FLAGS["pin"]
        self.regs["CSR"] = flags

    def _get(self, reg: str, bitn: int) -> int:
        return (self.regs[reg] >> bitn) & 1

    def _put(self, reg: str, bitn: int, value: int) -> None:
        if value:
            self.regs[reg] |= 1 << bitn
        else:
            self.regs[reg] &= ~(1 << bitn)

    def osc_ready(self, name: str) -> bool:
        o = self._osc[name]
        return bool(self._get(o.reg, o.rdy_bit))

    @property
    def backup_writable(self) -> bool:
        return self.pwr is None or bool(getattr(self.pwr, "backup_writable", True))

    # -- bus -------------------------------------------------------------------------------
    def read(self, offset: int, size: int) -> int:
        name = self._by_offset.get(offset & ~3)
        if name is None:
            return super().read(offset, size)
        # Ready bits only change in scheduled events: start-up loops may skip ahead.
        return self.poll_hint((self.regs[name] >> (8 * (offset & 3))) & ((1 << (8 * size)) - 1))

    def write(self, offset: int, size: int, value: int) -> None:
        name = self._by_offset.get(offset & ~3)
        if name is None:
            super().write(offset, size, value)
            return
        shift = 8 * (offset & 3)
        mask = ((1 << (8 * size)) - 1) << shift
        old = self.regs[name]
        self.write_reg(name, old, (old & ~mask) | ((value << shift) & mask))

    def write_reg(self, name: str, old: int, new: int) -> None:
        """Family hook; the default stores the value (enable/reset registers)."""
        self.regs[name] = new

    # -- oscillators --------------------------------------------------------------------------
    def startup_ps(self, o: Osc) -> int | None:
        """Start-up time of an oscillator, or None when it can never start."""
        return o.startup_ps

    def _switch_oscillators(self, reg: str, old: int, new: int) -> None:
        """Apply ON-bit changes in `reg` (already stored in self.regs)."""
        for o in self.OSCS:
            if o.reg != reg:
                continue
            was, now = (old >> o.on_bit) & 1, (new >> o.on_bit) & 1
            if was == now:
                continue
            ev = self._pending.pop(o.name, None)
            if ev is not None:
                ev.cancel()
            if now:
                delay = self.startup_ps(o)
                if delay is None:
                    self.ctx.log(logging.INFO, "%s enabled but cannot start (no source)", o.name)
                    continue
                self._pending[o.name] = self.ctx.clock.schedule(delay, self._became_ready, o)
            else:
                # Stopping takes a few oscillator cycles: treat as immediate.
                self._put(o.reg, o.rdy_bit, 0)
        self._update_rates()

    def _became_ready(self, o: Osc) -> None:
        self._pending.pop(o.name, None)
        if not self._get(o.reg, o.on_bit):
            return
        self._put(o.reg, o.rdy_bit, 1)
        self.regs["CIR"] |= 1 << o.cir_flag
        self._update_irq()
        self._update_rates()
        self._try_switch()

    def _write_cir(self, old: int, new: int) -> None:
        # Flags (low byte) are read-only; IE bits are stored; clear bits (16..23) clear flags.
        clears = (new >> 16) & 0xFF
        flags = old & 0xFF & ~clears
        self.regs["CIR"] = flags | (new & self.CIR_IE_MASK)
        self._update_irq()

    # -- CR and the system-clock switch -------------------------------------------------------------
    def sysclk_oscillators(self) -> set[str]:
        """Oscillators the current SYSCLK depends on (their ON bits cannot be cleared)."""
        src = self.SW_SOURCES.get((self.regs["CFGR"] >> 2) & 3, "HSI")
        deps = {src}
        if src.startswith("PLL"):
            deps |= {"PLL", self.pll_source()}
        return deps

    def pll_source(self) -> str:
        raise NotImplementedError

    def _write_cr(self, old: int, new: int) -> None:
        new = (old & ~self.CR_WRITABLE) | (new & self.CR_WRITABLE)
        for name in self.sysclk_oscillators():
            o = self._osc.get(name)
            if o is not None and o.reg == "CR":
                new |= 1 << o.on_bit      # hardware refuses to stop the running SYSCLK source
        hse = self._osc["HSE"]
        if (old >> hse.on_bit) & 1:       # HSEBYP can be written only while HSE is off
            new = (new & ~(1 << self.HSEBYP_BIT)) | (old & (1 << self.HSEBYP_BIT))
        self.regs["CR"] = new
        self._switch_oscillators("CR", old, new)
        self._try_switch()

    def _try_switch(self) -> None:
        """SWS follows SW once the selected source is ready (RM0008 §7.2.6, RM0430 §6.2.7)."""
        cfgr = self.regs["CFGR"]
        sw = cfgr & 3
        src = self.SW_SOURCES.get(sw)
        if src is None:
            return
        if self.osc_ready("PLL" if src.startswith("PLL") else src):
            if (cfgr >> 2) & 3 != sw:
                self.regs["CFGR"] = (cfgr & ~0xC) | (sw << 2)
                self._update_rates()

    def _update_irq(self) -> None:
        cir = self.regs["CIR"]
        self.IRQ.set(bool(cir & (cir >> 8) & 0x3F))

    # -- CSR -------------------------------------------------------------------------------
    def _write_csr(self, old: int, new: int) -> None:
        flags = old & CSR_FLAG_MASK
        if (new >> CSR_RMVF) & 1:
            flags = 0
        # LSION is the only writable bit; LSIRDY follows the oscillator; RMVF reads 0.
        self.regs["CSR"] = (new & 0x1) | (old & 0x2) | flags
        self._switch_oscillators("CSR", old, self.regs["CSR"])

    def reset_causes(self) -> set[str]:
        """Causes whose flag is set in RCC_CSR (e.g. {"iwdg", "pin"})."""
        csr = self.regs["CSR"]
        return {c for c, b in CSR_FLAGS.items() if (csr >> b) & 1}

    # -- peripheral reset hooks -----------------------------------------------------------------
    def subscribe_peripheral_reset(self, name: str, fn: Callable[[], None]) -> None:
        """Call `fn()` when firmware pulses the RCC reset bit of peripheral `name`."""
        self._reset_hooks.setdefault(name.lower(), []).append(fn)

    def _pulse_resets(self, table: dict[int, str], old: int, new: int) -> None:
        rising = new & ~old
        for bitn, pname in table.items():
            if (rising >> bitn) & 1:
                for fn in self._reset_hooks.get(pname, ()):
                    fn()

    # -- clocks -------------------------------------------------------------------------------
    def compute_rates(self) -> dict[str, int]:
        raise NotImplementedError

    def _update_rates(self) -> None:
        self.clocks.set_rates(self.compute_rates())

    def osc_hz(self, name: str) -> int:
        """Frequency of a running oscillator, 0 when it is off or not ready."""
        return self.nominal_hz(name) if self.osc_ready(name) else 0

    #: The family's internal RC oscillator (8 MHz on the F1, 16 MHz on the F4).
    hsi_hz: int = 0

    def nominal_hz(self, name: str) -> int:
        """What oscillator or PLL `name` runs at once it is ready."""
        if name == "HSI":
            return self.hsi_hz
        if name == "HSE":
            return self.hse_hz
        if name == "LSI":
            return self.lsi_hz
        if name == "LSE":
            return self.lse_hz
        if name == "PLL":
            return self.pll_hz()
        raise KeyError(name)

    def pll_hz(self) -> int:
        """The main PLL's output, from the family's PLL registers."""
        raise NotImplementedError


def us(x: float) -> int:
    return round(x * PS_PER_US)
