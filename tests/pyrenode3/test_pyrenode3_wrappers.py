"""metersim.pyrenode3: a script written for pyrenode3 runs with its imports changed, and the
wrappers answer the calls pyrenode3 scripts make, against the real hello firmware and the
metering controller's run LED."""

import subprocess
import sys
from pathlib import Path

import pytest

import metersim.pyrenode3 as p3
from metersim.pyrenode3 import TimeInterval
from metersim.pyrenode3.wrappers import (Analyzer, Emulation, LEDTester, Monitor,
                                         TerminalTester)
from metersim.pyrenode3.wrappers.base import RenodeCallError

REPO = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).parent / "hello_f413.py"

EXPECTED = """\
[f413:usart1] metersim hello on STM32F413RG (Cortex-M4F)
banner: metersim hello on STM32F413RG (Cortex-M4F)
[f413:usart1] cpuid 0x410fc241
[f413:usart1] uptime 1 s
uptime 1 at 1006 ms
CPUID via monitor: 0x410FC241 
CPUID via sysbus: 0x410FC241
PC in flash: True
[f413:usart1] uptime 2 s
[f413:usart1] uptime 3 s
[f413:usart1] uptime 4 s
[f413:usart1] uptime 5 s
[f413:usart1] bye
[f413:usart1] PASS
PASS seen: True
missing line: None
error: True
"""


