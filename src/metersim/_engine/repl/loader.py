"""Loads a .repl file with its `using` files and merges everything into one `Platform`.

Rules followed (renode-docs, "Platform description format"):
- `using` entries come first and are processed top to bottom, before the file's own entries;
  this applies recursively, so later files override earlier ones ("last value wins").
- `using "./x.repl"` (or `../`) is relative to the including file; any other relative path is
  looked up on the search paths (Renode uses its Monitor path: the Renode root); as a last
  resort metersim also tries the including file's directory and its parents, so
  `platforms/boards/b.repl` finds `platforms/cpus/c.repl` without flags. Cycles are errors.
- `using "x" prefixed "p_"` prepends `p_` to every variable declared in `x` (and its usings),
  and to references to those variables.
- An entry with a type creates a variable (only once); entries without one update it. For
  attributes, registrations, alias and connections the newest value wins; `name: none` and
  `source -> none` cancel an older one; `@ none` cancels the registration.
  `init:` / `reset:` / `preinit:` replace the older block, `init add:` etc. append to it.
- `local` variables are visible only in their own file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from metersim._engine.repl.errors import ReplSyntaxError
from metersim._engine.repl.model import (
    Connection, Entry, InlineObject, Platform, Range, Reference, Registration, Target,
)
from metersim._engine.repl.parser import NONE, ParsedFile, RawEntry, RawRegistration, Statement, UsingDecl, parse_text
from metersim._engine.repl.tags import is_tag, parse_tag
from metersim._errors import PlatformError

#: Names a platform may update without declaring them: the machine always has a system bus.
BUILTIN_NAMES = ("sysbus",)


def default_search_paths() -> list[Path]:
    """The current directory, then the folder holding metersim's own `platforms/`."""
    from metersim._resources import search_roots

    return search_roots()


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


@dataclass
class _Item:
    entry: RawEntry
    key: Any  # the variable's name, or ("local", scope, name) for a local variable


@dataclass
class _Acc:
    name: str
    type_name: str | None = None
    created_at: str = ""
    local: bool = False
    registrations: list[Registration] = field(default_factory=list)
    alias: str | None = None
    ctor_args: dict[str, Any] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)
    connections: dict[Any, Connection] = field(default_factory=dict)
    blocks: dict[str, list[Statement]] = field(default_factory=lambda: {"init": [], "reset": [], "preinit": []})
    first: RawEntry | None = None
    locations: list[str] = field(default_factory=list)


class _Loader:
    def __init__(self, search_paths: Iterable[str | os.PathLike] | None):
        self.search_paths = [Path(p) for p in (default_search_paths() if search_paths is None else search_paths)]
        self.sources: list[str] = []
        self.stack: list[Path] = []
        self.done: set[tuple[Path, tuple[str, ...]]] = set()

    # -- files -----------------------------------------------------------------------------
    def resolve(self, u: UsingDecl, base_dir: Path) -> Path:
        p = Path(u.path)
        if p.is_absolute():
            dirs = [Path(p.anchor)]
        elif u.path.startswith(("./", "../", ".\\", "..\\")):
            dirs = [base_dir]
        else:
            dirs = [*self.search_paths, base_dir, *base_dir.parents]
        for d in dirs:
            cand = d / p
            if cand.is_file():
                return cand.resolve()
        shown = [str(d) for d in dirs[:len(self.search_paths) + 1]]
        where = ", ".join(dict.fromkeys(shown)) + (" and the parents of the including file's directory"
                                                   if len(dirs) > len(shown) else "")
        raise ReplSyntaxError(u.file, u.line, u.column,
                              f"using file '{u.path}' not found (looked in: {where})", u.source_line)

    def load_file(self, real: Path, display: str, prefixes: tuple[str, ...]) -> list[_Item]:
        try:
            text = real.read_text(encoding="utf-8")
        except OSError as exc:
            raise PlatformError(f"{display}: cannot read platform description: {exc.strerror or exc}") from exc
        except UnicodeDecodeError as exc:
            raise PlatformError(f"{display}: not a UTF-8 text file ({exc.reason} at byte {exc.start})") from exc
        self.sources.append(display)
        return self.process(parse_text(text, display), real.parent, real, prefixes)

    def process(self, parsed: ParsedFile, base_dir: Path, real: Path | None,
                prefixes: tuple[str, ...]) -> list[_Item]:
        if real is not None:
            self.stack.append(real)
        items: list[_Item] = []
        for u in parsed.usings:
            target = self.resolve(u, base_dir)
            if target in self.stack:
                chain = " -> ".join(_display(p) for p in self.stack[self.stack.index(target):])
                raise ReplSyntaxError(u.file, u.line, u.column,
                                      f"using cycle: {chain} -> {_display(target)}", u.source_line)
            inner = prefixes + ((u.prefix,) if u.prefix else ())
            if (target, inner) in self.done:
                continue  # already included through another file: merge it once
            sub = self.load_file(target, _display(target), inner)
            if u.prefix:
                _apply_prefix(sub, u.prefix)
            items += sub
        scope = (str(real) if real else parsed.file, prefixes)
        local_names = {e.name for e in parsed.entries if e.local}
        for e in parsed.entries:
            key = ("local", scope, e.name) if e.name in local_names else e.name
            items.append(_Item(e, key))
        if real is not None:
            self.stack.pop()
            self.done.add((real, prefixes))
        return items


