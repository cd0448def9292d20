"""The monitor: Renode's command syntax, scenes on the real platform files, hubs, errors."""

import logging
import re
import struct
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from metersim._errors import MetersimError, SetupError
from metersim._frontends.monitor import Monitor
from metersim._frontends.monitor_syntax import MonitorError, statements, tokenize

REPO = Path(__file__).resolve().parents[2]
SCENES = REPO / "platforms" / "scenes"


def vectors(elf: Path) -> tuple[int, int]:
    """Initial SP and reset vector: the first two words of the lowest loaded segment."""
    with open(elf, "rb") as fh:
        segs = [s for s in ELFFile(fh).iter_segments()
                if s["p_type"] == "PT_LOAD" and s["p_filesz"] >= 8]
        first = min(segs, key=lambda s: s["p_paddr"])
        return struct.unpack("<II", first.data()[:8])


def uart_lines(lines, label):
    return [ln[len(label) + 1:] for ln in lines if ln.startswith(label + " ")]


# ---------------------------------------------------------------- syntax
def test_tokens_quotes_paths_numbers_variables_and_comments():
    toks = tokenize('sysbus WriteDoubleWord 0x4001380C -1 "a \\"q\\" b" @dir/f.elf $bin true # c')
    assert [(t.kind, t.value) for t in toks] == [
        ("name", "sysbus"), ("name", "WriteDoubleWord"), ("number", 0x4001380C), ("number", -1),
        ("string", 'a "q" b'), ("path", "dir/f.elf"), ("var", "bin"), ("bool", True)]
    assert tokenize(":name: STM32F4 Discovery") == []
    assert [t.value for t in tokenize("$x ?= 'v'")] == ["x", "?=", "v"]
    assert [t.value for t in tokenize('$p=@"with space/f.repl"')] == ["p", "=", "with space/f.repl"]


def test_multiline_macro_statements_keep_line_numbers():
    text = 'mach create\nmacro reset\n"""\n  sysbus LoadELF $bin\n"""\nrunMacro $reset  # go\n'
    got = statements(text)
    assert [n for n, _ in got] == [1, 2, 6]
    assert "sysbus LoadELF $bin" in got[1][1]


@pytest.mark.parametrize("line,expected", [
    ('mach create "f4', "not closed"),
    ("sysbus ReadDoubleWord %%", "cannot read '%%'"),
    ("$ = 3", "variable name"),
    ("sysbus LoadELF @", "must be followed by a file path"),
])
def test_syntax_errors_say_what_was_expected(mon, line, expected):
    with pytest.raises(MonitorError, match=expected):
        mon.execute(line)


def test_variables_default_and_override(mon):
    mon.execute('$name = "first"')
    mon.execute('$name ?= "ignored"')
    mon.execute('$other ?= "default"')
    mon.execute("mach create $name")
    mon.execute("mach create $other")
    assert mon.machine_names() == ["first", "default"]
    with pytest.raises(MonitorError, match=r"\$missing is not set.*\$missing = "):
        mon.execute("mach create $missing")


def test_errors_name_the_command_and_what_is_expected(mon):
    with pytest.raises(MonitorError, match="unknown command or peripheral 'frobnicate'.*help"):
        mon.execute("frobnicate 3")
    with pytest.raises(MonitorError, match="no platform yet.*LoadPlatformDescription"):
        mon.execute("sysbus ReadDoubleWord 0x08000000")
    with pytest.raises(MonitorError, match="usage: emulation RunFor"):
        mon.execute("emulation RunFor")
    with pytest.raises(MonitorError, match="emulation has no command 'Fly'.*RunFor"):
        mon.execute("emulation Fly")
    with pytest.raises(MonitorError, match="'nope.repl' not found \\(looked in"):
        mon.execute("machine LoadPlatformDescription @nope.repl")
    assert issubclass(MonitorError, SetupError) and issubclass(MonitorError, MetersimError)


def test_script_errors_carry_file_and_line(mon, tmp_path):
    scene = tmp_path / "bad.resc"
    scene.write_text(":name: bad\nmach create \"a\"\n\nemulation SetSeed zz\n")
    with pytest.raises(MonitorError, match=r"bad.resc:4: .*expected an integer"):
        mon.execute_script(scene)


