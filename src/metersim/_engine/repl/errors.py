"""Errors of the .repl reader: always `file:line:column: what was expected, what was found`."""

from __future__ import annotations

from metersim._errors import PlatformError


class ReplSyntaxError(PlatformError):
    """A .repl file could not be read. The first line of the message is
    `file:line:column: message`; the offending source line and a caret follow when known.
    """

    def __init__(self, file: str, line: int, column: int, message: str, source_line: str | None = None):
        self.file = file
        self.line = line
        self.column = column
        self.reason = message
        text = f"{file}:{line}:{column}: {message}"
        if source_line is not None and source_line.strip():
            shown = source_line.rstrip("\r\n").expandtabs(4)
            caret = " " * max(0, min(column - 1, len(shown))) + "^"
            text += f"\n    {shown}\n    {caret}"
        super().__init__(text)
