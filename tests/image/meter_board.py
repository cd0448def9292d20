"""The meter's boot chain on the emulated management unit (platforms/boards/
meter_management_unit.repl: STM32F413, console USART1, W25Q64 NOR on SPI1 /CS PA4): the factory
image packed from platforms/images/meter_rtos.yaml (bootloader, the RTOS, apps counter and probe
in flashfs), booted from flash."""

from __future__ import annotations

from pathlib import Path

from metersim._engine.emulation import Emulation
from metersim._engine.platform_builder import create_machine, load_binary
from metersim._engine.repl import parse_platform_string
from metersim._image.pack import pack
from metersim._orchestration.testers import capture_uart

from tests.conftest import REPO

BOARD = REPO / "platforms/boards/meter_management_unit.repl"
MANIFEST = REPO / "platforms/images/meter_rtos.yaml"
PROMPT = "msh> "          # the RTOS shell is up: every autostart app has been started


def factory_image(tmp_path: Path, manifest: Path = MANIFEST) -> Path:
    out = tmp_path / "meter.bin"
    out.write_bytes(pack(manifest))
    return out


def boot_image(image: Path, nor: Path | None = None, emu: Emulation | None = None):
    """(emulation, machine, console tester) with `image` in flash, NOR persisting to `nor`."""
    emu = emu or Emulation()
    text = f'using "{BOARD}"\n' + (f'\nnor:\n    imagePath: "{nor}"\n' if nor else "")
    m = create_machine(emu, parse_platform_string(text, name="meter_management_unit"), name="meter")
    load_binary(m, image)
    return emu, m, capture_uart(m, "usart1")
