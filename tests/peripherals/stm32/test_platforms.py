"""The STM32 platform files parse, place the system blocks where the reference manuals put
them, and every system-block entry builds with its .repl arguments and wiring."""

import re
from pathlib import Path

import pytest

from metersim._engine.clock import Clock
from metersim._engine.repl import load_platform
from metersim._engine.repl.model import Reference
from metersim.peripherals.base import GPIO, Context
from metersim.peripherals.clock_tree import ClockTree
from metersim.peripherals.registry import lookup

ROOT = Path(__file__).resolve().parents[3]
CPUS = ROOT / "platforms" / "cpus"
MINE = {"rcc_f1", "rcc_f4", "gpio_f1", "gpio_f4", "exti", "afio", "syscfg", "pwr", "flash_f1",
        "flash_f4", "crc", "iwdg", "wwdg", "ids"}

# Base addresses and NVIC inputs, typed in from RM0008 Tables 3/63 and RM0430 Tables 1/40.
F103 = {"rcc": (0x40021000, 5), "flash_controller": (0x40022000, 4), "pwr": (0x40007000, None),
        "exti": (0x40010400, None), "afio": (0x40010000, None), "gpioPortC": (0x40011000, None),
        "iwdg": (0x40003000, None), "wwdg": (0x40002C00, 0), "crc": (0x40023000, None),
        "usart1": (0x40013800, 37), "usart2": (0x40004400, 38), "spi1": (0x40013000, 35),
        "i2c1": (0x40005400, 31), "timer2": (0x40000000, 28), "signature": (0x1FFFF7E0, None)}
F413 = {"rcc": (0x40023800, 5), "flash_controller": (0x40023C00, 4), "pwr": (0x40007000, None),
        "exti": (0x40013C00, None), "syscfg": (0x40013800, None), "gpioPortH": (0x40021C00, None),
        "iwdg": (0x40003000, None), "wwdg": (0x40002C00, 0), "crc": (0x40023000, None),
        "usart6": (0x40011400, 71), "uart7": (0x40007800, 82), "uart10": (0x40011C00, 89),
        "spi4": (0x40013400, 84), "spi5": (0x40015000, 85), "i2c3": (0x40005C00, 72),
        "timer5": (0x40000C00, 50), "signature": (0x1FFF7A10, None)}


def snake(name):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def is_mine(cls):
    return cls is not None and cls.__module__.rsplit(".", 1)[-1] in MINE


class Machine:
    def __init__(self):
        self.clocks = ClockTree()
        self.resets = []

    def request_reset(self, cause):
        self.resets.append(cause)


def first_irq(entry):
    for c in entry.connections:
        if c.source in (None, "IRQ", "EventInterrupt") and c.targets[0].peripheral == "nvic":
            return c.targets[0].pin
    return None


@pytest.mark.parametrize("fname,table", [("stm32f103rb.repl", F103), ("stm32f103rc.repl", F103),
                                         ("stm32f413.repl", F413)])
def test_addresses_and_vectors_follow_the_reference_manual(fname, table):
    p = load_platform(CPUS / fname)
    for name, (addr, irq) in table.items():
        assert p[name].sysbus_address == addr, name
        if irq is not None:
            assert first_irq(p[name]) == irq, name


@pytest.mark.parametrize("fname,flash,sram", [("stm32f103rb.repl", 0x20000, 0x5000),
                                              ("stm32f103rc.repl", 0x40000, 0xC000),
                                              ("stm32f413.repl", 0x100000, 0x50000)])
def test_memory_sizes_and_boot_alias(fname, flash, sram):
    p = load_platform(CPUS / fname)
    assert p["flash"].ctor_args["size"] == flash
    assert p["sram"].ctor_args["size"] == sram
    assert {r.address for r in p["flash"].registrations} == {0x08000000, 0}


@pytest.mark.parametrize("fname", ["stm32f103rb.repl", "stm32f103rc.repl", "stm32f413.repl"])
def test_system_blocks_build_from_their_entries(fname):
    p = load_platform(CPUS / fname)
    machine = Machine()
    clock = Clock()
    built = {}
    entries = [e for e in p.peripherals() if is_mine(lookup(e.type_name))]
    # Ports first: AFIO takes them as constructor arguments.
    entries.sort(key=lambda e: not e.name.startswith("gpioPort"))

    def value(v):
        if isinstance(v, Reference):
            return built.get(v.name, object())
        if isinstance(v, list):
            return [value(x) for x in v]
        return v

    for e in entries:
        cls = lookup(e.type_name)
        ctx = Context(clock, name=e.name, machine=machine, address=e.sysbus_address)
        args = {snake(k): value(v) for k, v in e.ctor_args.items()}
        built[e.name] = cls(ctx, **args)
        for k, v in e.properties.items():
            setattr(built[e.name], snake(k), v)
    if "rcc" in built:
        assert machine.clocks.rate_hz("HCLK") in (8_000_000, 16_000_000)
    # Every output named in the .repl exists on the model, and local targets are receivers.
    for e in entries:
        model = built[e.name]
        outs = model.outputs()
        for c in e.connections:
            if isinstance(c.source, int):
                assert isinstance(model.connections.get(c.source), GPIO), (e.name, c.source)
            else:
                assert c.source in outs or (c.source is None and "IRQ" in outs), (e.name, c.source)
            for t in c.targets:
                target = built.get(t.peripheral)
                if target is not None and t.local_index is not None:
                    assert hasattr(target.get_local_receiver(t.local_index), "on_gpio")
    if "syscfg" in built:
        assert all(e.connections for e in entries if e.name.startswith("gpioPort"))
