"""Slices that end inside a translated block, and MMIO accesses that end a slice, cost no fresh
translation once each stop position has been seen: the core runs the block again as a
count-limited translation block, which unicorn caches beside the whole block. (Dropping the
block's translations to run it up to an exit, as the core once did, made every such stop
translate the block again, in part and then whole: a tenth of the CPU time of a cabinet.)

The programs count their own instructions: each `adds r0, #1` adds one, so r0 and the PC say
exactly how many instructions ran, whatever the slices were. Translations are counted with
unicorn's UC_HOOK_EDGE_GENERATED, which fires for each block translated while the core runs."""

import struct

import pytest
from unicorn import UC_HOOK_EDGE_GENERATED
from unicorn import arm_const as A

from metersim._engine.emulation import Emulation
from metersim._engine.machine import Machine
from metersim.peripherals.base import Context, Peripheral

FLASH = 0x08000000
DEVICE = 0x50000000
LOOP = 0x100                    # flash offset of the loop
ADDS = 50                       # `adds r0, #1` per pass of the loop (one block with its branch)
EVENT_CYCLES = 997              # an event this often: slice ends fall all over the block


class Ticker(Peripheral):
    """Schedules an event every EVENT_CYCLES core cycles, each ending the running slice; a
    read of offset 0 schedules one at once, which ends the slice right after the access."""
    size = 0x100

    def __init__(self, ctx: Context, period_ps: int, periodic: bool):
        super().__init__(ctx)
        self.period_ps = period_ps
        self.reads = 0
        self.events = 0
        self.pcs = []               # where each periodic event found the core
        if periodic:
            ctx.clock.schedule(period_ps, self._tick)

    def _tick(self):
        self.events += 1
        self.pcs.append(self.ctx.machine.cpu.pc & ~1)
        self.ctx.clock.schedule(self.period_ps, self._tick)

    def _now(self):
        self.events += 1

    def read(self, offset, size):
        self.reads += 1
        self.ctx.clock.schedule(0, self._now)
        return 0

    def write(self, offset, size, value):
        pass


def _b(at: int, to: int) -> int:
    """Thumb B (T2) at flash offset `at` to `to`."""
    return 0xE000 | ((to - at - 4) >> 1) & 0x7FF


def machine(with_read: bool, it_block: bool = False, periodic: bool | None = None):
    """A core running, from LOOP, ADDS `adds r0, #1` and a branch back (one block); with
    `with_read`, the 20th instruction is instead `ldr r1, [r7]` from the Ticker; with
    `it_block`, the 20th to 23rd are `cmp r0, r0; itt eq; adds r0, #1; adds r0, #1`."""
    emu = Emulation()
    m = Machine.bare(emu, "counter", core="cortex-m3", console_address=None)
    period_ps = m.cpu.time_at_cycles(EVENT_CYCLES) - m.cpu.time_at_cycles(0)
    if periodic is None:
        periodic = not with_read
    dev = m.add("ticker", Ticker(m.context("ticker"), period_ps, periodic), DEVICE, 0x100)
    m.sysbus.write_memory(FLASH, struct.pack("<II", 0x20001000, FLASH + 0x81))
    start = [0x2000,                # movs r0, #0
             0x2750,                # movs r7, #0x50
             0x063F]                # lsls r7, r7, #24     r7 = DEVICE
    start.append(_b(0x80 + 2 * len(start), LOOP))
    body = [0x3001] * ADDS          # adds r0, #1
    if with_read:
        body[19] = 0x6839           # ldr  r1, [r7]
    if it_block:
        body[19:21] = [0x4280,      # cmp  r0, r0
                       0xBF04]      # itt  eq (the two adds after it, always run)
    body.append(_b(LOOP + 2 * ADDS, LOOP))
    m.sysbus.write_memory(FLASH + 0x80, struct.pack(f"<{len(start)}H", *start))
    m.sysbus.write_memory(FLASH + LOOP, struct.pack(f"<{len(body)}H", *body))
    m.finalize()
    m.reset()
    return emu, m, dev


def count_translations(m) -> list:
    blocks = []
    m.cpu.uc.hook_add(UC_HOOK_EDGE_GENERATED, lambda _uc, cur, _prev, _ud: blocks.append(
        (cur.pc, cur.size)))
    return blocks