# -- prefixes ------------------------------------------------------------------------------
def _rename_value(v: Any, names: set[str], prefix: str) -> Any:
    if isinstance(v, Reference):
        return Reference(prefix + v.name) if v.name in names else v
    if isinstance(v, list):
        return [_rename_value(x, names, prefix) for x in v]
    if isinstance(v, InlineObject):
        return InlineObject(v.type_name, {k: _rename_value(x, names, prefix) for k, x in v.attrs.items()},
                            [_rename_conn(c, names, prefix) for c in v.connections])
    return v


def _rename_conn(c: Connection, names: set[str], prefix: str) -> Connection:
    return Connection(c.source, [Target(prefix + t.peripheral if t.peripheral in names else t.peripheral,
                                        t.pin, t.local_index) for t in c.targets], c.location)


def _apply_prefix(items: list[_Item], prefix: str) -> None:
    names = {it.entry.name for it in items if it.entry.type_name is not None}
    for it in items:
        e = it.entry
        if e.name in names:
            e.name = prefix + e.name
            it.key = (*it.key[:2], e.name) if isinstance(it.key, tuple) else e.name
        if e.registrations:
            for r in e.registrations:
                if r.parent in names:
                    r.parent = prefix + r.parent
                r.point = _rename_value(r.point, names, prefix)
        for a in e.attrs:
            if a.kind == "value":
                a.value = _rename_value(a.value, names, prefix)
            elif a.kind == "irq" and a.connections:
                a.connections = [_rename_conn(c, names, prefix) for c in a.connections]


# -- merging -------------------------------------------------------------------------------
def _registration(raw: RawRegistration) -> Registration:
    reg = Registration(raw.parent, location=raw.location)
    p = raw.point
    if p is None:
        pass
    elif isinstance(p, bool):
        reg.extra["point"] = p
    elif isinstance(p, int):
        reg.address = p
    elif isinstance(p, Range):
        reg.address, reg.size = p.start, p.size
    elif isinstance(p, InlineObject):
        reg.extra["type"] = p.type_name
        for k, v in p.attrs.items():
            if k == "address" and isinstance(v, int):
                reg.address = v
            elif k == "size" and isinstance(v, int):
                reg.size = v
            elif k == "range" and isinstance(v, Range):
                reg.address, reg.size = v.start, v.size
            else:
                reg.extra[k] = v
    else:
        reg.extra["point"] = p
    return reg


