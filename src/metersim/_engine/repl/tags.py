"""`Tag <start, end> "NAME" [value]` statements from a `sysbus` init block.

In Renode, `sysbus Tag <range> "name" value` makes an unmodelled register range read as a
constant and logs accesses to it. The Monitor's tokenizer reads two range forms: with a comma
`<start, end>` includes `end` (`<0x40021000, 0x40021003>` is one 32-bit register), without one
`<start size>` is a start and a size (`<0x40007000 4>`); `<start, +size>` is also accepted.
A `# comment` may follow the statement, as anywhere in the Monitor.
"""

from __future__ import annotations

import re

from metersim._engine.repl.errors import ReplSyntaxError
from metersim._engine.repl.model import Tag
from metersim._engine.repl.parser import Statement

_NUM = r"(?:0[xX][0-9A-Fa-f_]+|[0-9][0-9_]*)"
_TAG = re.compile(
    rf"""^Tag\s*<\s*(?P<start>{_NUM})(?:\s*(?P<comma>,)\s*|\s+)(?P<plus>\+)?\s*(?P<second>{_NUM})\s*>\s*
         "(?P<name>(?:[^"\\]|\\.)*)"
         (?:\s+(?P<value>{_NUM}))?
         (?:\s+(?P<pausing>true|false|True|False))?\s*(?:\#.*)?$""",
    re.VERBOSE,
)
_USAGE = 'Tag <start, end> "NAME" [value]' + " or 'Tag <start size> \"NAME\" [value]'"


def _num(text: str) -> int:
    text = text.replace("_", "")
    return int(text, 16) if text[:2].lower() == "0x" else int(text, 10)


def is_tag(statement: str) -> bool:
    return re.match(r"Tag\b", statement) is not None


def parse_tag(stmt: Statement, owner: str = "sysbus") -> Tag:
    """Parse one `Tag ...` statement; a malformed one is an error pointing at the statement."""
    def error(message: str) -> ReplSyntaxError:
        return ReplSyntaxError(stmt.file, stmt.line, stmt.column, message, stmt.source_line)

    m = _TAG.match(stmt.text)
    if m is None:
        raise error(f"malformed Tag statement: expected '{_USAGE}'")
    start = _num(m["start"])
    second = _num(m["second"])
    if m["plus"] or not m["comma"]:
        if second == 0:
            raise error("Tag range has size 0")
        end = start + second - 1
    else:
        end = second
    if end < start:
        raise error(f"Tag range end {end:#x} is below its start {start:#x}")
    value = _num(m["value"]) if m["value"] else None
    name = re.sub(r"\\(.)", r"\1", m["name"])
    return Tag(start, end, name, value, owner, stmt.text, stmt.location)
