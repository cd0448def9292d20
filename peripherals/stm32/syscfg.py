"""STM32F4 system configuration controller (SYSCFG) at 0x40013800, RM0430 §7.2.

Registered as Renode's `Miscellaneous.STM32_SYSCFG`. EXTI routing in Renode's style: each
port feeds a local receiver, `gpioPortC: [0-15] -> syscfg#2@[0-15]` (local index = port code,
A = 0 ... H = 7), and `syscfg: [0-15] -> exti@[0-15]` carries, for line x, pin x of the port
selected in SYSCFG_EXTICR((x/4)+1). A `gpioPorts` list (as AFIO takes) works as well.

MEMRMP (MEM_MODE reset 00 = main flash, as with BOOT0 = 0), PMC, CFGR, CMPCR (READY reads 1
once CMP_PD is set: the compensation cell settles at once here) and MCHDLYCR are stored;
memory remapping itself is done by the engine's boot mapping, not here.
"""

from __future__ import annotations

from typing import Any

from metersim.peripherals.base import Context
from metersim.peripherals.registry import model
from metersim.peripherals.stm32.afio import ExtiRouter, _sub
from metersim.peripherals.stm32.gpio_common import kwarg

OTHER = {0x00: "memrmp", 0x04: "pmc", 0x20: "cmpcr", 0x2C: "cfgr", 0x30: "mchdlycr"}


class _PortInput:
    def __init__(self, router: ExtiRouter, port: int):
        self.router, self.port = router, port

    def on_gpio(self, pin: int, level: bool) -> None:
        self.router.port_changed(self.port, pin, level)


@model("Miscellaneous.STM32_SYSCFG", "metersim.STM32F4_SYSCFG")
class STM32_SYSCFG(ExtiRouter):
    def __init__(self, ctx: Context, gpio_ports: Any = None, **kw):
        super().__init__(ctx, gpio_ports=kwarg(kw, "gpioPorts", gpio_ports))
        self.regs = {name: 0 for name in OTHER.values()}

    def get_local_receiver(self, port: int) -> _PortInput:
        return _PortInput(self, int(port))

    def read(self, offset: int, size: int) -> int:
        reg = offset & ~3
        if 0x08 <= reg <= 0x14:
            value = self.read_exticr((reg - 0x08) // 4)
        elif reg in OTHER:
            value = self.regs[OTHER[reg]]
            if reg == 0x20 and value & 1:
                value |= 1 << 8                  # CMPCR.READY
        else:
            return super().read(offset, size)
        return (value >> (8 * (offset & 3))) & ((1 << (8 * size)) - 1)

    def write(self, offset: int, size: int, value: int) -> None:
        reg = offset & ~3
        if 0x08 <= reg <= 0x14:
            i = (reg - 0x08) // 4
            self.write_exticr(i, _sub(self.exticr[i], offset, size, value))
        elif reg in OTHER:
            name = OTHER[reg]
            self.regs[name] = _sub(self.regs[name], offset, size, value)
        else:
            super().write(offset, size, value)

    def reset(self) -> None:
        self.regs = {name: 0 for name in OTHER.values()}
        super().reset()
