"""Where a polling loop with a time-out leaves: one turn of it run on a scratch core.

CortexM.poll_hint skips a loop spinning on a status register ahead to the instant the register
can change. A loop that also reads DWT CYCCNT (`while (!(SR & RXNE)) if (CYCCNT - t0 >= n)
break;`) may leave sooner, when its count reaches a limit only its code knows. LoopProbe finds
that instant: it runs one turn of the loop, from the status read, on a second unicorn core of
the same model, with the main core's registers and copies of the memory pages the turn
touches, the status register answering the value just read and CYCCNT answering its value at
a trial instant. The loop is still spinning at that instant if the turn comes back to the
status read (within a few turns' worth of instructions: a turn that crosses a microsecond
boundary of a `(CYCCNT - start) / per_us` count runs a few more), having read nothing but
those two registers and written no register; anything else is leaving. A time-out is
monotonic (once `CYCCNT - t0 >= n`, it stays so for the 2^32 cycles CYCCNT takes to wrap),
so a bisection over the trial instant finds the first cycle at which the loop leaves.

The probe never changes the machine: the scratch core has its own copies of the pages,
mapped once and brought back to the machine's content before every turn (a write of the
turn's own, or of the machine's since, is undone; code is translated again only where it
changed). Anything it cannot answer (another register read, a register write, a fetch
outside memory, an FP instruction) is not coming back, so at worst the skip ends early and
the loop runs more of its turns on the main core: exact, only slower.
"""

from __future__ import annotations

import ctypes

from unicorn import (UC_ARCH_ARM, UC_HOOK_CODE, UC_HOOK_MEM_READ, UC_HOOK_MEM_UNMAPPED,
                     UC_HOOK_MEM_WRITE, UC_MODE_THUMB, UC_PROT_ALL, Uc, UcError)
from unicorn import arm_const as A

from metersim._engine.uc_native import NativeCore

PAGE = 0x1000
SCRATCH_TCG_BYTES = 4 << 20     # translated code of a few loops
# Register space: the peripherals (with their bit-band alias) and the private peripheral bus.
MMIO_RANGES = ((0x40000000, 0x5FFFFFFF), (0xE0000000, 0xE00FFFFF))
_REGS = [getattr(A, f"UC_ARM_REG_R{i}") for i in range(13)] + [
    A.UC_ARM_REG_SP, A.UC_ARM_REG_LR, A.UC_ARM_REG_APSR_NZCV]


