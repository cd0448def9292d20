"""A machine: one Cortex-M core, its system bus, its peripherals and its firmware."""

from __future__ import annotations

import logging
import struct
from heapq import heappop
from pathlib import Path

from metersim._engine.clock import Clock
from metersim._engine.cpu import CortexM
from metersim._engine.fault_report import FaultRecord
from metersim._engine.firmware import Firmware
from metersim._engine.loader import find_unmask_sites, load_elf
from metersim._engine.sysbus import SysBus, TaggedRegion
from metersim._errors import FirmwareFault, MetersimError, PlatformError, SetupError
from metersim.peripherals.base import Context
from metersim.peripherals.clock_tree import ClockTree
from metersim.peripherals.console_uart import ConsoleUART
from metersim.peripherals.uart_cable import settings_changed
from metersim.peripherals.cortexm.nvic import DWT, NVIC
from metersim._units import format_time

log = logging.getLogger("metersim.machine")


class Machine:
    def __init__(self, emulation, name: str, core: str = "cortex-m4f",
                 freq_hz: int = 16_000_000):
        self.emulation = emulation
        self.name = name
        # The machine's own event queue and local time (Emulation: time model). It starts at
        # the emulation's time, so a machine added later does not begin in the past.
        self.clock = Clock()
        self.clock._now = emulation.clock._now
        # An event scheduled before the running slice's end ends it early: the clock calls
        # this only while a slice runs (its horizon is set only then), so it stays set.
        self.clock._on_earlier = self._on_earlier_event
        self._horizon = 0
        self.clocks = ClockTree({"SYSCLK": freq_hz, "HCLK": freq_hz})
        self.cpu = CortexM(self, core, freq_hz)
        self.sysbus = SysBus(self)
        self.peripherals: dict[str, object] = {}
        self.firmware: Firmware | None = None
        self.boot_address: int | None = None
        self.reset_pending: str | None = None
        self.reset_count = 0
        self.last_reset_cause = "por"
        self._finalized = False
        self.powered = True
        self._bus_errors_logged: set[int] = set()
        self._fault_reported = False
        self.dwt: DWT | None = None
        # Every fault the core stopped on, in order, kept through resets (FaultRecord).
        self.faults: list[FaultRecord] = []
        self.clocks.subscribe("HCLK", self.cpu.set_frequency)

    # -- construction -----------------------------------------------------------------------
    def context(self, name: str, address: int | None = None) -> Context:
        return Context(self.clock, name=name, machine=self, machine_name=self.name,
                       seed=self.emulation.seed, address=address)

    def add(self, name: str, model, address: int | None = None, size: int | None = None):
        """Register a model under `name`, on the system bus when `address` is given."""
        if name in self.peripherals:
            raise PlatformError(f"{self.name}: a peripheral named {name!r} exists already")
        self.peripherals[name] = model
        if address is not None:
            self.sysbus.map_peripheral(name, address, size or getattr(model, "size", 0x400), model)
            if self._finalized:
                self.sysbus.finalize()   # added to a built machine: map its pages now
        if isinstance(model, NVIC):
            model.attach_cpu(self.cpu)
            self.cpu.nvic = model
        if isinstance(model, DWT):
            model.cpu = self.cpu
            self.dwt = model
            self.cpu.cyccnt_address = address + 4 if address is not None else -1
        return model

    def add_tag(self, name: str, address: int, size: int, value: int = 0) -> TaggedRegion:
        region = TaggedRegion(name, value, machine_name=self.name)
        self.peripherals[name] = region
        self.sysbus.map_peripheral(name, address, size, region, "tag")
        return region

    def __getitem__(self, name: str):
        try:
            return self.peripherals[name]
        except KeyError:
            raise SetupError(f"{self.name} has no peripheral {name!r}; it has: "
                             f"{', '.join(sorted(self.peripherals))}") from None

    def finalize(self) -> None:
        if self._finalized:
            return
        if self.cpu.nvic is None:
            raise PlatformError(f"{self.name}: the platform has no NVIC (IRQControllers.NVIC)")
        self.sysbus.finalize()
        self._finalized = True

    @classmethod
    def bare(cls, emulation, name: str, core: str = "cortex-m4f", freq_hz: int = 16_000_000,
             flash=(0x08000000, 0x100000), sram=(0x20000000, 0x50000),
             console_address: int | None = 0x40011000) -> "Machine":
        """A minimal STM32-like machine: flash (+ boot alias at 0), SRAM, NVIC/SCB/SysTick, DWT,
        bit-band, a console USART, and the rest of the APB/AHB space tagged."""
        m = cls(emulation, name, core, freq_hz)
        fbase, fsize = flash
        m.flash = m.sysbus.map_memory("flash", fbase, fsize, writable=False, aliases=[0])
        m.sram = m.sysbus.map_memory("sram", sram[0], sram[1])
        m.add("nvic", NVIC(m.context("nvic", 0xE000E000), cpu_type=core), 0xE000E000)
        m.add("dwt", DWT(m.context("dwt", 0xE0001000)), 0xE0001000)
        m.sysbus.add_bitband(0x22000000, 0x20000000)
        if console_address is not None:
            m.add("usart1", ConsoleUART(m.context("usart1", console_address)), console_address)
        for base, size, tag in [(0x40000000, 0x30000, "peripherals"), (0xE0000000, 0x1000, "itm"),
                                (0xE0002000, 0x1000, "fpb"), (0xE0042000, 0x1000, "dbgmcu")]:
            lo = base
            for mp in sorted(m.sysbus.mappings, key=lambda x: x.base):
                if mp.base >= base + size or mp.base + mp.size <= base:
                    continue
                if mp.base > lo:
                    m.add_tag(f"{tag}@{lo:08x}", lo, mp.base - lo)
                lo = max(lo, mp.base + mp.size)
            if lo < base + size:
                m.add_tag(f"{tag}@{lo:08x}", lo, base + size - lo)
        m.boot_address = 0
        emulation.add_machine(m)
        return m

    # -- firmware ---------------------------------------------------------------------------
    def load_elf(self, path: str | Path, reset: bool = True) -> Firmware:
        fw = load_elf(path)
        for seg in fw.segments:
            end = seg.paddr + max(len(seg.data), 1) - 1
            region = self.sysbus.region_at(seg.paddr)
            if region is None or not region.contains(end) or self.sysbus.region_at(end) is not region:
                raise SetupError(f"{fw.path}: segment at 0x{seg.paddr:08x} ({len(seg.data)} bytes) "
                                 f"is outside the memory of {self.name}")
            self.sysbus.write_memory(seg.paddr, seg.data)
        self.firmware = fw
        self.cpu.add_unmask_hooks(find_unmask_sites(fw))
        self.cpu.traps.scan(fw)
        if reset:
            self.finalize()
            self.reset_cpu_only()
        return fw

    def has_boot_image(self) -> bool:
        """Whether there is something to run: an ELF loaded, or at least a vector table (an
        initial SP and a reset vector) written at the boot address by other means."""
        if self.firmware is not None:
            return True
        if self.boot_address is None and not self.sysbus.regions:
            return False
        try:
            sp, pc = struct.unpack("<II", self.sysbus.read_memory(self._boot_vtor(), 8))
        except (MetersimError, struct.error):
            return False
        return sp not in (0, 0xFFFFFFFF) and pc not in (0, 0xFFFFFFFF)

    def _boot_vtor(self) -> int:
        if self.boot_address is not None:
            return self.boot_address
        return self.sysbus.regions[0].base

    def reset_cpu_only(self) -> None:
        """Core reset from the boot vector table. On the chip VTOR resets to 0, where the boot
        memory is aliased; a platform without that alias boots with VTOR at the table (as
        Renode's Cortex-M does), so interrupts find their vectors either way."""
        vtor = self._boot_vtor()
        self.cpu.reset(vtor)
        self._fault_reported = False
        if self.cpu.nvic is not None:
            self.cpu.nvic.vtor = vtor & 0xFFFFFF80

    # -- reset ------------------------------------------------------------------------------
    def request_reset(self, cause: str) -> None:
        """Reset at the next instruction boundary (watchdog, SYSRESETREQ, pin, power)."""
        self.reset_pending = cause
        self.cpu.request_boundary()

    def perform_reset(self) -> None:
        cause = self.reset_pending or "pin"
        self.reset_pending = None
        self.reset_count += 1
        self.last_reset_cause = cause
        log.info("[%s] %s: reset (%s)", format_time(self.clock.now_ps), self.name, cause)
        if self.cpu.fault is not None:
            # A core stopped on a fault stands still while the machine's time goes on: it
            # restarts at the machine's time, not in its past (where its models would
            # schedule events the machine has passed).
            self.cpu.idle_to(self.clock._now)
        for p in self.peripherals.values():
            p.reset()
        for p in self.peripherals.values():
            hook = getattr(p, "on_machine_reset", None)
            if hook is not None:
                hook(cause)
        self.reset_cpu_only()

    def reset(self) -> None:
        self.reset_pending = "pin"
        self.perform_reset()

    # -- power ------------------------------------------------------------------------------
    def power_off(self) -> None:
        """Cut the supply now: the core stops where it is, every model with a `power_off()`
        (flash mid-program, EEPROM mid-write...) suffers the cut its own way, and the others
        stop as after a reset."""
        if not self.powered:
            return
        self.powered = False
        settings_changed()       # links between machines count only powered ones
        log.info("[%s] %s: power off", format_time(self.clock.now_ps), self.name)
        for p in self.peripherals.values():
            hook = getattr(p, "power_off", None)
            if hook is not None:
                hook()
            else:
                # An unpowered block stops where it is: a UART stops mid-character, timers
                # stop. reset() cancels its pending events; the backup domain (RTC, BKP, RCC
                # BDCR) keeps its state through reset(), as it does on its battery.
                p.reset()
        # Inside this machine's slice (a model's own event or register write cut the power)
        # the core stops after the current instruction. Outside one it is not running: a break
        # asked for then would outlive the cut and end the core's first slice after power-on
        # at once, leaving the machine's time ahead of its core's.
        if self.cpu.in_slice:
            self.cpu.break_run()

    def power_on(self) -> None:
        """Restore the supply: models with `power_on()` recover, then a power-on reset."""
        if self.powered:
            return
        self.powered = True
        settings_changed()
        log.info("[%s] %s: power on", format_time(self.clock.now_ps), self.name)
        for p in self.peripherals.values():
            hook = getattr(p, "power_on", None)
            if hook is not None:
                hook()
        self.reset_pending = "por"
        self.perform_reset()

    # -- running ----------------------------------------------------------------------------
    def run_to(self, bound: int) -> bool:
        """Run this machine alone, its core and its own events, up to local time `bound` (the
        end of the emulation's quantum); slices end only at this machine's events. Returns
        False when a stop or a fault ended the run early (local time is where it stopped)."""
        clock = self.clock
        if bound < clock._now:
            return True          # ahead already (it ran to an earlier bound before a pause)
        cpu = self.cpu
        emu = self.emulation
        heap = clock._heap
        nvic = cpu.nvic
        while True:
            t = bound = emu._bound   # an emulation event scheduled meanwhile may lower it
            # this machine's next event if it is due by then (clock.next_event_ps(), inlined)
            while heap:
                first = heap[0]
                if first[2].cancelled:
                    heappop(heap)
                    continue
                if first[0] < t:
                    t = first[0]
                break
            if t > clock._now:
                if not self.powered or cpu.halted and cpu.fault is None \
                        and not nvic.pending_set and self.reset_pending is None \
                        and not cpu._break_requested:
                    # unpowered, or asleep with nothing pending to wake it (most machines in
                    # most quanta: what run_until would do, without entering it): the core
                    # reaches t, where a stop asked for before would pause it too
                    cpu.idle_to(t)
                else:
                    now = clock._now
                    if cpu.fault is not None and self.reset_pending is not None:
                        # A core stopped on a fault comes back with a reset (its watchdog
                        # expired, a pin, a software reset asked from Python), at this
                        # machine's time: the instant of the event that asked for it.
                        self.perform_reset()
                    if cpu.fault is None:
                        self._horizon = t
                        cpu.run_until(t)     # up to self._horizon, which may come down
                        if self._horizon < t:
                            t = self._horizon    # an event scheduled meanwhile came earlier
                    if emu._stop_requested or emu._fault is not None:
                        # pause exactly where the core stopped
                        clock.advance_to(max(now, min(t, cpu.now_ps())))
                        return False
            if heap and heap[0][0] <= t:
                clock.advance_to(t)
            else:
                clock._now = t               # nothing due by t: only time moves
            if emu._stop_requested or emu._fault is not None:
                return False
            if t >= bound:
                return True

    def _on_earlier_event(self, t_ps: int) -> None:
        """An event of this machine was scheduled before the running slice's end."""
        if t_ps < self._horizon:
            self._horizon = t_ps
        emu = self.emulation
        if emu._lockstep and t_ps < emu._bound:
            emu._bound = t_ps
        if self.cpu.in_slice:
            self.cpu.on_earlier_event(t_ps)

    # -- events from the core ---------------------------------------------------------------
    def on_fault(self, fault: FirmwareFault) -> None:
        """The core stopped on a fault it cannot handle: note it once and stop the core where
        it is. (A fault at a fetch that executes nothing, e.g. stacking onto an invalid SP,
        would otherwise come back at once inside the same slice, forever.) The report travels
        with the FirmwareFault raised to whoever runs the emulation, which shows it once; the
        log only notes the stop, and `faults` keeps it with its instant.

        Which faults stop the core (CortexM._stop_with_fault): a lockup (a fault while in
        HardFault or NMI, or with FAULTMASK set), a fault whose handler is a dead end (`b .`
        or a breakpoint: the default handler of every vector the firmware leaves alone), a
        fault with no vector, a failed exception stacking or unstacking. An emulation-level
        error lands there too: an unmapped fetch or data access is a BusFault, and so ends in
        the dead-end HardFault handler unless the firmware handles it. On the chip such a
        core spins in its `b .` (or stays locked up) while its clocks run: the stopped core
        stands still the same way, its peripherals' events go on, and a reset brings it back
        (the independent or window watchdog expiring, Machine.reset() for the pin, a software
        reset requested from Python; run_to carries out one asked for meanwhile). Without one
        it stays stopped."""
        if self._fault_reported:
            return
        self._fault_reported = True
        self.faults.append(FaultRecord(self.cpu.now_ps(), self.reset_count, fault))
        log.info("[%s] %s", format_time(self.clock.now_ps), str(fault).splitlines()[0])
        if self.cpu.in_slice:
            # An early stop for a fault: the slice's instruction count no longer matters.
            self.cpu.uc.emu_stop()
        self.emulation.on_fault(self, fault)

    def on_breakpoint_instruction(self, pc: int) -> None:
        self.emulation.on_breakpoint(self, pc)

    def log_bus_error(self, addr: int, pc: int, is_write: bool, fetch: bool = False) -> None:
        if addr in self._bus_errors_logged:
            return
        self._bus_errors_logged.add(addr)
        sym = self.firmware.symbols.symbolize(pc) if self.firmware else f"0x{pc:08x}"
        kind = "fetch from" if fetch else ("write to" if is_write else "read from")
        log.warning("[%s] %s: bus error: %s unmapped address 0x%08x at PC 0x%08x (%s)",
                    format_time(self.clock.now_ps), self.name, kind, addr, pc, sym)

    def poll_hint(self, value: int, ready_ps: int | None = None) -> None:
        """Called by a model on a status read (`value`) that cannot change before `ready_ps`
        (default: the next scheduled event, for registers that only change in events): a
        polling loop on it skips ahead instead of spinning (CortexM.poll_hint)."""
        if self.cpu.in_slice:
            if ready_ps is None:
                ready_ps = self.clock.next_event_ps()
                if ready_ps is None:
                    ready_ps = self.cpu._slice_target_ps
            self.cpu.poll_hint(ready_ps, value)

    def dwt_cyccnt_at(self, cycle: int) -> int:
        """What DWT CYCCNT reads when the core's cycle count is `cycle` (the core awake)."""
        return self.dwt.cyccnt_at(cycle - self.cpu.idle_cycles) if self.dwt is not None else 0

    def time_register_read(self) -> None:
        """Called by a model when firmware reads a register whose value moves with time (a
        timer's CNT, the WWDG counter): a polling loop that reads it is not skipped past its
        time-out (CortexM.poll_hint)."""
        self.cpu.time_register_read()

    # -- conveniences -----------------------------------------------------------------------
    def symbol(self, name: str) -> int:
        if self.firmware is None:
            raise SetupError(f"{self.name}: no firmware loaded")
        return self.firmware.symbols.lookup(name)

    def read_u32(self, addr: int) -> int:
        return self.sysbus.read_word(addr, 4)

    def write_u32(self, addr: int, value: int) -> None:
        self.sysbus.write_word(addr, value, 4)

    def stats(self) -> dict:
        c = self.cpu
        return {"machine": self.name, "instructions": c.instructions, "cycles": c.cycles,
                "idle_cycles": c.idle_cycles, "exceptions": c.exceptions_taken,
                "freq_hz": c.freq_hz}
