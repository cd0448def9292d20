"""The platform builder: .repl files (Renode's and metersim's) become machines that run firmware."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from metersim._engine.emulation import Emulation
from metersim._engine.platform_builder import build_machine, create_machine, load_firmware, snake_case
from metersim._engine.repl import ReplSyntaxError, parse_platform_string
from metersim._engine.sysbus import TaggedRegion
from metersim._errors import PlatformError
from metersim.peripherals.cortexm.nvic import NVIC
from metersim.peripherals.console_uart import ConsoleUART
from metersim.peripherals.stm32.usart import STM32Usart
from metersim._units import PS_PER_MS, PS_PER_S

REPO = Path(__file__).resolve().parents[2]
UPSTREAM = Path("/work/shared/renode-upstream")

# A small F103-like machine: the console is metersim's untimed ConsoleUART on USART1's address;
# the RCC and GPIOA windows the test firmware writes are tagged.
CONSOLE_F103 = """
flash: Memory.MappedMemory @ { sysbus 0x08000000; sysbus 0x0 }
    size: 0x20000

sram: Memory.MappedMemory @ sysbus 0x20000000
    size: 0x5000

nvic: IRQControllers.NVIC @ sysbus 0xE000E000
    priorityMask: 0xF0
    IRQ -> cpu@0

cpu: CPU.CortexM @ sysbus
    cpuType: "cortex-m3"
    nvic: nvic

usart1: metersim.ConsoleUART @ sysbus 0x40013800
    -> nvic@37

sysbus:
    init:
        Tag <0x40021000, 0x400213FF> "RCC"
        Tag <0x40010800, 0x40010BFF> "GPIOA"
"""

CORE_ONLY = """
flash: Memory.MappedMemory @ sysbus 0x08000000
    size: 0x10000
sram: Memory.MappedMemory @ sysbus 0x20000000
    size: 0x5000
nvic: IRQControllers.NVIC @ sysbus 0xE000E000
cpu: CPU.CortexM @ sysbus
    cpuType: "cortex-m4f"
