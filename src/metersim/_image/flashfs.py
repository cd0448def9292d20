"""The read-only flash file system (flashfs) of the management unit: a superblock, a file
table, then the files, each at the address its image header is linked for
(docs/meter_flash_layout.md; firmware/image/ms_flashfs.c reads it)."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from metersim._image.header import HEADER_SIZE, ImageError, ImageHeader, check_image

FLASHFS_BASE = 0x08040000
FLASHFS_SIZE = 0xC0000
MAGIC = 0x5346534D               # "MSFS"
VERSION = 1
SUPER_SIZE = 16
ENTRY_SIZE = 32
NAME_MAX = 20
FLAG_UPGRADABLE = 1
_SUPER = "<IHHII"
_ENTRY = "<20sIII"


@dataclass
class FlashFile:
    """A file of the flashfs: `data` (an image, header first) at `offset` from the region's
    start, with `size` bytes reserved for it (>= len(data); padded with 0xFF)."""
    name: str
    data: bytes
    offset: int
    size: int = 0
    flags: int = 0

    def __post_init__(self):
        if not self.size:
            self.size = len(self.data)


def build_flashfs(files: list[FlashFile], region_size: int = FLASHFS_SIZE,
                  base: int = FLASHFS_BASE, check_placement: bool = True) -> bytes:
    """The region's bytes (erased flash 0xFF where nothing is): superblock, table, files.
    Refuses names that do not fit, files outside the region or overlapping the table or each
    other, and image files whose header is linked for another address."""
    table_end = SUPER_SIZE + ENTRY_SIZE * len(files)
    out = bytearray(b"\xFF" * region_size)
    table = bytearray()
    placed: list[FlashFile] = []
    for f in files:
        raw = f.name.encode("ascii")
        if not 0 < len(raw) < NAME_MAX:
            raise ImageError(f"flashfs: file name {f.name!r}: 1..{NAME_MAX - 1} ASCII characters")
        if any(p.name == f.name for p in placed):
            raise ImageError(f"flashfs: two files named {f.name!r}")
        if f.size < len(f.data):
            raise ImageError(f"flashfs: {f.name}: {len(f.data)} bytes do not fit its "
                             f"{f.size}-byte extent")
        if f.offset < table_end or f.offset + f.size > region_size:
            raise ImageError(f"flashfs: {f.name} at 0x{base + f.offset:08x}..0x"
                             f"{base + f.offset + f.size:08x} is outside the region 0x"
                             f"{base + table_end:08x}..0x{base + region_size:08x} (after the table)")
        for p in placed:
            if f.offset < p.offset + p.size and p.offset < f.offset + f.size:
                raise ImageError(f"flashfs: {f.name} at 0x{base + f.offset:08x} (+0x{f.size:x}) "
                                 f"overlaps {p.name} at 0x{base + p.offset:08x} (+0x{p.size:x})")
        if check_placement and len(f.data) >= HEADER_SIZE:
            h = ImageHeader.unpack(f.data)
            if h.load_addr and h.load_addr != base + f.offset:
                raise ImageError(f"flashfs: {f.name} is linked for 0x{h.load_addr:08x} but "
                                 f"placed at 0x{base + f.offset:08x}")
        out[f.offset:f.offset + len(f.data)] = f.data
        table += struct.pack(_ENTRY, raw, f.offset, f.size, f.flags)
        placed.append(f)
    out[:SUPER_SIZE] = struct.pack(_SUPER, MAGIC, VERSION, len(files), zlib.crc32(table), 0)
    out[SUPER_SIZE:table_end] = table
    return bytes(out)


def read_flashfs(region: bytes, base: int = FLASHFS_BASE, at: int = 0,
                 check_files: bool = True) -> list[FlashFile]:
    """The files of a flashfs region (as ms_flashfs_mount checks it), each image file checked
    (ms_image_check) when check_files. `at`: the region's offset in the enclosing file, for
    messages. Raises ImageError saying what is wrong and where."""
    def bad(off: int, what: str) -> ImageError:
        return ImageError(f"flashfs at 0x{base:08x}: {what} (file offset 0x{at + off:x})")
    if len(region) < SUPER_SIZE:
        raise bad(0, f"superblock truncated: {len(region)} of {SUPER_SIZE} bytes")
    magic, version, count, table_crc, _ = struct.unpack_from(_SUPER, region)
    if magic != MAGIC:
        raise bad(0, f"magic: expected 0x{MAGIC:08x}, found 0x{magic:08x}")
    if version != VERSION:
        raise bad(4, f"version: expected {VERSION}, found {version}")
    table_end = SUPER_SIZE + ENTRY_SIZE * count
    if table_end > len(region):
        raise bad(6, f"count {count}: the table would end at 0x{table_end:x}, past the "
                     f"region's 0x{len(region):x} bytes")
    crc = zlib.crc32(region[SUPER_SIZE:table_end])
    if crc != table_crc:
        raise bad(8, f"table_crc: expected 0x{table_crc:08x}, computed 0x{crc:08x} "
                     f"(table 0x{at + SUPER_SIZE:x}..0x{at + table_end:x} damaged)")
    files = []
    for i in range(count):
        eoff = SUPER_SIZE + i * ENTRY_SIZE
        raw, off, size, flags = struct.unpack_from(_ENTRY, region, eoff)
        name = raw.rstrip(b"\0").decode("ascii", "replace")
        if off < table_end or off + size > len(region):
            raise bad(eoff + 20, f"entry {name!r}: extent 0x{off:x}+0x{size:x} outside "
                                 f"0x{table_end:x}..0x{len(region):x}"
                                 + (" (image truncated?)" if off < FLASHFS_SIZE else ""))
        for f in files:
            if off < f.offset + f.size and f.offset < off + size:
                raise bad(eoff + 20, f"entry {name!r} overlaps {f.name!r}")
        data = region[off:off + size]
        if check_files:
            h = check_image(data, at=at + off, where=f"flashfs file {name!r}",
                            run_addr=base + off)
            data = data[:HEADER_SIZE + h.length]
        files.append(FlashFile(name, bytes(data), off, size, flags))
    return files
