"""A peripheral raising its IRQ line: the interrupt is taken right after the instruction whose
access raised it, or, while masked, right after the instruction that lets it in (the line
may have gone low meanwhile: pending is latched), whichever path pends it (the NVIC model's C set_pending
and on_gpio, or the Python ones: exceptions in Python, exact mode, no C extension)."""

import logging
import struct

import pytest
from unicorn import arm_const as A

from metersim.peripherals.base import GPIO
from tests.engine.test_unmask_summary import (CPSID_I, CPSIE_I, IPR0, ISER0, LOG, MODES, Asm, boot,
                                             engine_after_boot, engine_before_boot)

DOOR = 0x50000000               # the doorbell's register: bit 0 is its IRQ line's level
IRQ = 3                         # the doorbell's NVIC input (exception 19)


class Doorbell:
    """A register whose bit 0 drives an IRQ line (a level-sensitive interrupt source)."""

    size = 0x400

    def __init__(self):
        self.IRQ = GPIO("IRQ")
        self.writes = 0

    def read(self, offset: int, size: int) -> int:
        return int(self.IRQ.level)

    def write(self, offset: int, size: int, value: int) -> None:
        self.writes += 1
        self.IRQ.set(bool(value & 1))

    def reset(self) -> None:
        self.IRQ.set(False)


def program() -> tuple[bytes, list[int], dict[int, int]]:
    a = Asm()
    a.mov32(5, LOG)
    a.store(IPR0, 0x80 << (8 * IRQ))
    a.store(ISER0, 1 << IRQ)
    a.step(1)
    a.store(DOOR, 1)                            # raised inside the slice: taken right here
    a.step(2)
    a.cps(CPSID_I)
    a.store(DOOR, 1)                            # masked by PRIMASK: pending ...
    a.store(DOOR, 0)                            # ... also once the line is low again
    a.step(3)
    a.cps(CPSIE_I)                              # let in: taken right after the cpsie
    a.after(3)
    a.step(4)
    a.store(DOOR, 1)                            # raised twice in a row (the handler
    a.store(DOOR, 1)                            # lowers it): taken after each
    a.step(5)
    a.hw.append(0xE7FE)                         # b .
    handler = {16 + IRQ: a.here()}
    # r4 = LOG[r2] + 1 (how often this step saw the handler), then lower the line
    a.hw += [0x0093, 0x58EC, 0x3401, 0x50EC]    # lsls r3, r2, #2; ldr r4, [r5, r3]; adds; str
    a.store(DOOR, 0)
    a.hw.append(0x4770)                         # bx lr
    return struct.pack(f"<{len(a.hw)}H", *a.hw), a.sites, handler


@pytest.mark.parametrize("mode", MODES)
def test_a_raised_irq_line_is_taken_after_the_access_that_raised_it(mode, monkeypatch):
    engine_before_boot(mode, monkeypatch)
    code, sites, handler = program()
    emu, m = boot(code, handler)
    door = m.add("door", Doorbell(), DOOR)
    door.IRQ.connect(m["nvic"], IRQ)
    m.sysbus.finalize()
    cpu = m.cpu
    cpu.add_unmask_hooks(sites)
    engine_after_boot(mode, cpu)
    emu.run_for("1ms")
    log = struct.unpack("<200I", m.sysbus.read_memory(LOG, 800))
    taken = {step: n for step, n in enumerate(log) if n}
    # right after the access that raised it (step 1), at the cpsie that let in the one
    # pended while masked (step 3), after each of two raises in a row (step 4)
    assert taken == {1: 1, 3: 1, 4: 2}, taken
    assert door.writes == 9                     # 5 in thread mode, 4 by the handler
    assert cpu.reg(A.UC_ARM_REG_R2) == 5, "the program did not reach its end"
    assert cpu.exceptions_taken == 4
    assert not m["nvic"].pending[16 + IRQ] and not m["nvic"].level[16 + IRQ]


def test_an_irq_beyond_the_nvic_is_reported_once_and_pends_nothing(caplog):
    code, _sites, handler = program()
    _emu, m = boot(code, handler)
    nvic = m["nvic"]
    with caplog.at_level(logging.WARNING):
        nvic.on_gpio(nvic.num_irqs, True)
        nvic.on_gpio(nvic.num_irqs, False)
        nvic.on_gpio(nvic.num_irqs, True)
    said = [r.getMessage() for r in caplog.records if "beyond" in r.getMessage()]
    assert len(said) == 1 and f"IRQ {nvic.num_irqs}" in said[0]
    assert not nvic.pending_set and nvic.summary.best == 0x7FFF
