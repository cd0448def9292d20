"""Line and function coverage of firmware sources, merged over runs and images, written as lcov
tracefiles (genhtml renders them), Cobertura XML (CI servers read it) or a terminal table.

Counts are 1 (ran) or 0 (did not): the recorder sees which code ran, not how often.
"""

from __future__ import annotations

import bisect
import fnmatch
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import quoteattr

from metersim._coverage.dwarf_map import ExecutedRanges, code_map


@dataclass
class FunctionCoverage:
    line: int
    hit: int
    lines: set[int] = field(default_factory=set)


@dataclass
class FileCoverage:
    path: str
    lines: dict[int, int] = field(default_factory=dict)             # line -> 0/1
    functions: dict[str, FunctionCoverage] = field(default_factory=dict)

    @property
    def lines_found(self) -> int:
        return len(self.lines)

    @property
    def lines_hit(self) -> int:
        return sum(1 for h in self.lines.values() if h)

    @property
    def functions_found(self) -> int:
        return len(self.functions)

    @property
    def functions_hit(self) -> int:
        return sum(1 for f in self.functions.values() if f.hit)


def _rate(hit: int, found: int) -> float:
    return hit / found if found else 1.0


class CoverageData:
    """Coverage per source file (absolute paths). Build it from an ELF and the blocks a run
    executed (`from_blocks`), merge runs and images with `merge`, keep some files with
    `filtered`, then `write_lcov`, `write_cobertura`, `summary`."""

    def __init__(self, files: dict[str, FileCoverage] | None = None):
        self.files: dict[str, FileCoverage] = files or {}

    @classmethod
    def from_blocks(cls, elf, blocks) -> "CoverageData":
        """Coverage of `elf`'s sources given the executed blocks [(start, size), ...]."""
        cmap = code_map(elf)
        ran = ExecutedRanges(blocks)
        data = cls()
        per_path = [data._file(p) for p in cmap.paths]
        for start, end, pid, line in cmap.rows:
            lines = per_path[pid].lines
            if not lines.get(line):
                lines[line] = 1 if ran.overlaps(start, end) else 0
        starts = [r[0] for r in cmap.rows]
        for fn in cmap.functions:
            fc = data._file(fn.path)
            own = {line for lo, hi in fn.ranges
                   for _s, _e, pid, line in cmap.rows[bisect.bisect_left(starts, lo):
                                                      bisect.bisect_left(starts, hi)]
                   if cmap.paths[pid] == fn.path}
            hit = 1 if ran.contains(fn.entry) else 0
            _merge_function(fc, fn.name, FunctionCoverage(fn.line, hit, own))
        return data

    def _file(self, path: str) -> FileCoverage:
        fc = self.files.get(path)
        if fc is None:
            fc = self.files[path] = FileCoverage(path)
        return fc

    def merge(self, other: "CoverageData") -> "CoverageData":
        """Add `other` into this one (a line or function ran if it ran in either)."""
        for path, ofc in other.files.items():
            fc = self._file(path)
            for line, hit in ofc.lines.items():
                fc.lines[line] = max(fc.lines.get(line, 0), hit)
            for name, ofn in ofc.functions.items():
                _merge_function(fc, name, FunctionCoverage(ofn.line, ofn.hit, set(ofn.lines)))
        return self

    def filtered(self, include=(), exclude=(), existing: bool = False) -> "CoverageData":
        """The files whose path matches one of `include` (all when empty) and none of
        `exclude` (fnmatch patterns on the absolute path, '*' crosses '/'); with `existing`,
        only sources present on this machine (not a library's, built elsewhere)."""
        def keep(p: str) -> bool:
            if include and not any(fnmatch.fnmatchcase(p, pat) for pat in include):
                return False
            if existing and not os.path.isfile(p):
                return False
            return not any(fnmatch.fnmatchcase(p, pat) for pat in exclude)
        return CoverageData({p: fc for p, fc in self.files.items() if keep(p)})

    # ------------------------------------------------------------------ totals
    def totals(self) -> dict[str, int]:
        """lines_found, lines_hit, functions_found, functions_hit over every file."""
        fcs = self.files.values()
        return {"lines_found": sum(f.lines_found for f in fcs),
                "lines_hit": sum(f.lines_hit for f in fcs),
                "functions_found": sum(f.functions_found for f in fcs),
                "functions_hit": sum(f.functions_hit for f in fcs)}

    def line_hit(self, path: str | Path, line: int) -> int | None:
        """1 if `line` of `path` ran, 0 if it has code that did not run, None if no code."""
        fc = self.files.get(os.path.normpath(os.path.abspath(path)))
        return None if fc is None else fc.lines.get(line)

    def function_hit(self, name: str, path: str | Path | None = None) -> int | None:
        """1 if the function ran, 0 if not, None if there is no such function (in `path`)."""
        want = os.path.normpath(os.path.abspath(path)) if path is not None else None
        found = None
        for p, fc in self.files.items():
            if want is not None and p != want:
                continue
            fn = fc.functions.get(name)
            if fn is not None:
                found = max(found or 0, fn.hit)
        return found

    def source_root(self) -> str:
        """The deepest folder holding every file."""
        if not self.files:
            return os.getcwd()
        return os.path.commonpath([os.path.dirname(p) for p in self.files])

    # ------------------------------------------------------------------ writers
    def write_lcov(self, path: str | Path, test_name: str = "") -> Path:
        """An lcov tracefile (TN/SF/FN/FNDA/DA records; genhtml renders it)."""
        out = []
        for p in sorted(self.files):
            fc = self.files[p]
            out.append(f"TN:{_lcov_name(test_name)}")
            out.append(f"SF:{p}")
            fns = sorted(fc.functions.items(), key=lambda kv: (kv[1].line, kv[0]))
            out += [f"FN:{fn.line},{name}" for name, fn in fns]
            out += [f"FNDA:{fn.hit},{name}" for name, fn in fns]
            out += [f"FNF:{fc.functions_found}", f"FNH:{fc.functions_hit}"]
            out += [f"DA:{line},{hit}" for line, hit in sorted(fc.lines.items())]
            out += [f"LF:{fc.lines_found}", f"LH:{fc.lines_hit}", "end_of_record"]
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(out) + "\n", encoding="utf-8")
        return path

    def write_cobertura(self, path: str | Path, source_root: str | Path | None = None) -> Path:
        """Cobertura XML (the DTD's coverage-04 layout): a package per folder, a class per
        source file, its functions as methods; no branch data (branch-rate 0)."""
        root = os.path.abspath(source_root) if source_root else self.source_root()
        t = self.totals()
        stamp = int(os.environ.get("SOURCE_DATE_EPOCH", time.time()))
        x = ['<?xml version="1.0" ?>',
             '<!DOCTYPE coverage SYSTEM "http://cobertura.sourceforge.net/xml/coverage-04.dtd">',
             f'<coverage line-rate="{_rate(t["lines_hit"], t["lines_found"]):.4f}" '
             f'branch-rate="0" lines-covered="{t["lines_hit"]}" '
             f'lines-valid="{t["lines_found"]}" branches-covered="0" branches-valid="0" '
             f'complexity="0" version="metersim" timestamp="{stamp * 1000}">',
             f"  <sources><source>{_xml(root)}</source></sources>", "  <packages>"]
        packages: dict[str, list[FileCoverage]] = {}
        for p in sorted(self.files):
            rel = os.path.relpath(p, root)
            packages.setdefault(os.path.dirname(rel).replace(os.sep, ".") or ".", []).append(
                self.files[p])
        for pkg, fcs in packages.items():
            hit, found = sum(f.lines_hit for f in fcs), sum(f.lines_found for f in fcs)
            x.append(f'    <package name={quoteattr(pkg)} line-rate="{_rate(hit, found):.4f}" '
                     'branch-rate="0" complexity="0">')
            x.append("      <classes>")
            for fc in fcs:
                rel = os.path.relpath(fc.path, root)
                x.append(f'        <class name={quoteattr(os.path.basename(rel))} '
                         f'filename={quoteattr(rel)} '
                         f'line-rate="{_rate(fc.lines_hit, fc.lines_found):.4f}" '
                         'branch-rate="0" complexity="0">')
                x.append("          <methods>")
                for name, fn in sorted(fc.functions.items(), key=lambda kv: (kv[1].line, kv[0])):
                    own = sorted(ln for ln in fn.lines if ln in fc.lines)
                    ran = sum(1 for ln in own if fc.lines[ln])
                    x.append(f'            <method name={quoteattr(name)} signature="" '
                             f'line-rate="{_rate(ran, len(own)):.4f}" branch-rate="0" '
                             f'complexity="0"><lines>')
                    x += [f'              <line number="{ln}" hits="{fc.lines[ln]}" '
                          'branch="false"/>' for ln in own]
                    x.append("            </lines></method>")
                x.append("          </methods>")
                x.append("          <lines>")
                x += [f'            <line number="{ln}" hits="{hit}" branch="false"/>'
                      for ln, hit in sorted(fc.lines.items())]
                x += ["          </lines>", "        </class>"]
            x += ["      </classes>", "    </package>"]
        x += ["  </packages>", "</coverage>"]
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(x) + "\n", encoding="utf-8")
        return path

    def summary(self, source_root: str | Path | None = None) -> str:
        """A table: per file, lines and functions run of those with code; then the total."""
        root = os.path.abspath(source_root) if source_root else self.source_root()
        rows = []
        for p in sorted(self.files):
            fc = self.files[p]
            rows.append((os.path.relpath(p, root), fc.lines_hit, fc.lines_found,
                         fc.functions_hit, fc.functions_found))
        t = self.totals()
        rows.append(("TOTAL", t["lines_hit"], t["lines_found"], t["functions_hit"],
                     t["functions_found"]))
        width = max([len(r[0]) for r in rows] + [4])
        head = f"{'file':<{width}}  {'lines':>16}  {'functions':>14}"
        out = [f"coverage of {root}", head, "-" * len(head)]
        for i, (name, lh, lf, fh, ff) in enumerate(rows):
            if i == len(rows) - 1:
                out.append("-" * len(head))
            out.append(f"{name:<{width}}  {_cell(lh, lf, 5)}  {_cell(fh, ff, 4)}")
        return "\n".join(out)


def _cell(hit: int, found: int, digits: int) -> str:
    pct = f"{100 * hit / found:3.0f}%" if found else "   -"
    return f"{hit:>{digits}}/{found:<{digits}} {pct}"


def _merge_function(fc: FileCoverage, name: str, fn: FunctionCoverage) -> None:
    cur = fc.functions.get(name)
    if cur is None:
        fc.functions[name] = fn
    else:   # the same function in another image, or out-of-line copies of an inline one
        cur.hit = max(cur.hit, fn.hit)
        cur.lines |= fn.lines
        cur.line = min(cur.line, fn.line) if cur.line and fn.line else cur.line or fn.line


def _lcov_name(name: str) -> str:
    """lcov test names: letters, digits and underscores."""
    return "".join(c if c.isalnum() or c == "_" else "_" for c in name)


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
