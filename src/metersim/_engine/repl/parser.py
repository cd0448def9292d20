"""Recursive-descent parser for the brace form of a .repl file (see prelexer.py for the rest).

Grammar (after the pre-lexer; `;` separates items, `{ }` are blocks):

    description  := [using (';' using)*] [';'] [entry (';' entry)*]
    using        := 'using' STRING ['prefixed' STRING]
    entry        := ['local'] NAME ':' [TYPE] [registration] ['as' STRING] [attributes]
    registration := '@' 'none' | '@' reg | '@' '{' reg (';' reg)* '}'
    reg          := NAME [value]
    attributes   := '{' [attribute (';' attribute)*] '}'
    attribute    := ('init' | 'reset' | 'preinit') ['add'] ':' '{' statement (';' statement)* '}'
                  | NAME ':' (value | 'none' | 'empty')
                  | [sources] '->' ('none' | dest ('|' dest)*)
    sources      := end | '[' end (',' end)* ']'          end := NAME | NUM | NUM '-' NUM
    dest         := NAME ['#' NUM] '@' (pin | '[' pin (',' pin)* ']')   pin := NUM | NUM '-' NUM
    value        := STRING | '''STRING''' | NUM | '<' NUM ',' ['+'] NUM '>' | 'new' TYPE [attributes]
                  | '[' [value (',' value)* [',']] ']' | NAME('.'NAME)+ | '.' NAME | 'true' | 'false' | NAME

The parser produces a `ParsedFile` of raw entries (one per entry in the file, not merged);
merging, `using` resolution and prefixes are done by loader.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from metersim._engine.repl.model import Connection, Enum, InlineObject, Range, Reference, Target
from metersim._engine.repl.prelexer import Source, prelex

KEYWORDS = frozenset({"using", "new", "as", "init", "reset", "preinit", "local", "prefixed",
                      "true", "false", "True", "False", "none", "empty"})
_BOOLS = {"true": True, "false": False, "True": True, "False": False}
TYPE_PREFIX = "Antmicro.Renode.Peripherals."

_WS = re.compile(r"\s+")
_HEX = re.compile(r"0[xX][0-9A-Fa-f]+(?:_[0-9A-Fa-f]+)*")
_DEC = re.compile(r"[0-9]+(?:_[0-9]+)*(?:\.[0-9]+)?")
_IDENT = re.compile(r"[^\W\d_]\w*")
_PUNCT2 = ("->",)
_PUNCT1 = set(":;@{}[]<>,+|#-.")


class _Cancel:
    """`name: none` (cancel an earlier value) — kept apart from `empty` (stored as None)."""

    def __repr__(self) -> str:
        return "none"


NONE = _Cancel()


@dataclass
class Tok:
    kind: str  # 'ident', 'num', 'str', 'punct', 'eof'
    value: Any
    start: int
    end: int
    text: str = ""


@dataclass
class Statement:
    """One monitor statement of an init/reset/preinit block, with where it was written."""

    text: str
    location: str
    file: str = ""
    line: int = 0
    column: int = 0
    source_line: str = ""


@dataclass
class RawAttr:
    kind: str  # 'value', 'irq', 'init', 'reset', 'preinit'
    name: str | None = None
    value: Any = None
    add: bool = False
    statements: list[Statement] = field(default_factory=list)
    sources: list[str | int | None] = field(default_factory=list)
    connections: list[Connection] | None = None  # None: `-> none` (disconnect)
    location: str = ""


@dataclass
class RawRegistration:
    parent: str
    point: Any = None
    location: str = ""


@dataclass
class RawEntry:
    name: str
    local: bool
    type_name: str | None
    registrations: list[RawRegistration] | None  # None: not given; []: `@ none`
    alias: str | None
    attrs: list[RawAttr]
    file: str
    line: int
    location: str
    column: int = 1
    source_line: str = ""


@dataclass
class UsingDecl:
    path: str
    prefix: str | None
    file: str
    line: int
    column: int
    location: str
    source_line: str = ""


@dataclass
class ParsedFile:
    file: str
    usings: list[UsingDecl]
    entries: list[RawEntry]
    source: Source


def _describe(src: Source, tok: Tok) -> str:
    if tok.kind == "eof":
        return "the end of the file"
    if tok.kind == "punct" and src.is_synthetic(tok.start):
        if tok.value == ";":
            return "the end of the line"
        if tok.value == "{":
            return "an indented block"
        return "the end of the indented block"
    if tok.kind == "str":
        return f'string "{tok.value}"' if "\n" not in tok.value else "a ''' string"
    if tok.kind == "num":
        return f"number {tok.text}"
    if tok.kind == "ident":
        return f"'{tok.value}'"
    return f"'{tok.value}'"


class Parser:
    def __init__(self, src: Source):
        self.src = src
        self.text = src.text
        self.pos = 0  # end of the last consumed token
        self._peeked: Tok | None = None

    # -- scanning --------------------------------------------------------------------------
    def _scan(self, pos: int) -> Tok:
        text = self.text
        m = _WS.match(text, pos)
        if m:
            pos = m.end()
        if pos >= len(text):
            return Tok("eof", None, pos, pos)
        c = text[pos]
        if c == '"':
            j = pos + 1
            buf = []
            while text[j] != '"':  # the pre-lexer guarantees the closing quote on this line
                if text[j] == "\\" and text[j + 1] in '"\\':
                    buf.append(text[j + 1])
                    j += 2
                else:
                    buf.append(text[j])
                    j += 1
            return Tok("str", "".join(buf), pos, j + 1)
        if text.startswith("'''", pos):
            j = pos + 3
            buf = []
            while True:
                k = text.find("'''", j)
                if k < 0:
                    raise self.src.error(pos, "unterminated ''' string")
                if text[k - 1] == "\\":
                    buf.append(text[j:k - 1] + "'''")
                    j = k + 3
                    continue
                buf.append(text[j:k])
                return Tok("str", "".join(buf), pos, k + 3)
        if c.isdigit():
            m = _HEX.match(text, pos) or _DEC.match(text, pos)
            if m is None:  # "0x" with no digits
                raise self.src.error(pos, "malformed number: '0x' needs hexadecimal digits")
            end = m.end()
            if end < len(text) and (text[end].isalnum() or text[end] == "_"):
                w = re.match(r"\w+", text[pos:]).group(0)
                raise self.src.error(pos, f"malformed number '{w}'")
            lit = m.group(0)
            digits = lit.replace("_", "")
            if digits[:2].lower() == "0x":
                val: int | float = int(digits, 16)
            elif "." in digits:
                val = float(digits)
            else:
                val = int(digits, 10)
            return Tok("num", val, pos, end, lit)
        m = _IDENT.match(text, pos)
        if m:
            return Tok("ident", m.group(0), pos, m.end(), m.group(0))
        if text.startswith("->", pos):
            return Tok("punct", "->", pos, pos + 2, "->")
        if c in _PUNCT1:
            return Tok("punct", c, pos, pos + 1, c)
        raise self.src.error(pos, f"unexpected character '{c}'")

    def peek(self) -> Tok:
        if self._peeked is None:
            self._peeked = self._scan(self.pos)
        return self._peeked

    def peek2(self) -> Tok:
        t = self.peek()
        return t if t.kind == "eof" else self._scan(t.end)

    def next(self) -> Tok:
        t = self.peek()
        self._peeked = None
        self.pos = t.end
        return t

    def at(self, value: str) -> bool:
        t = self.peek()
        return t.kind in ("punct", "ident") and t.value == value

    def accept(self, value: str) -> Tok | None:
        return self.next() if self.at(value) else None

    def fail(self, expected: str, tok: Tok | None = None) -> Exception:
        tok = tok or self.peek()
        return self.src.error(tok.start, f"{expected}, found {_describe(self.src, tok)}")

    def expect(self, value: str, what: str) -> Tok:
        if not self.at(value):
            raise self.fail(what)
        return self.next()

    def location(self, offset: int) -> str:
        return f"{self.src.file}:{self.src.position(offset)[0]}"

    def name(self, what: str) -> Tok:
        t = self.peek()
        if t.kind != "ident" or t.value in KEYWORDS:
            raise self.fail(f"expected {what}")
        return self.next()

    # -- grammar ---------------------------------------------------------------------------
    def parse(self) -> ParsedFile:
        usings: list[UsingDecl] = []
        entries: list[RawEntry] = []
        while self.at("using"):
            usings.append(self.using())
            if not self.accept(";"):
                break
        while self.peek().kind != "eof":
            entries.append(self.entry())
            t = self.peek()
            if t.kind == "eof":
                break
            if not self.accept(";"):
                raise self.fail(f"expected the end of entry '{entries[-1].name}'")
            if self.peek().kind == "eof":
                raise self.fail("expected an entry after ';'")
        return ParsedFile(self.src.file, usings, entries, self.src)

    def using(self) -> UsingDecl:
        kw = self.next()
        t = self.peek()
        if t.kind != "str":
            raise self.fail("expected a quoted file name after 'using'")
        self.next()
        prefix = None
        if self.accept("prefixed"):
            p = self.peek()
            if p.kind != "str":
                raise self.fail("expected a quoted prefix after 'prefixed'")
            prefix = self.next().value
        line, col = self.src.position(t.start)
        return UsingDecl(t.value, prefix, self.src.file, line, col, self.location(kw.start),
                         self.src.line_text(line))

    def entry(self) -> RawEntry:
        t = self.peek()
        if t.kind == "ident" and t.value == "using":
            raise self.fail("'using' lines must come before all entries; expected an entry")
        start = t.start
        local = bool(self.accept("local"))
        name_tok = self.name("an entry name (a peripheral name followed by ':')")
        name = name_tok.value
        self.expect(":", f"expected ':' after entry name '{name}'")
        type_name = None
        t = self.peek()
        if t.kind == "ident" and t.value not in KEYWORDS:
            type_name = self.type_name()
        regs = None
        if self.at("@"):
            regs = self.registration(name)
        alias = None
        if self.accept("as"):
            a = self.peek()
            if a.kind != "str":
                raise self.fail(f"expected a quoted alias after 'as' in entry '{name}'")
            alias = self.next().value
        attrs: list[RawAttr] = []
        has_block = self.at("{")
        if has_block:
            attrs = self.attributes(f"entry '{name}'")
        if type_name is None and regs is None and alias is None and not has_block:
            raise self.fail(f"expected a type name, '@' registration or attributes for entry '{name}'")
        if local and type_name is None:
            raise self.src.error(start, f"'local' entry '{name}' must create a peripheral (give its type)")
        line, col = self.src.position(name_tok.start)
        return RawEntry(name, local, type_name, regs, alias, attrs, self.src.file, line,
                        f"{self.src.file}:{line}", col, self.src.line_text(line))

    def type_name(self) -> str:
        parts = [self.name("a type name").value]
        while self.at(".") and self.peek2().kind == "ident":
            self.next()
            parts.append(self.name("a type name part after '.'").value)
        text = ".".join(parts)
        if text.startswith(TYPE_PREFIX):
            text = text[len(TYPE_PREFIX):]
        return text

    def registration(self, entry: str) -> list[RawRegistration]:
        self.next()  # '@'
        if self.accept("none"):
            return []
        if self.accept("{"):
            regs = [self.reg_info(entry)]
            while self.accept(";"):
                regs.append(self.reg_info(entry))
            self.expect("}", "expected ';' or '}' in the registration list")
            return regs
        return [self.reg_info(entry)]

    def reg_info(self, entry: str) -> RawRegistration:
        t = self.name(f"the name of the bus or peripheral '{entry}' is registered on, after '@'")
        point = None
        if self._value_starts():
            point = self.value()
        return RawRegistration(t.value, point, self.location(t.start))

    def _value_starts(self) -> bool:
        t = self.peek()
        if t.kind in ("str", "num"):
            return True
        if t.kind == "punct":
            return t.value in ("<", "[", "-", ".")
        if t.kind == "ident":
            return t.value not in KEYWORDS or t.value in _BOOLS or t.value == "new"
        return False

    def attributes(self, owner: str) -> list[RawAttr]:
        self.next()  # '{'
        attrs: list[RawAttr] = []
        if self.accept("}"):
            return attrs
        attrs.append(self.attribute(owner))
        while self.accept(";"):
            attrs.append(self.attribute(owner))
        self.expect("}", f"expected ';' or the end of the attribute list of {owner}")
        return attrs

    def attribute(self, owner: str) -> RawAttr:
        t = self.peek()
        loc = self.location(t.start)
        if t.kind == "ident" and t.value in ("init", "reset", "preinit"):
            self.next()
            add = bool(self.accept("add"))
            self.expect(":", f"expected ':' after '{t.value}{' add' if add else ''}'")
            if not self.at("{"):
                raise self.fail(f"expected an indented block of monitor statements after '{t.value}:'")
            stmts = self.monitor_block()
            return RawAttr(t.value, add=add, statements=stmts, location=loc)
        if t.kind == "ident" and t.value not in KEYWORDS:
            t2 = self.peek2()
            if t2.kind == "punct" and t2.value == ":":
                self.next()
                self.next()
                if self.accept("none"):
                    return RawAttr("value", t.value, NONE, location=loc)
                if self.accept("empty"):
                    return RawAttr("value", t.value, None, location=loc)
                if not self._value_starts():
                    raise self.fail(f"expected a value for '{t.value}'")
                return RawAttr("value", t.value, self.value(), location=loc)
            if not (t2.kind == "punct" and t2.value == "->"):
                raise self.fail(f"expected ':' or '->' after '{t.value}'", t2)
            return self.irq(loc)
        if t.kind == "num" or (t.kind == "punct" and t.value in ("->", "[")):
            return self.irq(loc)
        raise self.fail(f"expected an attribute of {owner} ('name: value', '-> receiver@pin' or 'init:')")

    # -- connections -----------------------------------------------------------------------
    def _end(self, allow_names: bool, what: str) -> list[str | int]:
        t = self.peek()
        if t.kind == "ident" and allow_names and t.value not in KEYWORDS:
            return [self.next().value]
        if t.kind != "num" or not isinstance(t.value, int):
            raise self.fail(f"expected {what}")
        a = self.next().value
        if self.at("-"):
            self.next()
            b = self.peek()
            if b.kind != "num" or not isinstance(b.value, int):
                raise self.fail(f"expected the end of the range {a}-")
            b = self.next().value
            step = 1 if b >= a else -1
            return list(range(a, b + step, step))
        return [a]

    def _ends(self, allow_names: bool, what: str) -> list[str | int]:
        if self.accept("["):
            out = self._end(allow_names, what)
            while self.accept(","):
                out += self._end(allow_names, what)
            self.expect("]", "expected ',' or ']'")
            return out
        return self._end(allow_names, what)

    def irq(self, loc: str) -> RawAttr:
        sources: list[str | int | None]
        if self.at("->"):
            sources = [None]
        else:
            sources = list(self._ends(True, "an output name or number"))
        self.expect("->", "expected '->' after the interrupt source")
        if self.accept("none"):
            return RawAttr("irq", sources=sources, connections=None, location=loc)
        dests: list[tuple[str, int | None, list[int], Tok]] = []
        while True:
            t = self.name("a receiver (peripheral@pin) after '->'" if not dests else "a receiver after '|'")
            local = None
            if self.accept("#"):
                n = self.peek()
                if n.kind != "num" or not isinstance(n.value, int):
                    raise self.fail(f"expected a local receiver index after '{t.value}#'")
                local = self.next().value
            self.expect("@", f"expected '@' and a pin number after receiver '{t.value}'")
            pins = self._ends(False, f"a pin number of '{t.value}'")
            if len(pins) != len(sources):
                raise self.src.error(t.start, f"{len(sources)} source(s) but {len(pins)} pin(s) on "
                                     f"'{t.value}': the counts must match")
            dests.append((t.value, local, pins, t))
            if not self.accept("|"):
                break
        conns = []
        for i, s in enumerate(sources):
            conns.append(Connection(s, [Target(d, pins[i], local) for d, local, pins, _ in dests], loc))
        return RawAttr("irq", sources=sources, connections=conns, location=loc)

    # -- monitor statements ----------------------------------------------------------------
    def monitor_block(self) -> list[Statement]:
        self.next()  # '{'
        self._peeked = None
        text = self.text
        pos = self.pos
        out: list[Statement] = []
        while True:
            i = pos
            n = len(text)
            while i < n and text[i].isspace():
                i += 1
            j = i
            while j < n and text[j] not in ";{}":
                if text[j] == '"':
                    k = j + 1
                    while k < n and text[k] != '"':
                        k += 2 if text[k] == "\\" else 1
                    j = k + 1
                else:
                    j += 1
            stmt = text[i:j].rstrip()
            if stmt:
                line, col = self.src.position(i)
                out.append(Statement(stmt, f"{self.src.file}:{line}", self.src.file, line, col,
                                     self.src.line_text(line)))
            if j >= n:
                raise self.src.error(i, "unterminated block of monitor statements: expected '}'")
            c = text[j]
            pos = j + 1
            if c == "}":
                break
            if c == "{":
                raise self.src.error(j, "'{' cannot appear in a monitor statement")
        self.pos = pos
        return out

    # -- values ----------------------------------------------------------------------------
    def value(self) -> Any:
        t = self.peek()
        if t.kind == "str":
            return self.next().value
        if t.kind == "num":
            return self.next().value
        if t.kind == "punct":
            if t.value == "-":
                self.next()
                n = self.peek()
                if n.kind != "num":
                    raise self.fail("expected a number after '-'")
                return -self.next().value
            if t.value == "<":
                return self.range_value()
            if t.value == "[":
                return self.list_value()
            if t.value == ".":
                self.next()
                return Enum("." + self.name("an enum member after '.'").value)
        if t.kind == "ident":
            if t.value in _BOOLS:
                self.next()
                return _BOOLS[t.value]
            if t.value == "new":
                self.next()
                type_name = self.type_name()
                attrs: dict[str, Any] = {}
                conns: list[Connection] = []
                if self.at("{"):
                    for a in self.attributes(f"the inline '{type_name}' object"):
                        if a.kind == "value":
                            if a.value is not NONE:
                                attrs[a.name] = a.value
                        elif a.kind == "irq" and a.connections:
                            conns += a.connections
                return InlineObject(type_name, attrs, conns)
            if t.value not in KEYWORDS:
                first = self.next().value
                if self.at(".") and self.peek2().kind == "ident":
                    parts = [first]
                    while self.at(".") and self.peek2().kind == "ident":
                        self.next()
                        parts.append(self.name("an enum member after '.'").value)
                    return Enum(".".join(parts))
                return Reference(first)
        raise self.fail("expected a value")

    def _uint(self, what: str) -> int:
        t = self.peek()
        if t.kind != "num" or not isinstance(t.value, int):
            raise self.fail(f"expected {what}")
        return self.next().value

    def range_value(self) -> Range:
        self.next()  # '<'
        start = self._uint("the start address of the range")
        self.expect(",", "expected ',' between the start and end of the range")
        plus = bool(self.accept("+"))
        t = self.peek()
        second = self._uint("the size (+size) or end of the range")
        self.expect(">", "expected '>' to close the range")
        if plus:
            return Range(start, second)
        if second < start:
            raise self.src.error(t.start, f"range end {second:#x} is below its start {start:#x}")
        return Range(start, second - start)

    def list_value(self) -> list:
        self.next()  # '['
        out: list = []
        if self.accept("]"):
            return out
        out.append(self.value())
        while self.accept(","):
            if self.at("]"):
                break
            out.append(self.value())
        self.expect("]", "expected ',' or ']' in the list")
        return out


def parse_text(text: str, file: str) -> ParsedFile:
    """Parse one file's text (no `using` resolution, no merging)."""
    return Parser(prelex(text, file)).parse()
