"""Renode's own STM32 platform files must load, and say what Renode reads in them."""

from pathlib import Path

import pytest

from metersim._engine.repl import Enum, Reference, Target, load_platform

UPSTREAM = Path("/work/shared/renode-upstream")
FILES = ["platforms/cpus/stm32f4.repl", "platforms/cpus/stm32f412.repl",
         "platforms/cpus/stm32f103.repl", "platforms/boards/stm32f4_discovery.repl"]


def load(rel: str):
    return load_platform(UPSTREAM / rel, search_paths=[UPSTREAM])


@pytest.fixture(scope="module")
def f4():
    return load("platforms/cpus/stm32f4.repl")


@pytest.mark.parametrize("rel", FILES)
def test_every_upstream_file_loads(rel):
    p = load(rel)
    assert len(p.peripherals()) > 30
    assert "nvic" in p and p["nvic"].type_name == "IRQControllers.NVIC"


def test_f4_usart1_address_size_and_irq(f4):
    u = f4["usart1"]
    assert u.type_name == "UART.STM32_UART"
    assert [(r.parent, r.address, r.size) for r in u.registrations] == [("sysbus", 0x40011000, 0x100)]
    assert [str(c) for c in u.connections] == ["-> nvic@37"]
    assert u.connection(None).targets == [Target("nvic", 37)]


def test_f4_memories_and_constructor_values(f4):
    assert f4["flash"].ctor_args == {"size": 0x200000}
    assert f4["flash"].sysbus_address == 0x08000000
    assert f4["sram"].ctor_args["size"] == 0x40000
    assert f4["cpu"].ctor_args == {"cpuType": "cortex-m4", "nvic": Reference("nvic")}
    assert f4["crc"].ctor_args["series"] == Enum("STM32Series.F4")
    assert f4["iwdg"].ctor_args == {"frequency": 32000, "windowOption": False, "defaultPrescaler": 4}
    assert f4["gpioPortA"].ctor_args["invertedAFPins"] == [[5, 3], [7, 1, 3]]
    assert f4["timer2"].ctor_args["initialLimit"] == 0xFFFFFFFF


def test_f4_flash_controller_has_two_registrations(f4):
    regs = f4["flash_controller"].registrations
    assert (regs[0].parent, regs[0].address, regs[0].size) == ("sysbus", 0x40023C00, None)
    assert (regs[1].address, regs[1].size) == (0x1FFFC000, 0x100)
    assert regs[1].extra == {"type": "Bus.BusMultiRegistration", "region": "optionBytes"}


def test_f4_exti_numbered_connections_expand_one_per_line(f4):
    exti = {c.source: c.targets for c in f4["exti"].connections}
    assert sorted(exti) == list(range(16)) + [16, 17, 18, 22]
    assert exti[0] == [Target("nvic", 6)] and exti[4] == [Target("nvic", 10)]
    assert exti[5] == [Target("nvicInput23", 0)] and exti[9] == [Target("nvicInput23", 4)]
    assert exti[15] == [Target("nvicInput40", 5)]
    assert [exti[s][0].pin for s in (16, 17, 18, 22)] == [1, 41, 42, 3]
    # `[0-7] -> nvic@[11-17,47]`: a range and a number in one pin list
    dma1 = {c.source: c.targets[0].pin for c in f4["dma1"].connections}
    assert dma1 == {0: 11, 1: 12, 2: 13, 3: 14, 4: 15, 5: 16, 6: 17, 7: 47}


def test_f4_named_and_grouped_sources(f4):
    t1 = f4["timer1"]
    assert t1.connection("TriggerInterrupt").targets == [Target("nvic", 26)]
    assert t1.connection("CommutationInterrupt").targets == [Target("nvic", 26)]
    assert f4["spi1"].connection("IRQ").targets == [Target("nvic", 35)]  # written `IRQ->nvic@35`
    assert f4["rcc"].connection("Timer9Reset").targets == [Target("timer9", 255)]


def test_f4_alternate_function_fan_out_with_local_receivers(f4):
    # `0 -> gpioPortA#08@01 | gpioPortE#09@01 | ...` merged into the earlier timer1 entry
    out0 = f4["timer1"].connection(0).targets
    assert out0[0] == Target("gpioPortA", 1, local_index=8)
    assert [str(t) for t in out0] == ["gpioPortA#8@1", "gpioPortE#9@1", "gpioPortA#7@1",
                                      "gpioPortB#13@1", "gpioPortE#8@1"]


