""".repl syntax: both layouts, comments, every value kind, registrations and connection forms."""

import pytest

from metersim._engine.repl import (
    Enum, InlineObject, Range, Reference, Target, parse_platform_string,
)


def P(text, **kw):
    return parse_platform_string(text, **kw)


def test_brace_one_line_form_equals_indent_form():
    brace = P("x: Memory.MappedMemory @ sysbus 0x0 { size: 0x100; -> nvic@3 }; "
              "nvic: IRQControllers.NVIC @ sysbus 0xE000E000")
    indent = P("x: Memory.MappedMemory @ sysbus 0x0\n    size: 0x100\n    -> nvic@3\n\n"
               "nvic: IRQControllers.NVIC @ sysbus 0xE000E000\n")
    for p in (brace, indent):
        assert p["x"].ctor_args == {"size": 0x100}
        assert p["x"].connection(None).targets == [Target("nvic", 3)]
        assert p["x"].registrations[0].address == 0
        assert p["nvic"].sysbus_address == 0xE000E000
    assert list(brace.entries) == list(indent.entries) == ["x", "nvic"]


def test_braces_spanning_lines_ignore_indentation_inside():
    p = P("x: T @ {\n        sysbus 0x100;\n  sysbus 0x200\n    }\n    a: 1\ny: T\n")
    assert [r.address for r in p["x"].registrations] == [0x100, 0x200]
    assert p["x"].ctor_args == {"a": 1}
    assert "y" in p


def test_comments_are_ignored_but_urls_are_not_comments():
    p = P("// header\n"
          "x: T @ sysbus 0x10 // trailing\n"
          "    /* a block\n"
          "       comment */\n"
          "    a: /* inline */ 5\n"
          "    B: \"not // a comment\"\n"
          "sysbus:\n"
          "    init:\n"
          "        ApplySVD @https://example.org/a.svd.gz\n")
    assert p["x"].ctor_args == {"a": 5}
    assert p["x"].properties == {"B": "not // a comment"}
    assert p["sysbus"].init == ["ApplySVD @https://example.org/a.svd.gz"]


def test_values_convert_to_python():
    p = P('''x: T
    s: "a \\"quoted\\" word"
    m: \'\'\'line one
line two\'\'\'
    t: true
    f: False
    h: 0xFF_FF
    d: 1_000_000
    n: -3
    fl: 2.5
    r: <0x1000, +0x400>
    r2: <0x1000, 0x1400>
    e: STM32Series.F4
    sh: .F1
    ref: nvic
    l: [1, [2, 3], "x", nvic, ]
    el: []
    o: new Bus.BusPointRegistration { address: 0x10; cpu: cpu0 }
    z: empty
    Prop: 7
''')
    a = p["x"].ctor_args
    assert a["s"] == 'a "quoted" word'
    assert a["m"] == "line one\nline two"
    assert a["t"] is True and a["f"] is False
    assert a["h"] == 0xFFFF and a["d"] == 1_000_000 and a["n"] == -3 and a["fl"] == 2.5
    assert a["r"] == Range(0x1000, 0x400) == a["r2"]
    assert a["r"].end == 0x13FF
    assert a["e"] == Enum("STM32Series.F4") and a["e"].member == "F4"
    assert a["sh"] == Enum(".F1") and a["sh"].member == "F1"
    assert a["ref"] == Reference("nvic")
    assert a["l"] == [1, [2, 3], "x", Reference("nvic")]
    assert a["el"] == []
    assert a["o"] == InlineObject("Bus.BusPointRegistration", {"address": 0x10, "cpu": Reference("cpu0")})
    assert "z" in a and a["z"] is None
    assert p["x"].properties == {"Prop": 7}


def test_multiline_string_keeps_indentation_and_does_not_break_layout():
    p = P("x: T\n    code: '''\n  first\n        second\n'''\n    after: 1\ny: T\n")
    assert p["x"].ctor_args["code"] == "\n  first\n        second\n"
    assert p["x"].ctor_args["after"] == 1
    assert "y" in p


