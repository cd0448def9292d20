"""NVIC/SCB/SysTick register behaviour at the Python level (no firmware)."""

from metersim._engine.clock import Clock
from metersim.peripherals.base import Context
from metersim.peripherals.clock_tree import ClockTree
from metersim.peripherals.cortexm import nvic as N
from metersim._units import PS_PER_MS, PS_PER_S


class FakeMachine:
    name = "m"

    def __init__(self, hclk=16_000_000):
        self.clocks = ClockTree({"HCLK": hclk})
        self.resets = []

    def request_reset(self, cause):
        self.resets.append(cause)


def make(hclk=16_000_000):
    clock = Clock()
    machine = FakeMachine(hclk)
    nv = N.NVIC(Context(clock, "nvic", machine))
    return clock, machine, nv


def test_set_enable_and_pending_registers_are_per_bit():
    _, _, nv = make()
    nv.write(0x100, 4, 0b101)           # ISER0: IRQ0, IRQ2
    nv.write(0x104, 4, 1 << 5)          # ISER1: IRQ37
    assert nv.read(0x100, 4) == 0b101
    assert nv.read(0x180, 4) == 0b101   # ICER reads the same enable bits
    nv.write(0x180, 4, 0b1)             # clear IRQ0 only
    assert nv.read(0x100, 4) == 0b100
    assert nv.enabled[16 + 37]
    nv.write(0x200, 4, 0b110)           # ISPR
    assert nv.read(0x280, 4) == 0b110
    nv.write(0xF00, 4, 7)               # STIR pends IRQ7
    assert nv.read(0x200, 4) == 0b10000110


def test_priorities_keep_only_implemented_bits_and_group_per_prigroup():
    _, _, nv = make()
    nv.write(0x400, 1, 0x5A)            # IRQ0 priority byte
    assert nv.read(0x400, 4) & 0xFF == 0x50
    nv.write(0xD0C, 4, 0x05FA0000 | (5 << 8))   # PRIGROUP 5: group = bits 7:6
    assert nv.read(0xD0C, 4) == 0xFA050500
    assert nv.group_priority(0x50) == 0x40
    assert nv.group_priority(0x70) == 0x40


def test_aircr_needs_vectkey_and_sysresetreq_resets_the_machine():
    _, machine, nv = make()
    nv.write(0xD0C, 4, 0x00000004)
    assert machine.resets == []
    nv.write(0xD0C, 4, 0x05FA0004)
    assert machine.resets == ["software"]


def test_highest_pending_by_group_then_subpriority_then_number():
    _, _, nv = make()
    for irq, prio in [(0, 0x80), (1, 0x40), (2, 0x40), (3, 0x20)]:
        nv.write(0x400 + irq, 1, prio)
    nv.write(0x100, 4, 0b1111)
    nv.write(0x200, 4, 0b0111)
    assert nv.highest_pending() == 16 + 1
    assert nv.pending_to_take(0x40) is None       # equal group priority does not preempt
    assert nv.pending_to_take(0x80) == 16 + 1
    nv.write(0x200, 4, 0b1000)
    assert nv.highest_pending() == 16 + 3


def test_execution_priority_from_masks():
    _, _, nv = make()
    assert nv.execution_priority(0, 0, 0) == 256
    assert nv.execution_priority(0, 0, 0x60) == 0x60
    assert nv.execution_priority(1, 0, 0x60) == 0
    assert nv.execution_priority(1, 1, 0) == -1


def test_level_sensitive_line_pends_again_after_its_handler():
    _, _, nv = make()
    nv.write(0x100, 4, 1)
    nv.on_gpio(0, True)
    assert nv.pending[16]
    nv.acknowledge(16)
    assert not nv.pending[16]
    nv.complete(16)          # line still high
    assert nv.pending[16]
    nv.acknowledge(16)
    nv.on_gpio(0, False)
    nv.complete(16)
    assert not nv.pending[16]


def test_systick_wraps_at_the_hclk_rate_and_countflag_clears_on_read():
    clock, machine, nv = make(hclk=16_000_000)
    nv.write(0x14, 4, 16_000 - 1)       # 1 ms at 16 MHz
    nv.write(0x18, 4, 0)
    nv.write(0x10, 4, 0b111)            # enable, TICKINT, core clock
    clock.run_for(10 * PS_PER_MS - 1)
    assert nv.read(0x10, 4) & (1 << 16)
    assert not nv.read(0x10, 4) & (1 << 16)   # cleared by the previous read
    pends = []
    nv.cpu = type("C", (), {"interrupt_pending_changed": lambda self: pends.append(clock.now_ps),
                            "freq_hz": 16_000_000})()
    clock.run_for(5 * PS_PER_MS)
    assert pends == [PS_PER_MS * k for k in range(10, 15)]


