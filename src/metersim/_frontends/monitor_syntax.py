"""Lexer for Renode's Monitor language (the lines of a `.resc` scene and of the console).

Followed: renode-docs `source/basic/monitor-syntax.md` and the upstream scenes
(`scripts/single-node/*.resc`). A statement is one line of tokens:

- `"text"` / `'text'` strings (backslash escapes the quote), `\"\"\"...\"\"\"` strings that may span
  lines (macros),
- `@path` file arguments (`@"path with spaces"` too),
- numbers: decimal, `0x` hex, negative, decimal fractions,
- `true` / `false`,
- names, dotted for peripherals (`sysbus.gpioPortC.button`), and options (`--force`),
- `$name` variables, and `$name = value` / `$name ?= value` assignments,
- `` `command` `` substitutions (the output of another command),
- comments: `#` to the end of the line, and lines whose first character is `:` (the
  `:name:` / `:description:` header of Renode's scenes).

- `$global.name`: variable names may hold dots, as Renode's tokenizer allows.

Not handled: Renode's `<start, end>` ranges as arguments, Python-style `[a, b]` lists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from metersim._errors import SetupError


class MonitorError(SetupError):
    """A monitor command or scene line that metersim cannot run, with the reason."""


@dataclass(frozen=True)
class Token:
    kind: str    # "name", "string", "path", "number", "bool", "var", "assign", "subst"
    value: object
    text: str    # as written, for messages
    column: int = 0

    def __str__(self) -> str:
        return self.text


_NAME_EXTRA = set("_.-[]")


def _is_name_char(c: str) -> bool:
    return c.isalnum() or c in _NAME_EXTRA


def _is_option(word: str) -> bool:
    """`--force`: an option word, read as a name."""
    return word.startswith("--") and len(word) > 2 and word[2].isalpha()


def _read_quoted(line: str, i: int, where: str) -> tuple[str, int]:
    """The string starting at line[i] (a quote char); returns (value, index after it)."""
    quote = line[i]
    if line.startswith('"""', i):
        end = line.find('"""', i + 3)
        if end < 0:
            raise MonitorError(f"{where}: a \"\"\" string is not closed (column {i + 1})")
        return line[i + 3:end], end + 3
    out = []
    j = i + 1
    while j < len(line):
        c = line[j]
        if c == "\\" and j + 1 < len(line) and line[j + 1] in (quote, "\\"):
            out.append(line[j + 1])
            j += 2
            continue
        if c == quote:
            return "".join(out), j + 1
        out.append(c)
        j += 1
    raise MonitorError(f"{where}: the string starting at column {i + 1} is not closed "
                       f"(expected a closing {quote})")


def _number(word: str) -> int | float | None:
    try:
        if word.lower().startswith(("0x", "-0x")):
            return int(word, 16)
        if word.lstrip("-").isdigit():
            return int(word)
        if any(c.isdigit() for c in word) and set(word.lstrip("-")) <= set("0123456789."):
            return float(word)
    except ValueError:
        return None
    return None