def test_registration_forms():
    p = P("""spi1: SPI.STM32SPI @ sysbus 0x40013000
i2c1: I2C.STM32F1_I2C @ sysbus 0x40005400
flash: MTD.W25Q @ spi1
eeprom: Memory.AT24C @ i2c1 0x50
cpu: CPU.CortexM @ sysbus
comb: Miscellaneous.CombinedInput @ none
u: UART.STM32_UART @ sysbus <0x40011000, +0x100> as "uart_one"
percore: T @ sysbus new Bus.BusPointRegistration { address: 0xE000E000; cpu: cpu }
ranged: T @ sysbus new Bus.BusRangeRegistration { address: 0x81000000; size: 0x1000; cpu: cpu }
""")
    assert [(r.parent, r.address) for r in p["flash"].registrations] == [("spi1", None)]
    assert [(r.parent, r.address) for r in p["eeprom"].registrations] == [("i2c1", 0x50)]
    assert [(r.parent, r.address) for r in p["cpu"].registrations] == [("sysbus", None)]
    assert p["comb"].registrations == []
    u = p["u"]
    assert (u.registrations[0].address, u.registrations[0].size, u.registrations[0].end) == \
        (0x40011000, 0x100, 0x400110FF)
    assert u.alias == "uart_one"
    pc = p["percore"].registrations[0]
    assert (pc.address, pc.size) == (0xE000E000, None)
    assert pc.extra == {"type": "Bus.BusPointRegistration", "cpu": Reference("cpu")}
    rr = p["ranged"].registrations[0]
    assert (rr.address, rr.size) == (0x81000000, 0x1000)


def test_connection_forms():
    p = P("""t: Timers.STM32_Timer @ sysbus 0x40010000
    UpdateInterrupt -> nvic@25 | dma1@5
    [TriggerInterrupt, CommutationInterrupt] -> nvic@[26, 26]
    [0-2] -> dma1@[1, 4, 5]
    3 -> gpioA#08@01 | gpioB#9@2
    [4-5] -> nvic@[7-6] | dma1@[0x10, 0x11]
nvic: IRQControllers.NVIC @ sysbus 0xE000E000
dma1: DMA.STM32DMA @ sysbus 0x40026000
gpioA: GPIOPort.STM32_GPIOPort @ sysbus 0x40020000
gpioB: GPIOPort.STM32_GPIOPort @ sysbus 0x40020400
""")
    t = p["t"]
    assert t.connection("UpdateInterrupt").targets == [Target("nvic", 25), Target("dma1", 5)]
    assert t.connection("TriggerInterrupt").targets == [Target("nvic", 26)]
    assert t.connection("CommutationInterrupt").targets == [Target("nvic", 26)]
    assert [t.connection(i).targets for i in range(3)] == [[Target("dma1", 1)], [Target("dma1", 4)], [Target("dma1", 5)]]
    assert t.connection(3).targets == [Target("gpioA", 1, 8), Target("gpioB", 2, 9)]
    assert t.connection(4).targets == [Target("nvic", 7), Target("dma1", 16)]  # descending range 7-6
    assert t.connection(5).targets == [Target("nvic", 6), Target("dma1", 17)]
    assert len(t.connections) == 9  # one per source: 3 named + outputs 0..5
    assert str(t.connection(3)) == "3 -> gpioA#8@1 | gpioB#9@2"


def test_init_reset_preinit_blocks_are_statement_lists():
    p = P("""x: T @ sysbus 0x0
    preinit:
        include @Model.cs
    init:
        WriteDoubleWord 0x0 "a;b {c}" 1
        Reset
    reset:
        Foo
sysbus:
    init:
        Tag <0x40021000, 0x40021003> "RCC_CR" 0x0A020083
        Tag <0x40000000, +0x400> "TIM2"
        LogPeripheralAccess x
""")
    x = p["x"]
    assert x.preinit == ["include @Model.cs"]
    assert x.init == ['WriteDoubleWord 0x0 "a;b {c}" 1', "Reset"]
    assert x.reset == ["Foo"]
    tags = p.tags
    assert [(t.start, t.end, t.name, t.value) for t in tags] == [
        (0x40021000, 0x40021003, "RCC_CR", 0x0A020083),
        (0x40000000, 0x400003FF, "TIM2", None),
    ]
    assert tags[0].location == "<string>:11"
    assert p["sysbus"].init[2] == "LogPeripheralAccess x"


def test_fully_qualified_type_names_are_shortened():
    p = P("u: Antmicro.Renode.Peripherals.UART.STM32_UART @ sysbus 0x40011000")
    assert p["u"].type_name == "UART.STM32_UART"


def test_empty_attribute_block_and_crlf_line_endings():
    p = P("x: T @ sysbus 0x0 { }\r\ny: T\r\n    a: 1\r\n")
    assert p["x"].ctor_args == {} and p["y"].ctor_args == {"a": 1}


@pytest.mark.parametrize("text", ["", "\n\n", "// only a comment\n", "/* block */\n"])
def test_empty_descriptions_give_an_empty_platform(text):
    assert P(text).entries == {}
