"""WWDG: counter timing from PCLK1, early-wakeup interrupt, window violation and timeout resets."""

from metersim._engine.clock import Clock
from metersim.peripherals.base import Context
from metersim.peripherals.clock_tree import ClockTree
from metersim.peripherals.stm32.wwdg import STM32_WWDG
from metersim._units import PS_PER_S

CR, CFR, SR = 0, 4, 8


class Machine:
    def __init__(self):
        self.clocks = ClockTree({"PCLK1": 36_000_000})
        self.resets = []

    def request_reset(self, cause):
        self.resets.append(cause)


def make():
    m = Machine()
    ctx = Context(Clock(), name="wwdg", machine=m)
    return STM32_WWDG(ctx), m, ctx.clock


def test_timeout_and_early_wakeup():
    w, m, clock = make()
    w.write(CFR, 4, 3 << 7 | 1 << 9 | 0x7F)        # WDGTB = /8, EWI, window wide open
    w.write(CR, 4, 0x80 | 0x7F)
    tick = 4096 * 8 * PS_PER_S // 36_000_000      # 910.2 us per count
    clock.run_for(62 * tick)
    assert w.read(CR, 4) & 0x7F == 0x41 and not w.IRQ.level
    clock.run_for(tick)
    assert w.read(SR, 4) == 1 and w.IRQ.level
    w.write(SR, 4, 0)
    assert not w.IRQ.level
    assert m.resets == []
    clock.run_for(tick)
    assert m.resets == ["wwdg"]


def test_refresh_outside_window_resets():
    w, m, clock = make()
    w.write(CFR, 4, 0x50)                          # W = 0x50
    w.write(CR, 4, 0xFF)
    tick = 4096 * PS_PER_S // 36_000_000
    clock.run_for(10 * tick)                       # counter 0x75 > W
    w.write(CR, 4, 0xFF)
    assert m.resets == ["wwdg"]


def test_refresh_inside_window_keeps_running():
    w, m, clock = make()
    w.write(CFR, 4, 0x50)
    w.write(CR, 4, 0xFF)
    tick = 4096 * PS_PER_S // 36_000_000
    for _ in range(5):
        clock.run_for(0x30 * tick)                 # counter 0x4F: inside the window
        w.write(CR, 4, 0xFF)
    assert m.resets == []
    assert w.read(CR, 4) & 0x80                    # cannot be disabled by software
    w.write(CR, 4, 0x7F)
    assert w.read(CR, 4) & 0x80


def test_disabled_does_not_count():
    w, m, clock = make()
    clock.run_for(PS_PER_S)
    assert w.read(CR, 4) == 0x7F and m.resets == []
