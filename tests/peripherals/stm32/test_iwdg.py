"""IWDG: resets the machine after prescaler x (RLR+1) / f_LSI unless refreshed."""

from metersim._engine.clock import Clock
from metersim.peripherals.base import Context
from metersim.peripherals.clock_tree import ClockTree
from metersim.peripherals.stm32.iwdg import STM32_IWDG
from metersim._units import PS_PER_MS, PS_PER_US

KR, PR, RLR, SR = 0, 4, 8, 0xC


class Machine:
    def __init__(self, lsi_hz=0):
        self.clocks = ClockTree({"LSI": lsi_hz})
        self.resets = []

    def request_reset(self, cause):
        self.resets.append(cause)


def make(lsi_hz=0, **kw):
    m = Machine(lsi_hz)
    ctx = Context(Clock(), name="iwdg", machine=m, address=0x40003000)
    return STM32_IWDG(ctx, **kw), m, ctx.clock


def configure(w, pr, rlr):
    w.write(KR, 4, 0x5555)
    w.write(PR, 4, pr)
    w.write(RLR, 4, rlr)
    w.write(KR, 4, 0xAAAA)
    w.write(KR, 4, 0xCCCC)


def test_timeout_from_f1_lsi_40khz():
    w, m, clock = make(lsi_hz=40_000)
    configure(w, pr=3, rlr=1249)               # /32, 1250 ticks: 32*1250/40000 = 1.000 s
    clock.run_for(999 * PS_PER_MS)
    assert m.resets == []
    clock.run_for(1 * PS_PER_MS)
    assert m.resets == ["iwdg"]


def test_refresh_keeps_machine_alive():
    w, m, clock = make(frequency=32000)        # F4 nominal LSI when RCC publishes none
    configure(w, pr=0, rlr=319)                # /4 x 320 / 32 kHz = 40 ms
    for _ in range(20):
        clock.run_for(30 * PS_PER_MS)
        w.write(KR, 4, 0xAAAA)
    assert m.resets == []
    clock.run_for(40 * PS_PER_MS)
    assert m.resets == ["iwdg"]


def test_registers_protected_without_key_and_update_flags():
    w, _, clock = make(lsi_hz=40_000)
    w.write(RLR, 4, 0x10)
    assert w.read(RLR, 4) == 0xFFF
    w.write(KR, 4, 0x5555)
    w.write(RLR, 4, 0x10)
    assert w.read(RLR, 4) == 0x10 and w.read(SR, 4) & 2
    clock.run_for(125 * PS_PER_US)             # 5 LSI cycles at 40 kHz
    assert w.read(SR, 4) == 0


def test_not_started_never_resets():
    w, m, clock = make(lsi_hz=40_000)
    clock.run_for(30_000 * PS_PER_MS)
    assert m.resets == []


WINR = 0x10


def test_window_option_refresh_too_early_resets_inside_window_does_not():
    # Renode's L0/G0/WBA files say `windowOption: true` (RM0385 §22.3.5)
    w, m, clock = make(lsi_hz=32_000, windowOption=True)
    assert w.read(WINR, 4) == 0xFFF            # reset value: the window is open
    configure(w, pr=0, rlr=999)                # /4 x 1000 / 32 kHz = 125 ms
    w.write(KR, 4, 0x5555)
    w.write(WINR, 4, 500)                      # refresh only once the counter is <= 500
    assert w.read(SR, 4) & 4                   # WVU while the update is in progress
    clock.run_for(70 * PS_PER_MS)              # counter ~ 1000 - 560 = 440: inside
    w.write(KR, 4, 0xAAAA)
    assert m.resets == []
    clock.run_for(10 * PS_PER_MS)              # counter ~ 920: above the window
    w.write(KR, 4, 0xAAAA)
    assert m.resets == ["iwdg"]


def test_without_window_option_offset_0x10_is_not_a_register():
    w, m, clock = make(lsi_hz=32_000)
    configure(w, pr=0, rlr=999)
    w.write(KR, 4, 0x5555)
    w.write(WINR, 4, 10)
    assert w.read(WINR, 4) == 0
    w.write(KR, 4, 0xAAAA)                     # early refresh is fine on F1/F4
    assert m.resets == []
