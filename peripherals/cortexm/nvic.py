"""NVIC + SCB + SysTick: the System Control Space at 0xE000E000 (Renode's IRQControllers.NVIC).

Exception model per ARMv7-M B1.5: exception numbers 1 Reset, 2 NMI, 3 HardFault, 4 MemManage,
5 BusFault, 6 UsageFault, 11 SVCall, 12 DebugMonitor, 14 PendSV, 15 SysTick, 16+n IRQn.
Priorities are 8-bit with only the bits of `priority_mask` implemented (STM32: 0xF0); the
group priority follows AIRCR.PRIGROUP. This model keeps pending/active state and answers the
CPU core's questions (which exception to take, the execution priority); the core does the
stacking (metersim.engine.cpu).

External interrupt inputs are level-sensitive: `on_gpio(n, True)` pends IRQn, and a line that is
still high when its handler returns pends again, as on the hardware.

The MPU registers (0xE000ED90..0xE000EDB8) belong to `mpu.MPU`; the core enforces them
(metersim.engine.mpu_guard). CCR.DIV_0_TRP, CCR.UNALIGN_TRP and CPACR are enforced by the core
too (metersim.engine.traps): the model tells it when they change.

Not modelled: the NVIC's IABR for system exceptions beyond SHCSR, the debug monitor exception,
FPCCR lazy-stacking (frames are saved eagerly).
"""

from __future__ import annotations

import logging

from metersim.peripherals.base import GPIO, Context, Peripheral
from metersim.peripherals.cortexm.mpu import MPU
from metersim.peripherals.cortexm.systick import SysTick
from metersim.peripherals.registry import model

RESET, NMI, HARDFAULT, MEMMANAGE, BUSFAULT, USAGEFAULT = 1, 2, 3, 4, 5, 6
SVCALL, DEBUGMON, PENDSV, SYSTICK = 11, 12, 14, 15
EXC_NAMES = {1: "Reset", 2: "NMI", 3: "HardFault", 4: "MemManage", 5: "BusFault",
             6: "UsageFault", 11: "SVCall", 12: "DebugMonitor", 14: "PendSV", 15: "SysTick"}

# CFSR bits (ARMv7-M B3.2.15)
MMFSR_IACCVIOL, MMFSR_DACCVIOL, MMFSR_MUNSTKERR, MMFSR_MSTKERR, MMFSR_MMARVALID = 1, 2, 8, 16, 128
BFSR_IBUSERR, BFSR_PRECISERR, BFSR_IMPRECISERR = 1 << 8, 1 << 9, 1 << 10
BFSR_UNSTKERR, BFSR_STKERR, BFSR_BFARVALID = 1 << 11, 1 << 12, 1 << 15
UFSR_UNDEFINSTR, UFSR_INVSTATE, UFSR_INVPC, UFSR_NOCP = 1 << 16, 1 << 17, 1 << 18, 1 << 19
UFSR_UNALIGNED, UFSR_DIVBYZERO = 1 << 24, 1 << 25
HFSR_VECTTBL, HFSR_FORCED = 1 << 1, 1 << 30

CPUID_BY_CORE = {"cortex-m3": 0x411FC231, "cortex-m4": 0x410FC241, "cortex-m4f": 0x410FC241}

MMFSR_MLSPERR = 32
CCR_UNALIGN_TRP, CCR_DIV_0_TRP = 1 << 3, 1 << 4
MPU_BLOCK = 0x24       # MPU_TYPE .. MPU_RASR_A3 at 0xE000ED90

SHCSR_MEMFAULTENA, SHCSR_BUSFAULTENA, SHCSR_USGFAULTENA = 1 << 16, 1 << 17, 1 << 18
CCR_RESET = 0x200  # STKALIGN set at reset on Cortex-M4 and M3 r2p0+


def exception_name(exc: int) -> str:
    if exc >= 16:
        return f"IRQ{exc - 16}"
    return EXC_NAMES.get(exc, f"exception {exc}")


