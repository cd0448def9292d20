"""Images from linked ELF files: the bytes of the PT_LOAD segments from the image's load
address on, with the 96-byte header (reserved by firmware/image/ms_header_space.S at the
start) filled in (header.make_image)."""

from __future__ import annotations

from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from metersim._image.header import HEADER_SIZE, ImageError, Kind, make_image

RTOS_VECTORS = 0x200          # the RTOS's vector table follows its header at +0x200


def elf_bytes(path: Path, fill: int = 0xFF) -> tuple[int, bytes, int, dict[str, int]]:
    """(lowest load address, bytes from there to the end of the last segment with gaps filled,
    ELF entry, symbols by name) of an ELF."""
    try:
        with open(path, "rb") as f:
            elf = ELFFile(f)
            segs = [(s["p_paddr"], s.data()) for s in elf.iter_segments()
                    if s["p_type"] == "PT_LOAD" and s["p_filesz"]]
            entry = elf["e_entry"]
            syms = {}
            for sec in elf.iter_sections():
                if isinstance(sec, SymbolTableSection):
                    for sym in sec.iter_symbols():
                        if sym.name:
                            syms[sym.name] = sym["st_value"]
    except (OSError, ELFError) as e:
        raise ImageError(f"{path}: cannot read the ELF ({e})") from None
    if not segs:
        raise ImageError(f"{path}: no loadable segments")
    lo = min(a for a, _ in segs)
    hi = max(a + len(d) for a, d in segs)
    if hi - lo > 0x100000:
        raise ImageError(f"{path}: segments span 0x{lo:08x}..0x{hi:08x}, more than the "
                         "1 MiB on-chip flash (RAM addresses given as load addresses?)")
    out = bytearray([fill]) * (hi - lo)
    for a, d in segs:
        out[a - lo:a - lo + len(d)] = d
    return lo, bytes(out), entry, syms


def image_from_elf(path: str | Path, kind: int, name: str, version: str | int) -> bytes:
    """The image of an RTOS, service or app ELF linked behind an empty header (ms_header)."""
    path = Path(path)
    lo, data, entry, syms = elf_bytes(path)
    if syms.get("ms_header") != lo:
        raise ImageError(f"{path}: no image header space at its start 0x{lo:08x} (link "
                         "firmware/image/ms_header_space.S first: symbol ms_header)")
    ram_base = ram_size = 0
    if kind == Kind.RTOS:
        if len(data) < RTOS_VECTORS + 8:
            raise ImageError(f"{path}: no vector table at +0x{RTOS_VECTORS:x}")
        entry = int.from_bytes(data[RTOS_VECTORS + 4:RTOS_VECTORS + 8], "little")
    else:
        ram_base, ram_size = syms.get("__ms_ram_base", 0), syms.get("__ms_ram_size", 0)
    if not entry & 1:
        raise ImageError(f"{path}: entry 0x{entry:08x} is not a Thumb address")
    return make_image(kind, name, data[HEADER_SIZE:], version=version, load_addr=lo,
                      entry=entry, ram_base=ram_base, ram_size=ram_size, flags=1)


def boot_bytes(path: str | Path) -> bytes:
    """The bootloader's bytes from 0x08000000 (an ELF, or a raw .bin)."""
    path = Path(path)
    if path.suffix == ".bin":
        try:
            return path.read_bytes()
        except OSError as e:
            raise ImageError(f"{path}: {e.strerror}") from None
    lo, data, _entry, _syms = elf_bytes(path)
    if lo != 0x08000000:
        raise ImageError(f"{path}: the bootloader must start at 0x08000000, not 0x{lo:08x}")
    return data
