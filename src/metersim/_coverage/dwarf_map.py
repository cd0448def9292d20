"""What a firmware's code is, line by line: the DWARF line table and functions of an ELF
(pyelftools), and which of them a set of executed code blocks touched.

A line-table row maps the instructions from its address up to the next row's address to one
source line; a line has code when some row of it covers bytes inside the image's executable
sections (code that `--gc-sections` dropped keeps rows at address 0: not in the image, not
counted). A line ran when an executed block overlaps one of its rows. A call that the compiler
inlined counts as code of its call line too (the DW_TAG_inlined_subroutine's ranges): in
optimised firmware the whole of `MST_EQ(ms_list_first(&l), 0)` may be the callee's
instructions, and the line ran when they did. A function (a `DW_TAG_subprogram` with code) ran
when its entry address did; its lines are the rows of its own file inside its address ranges.
"""

from __future__ import annotations

import bisect
import os
from dataclasses import dataclass, field
from pathlib import Path

from elftools.common.exceptions import DWARFError, ELFError
from elftools.dwarf.ranges import BaseAddressEntry
from elftools.elf.elffile import ELFFile

from metersim._errors import SetupError


@dataclass
class Function:
    name: str
    path: str
    line: int
    entry: int
    ranges: list[tuple[int, int]]


@dataclass
class CodeMap:
    """One ELF's code: rows (start, end, path index, line), sorted by start; functions."""
    elf: str
    paths: list[str]
    rows: list[tuple[int, int, int, int]]
    functions: list[Function] = field(default_factory=list)


class ExecutedRanges:
    """Executed blocks (start, size) merged into sorted disjoint [start, end) ranges."""

    def __init__(self, blocks):
        merged: list[list[int]] = []
        for start, size in sorted(blocks):
            end = start + size
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        self.starts = [a for a, _ in merged]
        self.ends = [b for _, b in merged]

    def overlaps(self, start: int, end: int) -> bool:
        i = bisect.bisect_right(self.starts, end - 1) - 1
        return i >= 0 and self.ends[i] > start

    def contains(self, address: int) -> bool:
        return self.overlaps(address, address + 1)


_CACHE: dict[tuple[str, int, int], CodeMap] = {}


def code_map(elf: str | Path) -> CodeMap:
    """The CodeMap of `elf`, read once per file version (path, size, mtime)."""
    path = Path(elf).resolve()
    try:
        st = path.stat()
    except OSError:
        raise SetupError(f"coverage: firmware file not found: {elf}") from None
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _CACHE:
        _CACHE[key] = _read(path)
    return _CACHE[key]


def _read(path: Path) -> CodeMap:
    try:
        with path.open("rb") as f:
            elf = ELFFile(f)
            if not elf.has_dwarf_info() or elf.get_section_by_name(".debug_line") is None:
                raise SetupError(f"coverage: {path} has no DWARF line table: build it with -g "
                                 "(metersim's firmware build does)")
            text = sorted((s["sh_addr"], s["sh_addr"] + s["sh_size"]) for s in elf.iter_sections()
                          if s["sh_flags"] & 0x4 and s["sh_size"] and s["sh_addr"])  # EXECINSTR
            return _read_dwarf(str(path), elf.get_dwarf_info(), text)
    except ELFError as e:
        raise SetupError(f"coverage: {path} is not a valid ELF file ({e})") from None


def _in_text(text, start: int, end: int) -> bool:
    return any(a <= start and end <= b for a, b in text)