def _merge(items: list[_Item], predeclared: set[str]) -> tuple[dict[str, Entry], dict[str, list[Statement]]]:
    """Merge raw entries; also return each entry's final init statements (with locations)."""
    accs: dict[Any, _Acc] = {}
    for it in items:
        e = it.entry
        acc = accs.get(it.key)
        if acc is None:
            acc = accs[it.key] = _Acc(e.name, first=e)
        if e.type_name is not None:
            if acc.type_name is not None:
                raise ReplSyntaxError(e.file, e.line, e.column,
                                      f"'{e.name}' is already declared at {acc.created_at}; "
                                      "leave out the type name to update it", e.source_line)
            acc.type_name = e.type_name
            acc.created_at = e.location
            acc.local = e.local
        if e.registrations is not None:
            # As in Renode, the alias belongs to the registration: a new one resets it.
            acc.registrations = [_registration(r) for r in e.registrations]
            acc.alias = e.alias
        elif e.alias is not None:
            acc.alias = e.alias
        # Connections replace older ones per source; within one entry they add up (fan-out).
        conns: dict[Any, Connection | None] = {}
        for a in e.attrs:
            if a.kind == "value":
                target = acc.properties if a.name[:1].isupper() else acc.ctor_args
                if a.value is NONE:
                    target.pop(a.name, None)
                else:
                    target[a.name] = a.value
            elif a.kind == "irq":
                if a.connections is None:
                    for src in a.sources:
                        conns[src] = None
                else:
                    for c in a.connections:
                        prev = conns.get(c.source)
                        if prev is not None:
                            prev.targets.extend(c.targets)
                        else:
                            conns[c.source] = Connection(c.source, list(c.targets), c.location)
            else:
                block = acc.blocks[a.kind]
                if a.add:
                    block.extend(a.statements)
                else:
                    acc.blocks[a.kind] = list(a.statements)
        for src, c in conns.items():
            if c is None:
                acc.connections.pop(src, None)
            else:
                acc.connections[src] = c
        acc.locations.append(e.location)

    entries: dict[str, Entry] = {}
    inits: dict[str, list[Statement]] = {}
    for acc in accs.values():
        first = acc.first
        assert first is not None
        if acc.type_name is None and acc.name not in predeclared:
            raise ReplSyntaxError(first.file, first.line, first.column,
                                  f"entry '{acc.name}' updates a peripheral that no file declares; "
                                  "give it a type name to create it", first.source_line)
        if acc.name in entries:
            other = entries[acc.name]
            raise ReplSyntaxError(first.file, first.line, first.column,
                                  f"local '{acc.name}' clashes with '{acc.name}' declared at "
                                  f"{other.location}: peripheral names must be unique in a machine",
                                  first.source_line)
        entries[acc.name] = Entry(
            name=acc.name,
            type_name=acc.type_name,
            registrations=acc.registrations,
            ctor_args=acc.ctor_args,
            properties=acc.properties,
            connections=list(acc.connections.values()),
            init=[s.text for s in acc.blocks["init"]],
            reset=[s.text for s in acc.blocks["reset"]],
            preinit=[s.text for s in acc.blocks["preinit"]],
            alias=acc.alias,
            location=acc.created_at or first.location,
            local=acc.local,
            locations=acc.locations,
        )
        inits[acc.name] = acc.blocks["init"]
    return entries, inits


def _finish(loader: _Loader, items: list[_Item], name: str,
            predeclared: Iterable[str] | None) -> Platform:
    known = set(BUILTIN_NAMES if predeclared is None else predeclared) | set(BUILTIN_NAMES)
    entries, inits = _merge(items, known)
    # Tag is a system-bus command: only the sysbus init block can hold one.
    tags = [parse_tag(s, "sysbus") for s in inits.get("sysbus", []) if is_tag(s.text)]
    return Platform(entries=entries, sources=loader.sources, tags=tags, name=name)


def load_platform(path: str | os.PathLike, search_paths: Iterable[str | os.PathLike] | None = None,
                  *, predeclared: Iterable[str] | None = None) -> Platform:
    """Load a .repl file and everything it uses; return the merged platform.

    `search_paths` (default: the current directory and the metersim checkout) is where
    `using "platforms/cpus/x.repl"` is looked up. `predeclared` names peripherals that
    already exist (besides `sysbus`) and may be updated without being declared.
    Raises PlatformError (ReplSyntaxError, with file/line/column, for errors in the text).
    """
    p = Path(path)
    loader = _Loader(search_paths)
    if not p.is_file():
        raise PlatformError(f"{path}: platform description not found")
    loader.stack = []
    items = loader.load_file(p.resolve(), str(path), ())
    return _finish(loader, items, str(path), predeclared)


def parse_platform_string(text: str, name: str = "<string>",
                          search_paths: Iterable[str | os.PathLike] | None = None,
                          *, predeclared: Iterable[str] | None = None,
                          base_dir: str | os.PathLike | None = None) -> Platform:
    """Parse platform text (as `machine LoadPlatformDescriptionFromString` does).

    `./` usings are relative to `base_dir` (default: the current directory).
    """
    loader = _Loader(search_paths)
    loader.sources.append(name)
    parsed = parse_text(text, name)
    items = loader.process(parsed, Path(base_dir) if base_dir else Path.cwd(), None, ())
    return _finish(loader, items, name, predeclared)