"""


def build_text(text: str, emu: Emulation | None = None, **kw):
    platform = parse_platform_string(text, name="test.repl", search_paths=[REPO])
    return build_machine(emu or Emulation(), platform, **kw)


def upstream(name: str):
    return build_machine(Emulation(), UPSTREAM / "platforms/cpus" / name, search_paths=[UPSTREAM])


def printed(uart) -> str:
    return uart.sent_bytes().decode() if isinstance(uart, STM32Usart) else uart.text


def line_end_ps(uart: STM32Usart, text: str) -> int:
    """Virtual time at which the USART finished sending `text` + newline."""
    data = uart.sent_bytes()
    end = data.index((text + "\n").encode()) + len(text)
    return uart.sent[end][0]


@pytest.fixture(scope="module")
def f4():
    return upstream("stm32f4.repl")


@pytest.fixture(scope="module")
def f103():
    return upstream("stm32f103.repl")


# -- names -------------------------------------------------------------------------------------
@pytest.mark.parametrize("renode, python", [
    ("systickFrequency", "systick_frequency"), ("invertedAFPins", "inverted_af_pins"),
    ("numberOfAFs", "number_of_afs"), ("cpuType", "cpu_type"), ("size", "size"),
    ("PerformanceInMips", "performance_in_mips")])
def test_constructor_names_become_snake_case(renode, python):
    assert snake_case(renode) == python


# -- Renode's STM32F4 file -----------------------------------------------------------------------
def test_upstream_f4_memories_at_their_addresses(f4):
    flash, sram = f4.memories["flash"], f4.memories["sram"]
    assert (flash.base, flash.size, flash.writable) == (0x08000000, 0x200000, False)
    assert (sram.base, sram.size, sram.writable) == (0x20000000, 0x40000, True)
    assert f4.flash is flash and f4.sram is sram
    assert f4.memories["rom1"].base == 0x1FFF0000
    # Nothing is mapped at 0 in Renode's F4 file: the core boots from the flash.
    assert f4.boot_address == 0x08000000
    f4.sysbus.write_memory(0x20000100, b"\x5a\xa5")
    assert f4.sysbus.read_memory(0x20000100, 2) == b"\x5a\xa5"


def test_upstream_f4_core_and_nvic(f4):
    assert f4.cpu.core == "cortex-m4"           # the F4 base file says cortex-m4
    assert isinstance(f4["nvic"], NVIC) and f4.cpu.nvic is f4["nvic"]
    assert f4.sysbus.find_mapping(0xE000E010).name == "nvic"
    # NVIC constructor arguments arrived in snake_case
    assert f4["nvic"].priority_mask == 0xF0


def test_upstream_f4_unmodelled_types_are_tagged(f4):
    can1 = f4.sysbus.find_mapping(0x40006400)
    assert can1.name == "can1" and can1.kind == "tag" and can1.size == 0x400
    eth = f4.sysbus.find_mapping(0x40028000)
    assert eth.kind == "tag" and eth.size == 0x1400     # DEFAULT_SIZES: no range in the file
    assert f4.read_u32(0x40006400) == 0
    assert isinstance(f4["ethernet"], TaggedRegion)


def test_upstream_f4_usart_interrupt_reaches_the_nvic(f4):
    usart1 = f4["usart1"]
    assert isinstance(usart1, STM32Usart)
    assert f4.sysbus.find_mapping(0x40011000).name == "usart1"
    usart1.IRQ.set(True)
    try:
        assert 16 + 37 in f4["nvic"].pending_set
    finally:
        usart1.IRQ.set(False)


def test_upstream_f4_exti_lines_through_combined_input(f4):
    exti = f4["exti"]
    exti.connections[12].set(True)      # lines 10-15 -> nvicInput40 -> NVIC 40
    try:
        assert 16 + 40 in f4["nvic"].pending_set
    finally:
        exti.connections[12].set(False)


def test_upstream_f4_tags(f4):
    # USB:RESET falls where nothing is mapped: a new tagged region holds the value.
    assert f4.read_u32(0x50000010) == 0x80000000
    assert f4.read_u32(0x5000003C) == 0x80000000
    assert f4.read_u32(0x50000040) == 0
    # GPIOE_MODER falls inside the modelled GPIO port E: the model answers, not the tag.
    assert f4.read_u32(0x40021000) != 0xFFFFFFFF


def test_upstream_f4_bitband_alias_sets_one_sram_bit(f4):
    f4.sysbus.write_memory(0x20000200, b"\x00\x00\x00\x00")
    f4.write_u32(0x22000000 + 0x200 * 32 + 3 * 4, 1)    # bit 3 of the byte at 0x20000200
    assert f4.sysbus.read_memory(0x20000200, 1) == b"\x08"


def test_upstream_f4_flash_controller_receives_flash_stores(f4):
    ctrl = f4["flash_controller"]
    assert f4.flash.write_handler == ctrl.on_flash_write


def test_upstream_f4_core_blocks_added(f4):
    assert f4.sysbus.find_mapping(0xE0001000).name == "dwt"
    assert f4.sysbus.find_mapping(0xE0000000).kind == "tag"


def test_upstream_f412_uses_f4_and_has_fpu():
    m = upstream("stm32f412.repl")
    assert m.cpu.core == "cortex-m4f"
    assert isinstance(m["usart6"], STM32Usart)
    assert m.sysbus.find_mapping(0x40011400).name == "usart6"
    assert m.sysbus.find_mapping(0x40002C00).kind == "tag"   # WWDG Tag


# -- Renode's STM32F103 file ---------------------------------------------------------------------
def test_upstream_f103_layout(f103):
    assert f103.cpu.core == "cortex-m3"
    flash = f103.memories["flash"]
    assert (flash.base, flash.size) == (0, 0x20000000)
    assert f103.boot_address == 0                      # memory is mapped at 0
    assert isinstance(f103["nvic"], NVIC)
    assert f103.sysbus.find_mapping(0x40013800).name == "usart1"
    assert f103["timer1"] is not None and f103.sysbus.find_mapping(0x40020000).name == "dma1"
    # No RCC model: the core runs at the NVIC's systickFrequency, as SysTick does in Renode.
    assert f103.cpu.freq_hz == 72_000_000
    assert f103.clocks.rate_hz("PCLK2") == 72_000_000


def test_upstream_f103_rcc_tag_without_peripheral(f103):
    assert f103.read_u32(0x40021000) == 0x0A020083      # Tag "RCC_CR": HSE and PLL "ready"
    assert f103.read_u32(0x40021004) == 0               # rest of the RCC block reads 0


def test_upstream_f103_afio_routes_port_pins_to_exti(f103):
    afio = f103["afio"]
    assert afio.selected_port(3) == 0
    f103.write_u32(0x40010008, 0x1 << 12)               # EXTICR1: EXTI3 <- port B
    assert afio.selected_port(3) == 1
    f103.write_u32(0x40010008, 0)


def test_upstream_f103_runs_firmware_linked_at_flash(firmware):
    """Renode's F103 maps a blank 512 MiB region at 0; the firmware lands at 0x08000000 and the
    core boots from its vector table there (VTOR = 0x08000000), as in Renode."""
    emu = Emulation()
    m = create_machine(emu, UPSTREAM / "platforms/cpus/stm32f103.repl",
                       elf=firmware("f103rb", "systick_rate"), search_paths=[UPSTREAM])
    assert m.boot_address == 0x08000000
    emu.run_until(lambda: b"PASS\n" in m["usart1"].sent_bytes(), timeout="2s", what="PASS")
    assert "tick 1000\n" in printed(m["usart1"])


# -- metersim's own platforms -------------------------------------------------------------------
@pytest.mark.parametrize("repl, target, sram", [
    ("stm32f413.repl", "f413rg", 0x50000),
    ("stm32f103rb.repl", "f103rb", 0x5000),
    ("stm32f103rc.repl", "f103rb", 0xC000),
])
def test_repo_platform_runs_systick_rate(firmware, repl, target, sram):
    emu = Emulation()
    m = create_machine(emu, REPO / "platforms/cpus" / repl, elf=firmware(target, "systick_rate"),
                       name="dut")
    assert emu.machine("dut") is m
    assert (m.flash.base, m.flash.aliases) == (0x08000000, [0]) and m.boot_address == 0
    assert m.sram.size == sram
    usart1 = m["usart1"]
    assert isinstance(usart1, STM32Usart)
    emu.run_until(lambda: b"PASS\n" in usart1.sent_bytes(), timeout="2s", what="PASS")
    text = printed(usart1)
    assert [f"tick {n}" for n in range(100, 1001, 100)] == \
        [ln for ln in text.splitlines() if ln.startswith("tick ")]
    # SysTick at 1 kHz from the reset clock: "tick 1000" goes out just after one second.
    t = line_end_ps(usart1, "tick 1000")
    assert PS_PER_S <= t < PS_PER_S + 5 * PS_PER_MS


def test_repo_f103rb_flash_controller_and_i2c_child():
    text = """
