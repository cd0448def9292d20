"""A session with the msh console shell of the BSP firmware (shell_demo, bsp_test) on a
metersim machine: boot to the prompt, type a command on USART1, wait for the next prompt and
return what the command printed, all in virtual time."""

from __future__ import annotations

from metersim._engine.emulation import Emulation
from metersim._engine.platform_builder import create_machine
from metersim._orchestration.testers import capture_uart

PROMPT = "msh> "
CPU_REPL = {"f413rg": "platforms/cpus/stm32f413.repl", "f103rb": "platforms/cpus/stm32f103rb.repl"}
TEST_BOARD = {"f413rg": "platforms/boards/test_bsp_f413.repl",
              "f103rb": "platforms/boards/test_bsp_f103rb.repl"}
HCLK_HZ = {"f413rg": 100_000_000, "f103rb": 72_000_000}


class Msh:
    def __init__(self, repl: str, elf, name: str):
        self.emu = Emulation()
        self.m = create_machine(self.emu, repl, elf=elf, name=name)
        self.cap = capture_uart(self.m, "usart1")
        self.uart = self.m["usart1"]
        self.wait_prompt(0, timeout="3s")

    @property
    def now_ps(self) -> int:
        return self.m.clock.now_ps

    def wait_prompt(self, after: int, timeout: str = "3s") -> str:
        self.emu.run_until(lambda: PROMPT in self.cap.text[after:], timeout=timeout,
                           what=f"the '{PROMPT}' prompt")
        return self.cap.text[after:]

    def type(self, text: str) -> int:
        """Send raw characters; returns where the output after them starts."""
        start = len(self.cap.text)
        self.uart.write_bytes(text.encode())
        return start

    def run(self, command: str, timeout: str = "3s") -> list[str]:
        """Type `command` + CR; the lines it printed (echo and prompt removed)."""
        start = self.type(command + "\r")
        out = self.wait_prompt(start, timeout)
        body = out[: out.rindex(PROMPT)]
        lines = [ln.rstrip("\r") for ln in body.split("\n")]
        assert lines[0] == command, f"echo {lines[0]!r}, typed {command!r}"
        return [ln for ln in lines[1:] if ln]
