"""The storage test boards (platforms/boards/storage_<target>.repl) with a NOR image file, the
driver test programs on them, and the host-side view of the NOR image through littlefs-python
with the firmware port's geometry (firmware/drivers/lfs_port.h, drivers/tests/common/drv_test.h)."""

from __future__ import annotations

from pathlib import Path

from littlefs import LittleFS
from littlefs.context import UserContext

from metersim._engine.emulation import Emulation
from metersim._engine.platform_builder import create_machine
from metersim._engine.repl import load_platform, parse_platform_string
from metersim._orchestration.testers import capture_uart

from tests.conftest import REPO

BOARD = {"f413rg": REPO / "platforms/boards/storage_f413.repl",
         "f103rb": REPO / "platforms/boards/storage_f103rb.repl"}
TARGETS = list(BOARD)

# littlefs geometry of the firmware port: 4 KiB sectors, 128 of them at the start of the chip.
LFS_BLOCK_SIZE = 4096
LFS_BLOCK_COUNT = 128
LFS_GEOMETRY = dict(block_size=LFS_BLOCK_SIZE, block_count=LFS_BLOCK_COUNT, read_size=16,
                    prog_size=16, cache_size=128, lookahead_size=16)
RAW_OFFSET = LFS_BLOCK_SIZE * LFS_BLOCK_COUNT            # /dev/nor0
W25Q128_BYTES = 16 << 20


def board(target: str, image: Path | None):
    """The storage board, with the NOR persisting to `image` when given."""
    if image is None:
        return load_platform(BOARD[target])
    return parse_platform_string(f'using "{BOARD[target]}"\n\nnor:\n    imagePath: "{image}"\n',
                                 name=f"storage_{target}+image")


def boot(target: str, elf, image: Path | None = None):
    emu = Emulation()
    m = create_machine(emu, board(target, image), elf=elf, name=target)
    return emu, m, capture_uart(m, "usart1")


def run_to_end(emu, cap, timeout="5s"):
    emu.run_until(lambda: "PASS\r\n" in cap.text or "FAIL " in cap.text or "PANIC" in cap.text,
                  timeout=timeout, what="the test program to finish")
    emu.run_for("5ms")                  # the rest of a FAIL line
    assert "FAIL" not in cap.text and "PANIC" not in cap.text, cap.text


def host_lfs(image: Path | bytes) -> LittleFS:
    """Mount the littlefs part of a NOR image (file or bytes) on the host."""
    data = image.read_bytes() if isinstance(image, Path) else image
    buf = bytearray(data[:LFS_BLOCK_SIZE * LFS_BLOCK_COUNT])
    return LittleFS(context=UserContext(buffer=buf), **LFS_GEOMETRY)


def host_files(fs: LittleFS, top: str = "/") -> dict[str, bytes]:
    """Every regular file below `top`, path -> content."""
    out = {}
    for root, _dirs, files in fs.walk(top):
        for name in files:
            path = f"{root.rstrip('/')}/{name}"
            with fs.open(path, "rb") as fh:
                out[path] = fh.read()
    return out
