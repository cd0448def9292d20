"""`make demo` / `metersim demo`: two boards running their firmware side by side.

An STM32F413 (Cortex-M4F) and an STM32F103 (Cortex-M3) run the `hello` firmware in one
emulation on one virtual clock; their console output is shown as labelled streams, then a
summary: virtual time, wall time, instructions and MIPS per machine.
"""

from __future__ import annotations

import sys
from pathlib import Path

from metersim.engine.emulation import Emulation
from metersim.engine.machine import Machine
from metersim.errors import SetupError
from metersim.orchestration.uart_capture import capture_uart

REPO = Path(__file__).resolve().parents[2]

BOARDS = [
    # name, firmware target, core, reset clock, flash, sram, console USART1
    ("f413", "f413rg", "cortex-m4f", 16_000_000, (0x08000000, 0x100000), (0x20000000, 0x50000),
     0x40011000),
    ("f103", "f103rb", "cortex-m3", 8_000_000, (0x08000000, 0x20000), (0x20000000, 0x5000),
     0x40013800),
]


def build_demo(emulation: Emulation, program: str = "hello") -> list:
    machines = []
    for name, target, core, hz, flash, sram, console in BOARDS:
        elf = REPO / "build" / "fw" / target / f"{program}.elf"
        if not elf.is_file():
            raise SetupError(f"{elf} is missing: run `make firmware` first")
        m = Machine.bare(emulation, name, core, hz, flash=flash, sram=sram,
                         console_address=console)
        m.load_elf(elf)
        machines.append(m)
    return machines


def main(_args=None) -> int:
    emu = Emulation()
    machines = build_demo(emu)
    done = set()

    def echo(machine_name: str, line: str) -> None:
        print(f"  [{machine_name}] {line}", flush=True)
        if line == "PASS":
            done.add(machine_name)

    for m in machines:
        capture_uart(m, echo=echo)
    print("metersim demo: hello firmware on an STM32F413 and an STM32F103, one virtual clock\n")
    emu.run_until(lambda: len(done) == len(machines), timeout="10s", what="both boards to finish")
    print()
    print(emu.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
