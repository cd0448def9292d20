"""Renode's own .repl files build machines here, with the forms Renode accepts and the errors
Renode gives (upstream files in ../shared/renode-upstream, MIT)."""

from __future__ import annotations

from pathlib import Path

import pytest

from metersim._engine.emulation import Emulation
from metersim._engine.platform_builder import build_machine
from metersim._engine.repl import parse_platform_string
from metersim._errors import PlatformError

UPSTREAM = Path(__file__).resolve().parents[3] / "shared" / "renode-upstream"
if not UPSTREAM.is_dir():
    UPSTREAM = Path("/work/shared/renode-upstream")
needs_upstream = pytest.mark.skipif(not UPSTREAM.is_dir(), reason=f"Renode's platform files are "
                                    f"not on this machine ({UPSTREAM} is absent)")

#: Fragments Renode's own tests/unit-tests/platform_descriptions.robot leaves out (they are
#: pieces of stm32f4_discovery-kit.repl, which uses both): built through that file.
FRAGMENTS = {"platforms/boards/stm32f4_discovery-additional_gpios.repl",
             "platforms/boards/stm32f4_discovery-bb.repl"}
ALL = sorted(str(p.relative_to(UPSTREAM)) for p in UPSTREAM.rglob("*.repl")) \
    if UPSTREAM.is_dir() else []


def build(rel: str):
    return build_machine(Emulation(), UPSTREAM / rel, search_paths=[UPSTREAM])


def build_text(text: str, name: str = "t.repl"):
    return build_machine(Emulation(), parse_platform_string(text, name=name))


CORE = """
nvic: IRQControllers.NVIC @ sysbus 0xE000E000
    IRQ -> cpu@0
cpu: CPU.CortexM @ sysbus
    cpuType: "{core}"
    nvic: nvic
flash: Memory.MappedMemory @ sysbus 0x08000000
    size: 0x10000
sram: Memory.MappedMemory @ sysbus 0x20000000
    size: 0x2000
"""


@needs_upstream
def test_there_are_32_upstream_files():
    assert len(ALL) == 32


@needs_upstream
@pytest.mark.parametrize("rel", [r for r in ALL if r not in FRAGMENTS])
def test_every_upstream_repl_builds_a_machine(rel):
    m = build(rel)
    assert m.cpu.core in ("cortex-m0", "cortex-m0+", "cortex-m3", "cortex-m4", "cortex-m4f",
                          "cortex-m7", "cortex-m33")
    assert m.sysbus.find_mapping(0xE000E010) is not None   # the NVIC/SysTick is there
    unmapped = [e.name for e in m.platform.peripherals()
                if e.sysbus_address is not None and m.sysbus.find_mapping(e.sysbus_address) is None
                and e.type_name != "CPU.CortexM"]
    assert unmapped == []                                  # every block answers on the bus


@needs_upstream
def test_fragments_build_through_the_kit_that_uses_them():
    m = build("platforms/boards/stm32f4_discovery-kit.repl")
    assert {"externalLed", "externalButton", "phy"} <= set(m.peripherals) | set(m.platform.entries)
    with pytest.raises(PlatformError, match="no CPU"):
        build("platforms/boards/stm32f4_discovery-bb.repl")


@needs_upstream
@pytest.mark.parametrize("rel, core, arch", [
    ("platforms/cpus/stm32f072.repl", "cortex-m0", "v6-M"),
    ("platforms/cpus/stm32l072.repl", "cortex-m0+", "v6-M"),
    ("platforms/cpus/stm32f746.repl", "cortex-m7", "v7-M"),
    ("platforms/cpus/stm32wba52.repl", "cortex-m33", "v8-M"),
    ("platforms/cpus/stm32f4.repl", "cortex-m4", "v7-M"),
])
def test_cpu_type_selects_the_core_and_records_its_architecture(rel, core, arch):
    m = build(rel)
    assert (m.cpu.core, m.architecture) == (core, arch)
    assert m.cpu.has_fpu == (core == "cortex-m7")


@needs_upstream
def test_tag_with_start_and_size_and_a_trailing_comment():
    # stm32l151.repl: `Tag <0xE0042000 4> "MCU_ID" 0x10000416` (start and size, no comma)
    # and `Tag <0x40023C18 4> "FLASH_SR"  0xE` among lines with `# comments`
    m = build("platforms/cpus/stm32l151.repl")
    tags = {t.name: t for t in m.platform.tags}
    assert (tags["MCU_ID"].start, tags["MCU_ID"].end) == (0xE0042000, 0xE0042003)
    assert m.sysbus.read_word(0xE0042000) == 0x10000416
    # stm32l552.repl: `Tag <0x40007000 0x400> "PWR"`: a 1 KiB range
    p = build("platforms/cpus/stm32l552.repl").platform
    pwr = next(t for t in p.tags if t.name == "PWR")
    assert (pwr.start, pwr.size) == (0x40007000, 0x400)


def test_tag_forms_side_by_side():
    p = parse_platform_string('''sysbus:
    init:
        Tag <0x40021000, 0x40021003> "A" 0x1  # end inclusive, with a comment
        Tag <0x40021010 8> "B" 0x2 # start and size
        Tag <0x40021020, +4> "C"
''')
    assert [(t.name, t.start, t.end, t.value) for t in p.tags] == [
        ("A", 0x40021000, 0x40021003, 1), ("B", 0x40021010, 0x40021017, 2),
        ("C", 0x40021020, 0x40021023, None)]


