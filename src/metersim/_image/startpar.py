"""The start-parameter file (`start.par` in flashfs, an image of kind 4): one 64-byte record
per process the RTOS starts, in start order (docs/meter_flash_layout.md)."""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass, field

from metersim._image.header import ImageError, Kind, make_image, HEADER_SIZE, check_image

_FMT = "<20sBBBBBBHI4I16s"
RECORD_SIZE = 64
assert struct.calcsize(_FMT) == RECORD_SIZE


class Perm(enum.IntFlag):
    """MS_PERM_* of firmware/rtos/include/ms_rtos.h."""
    PRIV = 1 << 0
    EEPROM_RD = 1 << 1
    EEPROM_WR = 1 << 2


@dataclass
class StartRecord:
    file: str
    prio: int = 32
    autostart: bool = True
    max_threads: int = 4
    max_kobjs: int = 8
    max_files: int = 4
    stack_size: int = 1024
    perms: int = 0
    eeprom: list[tuple[int, int]] = field(default_factory=list)

    def pack(self) -> bytes:
        name = self.file.encode("ascii")
        where = f"start parameters of {self.file!r}"
        if not 0 < len(name) < 20:
            raise ImageError(f"{where}: file name of 1..19 characters")
        if not 0 <= self.prio <= 63:
            raise ImageError(f"{where}: prio {self.prio}: 0 (highest) .. 63")
        for key in ("max_threads", "max_kobjs", "max_files"):
            if not 0 <= getattr(self, key) <= 255:
                raise ImageError(f"{where}: {key} {getattr(self, key)}: 0..255")
        if not 0 < self.stack_size <= 0xFFFF or self.stack_size % 8:
            raise ImageError(f"{where}: stack_size {self.stack_size}: a multiple of 8 below 64 KiB")
        if len(self.eeprom) > 2:
            raise ImageError(f"{where}: at most 2 EEPROM windows, got {len(self.eeprom)}")
        win = [v for w in self.eeprom for v in w] + [0] * (4 - 2 * len(self.eeprom))
        return struct.pack(_FMT, name, self.prio, int(self.autostart), self.max_threads,
                           self.max_kobjs, self.max_files, 0, self.stack_size, int(self.perms),
                           *win, bytes(16))

    @classmethod
    def unpack(cls, data: bytes) -> "StartRecord":
        (name, prio, auto, thr, kob, files, _r, stack, perms, s0, n0, s1, n1,
         _res) = struct.unpack(_FMT, data)
        eeprom = [(s, n) for s, n in ((s0, n0), (s1, n1)) if n]
        return cls(name.rstrip(b"\0").decode("ascii", "replace"), prio, bool(auto), thr, kob,
                   files, stack, perms, eeprom)


def encode_start_par(records: list[StartRecord], *, version: int | str = "1.0.0",
                     load_addr: int = 0) -> bytes:
    """The start.par image (header of kind 4 + the records)."""
    payload = b"".join(r.pack() for r in records)
    return make_image(Kind.PARAMS, "start.par", payload, version=version, load_addr=load_addr)


def decode_start_par(image: bytes, where: str = "start.par") -> list[StartRecord]:
    h = check_image(image, where=where, kind=Kind.PARAMS)
    if h.length % RECORD_SIZE:
        raise ImageError(f"{where}: payload of {h.length} bytes is not a whole number of "
                         f"{RECORD_SIZE}-byte records")
    body = image[HEADER_SIZE:HEADER_SIZE + h.length]
    return [StartRecord.unpack(body[i:i + RECORD_SIZE]) for i in range(0, len(body), RECORD_SIZE)]
