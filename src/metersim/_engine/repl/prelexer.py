"""Pre-lexer: removes comments and turns the indentation form of a .repl into the brace form.

Renode's format has two layouts (renode-docs, "Platform description format"):
- indent mode: 4 spaces are one level; indenting opens a `{`, dedenting closes `}` and a new
  line at the same level is a `;`;
- brace mode: inside `{ }` indentation and new lines mean nothing and `;` separates items.

Like Renode's PreLexer we only *append* `{`, `}` and `;` at the end of lines and blank comments
with spaces, so every original character keeps its line and column and the parser's errors
point into the user's file. A "statement" is a run of lines that starts at brace depth 0 and
ends where the braces it opened are closed again; only its first line's indentation counts.

Comments: `//` starts a comment at the start of a line or after whitespace (so
`@https://host/x.svd` in an init line is not one); `/* */` may span lines but must then end at
the end of a line. `'''` strings may span lines and are left untouched.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field

from metersim._engine.repl.errors import ReplSyntaxError

SPACES_PER_LEVEL = 4


@dataclass
class Source:
    """Decorated text plus the map back to the original lines."""

    file: str
    text: str  # decorated (brace form)
    original_lines: list[str]
    line_starts: list[int] = field(default_factory=list)  # offset of each line in `text`

    def position(self, offset: int) -> tuple[int, int]:
        """(line, column), both from 1, of an offset in the decorated text."""
        i = bisect_right(self.line_starts, offset) - 1
        i = max(0, i)
        return i + 1, offset - self.line_starts[i] + 1

    def is_synthetic(self, offset: int) -> bool:
        """True for a `{`, `}` or `;` the pre-lexer added (it lies past the original line end)."""
        line, col = self.position(offset)
        if line - 1 >= len(self.original_lines):
            return True
        return col - 1 >= len(self.original_lines[line - 1])

    def line_text(self, line: int) -> str:
        if 1 <= line <= len(self.original_lines):
            return self.original_lines[line - 1]
        return ""

    def error(self, offset: int, message: str) -> ReplSyntaxError:
        line, col = self.position(offset)
        if self.is_synthetic(offset):
            col = len(self.line_text(line).rstrip()) + 1
        return ReplSyntaxError(self.file, line, col, message, self.line_text(line))


@dataclass
class _Line:
    text: str  # comments blanked
    depth_start: int
    depth_end: int
    starts_inside: bool  # begins inside a ''' string or a /* comment
    ends_inside: bool
    blank: bool


def _err(file: str, lines: list[str], lineno: int, col: int, message: str) -> ReplSyntaxError:
    return ReplSyntaxError(file, lineno + 1, col + 1, message, lines[lineno])


def _scan_lines(file: str, lines: list[str]) -> list[_Line]:
    """Blank comments, track brace depth and multi-line constructs line by line."""
    out: list[_Line] = []
    depth = 0
    in_comment = False
    in_triple = False
    for n, raw in enumerate(lines):
        chars = list(raw)
        starts_inside = in_comment or in_triple
        depth_start = depth
        comment_closed_at = -1
        i = 0
        L = len(raw)
        while i < L:
            c = raw[i]
            if in_comment:
                j = raw.find("*/", i)
                if j < 0:
                    for k in range(i, L):
                        chars[k] = " "
                    i = L
                    break
                for k in range(i, j + 2):
                    chars[k] = " "
                i = j + 2
                in_comment = False
                comment_closed_at = i
                continue
            if in_triple:
                j = i
                while True:
                    j = raw.find("'''", j)
                    if j < 0 or j == 0 or raw[j - 1] != "\\":
                        break
                    j += 3
                if j < 0:
                    i = L
                    break
                i = j + 3
                in_triple = False
                continue
            if c == '"':
                j = i + 1
                while j < L and raw[j] != '"':
                    j += 2 if raw[j] == "\\" else 1
                if j >= L:
                    raise _err(file, lines, n, i, "unterminated string: missing closing '\"' on this line")
                i = j + 1
                continue
            if raw.startswith("'''", i):
                in_triple = True
                i += 3
                continue
            if raw.startswith("/*", i):
                in_comment = True
                for k in range(i, i + 2):
                    chars[k] = " "
                i += 2
                continue
            if raw.startswith("//", i) and (i == 0 or raw[i - 1] in " \t"):
                for k in range(i, L):
                    chars[k] = " "
                break
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
            i += 1
        text = "".join(chars)
        if comment_closed_at >= 0 and starts_inside and depth_start <= 0 and text[comment_closed_at:].strip():
            raise _err(file, lines, n, comment_closed_at,
                       "a /* */ comment that spans lines must end at the end of a line")
        blank = not text.strip() and not starts_inside and not in_triple
        out.append(_Line(text, depth_start, depth, starts_inside, in_comment or in_triple, blank))
    if in_triple:
        last = max(0, len(lines) - 1)
        raise _err(file, lines, last, len(lines[last]) if lines else 0,
                   "unterminated ''' string: missing closing ''' before the end of the file")
    # An unclosed /* */ at the end of the file only hides text; Renode accepts it too.
    return out


def _indent_of(file: str, lines: list[str], n: int) -> int:
    raw = lines[n]
    spaces = len(raw) - len(raw.lstrip(" "))
    if raw[spaces:spaces + 1] == "\t":
        raise _err(file, lines, n, spaces, "tab in indentation: indent with 4 spaces per level")
    if spaces % SPACES_PER_LEVEL:
        raise _err(file, lines, n, spaces,
                   f"indentation of {spaces} spaces is not a multiple of {SPACES_PER_LEVEL}")
    return spaces // SPACES_PER_LEVEL


def prelex(text: str, file: str) -> Source:
    """Return the brace form of `text` with positions preserved (see the module docstring)."""
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = [ln[:-1] if ln.endswith("\r") else ln for ln in text.split("\n")]
    scanned = _scan_lines(file, lines)
    decor = [""] * len(lines)

    # Group lines into statements: (first line, last line, indent level of the first line).
    statements: list[tuple[int, int, int]] = []
    n = 0
    while n < len(scanned):
        ln = scanned[n]
        if ln.blank or ln.starts_inside or ln.depth_start > 0:
            n += 1  # blank, or inside braces / a string / a comment: no indentation meaning
            continue
        first = n
        level = _indent_of(file, lines, n)
        while n < len(scanned) and (scanned[n].ends_inside or scanned[n].depth_end > 0):
            n += 1
        last = min(n, len(scanned) - 1)
        statements.append((first, last, level))
        n = last + 1

    if statements and statements[0][2] != 0:
        first = statements[0][0]
        raise _err(file, lines, first, statements[0][2] * SPACES_PER_LEVEL,
                   "the first line of a platform description cannot be indented")

    for k, (first, last, level) in enumerate(statements):
        if k + 1 < len(statements):
            nfirst, _, nlevel = statements[k + 1]
            if nlevel > level + 1:
                raise _err(file, lines, nfirst, nlevel * SPACES_PER_LEVEL,
                           f"indented {nlevel - level} levels deeper than the line before; "
                           f"indent by {SPACES_PER_LEVEL} spaces per level")
            if nlevel == level + 1:
                decor[last] += "{"
            elif nlevel < level:
                decor[last] += "}" * (level - nlevel) + ";"
            else:
                decor[last] += ";"
        else:
            decor[last] += "}" * level

    parts: list[str] = []
    starts: list[int] = []
    pos = 0
    for ln, d in zip(scanned, decor):
        starts.append(pos)
        s = ln.text + d
        parts.append(s)
        pos += len(s) + 1
    return Source(file=file, text="\n".join(parts), original_lines=lines, line_starts=starts)
