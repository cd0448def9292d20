"""The host's view of the upgrade area of the meter's NOR (firmware/image/ms_upgrade.h): the
journal's records and the images in the download and backup slots, read from a NOR image file
(the W25Q model's `imagePath`)."""

from __future__ import annotations

import enum
import struct
import zlib
from dataclasses import dataclass

from metersim._image.header import ImageError, ImageHeader, check_image

JOURNAL = 0x100000
JOURNAL_SECTORS = 2
SECTOR = 4096
DOWNLOAD = 0x110000
BACKUP = 0x188000
SLOT_SIZE = 0x78000
REC_MAGIC = 0x4A55534D
REC_SIZE = 64
_REC = "<9I20s4sI"
assert struct.calcsize(_REC) == REC_SIZE


class UpgradeState(enum.IntEnum):
    IDLE = 0
    PENDING = 1
    BACKED_UP = 2
    TRIAL = 3
    TRYING = 4
    CONFIRMED = 5
    REJECTED = 6
    ROLLED_BACK = 7
    ABORTED = 8


@dataclass
class JournalRecord:
    seq: int
    state: UpgradeState
    dest: int
    extent: int
    new_len: int
    new_crc: int
    old_len: int
    old_crc: int
    file: str
    offset: int          # where in the NOR


def read_journal(nor: bytes) -> list[JournalRecord]:
    """The valid records of both journal sectors, in sequence order (torn records skipped)."""
    out = []
    for s in range(JOURNAL_SECTORS):
        for i in range(SECTOR // REC_SIZE):
            off = JOURNAL + s * SECTOR + i * REC_SIZE
            raw = nor[off:off + REC_SIZE]
            if len(raw) < REC_SIZE:
                continue
            (magic, seq, state, dest, extent, nlen, ncrc, olen, ocrc, file, _r,
             crc) = struct.unpack(_REC, raw)
            if magic != REC_MAGIC or zlib.crc32(raw[:60]) != crc:
                continue
            try:
                st = UpgradeState(state)
            except ValueError:
                continue
            out.append(JournalRecord(seq, st, dest, extent, nlen, ncrc, olen, ocrc,
                                     file.rstrip(b"\0").decode("ascii", "replace"), off))
    return sorted(out, key=lambda r: r.seq)


def slot_image(nor: bytes, slot: int, where: str) -> ImageHeader:
    """The checked header of the image in a slot (DOWNLOAD or BACKUP); ImageError if bad."""
    data = nor[slot:slot + SLOT_SIZE]
    if len(data) < SLOT_SIZE:
        raise ImageError(f"{where}: the NOR image ends at 0x{len(nor):x}, before the slot")
    return check_image(data, at=slot, where=where)