def test_start_without_firmware_is_refused(mon):
    mon.execute('mach create "m"')
    mon.execute("machine LoadPlatformDescription @platforms/cpus/stm32f413.repl")
    with pytest.raises(MonitorError, match="'m' has no firmware to run.*sysbus LoadELF"):
        mon.execute("start")


# ---------------------------------------------------------------- scenes on the real platforms
def test_f413_scene_prints_banner_and_uptime(mon, lines, firmware):
    firmware("f413rg", "hello")
    mon.execute_script(SCENES / "hello_f413.resc")
    assert mon.started
    mon.execute('emulation RunFor "00:00:02.5"')
    got = uart_lines(lines, "[f413:usart1]")
    assert got == ["metersim hello on STM32F413RG (Cortex-M4F)", got[1], "uptime 1 s", "uptime 2 s"]
    assert got[1].startswith("cpuid 0x410fc24")       # Cortex-M4 r0p1
    assert "Elapsed Virtual Time: 00:00:02.500000" in mon.execute("emulation GetTimeSourceInfo")


def test_f103_scene_runs_to_pass(mon, lines, firmware):
    firmware("f103rb", "hello")
    mon.execute_script(SCENES / "hello_f103.resc")
    mon.run_for("6s")
    got = uart_lines(lines, "[f103:usart1]")
    assert got[0] == "metersim hello on STM32F103RB (Cortex-M3)"
    assert got[-2:] == ["bye", "PASS"]


def test_vector_table_and_pc_after_reset_come_from_the_elf(mon, firmware):
    elf = firmware("f413rg", "hello")
    sp, reset = vectors(elf)
    mon.execute('mach create "f413"')
    mon.execute("machine LoadPlatformDescription @platforms/cpus/stm32f413.repl")
    mon.execute(f"sysbus LoadELF @{elf}")
    assert int(mon.execute("sysbus ReadDoubleWord 0x08000000"), 16) == sp
    assert int(mon.execute("sysbus ReadDoubleWord 0x00000004"), 16) == reset   # boot alias
    assert int(mon.execute("cpu PC"), 16) == reset & ~1
    assert int(mon.execute("cpu GetRegister SP"), 16) == sp
    mon.execute("cpu Step 5")
    assert mon.machine.cpu.instructions == 5
    assert int(mon.execute("cpu PC"), 16) != reset & ~1


def test_write_then_read_sram_in_every_width(mon, firmware):
    mon.execute('mach create "f413"')
    mon.execute("machine LoadPlatformDescription @platforms/cpus/stm32f413.repl")
    mon.execute("sysbus WriteDoubleWord 0x20000100 0x11223344")
    mon.execute("sysbus WriteByte 0x20000100 0xAA")
    mon.execute("sysbus WriteWord 0x20000102 0xBEEF")
    assert mon.execute("sysbus ReadDoubleWord 0x20000100") == "0xBEEF33AA"
    assert mon.execute("sysbus ReadWord 0x20000100") == "0x33AA"
    assert mon.execute("sysbus ReadByte 0x20000103") == "0xBE"
    with pytest.raises(MonitorError, match="does not fit in 8 bits"):
        mon.execute("sysbus WriteByte 0x20000100 0x1FF")


def test_machine_reset_restarts_the_firmware(mon, lines, firmware):
    firmware("f413rg", "hello")
    mon.execute_script(SCENES / "hello_f413.resc")
    mon.execute('emulation RunFor "0.1"')
    assert uart_lines(lines, "[f413:usart1]").count("metersim hello on STM32F413RG (Cortex-M4F)") == 1
    out = mon.execute("machine Reset")
    assert "f413: loaded hello.elf" in out            # the scene's `reset` macro ran again
    mon.execute('emulation RunFor "1.2"')
    got = uart_lines(lines, "[f413:usart1]")
    assert got.count("metersim hello on STM32F413RG (Cortex-M4F)") == 2
    assert got[-1] == "uptime 1 s"                     # the uptime count started over


