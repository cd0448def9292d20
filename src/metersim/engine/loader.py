"""ELF loading and symbols.

Segments are placed by physical address (`p_paddr`), so `.data` initial values land in flash
where the startup code copies them from. Symbols serve the fault report, the bus-error log
and the GDB stub: `symbolize(addr)` gives `func+0x12`.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.constants import P_FLAGS
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from metersim.errors import SetupError


@dataclass
class Segment:
    paddr: int
    vaddr: int
    data: bytes
    memsz: int
    executable: bool


class Symbols:
    def __init__(self, entries: list[tuple[int, int, str]]):
        entries.sort()
        self._addrs = [a for a, _, _ in entries]
        self._entries = entries
        self.by_name = {name: addr for addr, _, name in entries}

    def symbolize(self, addr: int) -> str:
        addr &= ~1
        i = bisect.bisect_right(self._addrs, addr) - 1
        if i < 0:
            return f"0x{addr:08x}"
        start, size, name = self._entries[i]
        off = addr - start
        if size and off >= size and off > 0x1000:
            return f"0x{addr:08x}"
        return f"{name}+0x{off:x}" if off else name

    def function_at(self, addr: int) -> tuple[str, int] | None:
        addr &= ~1
        i = bisect.bisect_right(self._addrs, addr) - 1
        if i < 0:
            return None
        start, size, name = self._entries[i]
        if size and addr >= start + size:
            return None
        return name, start

    def lookup(self, name: str) -> int:
        if name not in self.by_name:
            raise SetupError(f"symbol {name!r} not found in the firmware")
        return self.by_name[name]


@dataclass
class Firmware:
    path: Path
    segments: list[Segment]
    entry: int
    symbols: Symbols
    text_ranges: list[tuple[int, int]]

    def executable_bytes(self):
        for seg in self.segments:
            if seg.executable:
                yield seg.paddr, seg.data


def load_elf(path: str | Path) -> Firmware:
    path = Path(path)
    if not path.is_file():
        raise SetupError(f"firmware file not found: {path} (build it with `make firmware`)")
    try:
        with path.open("rb") as f:
            elf = ELFFile(f)
            if elf["e_machine"] != "EM_ARM":
                raise SetupError(f"{path}: not an ARM ELF (machine {elf['e_machine']})")
            segments = []
            for seg in elf.iter_segments():
                if seg["p_type"] != "PT_LOAD" or seg["p_filesz"] == 0:
                    continue
                segments.append(Segment(seg["p_paddr"], seg["p_vaddr"], seg.data(), seg["p_memsz"],
                                        bool(seg["p_flags"] & P_FLAGS.PF_X)))
            entries = []
            for sec in elf.iter_sections():
                if isinstance(sec, SymbolTableSection):
                    for sym in sec.iter_symbols():
                        st = sym["st_info"]["type"]
                        if st in ("STT_FUNC", "STT_OBJECT") and sym.name:
                            addr = sym["st_value"] & ~1 if st == "STT_FUNC" else sym["st_value"]
                            entries.append((addr, sym["st_size"], sym.name))
            text = []
            for sec in elf.iter_sections():
                if sec["sh_flags"] & 0x4 and sec["sh_size"]:  # SHF_EXECINSTR
                    text.append((sec["sh_addr"], sec["sh_addr"] + sec["sh_size"]))
            return Firmware(path, segments, elf["e_entry"], Symbols(entries), text)
    except ELFError as e:
        raise SetupError(f"{path}: not a valid ELF file ({e})") from None


def find_unmask_sites(fw: Firmware) -> list[int]:
    """Addresses just after instructions that can unmask interrupts: `cpsie i`/`cpsie f`,
    and `msr PRIMASK|BASEPRI|BASEPRI_MAX|FAULTMASK, rN` (ARMv7-M A7.7.76 / A7.7.83)."""
    sites = []
    for base, data in fw.executable_bytes():
        n = len(data) - 1
        i = 0
        while i < n:
            hw = data[i] | (data[i + 1] << 8)
            if hw in (0xB662, 0xB661):  # cpsie i / cpsie f
                sites.append(base + i + 2)
            elif (hw & 0xFFF0) == 0xF380 and i + 3 < len(data):
                hw2 = data[i + 2] | (data[i + 3] << 8)
                if (hw2 & 0xFF00) == 0x8800 and (hw2 & 0xFF) in (0x10, 0x11, 0x12, 0x13):
                    sites.append(base + i + 4)
            i += 2
    return sites