using "platforms/cpus/stm32f103rb.repl"
eeprom: metersim.AT24C02 @ i2c1 0x50
"""
    m = build_text(text)
    assert m["i2c1"].children[0x50] is m["eeprom"]
    assert m.flash.write_handler == m["flash_controller"].on_flash_write
    assert m.flash.size == 0x20000 and not m.flash.writable


# -- inline platform with the console UART --------------------------------------------------------
def test_inline_platform_with_console_uart_runs_firmware(firmware):
    emu = Emulation()
    platform = parse_platform_string(CONSOLE_F103, name="console_f103")
    m = build_machine(emu, platform, name="console")
    assert isinstance(m["usart1"], ConsoleUART)
    assert m.cpu.freq_hz == 8_000_000                   # no RCC, no systickFrequency: HSI
    load_firmware(m, firmware("f103rb", "systick_rate"))
    emu.run_for("1.2s")
    text = m["usart1"].text
    assert text.startswith("test systick_rate")
    assert "tick 100\n" in text and "tick 1000\n" in text
    assert "core 8000 cycles/tick" in text
    emu.run_for("0.5s")
    assert m["usart1"].text.endswith("PASS\n")


def test_create_machine_names_machines_in_order(tmp_path):
    path = tmp_path / "core.repl"
    path.write_text(CORE_ONLY)
    emu = Emulation()
    a = create_machine(emu, path)
    b = create_machine(emu, path)
    assert (a.name, b.name) == ("machine-0", "machine-1")
    assert a.boot_address == 0x08000000                 # nothing at 0: boot from the flash
    with pytest.raises(PlatformError, match="exists already"):
        create_machine(emu, path, name="machine-0")


def test_ignored_init_statements_are_logged_once(caplog):
    text = CORE_ONLY + """