def test_pyrenode3_script_runs_with_only_its_imports_changed(tmp_path, firmware):
    firmware("f413rg", "hello")
    original = SCRIPT.read_text()
    ported = original.replace("from pyrenode3.wrappers import",
                              "from metersim.pyrenode3.wrappers import") \
                     .replace("from Antmicro.Renode.Time import TimeInterval",
                              "from metersim.pyrenode3 import TimeInterval")
    changed = [(a, b) for a, b in zip(original.splitlines(), ported.splitlines()) if a != b]
    assert len(changed) == 2 and all(a.startswith("from ") for a, _ in changed)
    script = tmp_path / "hello_f413.py"
    script.write_text(ported)
    run = subprocess.run([sys.executable, str(script)], cwd=REPO, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout == EXPECTED


@pytest.fixture
def emu(firmware):
    firmware("f413rg", "hello")
    p3.reset()
    e = Emulation()
    yield e
    p3.reset()


def _hello(e, name="f413"):
    mach = e.add_mach(name)
    mach.load_repl(str(REPO / "platforms/cpus/stm32f413.repl"))
    mach.load_elf(str(REPO / "build/fw/f413rg/hello.elf"))
    return mach


def test_machines_by_name_attribute_and_iteration(emu):
    a = _hello(emu, "a")
    assert emu.add_mach("a") is None              # name taken: pyrenode3 returns None
    b = emu.add_mach()
    assert b.name == "machine0"
    assert [m.name for m in emu] == ["a", "machine0"]
    assert emu.a == a and emu.get_mach("nope") is None
    assert Emulation() is emu and Monitor() is Monitor()
    del emu.machine0
    assert [m.name for m in emu] == ["a"]
    emu.clear()
    assert list(emu) == [] and emu.ElapsedVirtualTime == TimeInterval(0)


def test_registers_memory_and_peripheral_members(emu):
    mach = _hello(emu)
    sysbus = mach.sysbus
    sp = sysbus.ReadDoubleWord(0x08000000)
    assert sysbus.cpu.GetRegister(13) == sp and sysbus.cpu.SP.RawValue == sp
    assert sysbus.cpu.PC == sysbus.ReadDoubleWord(0x08000004) & ~1
    sysbus.WriteDoubleWord(0x20000100, 0xCAFEF00D)
    assert sysbus.ReadBytes(0x20000100, 4) == bytes.fromhex("0df0feca")
    # a model's members under Renode's CamelCase names
    assert sysbus.usart1.path == "sysbus.usart1"
    assert type(sysbus.usart1.internal).__name__ in repr(sysbus.usart1)
    with pytest.raises(AttributeError, match="no member 'NoSuchThing'"):
        sysbus.usart1.NoSuchThing
    with pytest.raises(AttributeError, match="has no peripheral 'usart9'"):
        sysbus.usart9


def test_char_received_event_and_run_for(emu):
    mach = _hello(emu)
    got = bytearray()
    uart = mach.sysbus.usart1
    uart.CharReceived += got.append
    emu.RunFor(TimeInterval.FromMilliseconds(1100))
    assert emu.ElapsedVirtualTime.TotalSeconds == pytest.approx(1.1)
    assert got.decode().endswith("uptime 1 s\n")
    # Renode's STM32_UART.BaudRate: the firmware set up 115200 Bd
    assert uart.BaudRate == pytest.approx(115200, rel=0.01)


def test_terminal_tester_next_line_idle_and_failing_string(emu):
    mach = _hello(emu)
    t = TerminalTester(mach.sysbus.usart1, 2)
    assert t.WaitFor(["cpuid", "uptime 1 s"]).Line == "uptime 1 s"
    assert t.NextLine().Line == "uptime 2 s"
    t.RegisterFailingString("uptime 4")
    r = t.WaitFor("bye", timeout=TimeInterval.FromSeconds(4))
    assert r.IsFailingString and "uptime 4 s" in r.Line
    assert t.WaitFor("PASS", timeout=3).Line == "PASS"
    assert t.IsIdle(1)
    assert t.WaitFor("never", timeout=0.5) is None
    assert "did not appear" in t.GetReport()


def test_monitor_execute_returns_output_and_error(emu):
    _hello(emu)
    m = Monitor()
    assert m.Machine.name == "f413"
    out, err = m.execute("cpu GetRegister 13")
    assert err == "" and int(out, 16) == emu.f413.sysbus.cpu.SP
    out, err = m.execute("sysbus LoadELF @no/such.elf")
    assert out == "" and "no/such.elf" in err
    # Renode's names on the emulation run as monitor commands
    emu.CreateUartHub("hub")
    assert "hub" in m.internal.hubs


def test_analyzer_prints_the_uart(emu, capsys):
    mach = _hello(emu)
    Analyzer(mach.sysbus.usart1).Show()
    emu.RunFor(1.1)
    assert "[f413:usart1] uptime 1 s" in capsys.readouterr().out


def test_urls_and_missing_files_are_clear_errors(emu):
    mach = emu.add_mach("x")
    with pytest.raises(FileNotFoundError, match="does not download"):
        mach.load_elf("https://dl.antmicro.com/projects/renode/x.elf")
    with pytest.raises(FileNotFoundError, match="nope.repl"):
        mach.load_repl("nope.repl")
    with pytest.raises(RenodeCallError, match="no firmware|no platform"):
        emu.StartAll()


def test_led_tester_on_the_run_led(firmware):
    firmware("f103rb", "metering_controller")
    p3.reset()
    try:
        e = Emulation()
        mc = e.add_mach("mc")
        mc.load_repl(str(REPO / "platforms/boards/metering_controller.repl"))
        mc.load_elf(str(REPO / "build/fw/f103rb/metering_controller.elf"))
        led = LEDTester(e, mc.sysbus.gpioPortC.ledRun, "run", 3)
        assert e.externals.run is led
        led.AssertState(True).AssertIsBlinking(4, 1, 1, tolerance=0.01)
        assert mc.sysbus.ledRun.State in (True, False)
        with pytest.raises(Exception, match="LED assertion not met"):
            led.AssertState(not mc.sysbus.ledRun.State, timeout=0)
    finally:
        p3.reset()


def test_background_running_as_renode_does(emu):
    """run_in_background(): after StartAll the firmware runs while the script sleeps; a wait
    then takes over and the line it returns is the same as without the runner."""
    import time

    mach = _hello(emu)
    p3.run_in_background(True)
    try:
        got = bytearray()
        mach.sysbus.usart1.CharReceived += got.append
        tester = TerminalTester(mach.sysbus.usart1, 5)
        emu.StartAll()
        deadline = time.monotonic() + 60
        while b"cpuid" not in got and time.monotonic() < deadline:
            time.sleep(0.05)
        assert b"cpuid 0x410fc241" in got          # printed with no wait in the script
        line = tester.WaitFor("uptime 2 s", pauseEmulation=True)
        assert 2000 < line.Timestamp < 2010
        emu.PauseAll()
        paused_at = emu.ElapsedVirtualTime
        time.sleep(0.1)
        assert emu.ElapsedVirtualTime == paused_at
    finally:
        p3.run_in_background(False)
