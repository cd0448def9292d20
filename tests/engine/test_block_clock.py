"""The core counts instructions per translated block (engine/_block_clock.c) and still keeps
virtual time exact: a run cut into slices of any length ends at the same instruction and in
the same state as one long run, MMIO accesses see the instant they happen at, and a block
observer (the debug API's hook for coverage) sees every block that runs."""

import random

import pytest

from metersim._engine.emulation import Emulation
from metersim._engine.machine import Machine
from metersim._units import PS_PER_S
from unicorn import arm_const as A

pytestmark = pytest.mark.skipif(
    Machine.bare(Emulation(), "probe", "cortex-m4f").cpu.bc is None,
    reason="the block clock extension is not built (setup.py build_ext)")

REGS = [getattr(A, f"UC_ARM_REG_R{i}") for i in range(13)] + [A.UC_ARM_REG_SP,
                                                               A.UC_ARM_REG_PC]


def machine(firmware, program="bench_cpu", target="qemu405"):
    emu = Emulation()
    m = Machine.bare(emu, "f405", core="cortex-m4f", sram=(0x20000000, 0x20000))
    m.load_elf(firmware(target, program))
    return emu, m


def state(m):
    return m.cpu.instructions, [m.cpu.reg(r) for r in REGS]


def run_cycles(emu, m, cycles):
    emu.run_until_time(emu.now_ps + cycles * PS_PER_S // m.cpu.freq_hz)


def run_to_cycle(emu, m, cycle):
    emu.run_until_time(max(cycle * PS_PER_S // m.cpu.freq_hz, emu.now_ps))


def test_slices_of_any_length_end_at_the_exact_instruction(firmware):
    emu, m = machine(firmware)
    run_cycles(emu, m, 200_000)
    assert m.cpu.instructions == 200_000    # CPU-bound: every cycle is an instruction

    emu2, m2 = machine(firmware)
    rng = random.Random(5)
    late = 0
    while m2.cpu.instructions < 200_000:
        # odd lengths, most of them ending inside a translated block
        target = m2.cpu.instructions + rng.choice([1, 2, 3, 7, 13, 61, 997, 5003])
        run_to_cycle(emu2, m2, target)
        # exact, but for a limit inside an IT block: the slice ends after the IT block
        assert 0 <= m2.cpu.instructions - target <= 4
        late += m2.cpu.instructions > target
    assert late < 20
    # and the state is the one a single run reaches at that instruction
    emu3, m3 = machine(firmware)
    run_cycles(emu3, m3, m2.cpu.instructions)
    assert state(m3) == state(m2)


def test_mmio_accesses_see_their_own_instant(firmware):
    # the CPU benchmark polls USART1's status register before each byte it prints: every
    # access must read the clock at the accessing instruction, not at its block's start
    emu, m = machine(firmware)
    uart = m["usart1"]
    seen = []
    read = uart.read

    def timed_read(offset, size):
        seen.append((m.cpu.instructions_now(), m.cpu.pc))
        return read(offset, size)

    uart.read = timed_read
    run_cycles(emu, m, 2_000_000)
    assert seen, "the firmware printed nothing"
    # replay: stop one instruction before each access, then step over it alone
    for count, pc in seen[:5]:
        emu2, m2 = machine(firmware)
        run_cycles(emu2, m2, count - 1)
        assert m2.cpu.pc == pc, f"access at instruction {count}: PC 0x{pc:08x}"


def test_block_observer_sees_every_block_that_runs(firmware):
    emu, m = machine(firmware)
    blocks = []

    def observe(addr, size):
        blocks.append((addr, size))

    m.cpu.bc.add_observer(observe)
    run_cycles(emu, m, 20_000)
    m.cpu.bc.remove_observer(observe)
    assert len(blocks) > 1000
    # the blocks observed cover the instructions run (the last one may be cut by the limit)
    sizes = {}
    for addr, size in blocks:
        code = m.cpu.read_code(addr, size)
        n, off = 0, 0
        while off < size:
            hw = code[off] | code[off + 1] << 8
            off += 4 if hw >> 11 in (0x1D, 0x1E, 0x1F) else 2
            n += 1
        sizes[(addr, size)] = n
    total = sum(sizes[b] for b in blocks)
    assert total - sizes[blocks[-1]] < 20_000 <= total


def test_a_pause_from_an_mmio_write_stops_right_after_it_without_repeating_it(firmware):
    emu, m = machine(firmware)
    uart = m["usart1"]
    write = uart.write
    writes = []

    def paused_write(offset, size, value):
        write(offset, size, value)
        if offset == 0x04:                          # DR: a character to send
            writes.append((m.cpu.instructions_now(), value))
            if len(writes) == 3:
                emu.request_stop()

    uart.write = paused_write
    emu.run_until_time(emu.now_ps + PS_PER_S, lambda: len(writes) >= 3)
    # the core stopped right after the third store to DR, which reached the model once
    assert len(writes) == 3
    assert m.cpu.instructions == writes[2][0]
    emu.run_until_time(emu.now_ps + PS_PER_S // 10)
    assert [v for _, v in writes][:3] == list(b"ben")      # "bench start", no repeats
