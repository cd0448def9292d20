"""The interactive console, driven through a pseudo-terminal like a user at a shell."""

import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")


class Terminal:
    def __init__(self, args, cwd, env):
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, cwd=cwd,
                                     env=env, start_new_session=True)
        os.close(slave)
        self.buffer = b""
        self.pos = 0

    def _read(self, timeout: float) -> None:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if ready:
            try:
                self.buffer += os.read(self.master, 65536)
            except OSError:   # the child closed the terminal
                time.sleep(timeout)

    def expect(self, pattern: str, timeout: float = 10.0) -> re.Match:
        rx = re.compile(pattern.encode())
        end = time.monotonic() + timeout
        while True:
            text = ANSI.sub(b"", self.buffer)
            m = rx.search(text, self.pos)
            if m:
                self.pos = m.end()
                return m
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{pattern!r} not seen within {timeout} s; terminal shows:\n"
                                     + text[self.pos:].decode(errors="replace")[-2000:])
            self._read(min(left, 0.1))

    def send(self, text: str) -> None:
        os.write(self.master, text.encode())

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=5)
        os.close(self.master)


@pytest.fixture
def terminal(tmp_path, firmware):
    firmware("f413rg", "hello")
    env = dict(os.environ, METERSIM_HISTORY=str(tmp_path / "history"), HOME=str(tmp_path),
               TERM="dumb")
    t = Terminal([sys.executable, "-m", "metersim._frontends.console",
                  "platforms/scenes/hello_f413.resc"], cwd=REPO, env=env)
    yield t
    t.close()


def test_console_session(terminal, tmp_path):
    t = terminal
    # The scene starts the emulation: UART lines arrive as a labelled stream, paced to real time.
    t.expect(r"\[f413:usart1\] metersim hello on STM32F413RG \(Cortex-M4F\)")
    t.expect(r"\(f413\) ")
    t.send("pause\n")
    t.expect(r"Pausing emulation\.\.\. \(virtual time 00:00:0\d\.\d{6}\)")
    t.send("emulation SetGlobalAdvanceImmediately true\n")
    t.send("start\n")
    t.expect(r"\[f413:usart1\] uptime 5 s")          # free-running: 5 virtual s in a moment
    t.expect(r"\[f413:usart1\] PASS")
    t.send("peripher\t\n")                            # tab completes the command
    t.expect(r"Available peripherals of f413:")
    t.expect(r"usart1 \(UART\.STM32_UART\) <0x40011000, 0x400113FF>")
    t.send("frobnicate\n")                            # errors print, the console goes on
    t.expect(r"error: unknown command or peripheral 'frobnicate'")
    t.send("sysbus ReadDoubleWord 0x08000000\n")
    t.expect(r"0x2005000[0-9A-F]")                    # initial SP: top of the 320 KiB SRAM
    t.send("quit\n")
    assert t.proc.wait(timeout=10) == 0
    history = (tmp_path / "history").read_text()
    assert "sysbus ReadDoubleWord 0x08000000" in history


def test_console_multiline_macro_and_prompt_follows_machine(tmp_path):
    env = dict(os.environ, METERSIM_HISTORY=str(tmp_path / "history"), HOME=str(tmp_path),
               TERM="dumb")
    t = Terminal([sys.executable, "-m", "metersim._frontends.console"], cwd=REPO, env=env)
    try:
        t.expect(r"\(monitor\) ")
        t.send('macro hi\n"""\nmach create "board7"\n"""\n')
        t.send("runMacro $hi\n")
        t.expect(r"machine 'board7' created and selected")
        t.expect(r"\(board7\) ")
        t.send("\x04")                                # Ctrl-D leaves
        assert t.proc.wait(timeout=10) == 0
    finally:
        t.close()


def console_terminal(tmp_path, *args):
    env = dict(os.environ, METERSIM_HISTORY=str(tmp_path / "history"), HOME=str(tmp_path),
               TERM="dumb")
    return Terminal([sys.executable, "-m", "metersim._frontends.console", *args], cwd=REPO, env=env)


def test_uart_attach_types_into_the_rtos_shell_and_shows_its_prompt_at_once(tmp_path, firmware):
    elf = firmware("f413rg", "shell_demo")
    t = console_terminal(tmp_path, "-e", 'mach create "f413"',
                         "-e", "machine LoadPlatformDescription @platforms/cpus/stm32f413.repl",
                         "-e", f"sysbus LoadELF @{elf}",
                         "-e", "emulation SetGlobalAdvanceImmediately true")
    try:
        t.expect(r"\(f413\) ")
        t.send("uart attach sysbus.usart1\n")
        t.expect(r"Starting emulation\.\.\.")               # a paused emulation is started
        t.expect(r"attached to f413:usart1; Ctrl-\] returns to the monitor")
        t.expect(r"metersim shell_demo on STM32F413RG")
        t.expect(r"msh> ")                                   # a partial line, shown at once
        t.send("p")
        t.send("s\r")                                        # keystrokes reach the firmware
        t.expect(r"ps\r?\n")                                 # the shell's echo
        t.expect(r"heartbeat\s+kernel\s+20 sleeping")
        t.expect(r"msh> ")
        t.send("\x1d")                                       # Ctrl-] back to the monitor
        t.expect(r"detached from f413:usart1")
        t.expect(r"\(f413\) ")
        t.send("quit\n")
        assert t.proc.wait(timeout=10) == 0
    finally:
        t.close()


def test_clear_asks_before_removing_machines(tmp_path):
    t = console_terminal(tmp_path, "-e", 'mach create "a"', "-e", 'mach create "b"')
    try:
        t.expect(r"\(b\) ")
        t.send("clear\n")
        t.expect(r"remove 2 machines \(a, b\) and their state\? \[y/N\] ")
        t.send("n\n")
        t.expect(r"clear: nothing removed")
        t.send("mach\n")
        t.expect(r"0: a \(no platform yet\)\s+\* 1: b")
        t.send("clear\n")
        t.expect(r"\[y/N\] ")
        t.send("y\n")
        t.expect(r"removed a, b")
        t.expect(r"\(monitor\) ")
        t.send("quit\n")
        assert t.proc.wait(timeout=10) == 0
    finally:
        t.close()


def test_a_firmware_fault_is_reported_once_and_the_console_goes_on(tmp_path, firmware):
    elf = firmware("f413rg", "bad_access")
    t = console_terminal(tmp_path, "-e", 'mach create "f413"',
                         "-e", "machine LoadPlatformDescription @platforms/cpus/stm32f413.repl",
                         "-e", f"sysbus LoadELF @{elf}")
    try:
        t.expect(r"\(f413\) ")
        t.send("emulation RunFor \"0.01\"\n")
        t.expect(r"backtrace:")
        t.expect(r"\(f413\) ")
        t.send("sysbus ReadDoubleWord 0x08000000\n")          # still usable
        t.expect(r"0x2005")
        t.send("quit\n")
        assert t.proc.wait(timeout=10) == 0
        text = ANSI.sub(b"", t.buffer).decode(errors="replace")
        assert text.count("=== firmware fault") == 1, text
    finally:
        t.close()
