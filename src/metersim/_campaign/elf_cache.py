"""Firmware ELFs travel with the tasks, addressed by their SHA-256: a worker writes a received
ELF once into a cache folder keyed by the hash and reuses it for every later scenario.

The folder is $METERSIM_ELF_CACHE, else ~/.cache/metersim/elf.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from metersim._errors import SetupError


def cache_dir() -> Path:
    d = os.environ.get("METERSIM_ELF_CACHE")
    return Path(d) if d else Path.home() / ".cache" / "metersim" / "elf"


def cached_elf(sha256: str, data: bytes | None) -> Path:
    """The path of the ELF with this hash, written from `data` if it is not cached yet."""
    d = cache_dir()
    path = d / f"{sha256}.elf"
    if path.is_file():
        return path
    if data is None:
        raise SetupError(f"firmware {sha256[:12]} is not in the ELF cache {d} and was not sent")
    got = hashlib.sha256(data).hexdigest()
    if got != sha256:
        raise SetupError(f"firmware received for {sha256[:12]} hashes to {got[:12]}: corrupted in transit")
    d.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=d, suffix=".part")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)            # atomic: concurrent workers write the same bytes
    return path