def test_f4_later_entry_replaces_connection_of_the_same_source(f4):
    # gpioPortA first wires [0-15] -> exti@[0-15]; a later `gpioPortA:` entry rewires pin 0
    # (Renode merges connections per source), pin 4 keeps its EXTI line.
    pa = f4["gpioPortA"]
    assert pa.connection(0).targets == [Target("timer2", 0), Target("timer5", 0)]
    assert pa.connection(4).targets == [Target("exti", 4)]


def test_f4_sysbus_init_and_tags(f4):
    sysbus = f4["sysbus"]
    assert sysbus.type_name is None
    assert sysbus.init[0] == "ApplySVD @https://dl.antmicro.com/projects/renode/svd/STM32F40x.svd.gz"
    assert len(sysbus.init) == 4  # the `// FLASH and USB ...` comment line is not a statement
    tags = {t.name: t for t in f4.tags}
    assert set(tags) == {"GPIOE_MODER", "GPIOE_OTYPER", "USB:RESET"}
    assert (tags["USB:RESET"].start, tags["USB:RESET"].end, tags["USB:RESET"].value) == \
        (0x50000010, 0x5000003F, 0x80000000)
    assert tags["GPIOE_MODER"].size == 4


def test_f412_uses_f4_and_overrides(f4):
    p = load("platforms/cpus/stm32f412.repl")
    assert p.sources[0].endswith("stm32f412.repl") and p.sources[1].endswith("stm32f4.repl")
    assert p["cpu"].ctor_args["cpuType"] == "cortex-m4f"  # last value wins
    assert p["cpu"].ctor_args["nvic"] == Reference("nvic")  # kept from stm32f4.repl
    assert p["timer2"].ctor_args["frequency"] == 50_000_000
    assert p["timer1"].ctor_args["frequency"] == 10_000_000
    assert p["usart6"].registrations[0].size == 0x400
    assert p["i2cfmp1"].connection("ErrorInterrupt").targets == [Target("nvic", 96)]
    # entries from the used file come first, in file order
    names = list(p.entries)
    assert names.index("usart1") < names.index("usart6")
    # `init:` (not `init add:`) replaces the F4 sysbus init: no ApplySVD, only the F412 tags
    assert not any("ApplySVD" in s for s in p["sysbus"].init)
    assert len(p.tags) == 7 and {t.name for t in p.tags} >= {"QuadSPI", "WWDG"}
    qspi = next(t for t in p.tags if t.name == "QuadSPI")
    assert (qspi.start, qspi.end, qspi.value) == (0x90000000, 0x9FFFFFFF, None)


def test_discovery_board_uses_cpu_file_from_search_path():
    p = load("platforms/boards/stm32f4_discovery.repl")
    assert Path(p.sources[1]) == UPSTREAM / "platforms/cpus/stm32f4.repl"
    assert p["UserButton"].registrations[0].parent == "gpioPortA"
    assert p["UserButton"].registrations[0].address is None
    assert p["UserButton"].connection(None).targets == [Target("gpioPortA", 0)]
    assert p["UserLED"].type_name == "Miscellaneous.LED"
    # `gpioPortD: 12 -> UserLED@0` replaces the cpu file's pin-12 wiring
    assert p["gpioPortD"].connection(12).targets == [Target("UserLED", 0)]
    assert p["gpioPortD"].connection(11).targets == [Target("exti", 11)]
    assert p["gpioPortD"].sysbus_address == 0x40020C00


def test_discovery_board_found_without_search_paths_from_the_files_own_tree(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # neither cwd nor the checkout holds platforms/cpus/stm32f4.repl
    p = load_platform(UPSTREAM / "platforms/boards/stm32f4_discovery.repl", search_paths=[])
    assert p["usart1"].sysbus_address == 0x40011000


def test_f103_values():
    p = load("platforms/cpus/stm32f103.repl")
    assert p["flash"].sysbus_address == 0 and p["flash"].ctor_args["size"] == 0x20000000
    assert p["usart1"].registrations[0].address == 0x40013800
    assert p["usart1"].connection("DMARequest").targets == [Target("dma1", 4), Target("dma1", 5)]
    assert p["afio"].ctor_args["gpioPorts"] == [Reference(f"gpioPort{c}") for c in "ABCDEFG"]
    # timer4's `[0-2] -> dma1@[1, 4, 5]` is replaced by the later alternate-function entry
    assert [str(t) for t in p["timer4"].connection(0).targets] == ["gpioPortB#6@4", "gpioPortD#12@4"]
    assert p["timer4"].connection("UpdateInterrupt").targets == [Target("dma1", 7)]
    assert [(t.name, t.value) for t in p.tags] == [("RCC_CR", 0x0A020083)]