def test_two_machines_on_a_uart_hub_exchange_bytes(mon, lines, firmware):
    firmware("f413rg", "hello")
    firmware("f103rb", "hello")
    mon.execute('emulation CreateUartHub "wire"')
    for name, repl, target in (("f413", "stm32f413.repl", "f413rg"),
                               ("f103", "stm32f103rb.repl", "f103rb")):
        mon.execute(f'mach create "{name}"')
        mon.execute(f"machine LoadPlatformDescription @platforms/cpus/{repl}")
        mon.execute(f"sysbus LoadELF @build/fw/{target}/hello.elf")
        mon.execute("showAnalyzer sysbus.usart1")
        mon.execute("connector Connect sysbus.usart1 wire")
    mon.execute("start")
    mon.run_for("0.5s")
    # The hello firmware only transmits; let the F103 listen: CR1 = UE | TE | RE (RM0008 27.6.4).
    mon.execute("sysbus WriteDoubleWord 0x4001380C 0x200C")
    mon.run_for("0.7s")
    sr = int(mon.execute("sysbus ReadDoubleWord 0x40013800"), 16)
    assert sr & (1 << 5)                                   # RXNE: a character arrived
    assert sr & (1 << 3)                                   # ORE: more came, nobody read them
    assert int(mon.execute("sysbus ReadDoubleWord 0x40013804"), 16) == ord("u")   # "uptime 1 s"
    mon.execute('mach set "f413"')
    assert not int(mon.execute("sysbus ReadDoubleWord 0x40011000"), 16) & (1 << 5)  # RE off
    assert mon.hubs["wire"].frames > 20
    assert "uptime 1 s" in uart_lines(lines, "[f413:usart1]")
    assert "uptime 1 s" in uart_lines(lines, "[f103:usart1]")


def test_two_boards_scene_runs_both(mon, lines, firmware):
    firmware("f413rg", "hello")
    firmware("f103rb", "hello")
    mon.execute_script(SCENES / "two_boards.resc")
    assert mon.current_machine_name == "f413"
    mon.run_for("1.1s")
    assert uart_lines(lines, "[f413:usart1]")[-1] == "uptime 1 s"
    assert uart_lines(lines, "[f103:usart1]")[-1] == "uptime 1 s"
    assert [m.label for m in mon.hubs["link"].members] == ["f413:usart2", "f103:usart2"]


def test_platform_from_string_and_binary(mon, lines, firmware):
    """A minimal board typed inline (Renode's LoadPlatformDescriptionFromString) runs the
    raw hello.bin loaded with LoadBinary; the APB space it touches is tagged."""
    firmware("f413rg", "hello")
    repl = """
flash: Memory.MappedMemory @ { sysbus 0x08000000; sysbus 0x0 }
    size: 0x100000
sram: Memory.MappedMemory @ sysbus 0x20000000
    size: 0x50000
nvic: IRQControllers.NVIC @ sysbus 0xE000E000
    IRQ -> cpu@0
cpu: CPU.CortexM @ sysbus
    cpuType: "cortex-m4f"
    nvic: nvic
usart1: metersim.ConsoleUART @ sysbus 0x40011000
apbLow: Mocks.MockDoubleWordPeripheralWithoutTranslations @ sysbus <0x40000000, +0x11000>
apbHigh: Mocks.MockDoubleWordPeripheralWithoutTranslations @ sysbus <0x40011400, +0x1EC00>
"""
    mon.execute('mach create "tiny"')
    mon.execute("machine LoadPlatformDescriptionFromString " + '"""' + repl + '"""')
    mon.execute("sysbus LoadBinary @build/fw/f413rg/hello.bin 0x08000000")
    mon.execute("showAnalyzer sysbus.usart1")
    mon.execute('emulation RunFor "1.05"')
    got = uart_lines(lines, "[tiny:usart1]")
    assert got[0] == "metersim hello on STM32F413RG (Cortex-M4F)"
    assert got[-1] == "uptime 1 s"