def test_spi_dma_send_output_is_the_tx_dma_request():
    m = build_text(CORE.format(core="cortex-m4") + """
exti: IRQControllers.STM32F4_EXTI @ sysbus 0x40013C00
    numberOfOutputLines: 24
spi1: SPI.STM32SPI @ sysbus 0x40013000
    DMASend -> exti@3
""")
    spi, exti = m.peripherals["spi1"], m.peripherals["exti"]
    assert spi.DMASend is spi.DMATransmit
    exti.write(0x08, 4, 1 << 3)            # RTSR3: rising edge
    exti.write(0x00, 4, 1 << 3)            # IMR3
    spi.DMASend.set(True)                  # the wire reaches EXTI line 3
    assert exti.read(0x14, 4) == 1 << 3


def test_unmodelled_block_is_sized_by_its_size_argument_or_by_the_next_block():
    m = build_text(CORE.format(core="cortex-m3") + """
adc1: Analog.STM32_ADC @ sysbus 0x40012000
adc2: Analog.STM32_ADC @ sysbus 0x40012100
rom: Memory.ArrayMemoryWithReadonlys @ sysbus 0x1FFF0000
    size: 0x20
""")
    assert m.sysbus.find_mapping(0x40012000).size == 0x100   # up to adc2, not 0x400
    assert m.sysbus.find_mapping(0x40012100).size == 0x400
    assert m.sysbus.find_mapping(0x1FFF0000).size == 0x20


@needs_upstream
def test_led_and_button_registered_on_a_gpio_pin_follow_the_port():
    m = build("platforms/boards/stm32f072b_discovery.repl")   # led @ gpioPortC 6, button @ gpioPortA
    led, button = m.peripherals["led"], m.peripherals["button"]
    gpioc, gpioa = m.peripherals["gpioPortC"], m.peripherals["gpioPortA"]
    gpioc.write(0x00, 4, 1 << 12)          # MODER6 = output
    gpioc.write(0x18, 4, 1 << 6)           # BSRR: set PC6
    assert led.state is True
    gpioc.write(0x18, 4, 1 << 22)          # BSRR: reset PC6
    assert led.state is False
    button.press()
    assert gpioa.read(0x10, 4) & 1          # IDR0
    button.release()
    assert not gpioa.read(0x10, 4) & 1


def test_unknown_type_is_rejected_with_file_line_and_nearest_names():
    with pytest.raises(PlatformError) as exc:
        build_text(CORE.format(core="cortex-m4") + """
mem: Memory.MappedMemoryX @ sysbus 0x30000000
    size: 0x100
""", name="board.repl")
    text = str(exc.value)
    assert text.startswith("board.repl:12: mem: could not resolve type 'Memory.MappedMemoryX'")
    assert "did you mean Memory.MappedMemory" in text


def test_a_type_under_no_renode_namespace_is_called_unknown_not_unmodelled():
    with pytest.raises(PlatformError) as exc:
        build_text(CORE.format(core="cortex-m4") + """
thing: Gadgets.Zzqx @ sysbus 0x30000000
""", name="board.repl")
    text = str(exc.value)
    assert "could not resolve type 'Gadgets.Zzqx'" in text
    assert "not a Renode peripheral type metersim knows" in text and "no model" not in text


def test_wrong_namespace_suggests_the_class_under_its_namespace():
    with pytest.raises(PlatformError, match=r"did you mean .*UART\.STM32_UART"):
        build_text(CORE.format(core="cortex-m4") + "u: Serial.STM32_UART @ sysbus 0x40011000\n")


def test_a_renode_type_metersim_does_not_model_is_tagged_not_rejected():
    m = build_text(CORE.format(core="cortex-m33") + "can: CAN.STMCAN @ sysbus 0x40006400\n")
    assert m.sysbus.find_mapping(0x40006400).kind == "tag"
    assert m.architecture == "v8-M"


@needs_upstream
def test_init_writes_seed_the_uid_and_flash_size_from_the_emulation_seed():
    # stm32h7.repl: system_flash_ro init writes FLASH_SIZE (0x800 KiB) and a random 96-bit UID
    def h7(seed):
        m = build_machine(Emulation(seed=seed), UPSTREAM / "platforms/cpus/stm32h743.repl",
                          search_paths=[UPSTREAM])
        return m.sysbus.read_word(0x1FF1E880, 2), [m.sysbus.read_word(0x1FF1E800 + 4 * i)
                                                   for i in range(3)]
    size, uid = h7(0)
    assert size == 0x800 and len(set(uid)) == 3
    assert h7(0) == (size, uid)                      # same seed, same UID
    assert h7(1)[1] != uid


def test_init_write_outside_the_memory_is_an_error():
    with pytest.raises(PlatformError, match=r"t.repl:12: rom: init 'WriteDoubleWord 0x400 1': "
                                            r"offset 0x400 is outside"):
        build_text(CORE.format(core="cortex-m4") + """
rom: Memory.MappedMemory @ sysbus 0x1FFF0000
    size: 0x400
    init:
        WriteDoubleWord 0x3FC 0x12345678
        WriteDoubleWord 0x400 1
""")
