"""A campaign spec file read as plain data plus the line of every value, so a validator can say
where a bad value is (YAML through PyYAML's node tree; each node carries its start line)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from metersim._errors import SetupError


class SpecError(SetupError):
    """A campaign spec is malformed: names the file, the line, the field and what was expected."""


Path_ = tuple  # a field path: ("scenario", "loads", "standard", "power_W")


def field_name(path: Path_) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top level)"


@dataclass
class Source:
    """Where the values of a spec came from: the file and a line per field path."""

    file: str
    lines: dict
    aliases: dict = None      # path -> how to name it (a value that came from the matrix)

    def line(self, path: Path_) -> int | None:
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), None)

    def fail(self, path: Path_, expected: str, got=None, *, has_value: bool = True, name: str | None = None):
        line = self.line(path)
        where = f"{self.file}:{line}" if line else self.file
        for p, alias in (self.aliases or {}).items():
            if name is None and tuple(path)[:len(p)] == p:
                name = f"{alias} ({field_name(path)})"
        seen = f", got {got!r}" if has_value else ""
        raise SpecError(f"{where}: {name or field_name(path)}: expected {expected}{seen}")


def _plain(node, path: Path_, lines: dict, file: str):
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out = {}
        for k, v in node.value:
            key = _scalar(k, file)
            if not isinstance(key, (str, int)):
                raise SpecError(f"{file}:{k.start_mark.line + 1}: {field_name(path)}: expected "
                                f"a plain key, got {key!r}")
            if key in out:
                raise SpecError(f"{file}:{k.start_mark.line + 1}: {field_name(path + (key,))}: "
                                f"expected each key once, got it twice")
            out[key] = _plain(v, path + (key,), lines, file)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_plain(v, path + (i,), lines, file) for i, v in enumerate(node.value)]
    return _scalar(node, file)


def _scalar(node, file: str):
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    except yaml.YAMLError as e:
        raise SpecError(f"{file}:{node.start_mark.line + 1}: {e}") from None
    finally:
        loader.dispose()


def read_source(path: str | Path) -> tuple[dict, Source]:
    """The spec file's data and its Source (line per field)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise SpecError(f"{path}: cannot read the campaign spec ({e.strerror})") from None
    return parse_text(text, str(path))


def parse_text(text: str, file: str = "<spec>") -> tuple[dict, Source]:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        line = e.problem_mark.line + 1 if e.problem_mark else "?"
        start = (f" (in what starts at line {e.context_mark.line + 1}: {e.context})"
                 if e.context_mark and e.context else "")
        raise SpecError(f"{file}:{line}: not valid YAML: {e.problem}{start}") from None
    if node is None:
        raise SpecError(f"{file}: the campaign spec is empty (expected a mapping with system, "
                        f"firmware, scenario, matrix, seeds)")
    lines: dict = {}
    data = _plain(node, (), lines, file)
    if not isinstance(data, dict):
        raise SpecError(f"{file}:1: expected a mapping at the top level, got {type(data).__name__}")
    return data, Source(file, lines)
