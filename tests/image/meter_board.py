"""The meter's boot chain on the emulated STM32F413 storage board (platforms/boards/
storage_f413.repl: console USART1, W25Q128 NOR on SPI1 /CS PA4) until the management-unit board
exists: the factory image packed from platforms/images/meter_demo.yaml, booted from flash.
platforms/boards/meter_management_unit.repl wires the console (USART1) and the NOR (SPI1, /CS PA4)
the same way, so the boot chain runs there unchanged once BOARD names it."""

from __future__ import annotations

from pathlib import Path

from metersim.engine.emulation import Emulation
from metersim.engine.platform_builder import create_machine, load_binary
from metersim.engine.repl import parse_platform_string
from metersim.image.pack import pack
from metersim.orchestration.testers import capture_uart

from tests.conftest import REPO

BOARD = REPO / "platforms/boards/storage_f413.repl"
MANIFEST = REPO / "platforms/images/meter_demo.yaml"


def factory_image(tmp_path: Path, manifest: Path = MANIFEST) -> Path:
    out = tmp_path / "meter.bin"
    out.write_bytes(pack(manifest))
    return out


def boot_image(image: Path, nor: Path | None = None, emu: Emulation | None = None):
    """(emulation, machine, console tester) with `image` in flash, NOR persisting to `nor`."""
    emu = emu or Emulation()
    text = f'using "{BOARD}"\n' + (f'\nnor:\n    imagePath: "{nor}"\n' if nor else "")
    m = create_machine(emu, parse_platform_string(text, name="meter_storage_f413"), name="meter")
    load_binary(m, image)
    return emu, m, capture_uart(m, "usart1")
