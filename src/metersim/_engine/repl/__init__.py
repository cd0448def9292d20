"""Reader for Renode platform descriptions (`.repl`): pre-lexer, parser, merging, data model.

    from metersim._engine.repl import load_platform
    platform = load_platform("platforms/boards/meter.repl")
    platform.entries["usart1"].registrations[0].address   # 0x40011000

See loader.py for the `using`/merge rules and model.py for the shape of the result.
"""

from metersim._engine.repl.errors import ReplSyntaxError
from metersim._engine.repl.loader import BUILTIN_NAMES, default_search_paths, load_platform, parse_platform_string
from metersim._engine.repl.model import (
    Connection, Entry, Enum, InlineObject, Platform, Range, Reference, Registration, Tag, Target, Value,
)

__all__ = [
    "BUILTIN_NAMES", "Connection", "Entry", "Enum", "InlineObject", "Platform", "Range", "Reference",
    "Registration", "ReplSyntaxError", "Tag", "Target", "Value", "default_search_paths",
    "load_platform", "parse_platform_string",
]
