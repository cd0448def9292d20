"""Backing store for non-volatile chips (SPI NOR, I2C EEPROM): a file image or plain memory.

With a path, the contents live in a raw image file mapped with `numpy.memmap` (shared mapping):
every program/erase is visible to other processes reading the file at once (e.g. a host test
mounting the littlefs image), and the file persists between runs. A missing file is created
filled with the erased value; a file of the wrong size is refused rather than truncated, so a
W25Q64 image is never silently opened as a W25Q128.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from metersim._errors import SetupError


class NvmImage:
    def __init__(self, size: int, path: str | os.PathLike | None = None, erased: int = 0xFF):
        if size <= 0:
            raise SetupError(f"memory size must be positive, got {size}")
        self.size = int(size)
        self.path = Path(path) if path else None
        if self.path is None:
            self.data = np.full(self.size, erased, dtype=np.uint8)
            return
        if not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            chunk = np.full(min(self.size, 1 << 20), erased, dtype=np.uint8).tobytes()
            with open(self.path, "wb") as f:
                left = self.size
                while left:
                    n = min(left, len(chunk))
                    f.write(chunk[:n])
                    left -= n
        else:
            actual = self.path.stat().st_size
            if actual != self.size:
                raise SetupError(
                    f"image {self.path} has {actual} bytes, expected {self.size} for this chip; "
                    "use another path or delete the file to start from an erased chip")
        self.data = np.memmap(self.path, dtype=np.uint8, mode="r+", shape=(self.size,))

    def flush(self) -> None:
        """Push the mapping to disk (only needed for durability against a host crash)."""
        if isinstance(self.data, np.memmap):
            self.data.flush()

    def close(self) -> None:
        self.flush()
        if isinstance(self.data, np.memmap):
            # Keep a private copy so a closed model still reads; the mapping goes with the GC.
            self.data = np.array(self.data)

    def __len__(self) -> int:
        return self.size