@model("IRQControllers.NVIC", "metersim.NVIC")
class NVIC(Peripheral):
    size = 0x1000

    def __init__(self, ctx: Context, priority_mask: int = 0xF0, systick_frequency: int = 0,
                 number_of_interrupts: int = 240, cpu_type: str = "cortex-m4f",
                 mpu_regions: int | None = None):
        super().__init__(ctx)
        # The STM32F1's Cortex-M3 has no MPU, the STM32F4's Cortex-M4F has 8 regions; a
        # platform can say otherwise with `mpuRegions:` (0, 8 or 16).
        self._mpu_regions = mpu_regions
        self.mpu = MPU(self._default_mpu_regions(cpu_type), log=ctx.log)
        self.priority_mask = priority_mask & 0xFF
        self.systick_frequency = systick_frequency
        self.num_irqs = number_of_interrupts
        self.num_exc = 16 + number_of_interrupts
        self.cpu_type = cpu_type
        self.cpu = None  # attached by the machine: the core that takes our exceptions
        self.IRQ = GPIO("IRQ")  # Renode's `-> cpu@0`; the core link itself is direct
        self.systick = SysTick(ctx.clock, self._hclk, lambda: self.set_pending(SYSTICK),
                               ctx.log)
        clocks = getattr(ctx.machine, "clocks", None)
        if clocks is not None:
            clocks.subscribe("HCLK", lambda _hz: self.systick.on_clock_change())
        self.reset()

    def _default_mpu_regions(self, cpu_type: str) -> int:
        if self._mpu_regions is not None:
            return self._mpu_regions
        return 0 if cpu_type == "cortex-m3" else 8

    def attach_cpu(self, cpu) -> None:
        self.cpu = cpu
        self.cpu_type = cpu.core
        regions = self._default_mpu_regions(cpu.core)
        if regions != self.mpu.num_regions:
            self.mpu = MPU(regions, log=self.ctx.log)
        self.mpu.on_change = cpu.mpu_changed

    def _hclk(self) -> int:
        clocks = getattr(self.ctx.machine, "clocks", None)
        hz = clocks.rate_hz("HCLK") if clocks is not None else 0
        if not hz and self.cpu is not None:
            hz = self.cpu.freq_hz
        return hz or self.systick_frequency or 16_000_000

    # -- state --------------------------------------------------------------------------------
    def reset(self) -> None:
        n = self.num_exc
        self.enabled = bytearray(n)      # only meaningful for IRQs (>= 16)
        self.pending = bytearray(n)
        self.active = bytearray(n)
        self.level = bytearray(n)        # input line levels of IRQs
        self.prio = [0] * n              # raw 8-bit priorities (masked)
        self.prio[RESET], self.prio[NMI], self.prio[HARDFAULT] = -3, -2, -1
        self.pending_set: set[int] = set()
        self._act: list[int] = []  # active exceptions, oldest first
        self.prigroup = 0
        self.vtor = 0
        self.scr = 0
        self.ccr = CCR_RESET
        self.shcsr = 0
        self.cfsr = 0
        self.hfsr = 0
        self.dfsr = 0
        self.mmfar = 0
        self.bfar = 0
        self.afsr = 0
        self.cpacr = 0
        self.fpccr = 0xC0000000  # ASPEN | LSPEN
        self.fpcar = 0
        self.fpdscr = 0
        self.demcr = 0
        self.actlr = 0
        self.systick.reset()
        self.mpu.reset()
        if self.cpu is not None:
            self.cpu.traps_changed()     # CCR and CPACR are back at their reset values

    # -- priorities ---------------------------------------------------------------------------
    def group_priority(self, raw: int) -> int:
        if raw < 0:
            return raw
        return raw & ((0xFF << (self.prigroup + 1)) & 0xFF)

    def exception_enabled(self, exc: int) -> bool:
        if exc >= 16:
            return bool(self.enabled[exc])
        if exc == MEMMANAGE:
            return bool(self.shcsr & SHCSR_MEMFAULTENA)
        if exc == BUSFAULT:
            return bool(self.shcsr & SHCSR_BUSFAULTENA)
        if exc == USAGEFAULT:
            return bool(self.shcsr & SHCSR_USGFAULTENA)
        return True

    def execution_priority(self, primask: int, faultmask: int, basepri: int) -> int:
        """Current execution priority (ARMv7-M B1.5.4); 256 = thread mode, nothing masked."""
        p = 256
        for exc in self.active_list():
            g = self.group_priority(self.prio[exc])
            if g < p:
                p = g
        if basepri & self.priority_mask:
            g = self.group_priority(basepri & self.priority_mask)
            if g < p:
                p = g
        if primask & 1 and p > 0:
            p = 0
        if faultmask & 1 and p > -1:
            p = -1
        return p

    def active_list(self) -> list[int]:
        return self._act

    def highest_pending(self) -> int | None:
        """The pending, enabled exception that would be taken first, or None."""
        best = None
        best_key = None
        for exc in self.pending_set:
            if not self.exception_enabled(exc):
                continue
            raw = self.prio[exc]
            key = (self.group_priority(raw), raw, exc)
            if best_key is None or key < best_key:
                best, best_key = exc, key
        return best

    def pending_to_take(self, exec_priority: int) -> int | None:
        """The exception that preempts at `exec_priority`, or None."""
        if not self.pending_set:
            return None
        exc = self.highest_pending()
        if exc is None:
            return None
        if self.group_priority(self.prio[exc]) < exec_priority:
            return exc
        return None

    # -- transitions driven by the core -------------------------------------------------------
    def set_pending(self, exc: int) -> None:
        if not self.pending[exc]:
            self.pending[exc] = 1
            self.pending_set.add(exc)
        if self.cpu is not None:
            self.cpu.interrupt_pending_changed()

    def clear_pending(self, exc: int) -> None:
        if self.pending[exc]:
            self.pending[exc] = 0
            self.pending_set.discard(exc)

    def acknowledge(self, exc: int) -> None:
        """Exception entry: pending -> active."""
        self.clear_pending(exc)
        self.active[exc] = 1
        self._act.append(exc)
        if MEMMANAGE <= exc <= SYSTICK:
            self._shcsr_active(exc, True)

    def complete(self, exc: int) -> None:
        """Exception return from `exc`: deactivate; a still-asserted IRQ line pends again."""
        self.active[exc] = 0
        try:
            self._act.remove(exc)
        except ValueError:
            pass
        if MEMMANAGE <= exc <= SYSTICK:
            self._shcsr_active(exc, False)
        if exc >= 16 and self.level[exc]:
            self.set_pending(exc)

    _SHCSR_ACT = {MEMMANAGE: 0, BUSFAULT: 1, USAGEFAULT: 3, SVCALL: 7, DEBUGMON: 8,
                  PENDSV: 10, SYSTICK: 11}

    def _shcsr_active(self, exc: int, on: bool) -> None:
        bit = self._SHCSR_ACT.get(exc)
        if bit is not None:
            self.shcsr = self.shcsr | (1 << bit) if on else self.shcsr & ~(1 << bit)

    def clear_all_active(self) -> None:
        for exc in list(self._act):
            self.active[exc] = 0
        self._act.clear()

    # -- IRQ inputs (GPIO receiver) -----------------------------------------------------------
    def on_gpio(self, irq: int, level: bool) -> None:
        exc = 16 + irq
        if exc >= self.num_exc:
            self.ctx.log_once(("irq-range", irq), logging.WARNING,
                              "IRQ %d is beyond the %d lines of this NVIC", irq, self.num_irqs)
            return
        was = self.level[exc]
        self.level[exc] = 1 if level else 0
        if level and not was:
            self.set_pending(exc)

    # -- registers ----------------------------------------------------------------------------
    def _check_privilege(self, offset: int, is_write: bool) -> bool:
        cpu = self.cpu
        if cpu is None or cpu.is_privileged():
            return True
        if offset == 0xF00 and is_write and self.ccr & 0x2:  # USERSETMPEND allows STIR
            return True
        cpu.bus_error_from_mmio(0xE000E000 + offset, is_write)
        return False

    def read(self, offset: int, size: int) -> int:
        if not self._check_privilege(offset, False):
            return 0
        if size != 4:
            word = self.read(offset & ~3, 4)
            shift = (offset & 3) * 8
            return (word >> shift) & ((1 << (8 * size)) - 1)
        return self._read32(offset)

    def write(self, offset: int, size: int, value: int) -> None:
        if not self._check_privilege(offset, True):
            return
        if 0xD90 <= offset < 0xD90 + MPU_BLOCK and size == 4:
            self.mpu.write(offset - 0xD90, value)   # an RTOS writes these at every switch
            return
        if size != 4:
            if 0x400 <= offset < 0x400 + self.num_irqs or 0xD18 <= offset < 0xD24:
                for i in range(size):  # byte-accessible priority registers
                    self._write_prio_byte(offset + i, (value >> (8 * i)) & 0xFF)
                return
            old = self._read32(offset & ~3) if offset < 0xD00 or offset > 0xD24 else 0
            shift = (offset & 3) * 8
            mask = ((1 << (8 * size)) - 1) << shift
            if 0x100 <= offset < 0x300:  # set/clear registers: only the written bits count
                old = 0
            value = (old & ~mask) | ((value << shift) & mask)
            offset &= ~3
        self._write32(offset, value & 0xFFFFFFFF)

    def _irq_word(self, arr: bytearray, word: int) -> int:
        base = 16 + 32 * word
        v = 0
        for b in range(32):
            exc = base + b
            if exc < self.num_exc and arr[exc]:
                v |= 1 << b
        return v

    def _read32(self, off: int) -> int:
        if 0x010 <= off < 0x020:
            return self.systick.read(off - 0x10)
        if 0x100 <= off < 0x140:
            return self._irq_word(self.enabled, (off - 0x100) // 4)
        if 0x180 <= off < 0x1C0:
            return self._irq_word(self.enabled, (off - 0x180) // 4)
        if 0x200 <= off < 0x240:
            return self._irq_word(self.pending, (off - 0x200) // 4)
        if 0x280 <= off < 0x2C0:
            return self._irq_word(self.pending, (off - 0x280) // 4)
        if 0x300 <= off < 0x340:
            return self._irq_word(self.active, (off - 0x300) // 4)
        if 0x400 <= off < 0x400 + 240:
            v = 0
            for i in range(4):
                exc = 16 + off - 0x400 + i
                if exc < self.num_exc:
                    v |= (self.prio[exc] & 0xFF) << (8 * i)
            return v
        if off == 0x004:  # ICTR: number of 32-line groups - 1
            return max(0, (self.num_irqs + 31) // 32 - 1)
        if off == 0x008:
            return self.actlr
        if off == 0xD00:
            return CPUID_BY_CORE.get(self.cpu_type, 0x410FC241)
        if off == 0xD04:
            return self._icsr()
        if off == 0xD08:
            return self.vtor
        if off == 0xD0C:
            return 0xFA050000 | (self.prigroup << 8)
        if off == 0xD10:
            return self.scr
        if off == 0xD14:
            return self.ccr
        if 0xD18 <= off < 0xD24:
            v = 0
            for i in range(4):
                exc = 4 + off - 0xD18 + i
                v |= (self.prio[exc] & 0xFF) << (8 * i)
            return v
        if off == 0xD24:
            return self.shcsr | (0x8000 if self.pending[SVCALL] else 0) | \
                (0x1000 if self.pending[MEMMANAGE] else 0) | (0x2000 if self.pending[BUSFAULT] else 0) | \
                (0x4000 if self.pending[USAGEFAULT] else 0)
        if off == 0xD28:
            return self.cfsr
        if off == 0xD2C:
            return self.hfsr
        if off == 0xD30:
            return self.dfsr
        if off == 0xD34:
            return self.mmfar
        if off == 0xD38:
            return self.bfar
        if off == 0xD3C:
            return self.afsr
        if off == 0xD88:
            return self.cpacr
        if 0xD90 <= off < 0xD90 + MPU_BLOCK:
            return self.mpu.read(off - 0xD90)
        if off == 0xDFC:
            return self.demcr
        if off == 0xF34:
            return self.fpccr
        if off == 0xF38:
            return self.fpcar
        if off == 0xF3C:
            return self.fpdscr
        if 0xD40 <= off < 0xD80:  # CPUID scheme registers (ID_PFR0 ...): reads as on Cortex-M4
            return {0xD40: 0x30, 0xD44: 0x200, 0xD48: 0x100000, 0xD4C: 0, 0xD50: 0x100030,
                    0xD54: 0, 0xD58: 0x1000000, 0xD5C: 0, 0xD60: 0x1101110, 0xD64: 0x2111000,
                    0xD68: 0x21112231, 0xD6C: 0x1111131, 0xD70: 0x310132}.get(off, 0)
        if off == 0xF40 and self.cpu_type == "cortex-m4f":  # MVFR0/1 (FPU present)
            return 0x10110021
        if off == 0xF44 and self.cpu_type == "cortex-m4f":
            return 0x11000011
        if 0xFD0 <= off < 0x1000:  # peripheral ID registers read as zero here
            return 0
        self.log_unhandled(off, 4, None)
        return 0

    def _icsr(self) -> int:
        v = 0
        vectactive = self.cpu.current_exception() if self.cpu is not None else 0
        v |= vectactive & 0x1FF
        if len(self._act) <= 1:
            v |= 1 << 11  # RETTOBASE
        hp = self.highest_pending()
        if hp is not None:
            v |= (hp & 0x1FF) << 12
        if any(e >= 16 for e in self.pending_set):
            v |= 1 << 22  # ISRPENDING
        if self.pending[SYSTICK]:
            v |= 1 << 26
        if self.pending[PENDSV]:
            v |= 1 << 28
        if self.pending[NMI]:
            v |= 1 << 31
        return v

    def _set_clear_irqs(self, word: int, value: int, arr: bytearray, on: bool) -> None:
        base = 16 + 32 * word
        for b in range(32):
            if value >> b & 1:
                exc = base + b
                if exc >= self.num_exc:
                    continue
                if arr is self.pending:
                    if on:
                        self.set_pending(exc)
                    else:
                        self.clear_pending(exc)
                else:
                    arr[exc] = 1 if on else 0
        if arr is self.enabled and on and self.cpu is not None and self.pending_set:
            self.cpu.interrupt_pending_changed()

    def _write_prio_byte(self, off: int, byte: int) -> None:
        if 0x400 <= off < 0x400 + self.num_irqs:
            exc = 16 + off - 0x400
        elif 0xD18 <= off < 0xD24:
            exc = 4 + off - 0xD18
            if exc not in (MEMMANAGE, BUSFAULT, USAGEFAULT, SVCALL, DEBUGMON, PENDSV, SYSTICK):
                return
        else:
            return
        self.prio[exc] = byte & self.priority_mask
        if self.cpu is not None and self.pending_set:
            self.cpu.interrupt_pending_changed()

    def _write32(self, off: int, value: int) -> None:
        if 0x010 <= off < 0x020:
            self.systick.write(off - 0x10, value)
        elif 0x100 <= off < 0x140:
            self._set_clear_irqs((off - 0x100) // 4, value, self.enabled, True)
        elif 0x180 <= off < 0x1C0:
            self._set_clear_irqs((off - 0x180) // 4, value, self.enabled, False)
        elif 0x200 <= off < 0x240:
            self._set_clear_irqs((off - 0x200) // 4, value, self.pending, True)
        elif 0x280 <= off < 0x2C0:
            self._set_clear_irqs((off - 0x280) // 4, value, self.pending, False)
        elif 0x300 <= off < 0x340:
            pass  # IABR is read-only
        elif 0x400 <= off < 0x400 + 240 or 0xD18 <= off < 0xD24:
            for i in range(4):
                self._write_prio_byte(off + i, (value >> (8 * i)) & 0xFF)
        elif off == 0x008:
            self.actlr = value
        elif off == 0xD04:
            if value & (1 << 31):
                self.set_pending(NMI)
            if value & (1 << 28):
                self.set_pending(PENDSV)
            elif value & (1 << 27):
                self.clear_pending(PENDSV)
            if value & (1 << 26):
                self.set_pending(SYSTICK)
            elif value & (1 << 25):
                self.clear_pending(SYSTICK)
        elif off == 0xD08:
            self.vtor = value & 0xFFFFFF80
        elif off == 0xD0C:
            if value >> 16 != 0x05FA:
                self.ctx.log(logging.WARNING, "AIRCR write 0x%08x without VECTKEY 0x05FA ignored", value)
                return
            self.prigroup = (value >> 8) & 7
            if value & 0x4:  # SYSRESETREQ
                machine = self.ctx.machine
                if machine is not None:
                    machine.request_reset("software")
            if value & 0x2:  # VECTCLRACTIVE (debug use)
                self.clear_all_active()
            if self.cpu is not None and self.pending_set:
                self.cpu.interrupt_pending_changed()
        elif off == 0xD10:
            self.scr = value & 0x16
        elif off == 0xD14:
            self.ccr = (value & 0x31B) | 0x200
            if self.cpu is not None:
                self.cpu.traps_changed()
        elif off == 0xD24:
            self.shcsr = (self.shcsr & ~0x70000) | (value & 0x70000)
            if self.cpu is not None and self.pending_set:
                self.cpu.interrupt_pending_changed()
        elif off == 0xD28:
            self.cfsr &= ~value  # write-one-to-clear
        elif off == 0xD2C:
            self.hfsr &= ~value
        elif off == 0xD30:
            self.dfsr &= ~value
        elif off == 0xD34:
            self.mmfar = value
        elif off == 0xD38:
            self.bfar = value
        elif off == 0xD3C:
            self.afsr = value
        elif off == 0xD88:
            self.cpacr = value & (0xF << 20) if self.cpu_type == "cortex-m4f" else 0
            if self.cpu is not None:
                self.cpu.traps_changed()
        elif 0xD90 <= off < 0xD90 + MPU_BLOCK:
            self.mpu.write(off - 0xD90, value)
        elif off == 0xDFC:
            self.demcr = value & 0x010F07F1
        elif off == 0xF00:  # STIR
            irq = value & 0x1FF
            if 16 + irq < self.num_exc:
                self.set_pending(16 + irq)
        elif off == 0xF34:
            self.fpccr = (self.fpccr & ~0xC0000000) | (value & 0xC0000000)
        elif off == 0xF38:
            self.fpcar = value & ~7
        elif off == 0xF3C:
            self.fpdscr = value & 0x07C00000
        else:
            self.log_unhandled(off, 4, value)


@model("Miscellaneous.DWT", "metersim.DWT")
class DWT(Peripheral):
    """Data Watchpoint and Trace unit: CTRL and CYCCNT.

    CYCCNT counts core clock cycles while the core runs; it stops while the core sleeps in
    WFI/WFE, because the STM32 gates the core clock in Sleep mode (RM0090 5.3, RM0008 5.3).
    """

    size = 0x1000

    def __init__(self, ctx: Context, frequency: int = 0):
        super().__init__(ctx)
        self.cpu = None
        self.reset()

    def reset(self) -> None:
        self.ctrl = 0x40000000  # NUMCOMP=4
        self._cyc_base = 0       # CYCCNT value at the anchor
        self._anchor = None      # core cycle count when counting started, None = stopped

    def _cycles(self) -> int:
        return self.cpu.active_cycles() if self.cpu is not None else 0

    def read(self, offset: int, size: int) -> int:
        if offset == 0x0:
            return self.ctrl
        if offset == 0x4:
            if self._anchor is None:
                return self._cyc_base & 0xFFFFFFFF
            return (self._cyc_base + self._cycles() - self._anchor) & 0xFFFFFFFF
        return super().read(offset, size)

    def write(self, offset: int, size: int, value: int) -> None:
        if offset == 0x0:
            enable = value & 1
            current = self.read(0x4, 4)
            self.ctrl = (self.ctrl & 0xF0000000) | (value & 0x0FFFFFFF)
            self._cyc_base = current
            self._anchor = self._cycles() if enable else None
        elif offset == 0x4:
            self._cyc_base = value
            if self._anchor is not None:
                self._anchor = self._cycles()
        else:
            super().write(offset, size, value)