def tokenize(line: str, where: str = "monitor") -> list[Token]:
    """Tokens of one statement (multi-line strings already joined into `line`)."""
    tokens: list[Token] = []
    stripped = line.lstrip()
    if stripped.startswith(":"):
        return tokens
    i = 0
    n = len(line)
    while i < n:
        c = line[i]
        if c.isspace():
            i += 1
            continue
        if c == "#":
            break
        start = i
        if c in "\"'":
            value, i = _read_quoted(line, i, where)
            tokens.append(Token("string", value, line[start:i], start))
        elif c == "@":
            if i + 1 < n and line[i + 1] in "\"'":
                value, i = _read_quoted(line, i + 1, where)
            else:
                j = i + 1
                while j < n and not line[j].isspace():
                    j += 1
                value, i = line[i + 1:j], j
            if not value:
                raise MonitorError(f"{where}: '@' at column {start + 1} must be followed by a "
                                   "file path, e.g. @platforms/cpus/stm32f413.repl")
            tokens.append(Token("path", value, line[start:i], start))
        elif c == "`":
            end = line.find("`", i + 1)
            if end < 0:
                raise MonitorError(f"{where}: the ` substitution at column {i + 1} is not closed")
            tokens.append(Token("subst", line[i + 1:end], line[i:end + 1], start))
            i = end + 1
        elif c == "$":
            j = i + 1
            while j < n and (line[j].isalnum() or line[j] in "_."):   # $global.name
                j += 1
            while j > i + 1 and line[j - 1] == ".":
                j -= 1
            if j == i + 1:
                raise MonitorError(f"{where}: '$' at column {i + 1} must be followed by a "
                                   "variable name, e.g. $bin")
            if j < n and line[j] in "/\\":   # `i $ORIGIN/dir/script.resc`: a path
                k = j
                while k < n and not line[k].isspace():
                    k += 1
                tokens.append(Token("path", line[i:k], line[i:k], start))
                i = k
                continue
            tokens.append(Token("var", line[i + 1:j], line[i:j], start))
            i = j
        elif c == "=" or (c == "?" and line.startswith("?=", i)):
            op = "?=" if c == "?" else "="
            tokens.append(Token("assign", op, op, start))
            i += len(op)
        else:
            j = i
            while j < n and not line[j].isspace() and line[j] not in "\"'`#=" \
                    and not line.startswith("?=", j):
                j += 1
            word = line[i:j]
            i = j
            num = _number(word)
            if num is not None:
                tokens.append(Token("number", num, word, start))
            elif word in ("true", "false", "True", "False"):
                tokens.append(Token("bool", word.lower() == "true", word, start))
            elif all(_is_name_char(ch) for ch in word) and (word[0].isalpha() or word[0] == "_"
                                                            or _is_option(word)):
                tokens.append(Token("name", word, word, start))
            else:
                raise MonitorError(f"{where}: cannot read {word!r} at column {start + 1}; expected "
                                   "a name, a number, a \"string\", an @path or a $variable")
    return tokens


def _BLOCK_HEAD(code: str) -> bool:
    """A statement line whose \"\"\" block may start on the next line: not blank, not a comment
    or header line, and not already holding an open block."""
    stripped = code.strip()
    return bool(stripped) and not stripped.startswith(":") and code.count('"""') % 2 == 0


def statements(text: str, source: str = "<script>") -> list[tuple[int, str]]:
    """Split script text into (line number, statement): a statement holding a \"\"\" string
    runs until the line that closes it. As in Renode's script reader, a line that starts with
    \"\"\" continues the statement before it (`macro reset`, `set hook`, `if ...`, `python`
    with their block on the following lines)."""
    out: list[tuple[int, str]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        first = i + 1
        code = _code_part(line)
        if _BLOCK_HEAD(code) and i + 1 < len(lines) and lines[i + 1].lstrip().startswith('"""'):
            i += 1
            line += "\n" + lines[i]
            code = _code_part(line)
        while code.count('"""') % 2 == 1:
            i += 1
            if i >= len(lines):
                raise MonitorError(f"{source}:{first}: a \"\"\" string is not closed before the "
                                   "end of the file")
            line += "\n" + lines[i]
            code = _code_part(line)
        out.append((first, line))
        i += 1
    return out


def _code_part(line: str) -> str:
    """The line without a trailing `#` comment (quotes respected), for counting \"\"\"."""
    if line.lstrip().startswith(":"):
        return ""
    i = 0
    in_triple = False
    quote = None
    while i < len(line):
        if line.startswith('"""', i) and quote is None:
            in_triple = not in_triple
            i += 3
            continue
        c = line[i]
        if in_triple:
            i += 1
            continue
        if quote is not None:
            if c == "\\":
                i += 2
                continue
            if c == quote:
                quote = None
        elif c in "\"'":
            quote = c
        elif c == "#":
            return line[:i]
        i += 1
    return line