def test_systick_external_clock_is_hclk_over_8_and_follows_clock_changes():
    clock, machine, nv = make(hclk=8_000_000)
    nv.write(0x14, 4, 1000 - 1)         # 1000 ticks at 1 MHz = 1 ms
    nv.write(0x10, 4, 0b011)            # CLKSOURCE = 0: HCLK/8
    clock.run_for(PS_PER_MS // 2)
    assert 495 <= nv.read(0x18, 4) <= 505
    machine.clocks.set_rate("HCLK", 16_000_000)   # now 2 MHz: the rest takes 0.25 ms
    nv.systick.on_clock_change()
    t0 = clock.now_ps
    wraps = []
    nv.cpu = type("C", (), {"interrupt_pending_changed": lambda self: wraps.append(clock.now_ps),
                            "freq_hz": 16_000_000})()
    clock.run_for(PS_PER_MS)
    assert abs(wraps[0] - t0 - PS_PER_MS // 4) < PS_PER_MS // 1000


def test_cpuid_and_ccr_reset_values():
    _, _, nv = make()
    assert nv.read(0xD00, 4) == 0x410FC241
    assert nv.read(0xD14, 4) & 0x200    # STKALIGN
    nv.cfsr = N.BFSR_PRECISERR | N.UFSR_UNDEFINSTR
    nv.write(0xD28, 4, N.BFSR_PRECISERR)          # write-one-to-clear
    assert nv.read(0xD28, 4) == N.UFSR_UNDEFINSTR


def test_systick_rvr_written_mid_period_applies_at_the_next_reload():
    clock, machine, nv = make(hclk=1_000_000)     # 1 tick = 1 us
    us = 1_000_000
    nv.write(0x14, 4, 999)                        # 1 ms periods
    nv.write(0x18, 4, 0)
    nv.write(0x10, 4, 0b101)                      # enable, core clock, no interrupt
    clock.run_for(1000 * us + 100 * us)           # first wrap at 1 ms, 100 us into period 2
    assert nv.read(0x18, 4) == 999 - 99
    nv.write(0x14, 4, 4999)                       # new RVR: the running period is unchanged
    clock.run_for(400 * us)
    assert nv.read(0x18, 4) == 999 - 499
    clock.run_for(600 * us)                       # wrap at 2 ms, reload 4999
    assert nv.read(0x18, 4) == 4999 - 99
    clock.run_for(2000 * us)
    assert nv.read(0x18, 4) == 4999 - 2099


def test_systick_rvr_written_right_after_a_restart_from_zero_leaves_the_running_period():
    # CVR cleared and the counter enabled: it reloads RVR on its first clock, so an RVR write
    # after that (a tickless kernel setting the next period) changes neither the wrap time nor
    # what CVR reads back in this period (ARMv7-M B3.3.1).
    clock, machine, nv = make(hclk=1_000_000)     # 1 tick = 1 us
    us = 1_000_000
    nv.write(0x14, 4, 4999)                       # 5 ms period
    nv.write(0x18, 4, 0)
    nv.write(0x10, 4, 0b101)                      # enable, core clock, no interrupt
    clock.run_for(10 * us)
    assert nv.read(0x18, 4) == 4990
    nv.write(0x14, 4, 999)                        # applies after the wrap at 5 ms
    clock.run_for(10 * us)
    assert nv.read(0x18, 4) == 4980
    clock.run_for(4979 * us)
    assert nv.read(0x18, 4) == 1 and not nv.read(0x10, 4) & (1 << 16)
    clock.run_for(1 * us)                         # 5 ms: wrap, then 1 ms periods
    assert nv.read(0x10, 4) & (1 << 16)
    clock.run_for(1 * us)
    assert nv.read(0x18, 4) == 999
    clock.run_for(1000 * us)
    assert nv.read(0x18, 4) == 999


def test_systick_counts_whole_core_cycles_when_a_cycle_is_not_a_whole_picosecond():
    # At 72 MHz a cycle is 13 888.9 ps and the core reports each cycle's time rounded down;
    # a counter restarted at any cycle must read RVR, RVR-1, ... on the cycles that follow.
    hz = 72_000_000

    def cycle_ps(c: int) -> int:
        return c * PS_PER_S // hz                 # the core's rounding

    for c0 in range(590, 610):
        clock, machine, nv = make(hclk=hz)
        nv.write(0x14, 4, 71_999)
        nv.write(0x18, 4, 0)
        clock.run_for(cycle_ps(c0))
        nv.write(0x10, 4, 0b101)                  # enable at cycle c0
        for d in (1, 2, 3, 17, 1000, 71_999):
            clock.run_for(cycle_ps(c0 + d) - clock.now_ps)
            assert nv.read(0x18, 4) == 71_999 - (d - 1), (c0, d)
