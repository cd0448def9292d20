"""`make demo` / `metersim demo`: what metersim does, in one run.

Part 1: an STM32F413 (Cortex-M4F, 100 MHz) and an STM32F103RB (Cortex-M3, 72 MHz) boot the RTOS
shell firmware on one virtual clock, and commands are typed into their consoles.
Part 2 (when the cabinet package is present): the prepaid metering cabinet for a virtual day.
Each part ends with a summary: virtual time, wall time, instructions, MIPS per machine.
Part 3: the new-generation meter (both units) through a virtual day shortened to five minutes,
read over DL/T645 on RS-485: energy by rate beside the reference, the LCD's key list, and the
LCD as a picture (docs/img/meter_lcd_demo.png in a checkout, ./meter_lcd_demo.png elsewhere;
metersim._meter.demo).
Part 4: the cabinet with its query manager reporting to the head end (the PC server); the demo
ends with the dashboard's address and a screenshot of it (docs/img/headend_demo.png in a
checkout, ./headend_demo.png elsewhere). On a terminal the head end keeps serving until Ctrl-C
(so it comes last); into a pipe or a log it stops there (metersim._headend.demo).
"""

from __future__ import annotations

import sys

from metersim._engine.emulation import Emulation
from metersim._engine.platform_builder import create_machine
from metersim._orchestration.testers import capture_uart
from metersim._resources import find_firmware, find_platform

BOARDS = [("f413", "stm32f413", "f413rg"), ("f103", "stm32f103rb", "f103rb")]
COMMANDS = ["ps", "free", "date set 2026-11-20 08:00:00", "date", "uptime"]


def shell_demo(echo=print) -> Emulation:
    emu = Emulation()
    boards = []
    for name, platform, target in BOARDS:
        elf = find_firmware(target, "shell_demo")
        m = create_machine(emu, find_platform(platform), elf=elf, name=name)
        cap = capture_uart(m, "usart1", echo=lambda mach, line: echo(f"  [{mach}] {line}"))
        boards.append((m, cap))

    def prompts(cap, after: int = 0) -> bool:
        return "msh> " in cap.text[after:]

    emu.run_until(lambda: all(prompts(c) for _, c in boards), timeout="2s",
                  what="both shells to print their prompt")
    for cmd in COMMANDS:
        marks = []
        for m, cap in boards:
            marks.append(len(cap.text))
            m["usart1"].write_bytes(cmd.encode() + b"\r")
        emu.run_until(lambda: all(prompts(c, k + len(cmd)) for (_, c), k in zip(boards, marks)),
                      timeout="2s", what=f"{cmd!r} to finish on both boards")
    emu.run_for("1s")
    return emu


def main(_args=None) -> int:
    print("metersim demo, part 1: the RTOS shell on an STM32F413 and an STM32F103RB, "
          "one virtual clock\n")
    emu = shell_demo()
    print()
    print(emu.summary())
    from metersim._cabinet.demo import run_demo

    print("\nmetersim demo, part 2: the prepaid metering cabinet\n")
    run_demo()
    from pathlib import Path

    from metersim._headend.demo import run_headend_demo
    from metersim._meter.demo import run_meter_demo

    docs_img = Path("docs/img")
    print("\nmetersim demo, part 3: the new-generation meter, a shortened day\n")
    run_meter_demo(picture=docs_img / "meter_lcd_demo.png" if docs_img.is_dir()
                   else Path("meter_lcd_demo.png"))
    print("\nmetersim demo, part 4: the cabinet reporting to the head end (the PC server)\n")
    run_headend_demo(screenshot=docs_img / "headend_demo.png" if docs_img.is_dir()
                     else Path("headend_demo.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