def test_second_description_merges_before_firmware_and_extends_the_machine_after(mon, firmware):
    mon.execute('mach create "m"')
    mon.execute("machine LoadPlatformDescription @platforms/cpus/stm32f413.repl")
    mon.execute('machine LoadPlatformDescriptionFromString "led: Miscellaneous.LED @ gpioPortA"')
    assert "led" in mon.machine.peripherals and "usart1" in mon.machine.peripherals
    tree = mon.execute("peripherals").splitlines()
    at = next(i for i, ln in enumerate(tree) if "gpioPortA (GPIOPort.STM32_GPIOPort)" in ln)
    assert tree[at + 1] == "  │   └── led (Miscellaneous.LED) @ gpioPortA"   # nested under its port
    mon.execute(f"sysbus LoadELF @{firmware('f413rg', 'hello')}")
    m, pc = mon.machine, mon.execute("cpu PC")
    # after the firmware (Renode allows it): the piece is built into the same machine, wired
    out = mon.execute('machine LoadPlatformDescriptionFromString "led2: Miscellaneous.LED @ '
                      'gpioPortA; gpioPortA: { 7 -> led2@0 }"')
    assert out == "m: added led2" and mon.machine is m and mon.execute("cpu PC") == pc
    mon.execute("sysbus WriteDoubleWord 0x40020000 0x4000")     # GPIOA MODER7 = output
    mon.execute("sysbus WriteDoubleWord 0x40020018 0x80")       # BSRR: set PA7
    assert m.peripherals["led2"].state is True
    with pytest.raises(MetersimError, match="has a peripheral of that name already"):
        mon.execute('machine LoadPlatformDescriptionFromString "led2: Miscellaneous.LED @ gpioPortA"')


def test_peripherals_lists_addresses_as_a_tree(mon):
    mon.execute('mach create "f103"')
    mon.execute("machine LoadPlatformDescription @platforms/cpus/stm32f103rb.repl")
    text = mon.execute("peripherals")
    lines_ = text.splitlines()
    assert lines_[0] == "Available peripherals of f103:"
    assert "├── usart1 (UART.STM32_UART) <0x40013800, 0x40013BFF>" in text
    assert "nvic (IRQControllers.NVIC) <0xE000E000, 0xE000EFFF>" in text
    addrs = [int(ln.split("<0x")[1][:8], 16) for ln in lines_ if "<0x" in ln]
    assert addrs == sorted(addrs)                     # ordered by address


def test_peripheral_methods_by_reflection(mon, firmware):
    mon.execute('mach create "f413"')
    mon.execute("machine LoadPlatformDescription @platforms/cpus/stm32f413.repl")
    mon.execute('machine LoadPlatformDescriptionFromString "button: Miscellaneous.Button @ gpioPortC { -> gpioPortC@13 }"')
    assert "Press" in mon.execute("sysbus.button")    # lists members
    with pytest.raises(MonitorError, match="has no method or property 'Explode'"):
        mon.execute("sysbus.button Explode")
    with pytest.raises(MonitorError, match="has no peripheral 'sysbus.nothere'"):
        mon.execute("sysbus.nothere Press")


def test_include_backticks_and_macros(mon, tmp_path, firmware):
    elf = firmware("f413rg", "hello")
    (tmp_path / "vars.resc").write_text(f'$bin = @{elf}\n$plat ?= @platforms/cpus/stm32f413.repl\n')
    (tmp_path / "main.resc").write_text(
        "i @vars.resc\nmach create\nmachine LoadPlatformDescription $plat\n"
        'macro load\n"""\nsysbus LoadELF $bin\n"""\nrunMacro $load\n'
        'cpu PC `sysbus GetSymbolAddress "main"`\n')
    mon.execute_script(tmp_path / "main.resc")
    assert mon.current_machine_name == "machine-0"
    assert int(mon.execute("cpu PC"), 16) == mon.machine.symbol("main") & ~1


