"""Merging entries and files: `using`, last value wins, `none`, `init add`, `local`, `prefixed`."""

from pathlib import Path

import pytest

from metersim._engine.repl import Reference, Target, load_platform, parse_platform_string
from metersim._errors import PlatformError


def write(root: Path, rel: str, text: str) -> Path:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


def test_updates_merge_into_the_creating_entry_last_value_wins():
    p = parse_platform_string("""u: UART.STM32_UART @ sysbus 0x40011000
    frequency: 1000
    Baud: 9600
    -> nvic@37
    IRQ -> nvic@1
u:
    frequency: 2000
    -> nvic@38
nvic: IRQControllers.NVIC @ sysbus 0xE000E000
u:
    Baud: none
    IRQ -> none
""")
    u = p["u"]
    assert u.type_name == "UART.STM32_UART"
    assert u.ctor_args == {"frequency": 2000}
    assert u.properties == {}  # `Baud: none` cancels the earlier value
    assert [str(c) for c in u.connections] == ["-> nvic@38"]
    assert u.location == "<string>:1"
    assert u.locations == ["<string>:1", "<string>:6", "<string>:10"]
    assert list(p.entries) == ["u", "nvic"]  # order of first appearance


def test_update_may_come_before_the_creating_entry():
    p = parse_platform_string("x:\n    a: 1\nx: T @ sysbus 0x10\n    b: 2\n")
    assert p["x"].type_name == "T" and p["x"].ctor_args == {"a": 1, "b": 2}


def test_registration_is_replaced_and_cancelled_by_newer_entries():
    p = parse_platform_string("x: T @ sysbus 0x10 as \"xx\"\nx: @ sysbus 0x20\ny: T @ sysbus 0x30\ny: @ none\n")
    assert [r.address for r in p["x"].registrations] == [0x20]
    assert p["x"].alias is None  # the alias came with the replaced registration
    assert p["y"].registrations == []


def test_init_replaces_and_init_add_appends():
    p = parse_platform_string("""sysbus:
    init:
        A
x: T @ sysbus 0x0
    init:
        X1
sysbus:
    init add:
        B
x:
    init:
        X2
""")
    assert p["sysbus"].init == ["A", "B"]
    assert p["x"].init == ["X2"]


def test_using_relative_and_search_path_with_last_value_wins(tmp_path):
    write(tmp_path, "platforms/cpus/base.repl", """cpu: CPU.CortexM @ sysbus
    cpuType: "cortex-m3"
    nvic: nvic
nvic: IRQControllers.NVIC @ sysbus 0xE000E000
    priorityMask: 0xF0
usart1: UART.STM32_UART @ sysbus <0x40013800, +0x100>
    -> nvic@37
""")
    write(tmp_path, "platforms/cpus/chip.repl", 'using "./base.repl"\n\ncpu:\n    cpuType: "cortex-m4f"\n')
    board = write(tmp_path, "platforms/boards/board.repl",
                  'using "platforms/cpus/chip.repl"\n\nusart1:\n    -> nvic@40\n'
                  "eeprom: Memory.AT24C @ i2c1 0x50\ni2c1: I2C.STM32F1_I2C @ sysbus 0x40005400\n")
    p = load_platform(board, search_paths=[tmp_path])
    assert [Path(s).name for s in p.sources] == ["board.repl", "chip.repl", "base.repl"]
    assert p["cpu"].ctor_args == {"cpuType": "cortex-m4f", "nvic": Reference("nvic")}
    assert p["usart1"].connection(None).targets == [Target("nvic", 40)]
    assert list(p.entries)[:3] == ["cpu", "nvic", "usart1"]
    assert p["usart1"].location.endswith("base.repl:6")


def test_two_usings_later_file_wins(tmp_path):
    write(tmp_path, "a.repl", 'v: T @ sysbus 0x0\n    SomeProperty: "set by a, first"\n'
                              'v:\n    SomeProperty: "set by a, second"\n')
    write(tmp_path, "b.repl", 'v:\n    SomeProperty: "set by b, first"\nv:\n    SomeProperty: "set by b, second"\n')
    top = write(tmp_path, "top.repl", 'using "./a.repl"\nusing "./b.repl"\n\nw: T @ sysbus 0x10\n')
    p = load_platform(top, search_paths=[])
    assert p["v"].properties == {"SomeProperty": "set by b, second"}


def test_a_file_used_twice_is_merged_once(tmp_path):
    write(tmp_path, "common.repl", "x: T @ sysbus 0x0\n")
    write(tmp_path, "a.repl", 'using "./common.repl"\nx:\n    a: 1\n')
    write(tmp_path, "b.repl", 'using "./common.repl"\nx:\n    b: 2\n')
    top = write(tmp_path, "top.repl", 'using "./a.repl"\nusing "./b.repl"\n')
    p = load_platform(top, search_paths=[])
    assert p["x"].ctor_args == {"a": 1, "b": 2}


def test_local_entries_are_private_to_their_file(tmp_path):
    write(tmp_path, "inner.repl", "local helper: Miscellaneous.CombinedInput @ none\n"
                                  "    numberOfInputs: 2\nhelper:\n    -> nvic@5\n"
                                  "nvic: IRQControllers.NVIC @ sysbus 0xE000E000\n")
    top = write(tmp_path, "top.repl", 'using "./inner.repl"\n\nnvic:\n    priorityMask: 0xF0\n')
    p = load_platform(top, search_paths=[])
    h = p["helper"]
    assert h.local and h.ctor_args == {"numberOfInputs": 2}
    assert h.connection(None).targets == [Target("nvic", 5)]


def test_update_from_another_file_does_not_reach_a_local(tmp_path):
    write(tmp_path, "inner.repl", "local helper: T @ none\n")
    top = write(tmp_path, "top.repl", 'using "./inner.repl"\n\nhelper:\n    a: 1\n')
    # the update names a variable that no file declares globally
    with pytest.raises(PlatformError, match=r"top\.repl:3:1: entry 'helper' updates a peripheral that no file declares"):
        load_platform(top, search_paths=[])


def test_prefixed_using_renames_declared_names_and_their_references(tmp_path):
    write(tmp_path, "meter.repl", """uart: UART.STM32_UART @ sysbus 0x40011000
    -> nvic@37
nvic: IRQControllers.NVIC @ sysbus 0xE000E000
cpu: CPU.CortexM @ sysbus
    nvic: nvic
sysbus:
    init add:
        Tag <0x0, 0x3> "X" 1
""")
    top = write(tmp_path, "top.repl", 'using "./meter.repl" prefixed "m1_"\n')
    p = load_platform(top, search_paths=[])
    assert set(p.entries) == {"m1_uart", "m1_nvic", "m1_cpu", "sysbus"}
    assert p["m1_uart"].connection(None).targets == [Target("m1_nvic", 37)]
    assert p["m1_cpu"].ctor_args["nvic"] == Reference("m1_nvic")
    assert [t.name for t in p.tags] == ["X"]  # sysbus is not declared there: not renamed