class LoopProbe:
    """One per core, its scratch unicorn made on first use."""

    def __init__(self, cpu, core_model: int):
        self.cpu = cpu
        self.core_model = core_model
        self.uc: Uc | None = None
        self._pages: dict[int, bytes] = {}      # page -> the content copied in (memory only)
        self._host: dict[int, int] = {}         # page -> its host address in the machine
        self._ram: list[int] = []               # ... of those, the writable ones
        self._code_generation = -1              # the core's, when the code pages were copied
        self._read_regs = cpu.nat.batch_reader(_REGS)
        self._write_regs = None
        self._regs = None                       # the loop's registers (a saved context)
        self._hook_pc = -1
        self._code_hook = None
        self.turns = 0               # turns run (statistics)
        # per turn
        self._status_addr = -1
        self._status_value = 0
        self._cyccnt_addr = -1
        self._cyccnt_value = 0
        self._unknown = False
        self._pc = -1
        self._started = False
        self._back = False

    def _scratch(self) -> Uc:
        uc = self.uc
        if uc is None:
            uc = self.uc = Uc(UC_ARCH_ARM, UC_MODE_THUMB)
            uc.ctl_set_tcg_buffer_size(SCRATCH_TCG_BYTES)   # (its default reserves 1 GiB)
            uc.ctl_set_cpu_model(self.core_model)
            self._write_regs = NativeCore(uc).batch_writer(_REGS)
            uc.hook_add(UC_HOOK_MEM_UNMAPPED, self._on_unmapped)
            for lo, hi in MMIO_RANGES:
                uc.hook_add(UC_HOOK_MEM_READ, self._on_read, begin=lo, end=hi)
                uc.hook_add(UC_HOOK_MEM_WRITE, self._on_write, begin=lo, end=hi)
        return uc

    def _refresh_pages(self, pages) -> None:
        """The `pages` copied in hold the machine's content again (an unchanged page is left
        alone: its translated code stays)."""
        for page in pages:
            old = self._pages[page]
            data = ctypes.string_at(self._host[page], PAGE)
            if data != old:
                self.uc.mem_write(page, data)
                self._pages[page] = data


    def _watch(self, pc: int) -> None:
        """The code hook on the status read at `pc` only (cheaper than one on every
        instruction); code translated for another address is dropped so the hook is in it."""
        if pc == self._hook_pc:
            return
        uc = self.uc
        if self._code_hook is not None:
            uc.hook_del(self._code_hook)
            uc.ctl_remove_cache(self._hook_pc & ~1, (self._hook_pc & ~1) + 4)
        self._code_hook = uc.hook_add(UC_HOOK_CODE, self._on_code, begin=pc, end=pc)
        uc.ctl_remove_cache(pc, pc + 4)
        self._hook_pc = pc

    # -- hooks -----------------------------------------------------------------------------
    def _on_unmapped(self, uc, _access, address, _size, _value, _ud) -> bool:
        """A page the turn touches: a copy of the machine's memory there, or (register space)
        an empty page whose reads _on_read answers. Anything else is not known."""
        page = address & ~(PAGE - 1)
        sysbus = self.cpu.machine.sysbus
        mmio = any(lo <= address <= hi for lo, hi in MMIO_RANGES)
        data = None
        if not mmio:
            if sysbus.region_at(page) is None or sysbus.region_at(page + PAGE - 1) is None:
                self._unknown = True
                return False
            region = sysbus.region_at(page)
            host = ctypes.addressof(region.buffer) + sysbus._offset_in(region, page)
            data = ctypes.string_at(host, PAGE)
        uc.mem_map(page, PAGE, UC_PROT_ALL)
        if data is not None:
            uc.mem_write(page, data)
            self._pages[page] = data
            self._host[page] = host
            if region.writable:
                self._ram.append(page)
        return True

    def _on_read(self, uc, _access, address, size, _value, _ud) -> None:
        """Register reads: the status register (the turn's first read) answers the value the
        loop polls, CYCCNT its value at the trial instant, anything else is not known."""
        if self._status_addr < 0 and address != self._cyccnt_addr:
            self._status_addr = address
        if address == self._status_addr:
            value = self._status_value
        elif address == self._cyccnt_addr and size == 4:
            value = self._cyccnt_value
        else:
            self._unknown = True
            uc.emu_stop()
            return
        uc.mem_write(address, (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little"))

    def _on_code(self, uc, address, _size, _ud) -> None:
        """Back at the status read after the first time: the loop spins on."""
        if address == self._pc:
            if self._started:
                self._back = True
                uc.emu_stop()
            self._started = True

    def _on_write(self, uc, _access, _address, _size, _value, _ud) -> None:
        self._unknown = True
        uc.emu_stop()

    # -- a turn ----------------------------------------------------------------------------
    def start(self, pc: int, status_value: int, turn: int) -> None:
        """Get ready to run turns of the loop whose status read at `pc` just read
        `status_value` (`turn` instructions between its last two reads): the main core's
        registers and memory as they are now."""
        uc = self._scratch()
        if self._code_generation != self.cpu.code_generation:
            self._code_generation = self.cpu.code_generation
            self._refresh_pages(list(self._pages))     # flash rewritten: code pages too
        else:
            self._refresh_pages(self._ram)
        self._watch(pc)
        self._write_regs(self._read_regs())
        self._regs = uc.context_save()
        self._pc = pc
        self._status_value = status_value
        self._count = 4 * turn + 32

    def spins(self, cyccnt_addr: int, cyccnt_value: int) -> bool:
        """Run the loop made ready by `start` from its status read, with CYCCNT reading
        `cyccnt_value`: True if it comes back to the status read (still spinning), False if
        it does anything else."""
        uc = self.uc
        uc.context_restore(self._regs)
        self._refresh_pages(self._ram)    # an earlier turn's writes are gone
        self._status_addr = -1
        self._cyccnt_addr = cyccnt_addr
        self._cyccnt_value = cyccnt_value
        self._unknown = False
        self._started = False
        self._back = False
        self.turns += 1
        try:
            uc.emu_start(self._pc | 1, 0, count=self._count)
        except UcError:
            return False
        return self._back and not self._unknown
