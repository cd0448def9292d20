"""The NVIC's interrupt summary (what the core's C block hook reads at unmask sites instead of
asking Python) stays exact through every way pending, enabled, priority, PRIGROUP and active
state change: after each of thousands of random register writes and exception entries and
returns, the exception the model would take under every mask setting is the one ARMv7-M
(or ARMv6-M) names, computed here from scratch."""

import random

import pytest

from metersim._engine.clock import Clock
from metersim.peripherals.base import Context
from metersim.peripherals.clock_tree import ClockTree
from metersim.peripherals.cortexm import nvic as N

LINES = 40


class FakeMachine:
    name = "m"

    def __init__(self):
        self.clocks = ClockTree({"HCLK": 16_000_000})

    def request_reset(self, cause):
        pass


def make(core):
    return N.NVIC(Context(Clock(), "nvic", FakeMachine()), cpu_type=core,
                  number_of_interrupts=LINES)


def group(nv, raw):
    if raw < 0:
        return raw
    return raw & ((0xFF << (nv.prigroup + 1)) & 0xFF)


def enabled(nv, exc, v6m):
    if exc >= 16:
        return bool(nv.enabled[exc])
    if exc in (N.MEMMANAGE, N.BUSFAULT, N.USAGEFAULT):
        if v6m:
            return False
        return bool(nv.shcsr >> {N.MEMMANAGE: 16, N.BUSFAULT: 17, N.USAGEFAULT: 18}[exc] & 1)
    return True


def expected_take(nv, v6m, primask, faultmask, basepri):
    """ARMv7-M B1.5.4 (execution priority) and B1.5.6 (what is taken), from the arrays."""
    prio = 256
    for exc in range(nv.num_exc):
        if nv.active[exc]:
            prio = min(prio, group(nv, nv.prio[exc]))
    if v6m:
        faultmask = basepri = 0
    if basepri & nv.priority_mask:
        prio = min(prio, group(nv, basepri & nv.priority_mask))
    if primask:
        prio = min(prio, 0)
    if faultmask:
        prio = min(prio, -1)
    candidates = [e for e in range(1, nv.num_exc) if nv.pending[e] and enabled(nv, e, v6m)]
    if not candidates:
        return None
    best = min(candidates, key=lambda e: (group(nv, nv.prio[e]), nv.prio[e], e))
    return best if group(nv, nv.prio[best]) < prio else None


MASKS = [(pm, fm, bp) for pm in (0, 1) for fm in (0, 1) for bp in (0, 0x10, 0x40, 0x80, 0xC0)]


def check(nv, v6m, what):
    for pm, fm, bp in MASKS:
        want = expected_take(nv, v6m, pm, fm, bp)
        got = nv.pending_to_take(nv.execution_priority(pm, fm if not v6m else 0,
                                                       bp if not v6m else 0))
        assert got == want, f"after {what}: masks {pm, fm, bp}: took {got}, expected {want}"
    # the summary alone (what C reads): "nothing can preempt" only when nothing can
    sm = nv.summary
    if sm.best >= sm.active:
        assert all(expected_take(nv, v6m, 0, 0, 0) is None for _ in (0,)), what