def test_log_level_per_peripheral(mon, caplog):
    mon.execute('mach create "f413"')
    mon.execute("machine LoadPlatformDescription @platforms/cpus/stm32f413.repl")
    logger = logging.getLogger("metersim")
    old = logger.level
    try:
        mon.execute("logLevel 3")
        mon.execute("logLevel 0 sysbus.usart2")
        with caplog.at_level(logging.DEBUG, logger="metersim"):
            logger.setLevel(logging.DEBUG)
            logger.debug("[1 s] f413/usart2: shown")
            logger.debug("[1 s] f413/usart3: hidden")
            logger.error("[1 s] f413/usart3: errors still shown")
        msgs = [r.getMessage() for r in caplog.records if r.name == "metersim"]
        assert msgs == ["[1 s] f413/usart2: shown", "[1 s] f413/usart3: errors still shown"]
        with pytest.raises(MonitorError, match="expected -1 \\(noisy\\)"):
            mon.execute("logLevel 7")
    finally:
        mon.close()
        logger.setLevel(old)


def test_completion_of_commands_methods_and_peripherals(mon):
    mon.execute('mach create "f413"')
    mon.execute("machine LoadPlatformDescription @platforms/cpus/stm32f413.repl")
    assert mon.completions("emulation Ru") == ["RunFor"]
    assert "start" in mon.completions("sta")
    assert mon.completions("sysbus.usart") == [f"sysbus.usart{i}" for i in (1, 2, 3, 6)]
    assert "sysbus.usart2" in mon.completions("connector Connect sysbus.us")


def test_mach_set_by_index_and_remove(mon):
    mon.execute('mach create "a"')
    mon.execute('mach create "b"')
    mon.execute("mach set 0")
    assert mon.current_machine_name == "a"
    mon.execute('mach rem "a"')
    assert mon.machine_names() == ["b"] and mon.current_machine_name == "b"
    with pytest.raises(MonitorError, match="no machine with that index; there are 1"):
        mon.execute("mach set 3")


