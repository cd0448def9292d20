"""SYSCFG (F4): EXTICR selects which port's pin reaches an EXTI line (Renode local receivers)."""

from metersim.peripherals.base import Context
from metersim.peripherals.stm32.exti import STM32_EXTI
from metersim.peripherals.stm32.gpio_f4 import STM32_GPIOPort
from metersim.peripherals.stm32.syscfg import STM32_SYSCFG

IMR, RTSR, FTSR, PR = 0, 8, 0xC, 0x14


def test_syscfg_local_receivers_renode_style():
    ports = [STM32_GPIOPort(Context.standalone(f"gpioPort{x}")) for x in "ABCD"]
    syscfg = STM32_SYSCFG(Context.standalone("syscfg"))
    exti = STM32_EXTI(Context.standalone("exti"), number_of_output_lines=24)
    for code, port in enumerate(ports):        # gpioPortX: [0-15] -> syscfg#code@[0-15]
        rx = syscfg.get_local_receiver(code)
        for pin in range(16):
            port.connections[pin].connect(rx, pin)
    for i in range(16):
        syscfg.connections[i].connect(exti, i)
    exti.write(IMR, 4, 1 << 13)
    exti.write(RTSR, 4, 1 << 13)
    ports[0].drive(13, True)                   # default selection is port A
    assert exti.read(PR, 4) == 1 << 13
    exti.write(PR, 4, 1 << 13)
    syscfg.write(0x14, 4, 3 << 4)              # EXTICR4: EXTI13 = port D
    ports[0].drive(13, False)
    ports[0].drive(13, True)
    assert exti.read(PR, 4) == 0
    ports[3].drive(13, True)
    assert exti.read(PR, 4) == 1 << 13
