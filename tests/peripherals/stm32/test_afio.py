"""AFIO (F1): EXTICR selects which port's pin reaches an EXTI line."""

from metersim.peripherals.base import Context
from metersim.peripherals.stm32.afio import STM32F1AFIO
from metersim.peripherals.stm32.exti import STM32_EXTI
from metersim.peripherals.stm32.gpio_f1 import STM32F1GPIOPort

IMR, RTSR, FTSR, PR = 0, 8, 0xC, 0x14


def test_afio_routes_selected_port_to_exti():
    a, b, c = (STM32F1GPIOPort(Context.standalone(n)) for n in ("gpioPortA", "gpioPortB",
                                                                  "gpioPortC"))
    afio = STM32F1AFIO(Context.standalone("afio"), gpioPorts=[a, b, c])
    exti = STM32_EXTI(Context.standalone("exti"), number_of_output_lines=19)
    for i in range(16):
        afio.connections[i].connect(exti, i)
    exti.write(IMR, 4, 1 << 5)
    exti.write(FTSR, 4, 1 << 5)
    afio.write(0x0C, 4, 2 << 4)                # EXTICR2: EXTI5 = port C
    b.drive(5, True)
    b.drive(5, False)                          # port B edge: not selected
    assert exti.read(PR, 4) == 0
    c.drive(5, True)
    c.drive(5, False)                          # PC5 falling edge
    assert exti.read(PR, 4) == 1 << 5
    assert afio.read(0x0C, 4) == 0x20
