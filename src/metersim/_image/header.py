"""The image header every RTOS, service, app and start-parameter image starts with (96 bytes,
little-endian; docs/meter_flash_layout.md), as firmware/image/ms_image.c checks it."""

from __future__ import annotations

import enum
import hashlib
import struct
import zlib
from dataclasses import dataclass, field

from metersim._errors import CheckFailed

MAGIC = 0x4D49534D                 # "MSIM"
HDR_VERSION = 1
HEADER_SIZE = 96
FLAG_XIP = 1
_FMT = "<IBBHIIIIIII16s32s8sI"
assert struct.calcsize(_FMT) == HEADER_SIZE


class ImageError(CheckFailed):
    """An image, flashfs or factory image that is damaged or inconsistent: says what is
    wrong and where (offset, field, expected and seen). `metersim image` exits 1 on it."""


class Kind(enum.IntEnum):
    RTOS = 1
    SERVICE = 2
    APP = 3
    PARAMS = 4
    BOOT = 5          # boot descriptor: its payload is the bootloader at 0x08000000


def version_str(v: int) -> str:
    return f"{v >> 16}.{(v >> 8) & 0xFF}.{v & 0xFF}"


def parse_version(text: str | int) -> int:
    """'1.2.3' (or an int already packed) -> major << 16 | minor << 8 | patch."""
    if isinstance(text, int):
        return text
    parts = str(text).split(".")
    if not 1 <= len(parts) <= 3 or not all(p.isdigit() for p in parts):
        raise ImageError(f"version {text!r}: expected MAJOR.MINOR.PATCH")
    nums = [int(p) for p in parts] + [0] * (3 - len(parts))
    if nums[0] > 0xFFFF or nums[1] > 0xFF or nums[2] > 0xFF:
        raise ImageError(f"version {text!r}: major <= 65535, minor and patch <= 255")
    return nums[0] << 16 | nums[1] << 8 | nums[2]


@dataclass
class ImageHeader:
    kind: int
    name: str
    version: int = 0
    load_addr: int = 0
    entry: int = 0
    length: int = 0
    crc32: int = 0
    ram_base: int = 0
    ram_size: int = 0
    flags: int = 0
    sha256: bytes = field(default=bytes(32))
    magic: int = MAGIC
    hdr_version: int = HDR_VERSION
    hdr_crc32: int | None = None

    def pack(self) -> bytes:
        name = self.name.encode("ascii")
        if len(name) > 15:
            raise ImageError(f"image name {self.name!r}: at most 15 characters")
        body = struct.pack(_FMT, self.magic, self.kind, self.hdr_version, self.flags,
                           self.version, self.load_addr, self.entry, self.length, self.crc32,
                           self.ram_base, self.ram_size, name, self.sha256, bytes(8), 0)
        crc = zlib.crc32(body[:92]) if self.hdr_crc32 is None else self.hdr_crc32
        return body[:92] + struct.pack("<I", crc)

    @classmethod
    def unpack(cls, data: bytes) -> "ImageHeader":
        if len(data) < HEADER_SIZE:
            raise ImageError(f"image header: {len(data)} bytes, expected {HEADER_SIZE}")
        (magic, kind, hv, flags, version, load, entry, length, crc, rb, rs, name, sha, _res,
         hcrc) = struct.unpack(_FMT, data[:HEADER_SIZE])
        return cls(kind=kind, name=name.rstrip(b"\0").decode("ascii", "replace"),
                   version=version, load_addr=load, entry=entry, length=length, crc32=crc,
                   ram_base=rb, ram_size=rs, flags=flags, sha256=sha, magic=magic,
                   hdr_version=hv, hdr_crc32=hcrc)

    @property
    def version_str(self) -> str:
        return version_str(self.version)

    @property
    def kind_name(self) -> str:
        try:
            return Kind(self.kind).name.lower()
        except ValueError:
            return f"kind {self.kind}"


def make_image(kind: int, name: str, payload: bytes, *, version: int | str = 0,
               load_addr: int = 0, entry: int = 0, ram_base: int = 0, ram_size: int = 0,
               flags: int = 0) -> bytes:
    """Header + payload, with length, CRC-32 and SHA-256 of the payload filled in."""
    if ram_size and (ram_size < 4096 or ram_size & (ram_size - 1) or ram_base % ram_size):
        raise ImageError(f"{name}: ram_size 0x{ram_size:x} at 0x{ram_base:08x}: a power of two "
                         "of at least 4 KiB, aligned to its size")
    hdr = ImageHeader(kind=int(kind), name=name, version=parse_version(version),
                      load_addr=load_addr, entry=entry, length=len(payload),
                      crc32=zlib.crc32(payload), ram_base=ram_base, ram_size=ram_size,
                      flags=flags, sha256=hashlib.sha256(payload).digest())
    return hdr.pack() + bytes(payload)


def check_image(data: bytes, *, at: int = 0, where: str = "image", run_addr: int | None = None,
                kind: int | None = None) -> ImageHeader:
    """Every check the firmware makes (ms_image_check), in the same order. `data` holds the
    image from its header on (possibly more after it); `at` is its offset in the enclosing
    file, for the message. Raises ImageError naming the field, its offset, expected and seen."""
    def bad(field_off: int, fieldname: str, expected, seen) -> ImageError:
        return ImageError(f"{where}: {fieldname} at offset 0x{at + field_off:x}: expected "
                          f"{expected}, found {seen}")
    if len(data) < HEADER_SIZE:
        raise bad(0, "header", f"{HEADER_SIZE} bytes", f"{len(data)} (truncated)")
    h = ImageHeader.unpack(data)
    if h.magic != MAGIC:
        raise bad(0, "magic", f"0x{MAGIC:08x}", f"0x{h.magic:08x}")
    if h.hdr_version != HDR_VERSION:
        raise bad(5, "hdr_version", HDR_VERSION, h.hdr_version)
    crc = zlib.crc32(data[:92])
    if crc != h.hdr_crc32:
        raise bad(92, "hdr_crc32", f"0x{crc:08x} (computed)", f"0x{h.hdr_crc32:08x}")
    if h.length > len(data) - HEADER_SIZE:
        raise bad(20, "length", f"at most {len(data) - HEADER_SIZE} (bytes there)",
                  f"{h.length} (truncated image)")
    if run_addr is not None and h.load_addr != run_addr:
        raise bad(12, "load_addr", f"0x{run_addr:08x} (where it is)", f"0x{h.load_addr:08x}")
    if kind is not None and h.kind != kind:
        raise bad(4, "kind", f"{int(kind)} ({Kind(kind).name.lower()})", h.kind)
    payload = data[HEADER_SIZE:HEADER_SIZE + h.length]
    crc = zlib.crc32(payload)
    if crc != h.crc32:
        raise bad(24, "crc32", f"0x{h.crc32:08x}", f"0x{crc:08x} (payload at "
                  f"0x{at + HEADER_SIZE:x}..0x{at + HEADER_SIZE + h.length:x} damaged)")
    sha = hashlib.sha256(payload).digest()
    if sha != h.sha256:
        raise bad(52, "sha256", h.sha256.hex(), sha.hex())
    return h
