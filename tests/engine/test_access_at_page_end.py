"""A status poll whose load is the last instruction before a 1 KiB code page boundary.

unicorn ends a translated block at each 1 KiB page of code, so such a load is the last
instruction of its block. When the model's read ends the slice right after it (the polling
loop's skip-ahead, CortexM.poll_hint), the core runs that one instruction again, as a block
of one instruction, and the slice must end in front of the next instruction: the start of
another block, already translated. If the run went on there, it would go on with no limit,
virtual time frozen for the peripherals (no event runs), and the flag the firmware waits for
would never come, as in the HSE start-up wait of a clock setup. (A load inside the page, the
next instruction inside the same block, is the control.)"""

import struct

import pytest

from metersim._engine.emulation import Emulation
from metersim._engine.machine import Machine
from metersim._units import PS_PER_S
from metersim.peripherals.base import Context, Peripheral

FLASH = 0x08000000
DEVICE = 0x50000000
START_UP_PS = 500 * PS_PER_S // 1_000_000      # 500 µs from the start request to READY
READY, TIMED_OUT = 1, 2                          # what the firmware reports


class StartUp(Peripheral):
    """An oscillator-like block: writing 1 to CR (0x4) starts it, SR (0x0) bit 0 (READY)
    rises START_UP_PS later, in a scheduled event. The firmware reports how its wait ended
    in RESULT (0x8); the model notes when."""
    size = 0x100

    def __init__(self, ctx: Context):
        super().__init__(ctx)
        self.sr = 0
        self.started_ps = None
        self.result = None          # (virtual time, value)

    def read(self, offset, size):
        if offset == 0x0:
            return self.poll_hint(self.sr)      # changes only in an event: spinning skips
        return 0

    def write(self, offset, size, value):
        if offset == 0x4 and value & 1:
            self.started_ps = self.ctx.clock.now_ps
            self.ctx.clock.schedule(START_UP_PS, self._ready)
        elif offset == 0x8:
            self.result = (self.ctx.clock.now_ps, value)

    def _ready(self):
        self.sr |= 1


def _b(at: int, to: int) -> int:
    """Thumb B (T2) at `at` to `to`."""
    return 0xE000 | ((to - at - 4) >> 1) & 0x7FF


def _bne(at: int, to: int) -> int:
    """Thumb BNE (T1) at `at` to `to`."""
    return 0xD100 | ((to - at - 4) >> 1) & 0xFF


# The load of SR: where it sits against the page boundary at 0x400, and its encoding.
POLLS = {
    "16-bit load ending the page": (0x3FE, [0x683B]),           # ldr   r3, [r7]
    "32-bit load ending the page": (0x3FC, [0xF8D7, 0x3000]),   # ldr.w r3, [r7]
    "32-bit load across the page": (0x3FE, [0xF8D7, 0x3000]),   # ldr.w r3, [r7]
    "load inside the page": (0x3F0, [0x683B]),                  # (the loop crosses it)
}


def program(poll: int, load: list[int]) -> dict[int, list[int]]:
    """Thumb code by flash offset: start the block, then poll SR in a loop whose load is at
    `poll`, near the end of the first 1 KiB page of code, at most 19968 times."""
    main = [0x2750,             # movs  r7, #0x50
            0x063F,             # lsls  r7, r7, #24        r7 = DEVICE
            0x2001,             # movs  r0, #1
            0x6078,             # str   r0, [r7, #4]       CR = start
            0x244E,             # movs  r4, #0x4E
            0x0224]             # lsls  r4, r4, #8         r4 = 19968 polls at most
    main.append(_b(0x100 + 2 * len(main), poll))
    a = poll + 2 * len(load)    # after the load
    ready, report = a + 12, a + 14
    loop = load + [
        0x07DB,                 # lsls  r3, r3, #31        READY -> bit 31 (Z clear: ready)
        _bne(a + 2, ready),
        0x3C01,                 # subs  r4, #1
        _bne(a + 6, poll),
        0x2002,                 # movs  r0, #2             timed out
        _b(a + 10, report),
        0x2001,                 # ready: movs r0, #1
        0x60B8,                 # report: str r0, [r7, #8]  RESULT
        0xBF30,                 # wfi
        0xE7FE]                 # b     .
    return {0x100: main, poll: loop}


def machine(poll: int, load: list[int]):
    emu = Emulation()
    m = Machine.bare(emu, "poller", core="cortex-m3", console_address=None)
    dev = m.add("startup", StartUp(m.context("startup")), DEVICE, 0x100)
    m.sysbus.write_memory(FLASH, struct.pack("<II", 0x20001000, FLASH + 0x101))
    for offset, halfwords in program(poll, load).items():
        m.sysbus.write_memory(FLASH + offset, struct.pack(f"<{len(halfwords)}H", *halfwords))
    m.finalize()
    m.reset()
    return emu, m, dev


@pytest.mark.parametrize("finish", ["in C", "in Python"])
@pytest.mark.parametrize("where", list(POLLS))
def test_a_poll_at_a_page_end_sees_its_flag_when_it_rises(where, finish):
    emu, m, dev = machine(*POLLS[where])
    if finish == "in Python":
        m.cpu._slice_c = None       # CortexM._complete_slice and _run_to finish the stop
        m.cpu._run_to_c = None
    emu.run_for("2ms")
    assert dev.started_ps is not None, "the program did not start the block"
    assert dev.result is not None, "the program never ended its wait"
    t_ps, value = dev.result
    assert value == READY, "the wait timed out: READY never rose while the loop spun"
    ready_ps = dev.started_ps + START_UP_PS
    # seen at its own instant: a few instructions after the rise, not a whole spin later
    assert ready_ps <= t_ps <= ready_ps + 20 * PS_PER_S // m.cpu.freq_hz
    # the core's time never ran ahead of the machine's: every cycle counted is an instruction
    # run, a cycle asleep after the WFI or one skipped by the loop's skip-ahead, and they add
    # up to the virtual time
    cpu = m.cpu
    assert cpu.halted
    assert cpu.cycles == cpu.cycles_at_time(emu.now_ps) or \
        cpu.time_at_cycles(cpu.cycles) >= emu.now_ps > cpu.time_at_cycles(cpu.cycles - 1)
    assert cpu.cycles == cpu.instructions + cpu.stall_cycles + cpu.idle_cycles
    assert cpu.instructions < 1000      # the skip-ahead spared the spinning