def progress(m, with_read: bool) -> tuple[int, int]:
    """(passes of the loop completed, instructions of the current pass run), from r0 and the
    PC alone."""
    r0, pc = m.cpu.reg(A.UC_ARM_REG_R0), m.cpu.pc & ~1
    k = (pc - FLASH - LOOP) // 2
    assert 0 <= k <= ADDS
    per_pass = ADDS - 1 if with_read else ADDS          # the adds of a pass
    in_pass = k - 1 if with_read and k > 19 else k      # ... of the current one
    passes = (r0 - in_pass) // per_pass
    assert passes * per_pass + in_pass == r0
    return passes, k


def expected_instructions(m, with_read: bool) -> int:
    """What the program has run by now: the 4 instructions before the loop, then its passes
    of ADDS + 1 instructions."""
    passes, k = progress(m, with_read)
    return 4 + passes * (ADDS + 1) + k


@pytest.mark.parametrize("finish", ["in C", "in Python"])
def test_slice_ends_inside_a_block_translate_once_per_position(finish):
    emu, m, dev = machine(with_read=False)
    if finish == "in Python":
        m.cpu._slice_c = None           # CortexM._complete_slice and _run_to finish the stop
        m.cpu._run_to_c = None
    emu.run_for("100us")                # warm up: the whole block and the first positions
    blocks = count_translations(m)
    events0 = dev.events
    emu.run_for("20ms")
    stops = dev.events - events0
    assert stops > 250
    # exact: the core's count is what the program ran
    assert m.cpu.instructions == expected_instructions(m, with_read=False)
    # a limit falls at each of the block's 51 positions in turn (997 = 19 x 51 + 28): at most
    # one shortened block and one rest of the block per position, then nothing new
    positions = ADDS + 1
    assert len(blocks) <= 2 * positions
    later = len(blocks)
    emu.run_for("20ms")
    assert m.cpu.instructions == expected_instructions(m, with_read=False)
    assert len(blocks) == later, "slice ends seen before translated their blocks again"


@pytest.mark.parametrize("finish", ["in C", "in Python"])
def test_an_access_that_ends_its_slice_is_run_again_without_translating(finish):
    emu, m, dev = machine(with_read=True)
    if finish == "in Python":
        m.cpu._slice_c = None
        m.cpu._run_to_c = None
    emu.run_for("100us")
    blocks = count_translations(m)
    reads0 = dev.reads
    emu.run_for("10ms")
    reads = dev.reads - reads0
    assert reads > 1000
    # each read ended its slice right after the ldr and was not repeated: one read per pass
    passes, k = progress(m, with_read=True)
    assert dev.reads == passes + (k > 19)
    assert m.cpu.instructions == expected_instructions(m, with_read=True)
    # the ldr alone, the whole block and the rest after the ldr were translated before:
    # not again (the slice ends of the run itself, at other positions, may add a few)
    ldr = FLASH + LOOP + 2 * 19
    assert (ldr, 2) not in blocks and (FLASH + LOOP, 2 * (ADDS + 1)) not in blocks
    assert (ldr + 2, 2 * (ADDS + 1 - 20)) not in blocks
    assert len(blocks) <= 2 * (ADDS + 1)


def test_a_slice_end_inside_an_it_block_moves_to_its_end():
    emu, m, dev = machine(with_read=False, it_block=True)
    emu.run_for("100us")
    blocks = count_translations(m)
    emu.run_for("20ms")
    it = FLASH + LOOP + 2 * 20
    # slice ends fell before, at and after the IT block, never between `itt` and its end
    assert {it, it + 6} <= set(dev.pcs)
    assert not {it + 2, it + 4} & set(dev.pcs)
    assert len(blocks) <= 2 * (ADDS + 1)
    # and the state is the one a run without those slice ends reaches at that count
    ref_emu, ref, _ = machine(with_read=False, it_block=True, periodic=False)
    ref_emu.run_until_time(ref.cpu.time_at_cycles(m.cpu.instructions))
    assert ref.cpu.instructions == m.cpu.instructions
    assert [ref.cpu.reg(r) for r in (A.UC_ARM_REG_R0, A.UC_ARM_REG_PC)] == \
        [m.cpu.reg(r) for r in (A.UC_ARM_REG_R0, A.UC_ARM_REG_PC)]