sysbus:
    init:
        ApplySVD @https://example.invalid/x.svd.gz
"""
    with caplog.at_level(logging.INFO, logger="metersim.platform"):
        build_text(text)
    hits = [r for r in caplog.records if "ApplySVD" in r.getMessage()]
    assert len(hits) == 1 and "ignored" in hits[0].getMessage()


# -- errors -------------------------------------------------------------------------------------
def test_unknown_constructor_argument_names_entry_location_and_accepted():
    text = CORE_ONLY.replace("nvic: IRQControllers.NVIC @ sysbus 0xE000E000",
                             "nvic: IRQControllers.NVIC @ sysbus 0xE000E000\n    priorityMsk: 0xF0")
    with pytest.raises(PlatformError) as exc:
        build_text(text)
    msg = str(exc.value)
    assert "test.repl:6" in msg and "nvic" in msg and "'priorityMsk'" in msg
    assert "priority_mask" in msg and "systick_frequency" in msg


def test_unknown_receiver_is_an_error_with_location():
    text = CORE_ONLY + """
usart1: metersim.ConsoleUART @ sysbus 0x40011000
    -> nvc@37
"""
    with pytest.raises(PlatformError, match=r"test\.repl:\d+.*usart1.*'nvc'"):
        build_text(text)


def test_unknown_output_is_an_error():
    text = CORE_ONLY + """
usart1: metersim.ConsoleUART @ sysbus 0x40011000
    TxEmpty -> nvic@37
"""
    with pytest.raises(PlatformError, match="no output 'TxEmpty'.*IRQ"):
        build_text(text)


def test_local_receiver_on_a_type_without_them_is_not_supported_yet():
    text = CORE_ONLY + """
usart1: metersim.ConsoleUART @ sysbus 0x40011000
    -> nvic#2@37
"""
    with pytest.raises(PlatformError, match="not supported yet"):
        build_text(text)


def test_overlapping_registrations_are_an_error():
    text = CORE_ONLY + """
usart1: metersim.ConsoleUART @ sysbus 0x40011000
usart2: metersim.ConsoleUART @ sysbus 0x40011200
"""
    with pytest.raises(PlatformError, match=r"test\.repl:\d+: usart2: .*overlaps 'usart1'"):
        build_text(text)


def test_missing_using_file_is_an_error(tmp_path):
    path = tmp_path / "board.repl"
    path.write_text('using "platforms/cpus/stm32f999.repl"\n' + CORE_ONLY)
    with pytest.raises(ReplSyntaxError, match="stm32f999.repl' not found"):
        create_machine(Emulation(), path, search_paths=[tmp_path])


def test_unsupported_core_and_missing_core():
    with pytest.raises(PlatformError, match="cortex-a9.*cortex-m3, cortex-m4, cortex-m4f"):
        build_text(CORE_ONLY.replace('"cortex-m4f"', '"cortex-a9"'))
    with pytest.raises(PlatformError, match="no CPU"):
        build_text(CORE_ONLY.replace("cpu: CPU.CortexM @ sysbus\n    cpuType: \"cortex-m4f\"\n", ""))


def test_device_on_a_peripheral_that_is_not_a_bus():
    text = CORE_ONLY + """
usart1: metersim.ConsoleUART @ sysbus 0x40011000
eeprom: metersim.AT24C02 @ usart1 0x50
"""
    with pytest.raises(PlatformError, match="eeprom.*usart1.*not a bus"):
        build_text(text)


def test_reference_to_undeclared_entry():
    text = CORE_ONLY + """
flash_controller: metersim.STM32F1_Flash @ sysbus 0x40022000
    flash: flsh
"""
    with pytest.raises(PlatformError, match="flash_controller: flash: reference to 'flsh'"):
        build_text(text)


def test_missing_firmware_file(tmp_path):
    path = tmp_path / "core.repl"
    path.write_text(CORE_ONLY)
    with pytest.raises(Exception, match="nope.elf: firmware file not found"):
        create_machine(Emulation(), path, elf=tmp_path / "nope.elf")
