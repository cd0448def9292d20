"""EXTI: edge detection into PR, IRQ outputs (incl. the shared 9_5 group), SWIER, masking."""

from metersim.peripherals.base import Context
from metersim.peripherals.registry import lookup
from metersim.peripherals.stm32.exti import CombinedInput, STM32_EXTI

IMR, EMR, RTSR, FTSR, SWIER, PR = 0, 4, 8, 0xC, 0x10, 0x14


class Nvic:
    def __init__(self):
        self.lines = {}

    def on_gpio(self, n, level):
        self.lines[n] = level


def exti_with_nvic(lines=19):
    e = STM32_EXTI(Context.standalone("exti"), number_of_output_lines=lines)
    nvic = Nvic()
    for i in range(5):
        e.connections[i].connect(nvic, 6 + i)
    group = CombinedInput(Context.standalone("nvicInput23"), numberOfInputs=5)
    for i in range(5, 10):
        e.connections[i].connect(group, i - 5)
    group.IRQ.connect(nvic, 23)
    e.connections[16].connect(nvic, 1)
    return e, nvic


def test_renode_type_names():
    assert lookup("IRQControllers.STM32F4_EXTI") is STM32_EXTI
    assert lookup("Miscellaneous.CombinedInput") is CombinedInput


def test_rising_edge_sets_pr_and_raises_irq_cleared_by_writing_one():
    e, nvic = exti_with_nvic()
    e.write(IMR, 4, 1 << 3)
    e.write(RTSR, 4, 1 << 3)
    e.on_gpio(3, True)
    assert e.read(PR, 4) == 1 << 3 and nvic.lines[9]
    e.on_gpio(3, False)                        # falling edge not selected
    assert e.read(PR, 4) == 1 << 3
    e.write(PR, 4, 1 << 3)
    assert e.read(PR, 4) == 0 and not nvic.lines[9]


def test_falling_edge_on_shared_group():
    e, nvic = exti_with_nvic()
    e.write(IMR, 4, 1 << 7)
    e.write(FTSR, 4, 1 << 7)
    e.on_gpio(7, True)
    assert e.read(PR, 4) == 0
    e.on_gpio(7, False)
    assert e.read(PR, 4) == 1 << 7 and nvic.lines[23]
    e.write(PR, 4, 1 << 7)
    assert not nvic.lines[23]


def test_masked_line_does_not_pend_and_level_is_not_an_edge():
    e, nvic = exti_with_nvic()
    e.write(RTSR, 4, 1)
    e.on_gpio(0, True)
    assert e.read(PR, 4) == 0 and not nvic.lines.get(6)
    e.write(IMR, 4, 1)
    e.on_gpio(0, True)                         # already high: no new edge
    assert e.read(PR, 4) == 0


def test_software_trigger_and_event_mask():
    e, nvic = exti_with_nvic()
    e.write(IMR, 4, 1 << 16)
    e.write(SWIER, 4, 1 << 16)
    assert e.read(PR, 4) == 1 << 16 and nvic.lines[1]
    e.write(PR, 4, 1 << 16)
    assert e.read(SWIER, 4) == 0
    e.write(EMR, 4, 1 << 2)
    e.write(RTSR, 4, 1 << 2)
    e.on_gpio(2, True)
    assert e.events == 1 and e.read(PR, 4) == 0


def test_lines_beyond_count_are_not_writable():
    e, _ = exti_with_nvic(lines=19)
    e.write(IMR, 4, 0xFFFFFFFF)
    assert e.read(IMR, 4) == 0x7FFFF