def _str(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _file_table(lineprog, comp_dir: str) -> dict[int, str]:
    """DWARF file number -> absolute normalised path (numbering from 1 before DWARF 5, from
    0 in DWARF 5, where directory 0 is the compilation directory)."""
    hdr = lineprog.header
    v5 = hdr.version >= 5
    dirs = [_str(d) for d in hdr.include_directory]
    out = {}
    for i, fe in enumerate(hdr.file_entry):
        d = fe.dir_index
        if v5:
            base = dirs[d] if d < len(dirs) else comp_dir
        else:
            base = comp_dir if d == 0 else dirs[d - 1] if d - 1 < len(dirs) else comp_dir
        out[i if v5 else i + 1] = os.path.normpath(os.path.join(comp_dir, base, _str(fe.name)))
    return out


def _read_dwarf(elf_path: str, dwarf, text) -> CodeMap:
    paths: list[str] = []
    index: dict[str, int] = {}
    rows: list[tuple[int, int, int, int]] = []
    functions: list[Function] = []

    def path_id(p: str) -> int:
        if p not in index:
            index[p] = len(paths)
            paths.append(p)
        return index[p]

    for cu in dwarf.iter_CUs():
        top = cu.get_top_DIE()
        comp_dir = _str(top.attributes["DW_AT_comp_dir"].value) \
            if "DW_AT_comp_dir" in top.attributes else ""
        lineprog = dwarf.line_program_for_CU(cu)
        if lineprog is None:
            continue
        files = _file_table(lineprog, comp_dir)
        prev = None   # (address, file, line) of the row before, in this sequence
        for entry in lineprog.get_entries():
            st = entry.state
            if st is None:
                continue
            if prev is not None and st.address > prev[0] and prev[2] > 0 \
                    and prev[1] in files and _in_text(text, prev[0], st.address):
                rows.append((prev[0], st.address, path_id(files[prev[1]]), prev[2]))
            prev = None if st.end_sequence else (st.address, st.file, st.line)
        base = top.attributes["DW_AT_low_pc"].value if "DW_AT_low_pc" in top.attributes else 0
        for die in top.iter_children():
            fn = _function(die, files, text)
            if fn is None:
                continue
            functions.append(fn)
            for call in _inlined_calls(die):
                f = call.attributes.get("DW_AT_call_file")
                ln = call.attributes.get("DW_AT_call_line")
                if f is None or ln is None or f.value not in files or not ln.value:
                    continue
                for lo, hi in _ranges(call, dwarf, cu, base):
                    if hi > lo and _in_text(text, lo, hi):
                        rows.append((lo, hi, path_id(files[f.value]), ln.value))
    rows.sort()
    return CodeMap(elf_path, paths, rows, functions)


_SCOPES = ("DW_TAG_inlined_subroutine", "DW_TAG_lexical_block")


def _inlined_calls(die):
    """The DW_TAG_inlined_subroutine DIEs below `die`, at any depth."""
    for child in die.iter_children():
        if child.tag == "DW_TAG_inlined_subroutine":
            yield child
        if child.has_children and child.tag in _SCOPES:   # not into call sites, types ...
            yield from _inlined_calls(child)


def _ranges(die, dwarf, cu, base: int) -> list[tuple[int, int]]:
    """[start, end) address ranges of `die`: low/high pc, or its range list."""
    a = die.attributes
    if "DW_AT_low_pc" in a and "DW_AT_high_pc" in a:
        low, high = a["DW_AT_low_pc"].value, a["DW_AT_high_pc"]
        return [(low, high.value if high.form == "DW_FORM_addr" else low + high.value)]
    if "DW_AT_ranges" not in a or a["DW_AT_ranges"].form == "DW_FORM_rnglistx":
        return []
    lists = dwarf.range_lists()
    if lists is None:
        return []
    try:
        entries = lists.get_range_list_at_offset(a["DW_AT_ranges"].value, cu=cu)
    except DWARFError:
        return []
    out = []
    for e in entries:
        if isinstance(e, BaseAddressEntry):
            base = e.base_address
        elif e.is_absolute:
            out.append((e.begin_offset, e.end_offset))
        else:
            out.append((base + e.begin_offset, base + e.end_offset))
    return out


def _attr(die, name: str):
    """`name` of `die`, else of the DIE it completes (a definition's DW_AT_specification, an
    out-of-line instance's DW_AT_abstract_origin)."""
    while die is not None:
        if name in die.attributes:
            return die.attributes[name]
        nxt = None
        for link in ("DW_AT_abstract_origin", "DW_AT_specification"):
            if link in die.attributes:
                nxt = die.get_DIE_from_attribute(link)
                break
        die = nxt
    return None


def _function(die, files, text) -> Function | None:
    if die.tag != "DW_TAG_subprogram" or "DW_AT_low_pc" not in die.attributes:
        return None
    low = die.attributes["DW_AT_low_pc"].value
    high_attr = die.attributes.get("DW_AT_high_pc")
    if high_attr is None:
        return None
    high = high_attr.value if high_attr.form == "DW_FORM_addr" else low + high_attr.value
    low &= ~1
    high &= ~1
    if not _in_text(text, low, max(high, low + 1)):
        return None
    name = _attr(die, "DW_AT_name")
    file_no = _attr(die, "DW_AT_decl_file")
    if name is None or file_no is None or file_no.value not in files:
        return None
    line = _attr(die, "DW_AT_decl_line")
    return Function(_str(name.value), files[file_no.value], line.value if line else 0, low,
                    [(low, high)])