def test_gdb_server_starts_on_request(mon, firmware):
    import socket

    mon.execute('mach create "f413"')
    mon.execute("machine LoadPlatformDescription @platforms/cpus/stm32f413.repl")
    mon.execute(f"sysbus LoadELF @{firmware('f413rg', 'hello')}")
    out = mon.execute("machine StartGdbServer 0")
    port = int(out.rsplit(" ", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"$?#3f")
        reply = b""
        while b"#" not in reply:                      # the ack and the reply may come apart
            chunk = s.recv(64)
            assert chunk, f"the GDB server closed the connection after {reply!r}"
            reply += chunk
    assert reply.startswith(b"+$") and reply[2:3] in (b"S", b"T")   # ack, then a stop reply


# ---------------------------------------------------------------- headless scene runs
def run_args(scene, **kw):
    from argparse import Namespace
    base = dict(scene=str(scene), duration=None, until=None, seed=0, execute=None)
    base.update(kw)
    return Namespace(**base)


def test_headless_run_uses_the_cli_duration_and_variables(capsys, firmware):
    from metersim._frontends.monitor import main_run

    firmware("f103rb", "hello")
    assert main_run(run_args(SCENES / "hello_f103.resc", duration="1.1s",
                             execute=['$name = "meter7"'])) == 0
    out = capsys.readouterr().out
    assert "[meter7:usart1] uptime 1 s" in out and "uptime 2 s" not in out
    assert "virtual time 1.100000 s" in out


def test_headless_run_until_text(capsys, firmware):
    from metersim._frontends.monitor import main_run

    firmware("f103rb", "hello")
    main_run(run_args(SCENES / "hello_f103.resc", duration="10s", until="uptime 2 s"))
    out = capsys.readouterr().out
    assert "[f103:usart1] uptime 2 s" in out and "uptime 3 s" not in out


def test_headless_scene_without_start_runs_nothing(capsys, tmp_path, firmware):
    from metersim._frontends.monitor import main_run

    scene = tmp_path / "nostart.resc"
    scene.write_text(f'mach create "x"\nmachine LoadPlatformDescription @platforms/cpus/stm32f103rb.repl\n'
                     f'sysbus LoadELF @{firmware("f103rb", "hello")}\n')
    main_run(run_args(scene))
    out = capsys.readouterr().out
    assert "did not `start` the emulation" in out and "virtual time 0.000000 s" in out


# ---------------------------------------------------------------- command registry
def test_help_and_errors_come_from_each_command_signature(mon):
    from metersim._frontends.monitor_registry import COMMANDS

    listing = mon.execute("help")
    for name, cmd in COMMANDS.commands.items():
        if " " not in name:
            assert cmd.usage in listing                       # every command, with its usage
    assert mon.execute("help sysbus").count("sysbus ") == len(COMMANDS.methods("sysbus"))
    usage = COMMANDS.commands["sysbus WriteWord"].usage
    with pytest.raises(MonitorError, match=rf"missing <value>; usage: {usage}"):
        mon.execute("sysbus WriteWord 0x20000000")
    with pytest.raises(MonitorError, match=rf"unexpected '3'; usage: {usage}"):
        mon.execute("sysbus WriteWord 0x20000000 1 3")
    with pytest.raises(MonitorError, match=r"stepirq <mode>: expected on or off, got 'maybe'"):
        mon.execute("stepirq maybe")


def test_a_front_end_registers_its_own_command(lines):
    from metersim._frontends.monitor_registry import COMMANDS, Command

    one, other = Monitor(out=lines.append), Monitor(out=lines.append)
    one.register(Command("greet", "<who:text> [<times:int>]", "say hello",
                         lambda mon, who, times: " ".join([f"hello {who}"] * (times or 1))))
    assert one.execute('greet "meter" 2') == "hello meter hello meter"
    assert "greet <who> [<times>]: say hello" in one.execute("help")
    assert "greet" not in COMMANDS.commands                   # only that monitor has it
    with pytest.raises(MonitorError, match="unknown command or peripheral 'greet'"):
        other.execute("greet x")


def test_clear_in_a_script_needs_force_and_keeps_the_machines_without_it(mon, tmp_path):
    mon.execute('mach create "a"')
    scene = tmp_path / "clear.resc"
    scene.write_text("clear\n")
    with pytest.raises(MonitorError, match=r"clear.resc:1: clear: would remove 1 machine \(a\) "
                                           r"and their state; `clear --force`"):
        mon.execute_script(scene)
    assert mon.machine_names() == ["a"]
    old = mon.emulation
    assert mon.execute("Clear --force") == "removed a"
    assert mon.machine_names() == [] and mon.emulation is not old
    assert mon.execute("clear") == ""                         # nothing to lose: no question


def test_cpu_commands_step_and_read_registers_through_the_debug_api(mon, firmware):
    mon.execute('mach create "f413"')
    mon.execute("machine LoadPlatformDescription @platforms/cpus/stm32f413.repl")
    mon.execute(f"sysbus LoadELF @{firmware('f413rg', 'hello')}")
    pc0 = int(mon.execute("cpu PC"), 16)
    assert int(mon.execute("cpu Step"), 16) != pc0
    before = mon.execute("time")
    mon.execute("cpu Step 3")
    assert re.search(r"(\d+) instructions", mon.execute("time")).group(1) == \
        str(int(re.search(r"(\d+) instructions", before).group(1)) + 3)
    mon.execute("cpu SetRegister 7 0x42")
    assert mon.execute("cpu GetRegister R7") == "0x42"
    assert mon.execute("sysbus.cpu GetRegister r7") == "0x42"
    with pytest.raises(MonitorError, match="unknown register 'q9'"):
        mon.execute("cpu GetRegister q9")


def test_one_exit_code_map_for_the_cli_and_the_monitor(tmp_path, firmware):
    import subprocess
    import sys

    from metersim._errors import CheckFailed, EmulationTimeout, FirmwareFault, HungEngine
    from metersim._exit_codes import exit_code

    assert [exit_code(e) for e in (CheckFailed("x"), EmulationTimeout("x"), SetupError("x"),
                                   FirmwareFault("x"), HungEngine("x"))] == [1, 2, 3, 4, 5]
    scene = tmp_path / "fault.resc"
    scene.write_text(f'mach create "f413"\nmachine LoadPlatformDescription @platforms/cpus/stm32f413.repl\n'
                     f'sysbus LoadELF @{firmware("f413rg", "bad_access")}\nstart\n')
    res = subprocess.run([sys.executable, "-m", "metersim._frontends.monitor", str(scene),
                          "--for", "0.1s"], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert res.returncode == 4
    assert (res.stdout + res.stderr).count("=== firmware fault") == 1   # reported once