def random_op(rng, nv, v6m):
    """One random change through the bus (as firmware makes them) or by the core."""
    irq_word = rng.randrange(2)
    bits = rng.getrandbits(8) << rng.choice((0, 8)) if rng.random() < 0.5 else 1 << rng.randrange(32)
    k = rng.randrange(13)
    if k == 12:
        exc = rng.choice((N.MEMMANAGE, N.BUSFAULT, N.USAGEFAULT))
        nv.pend(exc)                     # as the core pends a fault (taken if enabled)
        return f"fault {exc}"
    if k == 0:
        nv.write(N.ISER + 4 * irq_word, 4, bits)
        return f"ISER{irq_word} {bits:#x}"
    if k == 1:
        nv.write(N.ICER + 4 * irq_word, 4, bits)
        return f"ICER{irq_word} {bits:#x}"
    if k == 2:
        nv.write(N.ISPR + 4 * irq_word, 4, bits)
        return f"ISPR{irq_word} {bits:#x}"
    if k == 3:
        nv.write(N.ICPR + 4 * irq_word, 4, bits)
        return f"ICPR{irq_word} {bits:#x}"
    if k == 4:
        n = rng.randrange(LINES // 4)
        value = rng.getrandbits(32)
        nv.write(N.IPR + 4 * n, 4, value)
        return f"IPR{n} {value:#x}"
    if k == 5:
        n = rng.randrange(3) if not v6m else rng.choice((1, 2))
        value = rng.getrandbits(32)
        nv.write(N.SHPR1 + 4 * n, 4, value)
        return f"SHPR{n + 1} {value:#x}"
    if k == 6:
        value = 0x05FA0000 | rng.randrange(8) << 8
        nv.write(N.AIRCR, 4, value)
        return f"AIRCR {value:#x}"
    if k == 7:
        value = rng.getrandbits(3) << 16
        nv.write(N.SHCSR, 4, value)
        return f"SHCSR {value:#x}"
    if k == 8:
        value = rng.choice((N.ICSR_PENDSVSET, N.ICSR_PENDSVCLR, N.ICSR_PENDSTSET,
                            N.ICSR_PENDSTCLR, N.ICSR_NMIPENDSET))
        nv.write(N.ICSR, 4, value)
        return f"ICSR {value:#x}"
    if k == 9:
        irq = rng.randrange(LINES)
        nv.on_gpio(irq, rng.random() < 0.5)
        return f"line {irq}"
    if k == 10:
        # the core takes what it would take with no masks (exception entry)
        exc = nv.pending_to_take(nv.execution_priority(0, 0, 0))
        if exc is None:                  # or an SVC / a fault's way in: pend, then enter
            idle = [e for e in (N.SVCALL, N.PENDSV, N.SYSTICK) if not nv.active[e]]
            if not idle:
                return "no entry"
            exc = rng.choice(idle)
            nv.pend(exc)
        nv.acknowledge(exc)
        return f"entry {exc}"
    if nv.active_list():
        exc = nv.active_list()[-1]
        nv.complete(exc)                 # exception return from the newest
        return f"return {exc}"
    nv.write(N.STIR, 4, rng.randrange(LINES))
    return "STIR"


@pytest.mark.parametrize("core", ["cortex-m4f", "cortex-m3", "cortex-m0+"])
def test_the_taken_exception_is_always_the_architectures(core):
    rng = random.Random(f"summary-{core}")
    nv = make(core)
    v6m = nv.v6m
    check(nv, v6m, "reset")
    for i in range(3000):
        what = random_op(rng, nv, v6m)
        check(nv, v6m, f"op {i}: {what}")
        if rng.random() < 0.002:
            nv.reset()
            check(nv, v6m, "reset")


def test_summary_sees_an_enable_after_a_pend_and_a_priority_raise():
    nv = make("cortex-m4f")
    nv.write(N.ISPR, 4, 1 << 3)                 # IRQ3 pending, disabled
    assert nv.pending_to_take(256) is None
    nv.write(N.ISER, 4, 1 << 3)                 # enabled: taken from thread mode
    assert nv.pending_to_take(256) == 19
    nv.write(N.IPR, 4, 0xA0 << 24)              # IRQ3 at 0xA0
    assert nv.pending_to_take(nv.execution_priority(0, 0, 0x80)) is None   # BASEPRI 0x80
    nv.write(N.IPR, 4, 0x60 << 24)              # raised above BASEPRI
    assert nv.pending_to_take(nv.execution_priority(0, 0, 0x80)) == 19
    nv.write(N.AIRCR, 4, 0x05FA0000 | 6 << 8)   # PRIGROUP 6: group bit 7 only
    assert nv.pending_to_take(nv.execution_priority(0, 0, 0x80)) == 19     # 0x00 < 0x80
    nv.acknowledge(19)                          # entry: nothing else pending
    assert nv.summary.best == N.NO_PENDING and nv.summary.active == 0
    nv.complete(19)
    assert nv.summary.active == 256


def test_debugger_hiding_the_pending_set_refreshes_the_summary():
    nv = make("cortex-m4f")
    nv.write(N.ISER, 4, 1)
    nv.write(N.ISPR, 4, 1)
    assert nv.pending_to_take(256) == 16
    hidden, nv.pending_set = nv.pending_set, set()    # as the debugger's step without IRQs
    nv.refresh_summary()
    assert nv.pending_to_take(256) is None
    nv.pending_set = hidden
    nv.refresh_summary()
    assert nv.pending_to_take(256) == 16


def test_shcsr_ccr_and_vtor_written_on_the_bus_are_what_the_c_exception_path_reads():
    # The C exception path reads SHCSR's fault enables and active bits, CCR.STKALIGN and VTOR
    # from the summary: a write through the bus, the model's attributes and a read back must
    # all agree with it, and a reset restores the architectural values.
    nv = make("cortex-m4f")
    assert nv.summary.ccr == nv.ccr == nv.read(N.CCR, 4) and nv.ccr & 0x200  # STKALIGN
    nv.write(N.VTOR, 4, 0x08004000)
    nv.write(N.SHCSR, 4, 1 << 16 | 1 << 18)      # MEMFAULTENA, USGFAULTENA
    assert (nv.summary.vtor, nv.vtor, nv.read(N.VTOR, 4)) == (0x08004000,) * 3
    assert nv.summary.shcsr == nv.shcsr == nv.read(N.SHCSR, 4) == 1 << 16 | 1 << 18
    assert nv.exception_enabled(N.MEMMANAGE) and not nv.exception_enabled(N.BUSFAULT)
    nv.acknowledge(N.SVCALL)                      # SVCall active: SHCSR.SVCALLACT (bit 7)
    assert nv.summary.shcsr & 1 << 7 and nv.read(N.SHCSR, 4) & 1 << 7
    nv.complete(N.SVCALL)
    assert not nv.summary.shcsr & 1 << 7
    nv.reset()
    assert (nv.summary.vtor, nv.summary.shcsr) == (0, 0) and nv.summary.ccr & 0x200
