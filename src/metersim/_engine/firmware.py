"""A firmware image: an ELF file read once (segments, symbols, code ranges) and the build
target it records.

metersim's firmware build writes the target into every ELF as a note (section
`.note.metersim.target`, owner "metersim", type 1, descriptor `target=f103rb\\0part=STM32F103RB\\0
core=cortex-m3\\0`; see firmware/mk/target_note.S). The board a firmware runs on comes from
that note, never from the file's name or folder: `Firmware(path).target`, `.part`, `.core`,
`.board`. An ELF from another build has no note (`target is None`); it needs a platform.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.constants import P_FLAGS
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from metersim._errors import SetupError

NOTE_SECTION = ".note.metersim.target"
NOTE_OWNER = b"metersim"
NOTE_TYPE_TARGET = 1


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


def parse_target_note(data: bytes, where: str) -> dict[str, str]:
    """The key=value fields of the metersim note in a `.note.metersim.target` section."""
    off = 0
    while off + 12 <= len(data):
        namesz, descsz, ntype = (int.from_bytes(data[off + i:off + i + 4], "little") for i in (0, 4, 8))
        name_at = off + 12
        desc_at = name_at + (namesz + 3) // 4 * 4
        end = desc_at + (descsz + 3) // 4 * 4
        if desc_at + descsz > len(data):
            break
        if data[name_at:name_at + namesz].rstrip(b"\0") == NOTE_OWNER and ntype == NOTE_TYPE_TARGET:
            fields = {}
            for item in data[desc_at:desc_at + descsz].split(b"\0"):
                key, sep, value = item.decode("ascii", "replace").partition("=")
                if sep:
                    fields[key] = value
            if not fields.get("target") or not fields.get("core"):
                raise SetupError(f"{where}: the {NOTE_SECTION} note lacks target= or core= "
                                 f"(found {fields or 'nothing'})")
            return fields
        off = end
    raise SetupError(f"{where}: {NOTE_SECTION} holds no metersim target note")


class Firmware:
    """An ELF firmware image, read when constructed (SetupError if it cannot be read).

    `segments` (placed by physical address), `entry`, `symbols`, `text_ranges`, and the build
    target from the ELF's note: `target` ("f103rb"), `part` ("STM32F103RB"), `core`
    ("cortex-m3"), `board` (the bare board metersim builds for it); all None without a note.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.target: str | None = None
        self.part: str | None = None
        self.core: str | None = None
        if not self.path.is_file():
            raise SetupError(f"firmware file not found: {self.path} (build it with `make firmware`)")
        try:
            with self.path.open("rb") as f:
                self._read(ELFFile(f))
        except ELFError as e:
            raise SetupError(f"{self.path}: not a valid ELF file ({e})") from None

    def _read(self, elf: ELFFile) -> None:
        if elf["e_machine"] != "EM_ARM":
            raise SetupError(f"{self.path}: not an ARM ELF (machine {elf['e_machine']})")
        self.entry = elf["e_entry"]
        self.segments = [Segment(seg["p_paddr"], seg["p_vaddr"], seg.data(), seg["p_memsz"],
                                 bool(seg["p_flags"] & P_FLAGS.PF_X))
                         for seg in elf.iter_segments()
                         if seg["p_type"] == "PT_LOAD" and seg["p_filesz"] != 0]
        entries = []
        self.text_ranges = []
        for sec in elf.iter_sections():
            if isinstance(sec, SymbolTableSection):
                for sym in sec.iter_symbols():
                    st = sym["st_info"]["type"]
                    if st in ("STT_FUNC", "STT_OBJECT") and sym.name:
                        addr = sym["st_value"] & ~1 if st == "STT_FUNC" else sym["st_value"]
                        entries.append((addr, sym["st_size"], sym.name))
            if sec["sh_flags"] & 0x4 and sec["sh_size"]:  # SHF_EXECINSTR
                self.text_ranges.append((sec["sh_addr"], sec["sh_addr"] + sec["sh_size"]))
            if sec.name == NOTE_SECTION:
                note = parse_target_note(sec.data(), str(self.path))
                self.target, self.core = note["target"], note["core"]
                self.part = note.get("part") or None
        self.symbols = Symbols(entries)

    @property
    def board(self):
        """The bare board metersim builds for this firmware's target (metersim._engine.boards),
        or None (no note, or a target without a bare board)."""
        from metersim._engine.boards import BOARDS
        return BOARDS.get(self.target) if self.target else None

    def describe_target(self) -> str:
        """'f103rb (STM32F103RB, cortex-m3)', or a sentence saying there is no note."""
        if self.target is None:
            return f"no build target recorded (no {NOTE_SECTION} note)"
        return f"{self.target} ({self.part or 'part unknown'}, {self.core})"

    def executable_bytes(self):
        for seg in self.segments:
            if seg.executable:
                yield seg.paddr, seg.data

    def __repr__(self) -> str:
        return f"Firmware({str(self.path)!r}, target={self.target!r})"
