"""The machine a firmware runs on, chosen from the target its build recorded.

Without a platform, each build target has a bare board (`Machine.bare`: flash, SRAM, NVIC,
a console USART, the rest tagged). With a platform (a .repl path, or a name under
platforms/cpus or platforms/boards such as `stm32f413` or `stm32f103rb`), the firmware's
recorded core and part must agree with it; a firmware without a recorded target needs one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from metersim._errors import SetupError


@dataclass(frozen=True)
class Board:
    """A bare STM32-like machine for one firmware build target."""
    target: str
    part: str
    core: str
    machine_name: str
    freq_hz: int
    flash: tuple[int, int]
    sram: tuple[int, int]
    console_address: int

    def build(self, emulation, name: str | None = None):
        from metersim._engine.machine import Machine
        return Machine.bare(emulation, name or self.machine_name, self.core, self.freq_hz,
                            flash=self.flash, sram=self.sram, console_address=self.console_address)


_F1_USART1, _F4_USART1 = 0x40013800, 0x40011000
BOARDS: dict[str, Board] = {b.target: b for b in (
    Board("f103rb", "STM32F103RB", "cortex-m3", "f103", 8_000_000,
          (0x08000000, 0x20000), (0x20000000, 0x5000), _F1_USART1),
    Board("f103rc", "STM32F103RC", "cortex-m3", "f103", 8_000_000,
          (0x08000000, 0x40000), (0x20000000, 0xC000), _F1_USART1),
    Board("f413rg", "STM32F413RG", "cortex-m4f", "f413", 16_000_000,
          (0x08000000, 0x100000), (0x20000000, 0x50000), _F4_USART1),
    Board("qemu405", "STM32F405RG", "cortex-m4f", "f405", 16_000_000,
          (0x08000000, 0x100000), (0x20000000, 0x20000), _F4_USART1),
    Board("qemu100", "STM32F100RB", "cortex-m3", "f100", 8_000_000,
          (0x08000000, 0x20000), (0x20000000, 0x2000), _F1_USART1),
)}


def resolve_platform(platform: str | Path) -> Path:
    """A .repl path, or a platform name (`stm32f413`, `stm32f103rb`, `metering_controller`)
    looked up under platforms/cpus and platforms/boards (metersim._resources)."""
    from metersim._resources import find_platform
    return find_platform(Path(platform).expanduser())


def _platform_part(sources: list[str]) -> str | None:
    """The most specific STM32 part a platform names in its file names ('STM32F103RB')."""
    for src in sources:
        m = re.match(r"(stm32[a-z]\d+[a-z0-9]*)", Path(src).stem.lower())
        if m:
            return m.group(1).upper()
    return None


def check_firmware_fits_platform(firmware, machine, platform_name: str, sources: list[str]) -> None:
    """SetupError when the firmware's recorded core or part contradicts the platform."""
    if firmware.target is None:
        return
    part = _platform_part(sources)
    has = f"{machine.cpu.core}" + (f", {part}" if part else "")
    if firmware.core != machine.cpu.core or (part and firmware.part
                                             and not firmware.part.upper().startswith(part)):
        raise SetupError(f"{firmware.path} was built for {firmware.describe_target()}, but the "
                         f"platform {platform_name} is a {has}: build the firmware for that "
                         f"platform or choose a platform that matches it")


def machine_for_firmware(emulation, elf, platform: str | Path | None = None,
                         name: str | None = None):
    """A machine running `elf` (a path or a Firmware), reset and ready: built from `platform`
    when given (checked against the firmware's recorded target), else the bare board of that
    target. SetupError when neither says what to build."""
    from metersim._engine.firmware import Firmware
    from metersim._engine.platform_builder import build_machine, load_firmware
    from metersim._engine.repl import load_platform

    if not isinstance(elf, Firmware) and str(elf).endswith(".bin"):
        # a raw flash image (`metersim image pack`): no recorded target, so the platform says
        # where it runs; it is written at the flash base and boots from its vector table
        from metersim._engine.platform_builder import load_binary
        if platform is None:
            raise SetupError(f"{elf} is a raw binary without a recorded board: say which "
                             "machine runs it with --platform (a .repl file or platform name)")
        m = build_machine(emulation, load_platform(resolve_platform(platform)),
                          name or f"machine-{len(emulation.machines)}")
        load_binary(m, elf)
        return m
    fw = elf if isinstance(elf, Firmware) else Firmware(elf)
    if platform is not None:
        path = resolve_platform(platform)
        plat = load_platform(path)
        m = build_machine(emulation, plat, name or f"machine-{len(emulation.machines)}")
        check_firmware_fits_platform(fw, m, path.name, plat.sources or [str(path)])
        load_firmware(m, fw.path)
        return m
    if fw.target is None:
        raise SetupError(f"{fw.path} has no recorded build target (it was not built by "
                         "metersim's firmware build): say which machine runs it with "
                         "--platform (e.g. --platform stm32f413 or a .repl file)")
    board = fw.board
    if board is None:
        raise SetupError(f"{fw.path} was built for {fw.describe_target()}, which has no bare "
                         f"board in metersim (bare boards: {', '.join(BOARDS)}): give --platform")
    m = board.build(emulation, name)
    m.load_elf(fw.path)
    return m
