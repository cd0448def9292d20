"""The monitor's command registry: each command is a small handler registered with its name,
its argument signature and its help; the signature is the one parser of its arguments.

    @command("sysbus ReadDoubleWord", "<address:int>", "read 32 bits from the bus")
    def read_dword(mon, address): ...

A name is one word (`start`) or an object and a method (`sysbus ReadDoubleWord`). The
signature lists parameters as `<name:type>` (required), `[<name:type>]` (optional) or
`<name:type>...` (zero or more, at the end); the types are:

    int       0x08000000, 42, "0x10"         text      "string", name, number as written
    path      @file (resolved on the search path)   duration  "00:00:05", "1.5s", 0.5
    bool      true / false                   name      a bare word
    a|b|c     one of these words             token     the token as written (no check)

The usage shown in errors and in `help` is made from the signature (`sysbus WriteWord <address>
<value>`), so the help cannot drift from what the parser accepts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

from metersim._frontends.monitor_syntax import MonitorError, Token

_PARAM = re.compile(r"(\[)?<(\w+):([\w|-]+)>(\])?(\.\.\.)?")


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    optional: bool = False
    many: bool = False


@dataclass
class Command:
    name: str                              # "start", "sysbus ReadDoubleWord"
    signature: str
    help: str
    handler: Callable
    aliases: tuple[str, ...] = ()
    raw: bool = False                      # handler takes the unexpanded tokens
    params: list[Param] = field(default_factory=list)

    def __post_init__(self):
        self.params = [Param(m.group(2), m.group(3), bool(m.group(1)), bool(m.group(5)))
                       for m in _PARAM.finditer(self.signature)]

    @property
    def usage(self) -> str:
        """The name and its parameters as users read them: `<name>`, `[<name>]`, `on|off`."""
        parts = [self.name]
        for p in self.params:
            word = p.type if "|" in p.type or p.type.startswith("--") else f"<{p.name}>"
            if p.many:
                word = f"[{word}...]"
            elif p.optional:
                word = f"[{word}]"
            parts.append(word)
        return " ".join(parts)

    def parse(self, mon, args: list[Token]) -> dict:
        """Arguments by parameter name, converted to their types; MonitorError with the usage
        when they do not fit."""
        out = {}
        i = 0
        for p in self.params:
            if p.many:
                out[p.name] = [self._convert(mon, p, t) for t in args[i:]]
                i = len(args)
                break
            if i >= len(args):
                if not p.optional:
                    raise MonitorError(f"{self.name}: missing <{p.name}>; usage: {self.usage}")
                out[p.name] = None
                continue
            out[p.name] = self._convert(mon, p, args[i])
            i += 1
        if i < len(args):
            raise MonitorError(f"{self.name}: unexpected {args[i].text!r}; usage: {self.usage}")
        return out

    def _convert(self, mon, p: Param, tok: Token):
        what = f"{self.name} <{p.name}>"
        t = p.type
        if t == "token":
            return tok
        if t == "int":
            if tok.kind == "number" and isinstance(tok.value, int):
                return tok.value
            if tok.kind == "string":
                try:
                    return int(str(tok.value), 0)
                except ValueError:
                    pass
            raise MonitorError(f"{what}: expected an integer (e.g. 0x08000000 or 42), got "
                               f"{tok.text!r}")
        if t == "text":
            if tok.kind in ("string", "name", "path"):
                return str(tok.value)
            if tok.kind == "number":
                return tok.text
            raise MonitorError(f"{what}: expected a \"string\", got {tok.text!r}")
        if t == "name":
            if tok.kind == "name":
                return tok.value
            raise MonitorError(f"{what}: expected a name, got {tok.text!r}")
        if t == "path":
            if tok.kind not in ("path", "string"):
                raise MonitorError(f"{what}: expected a file as @path, got {tok.text!r}")
            return mon.resolve_path(str(tok.value))
        if t == "duration":
            from metersim._units import parse_time_ps
            if tok.kind in ("number", "string"):
                try:
                    return parse_time_ps(tok.value if tok.kind == "number" else str(tok.value))
                except Exception:  # noqa: BLE001 - any unreadable duration gets the same message
                    pass
            raise MonitorError(f"{what}: expected a duration like \"00:00:05\" or \"1.5s\", got "
                               f"{tok.text!r}")
        if t == "bool":
            if tok.kind == "bool":
                return tok.value
            raise MonitorError(f"{what}: expected true or false, got {tok.text!r}")
        choices = t.split("|")
        if str(tok.value) in choices:
            return str(tok.value)
        raise MonitorError(f"{what}: expected {' or '.join(choices)}, got {tok.text!r}")


class Registry:
    """Commands by name; `group`s are the objects (`sysbus`, `cpu` ...) with methods."""

    def __init__(self, commands: dict[str, Command] | None = None):
        self.commands: dict[str, Command] = dict(commands or {})

    def copy(self) -> "Registry":
        return Registry(self.commands)

    def add(self, cmd: Command) -> Command:
        self.commands[cmd.name] = cmd
        return cmd

    def command(self, name: str, signature: str = "", help: str = "",
                aliases: tuple[str, ...] = (), raw: bool = False):
        """Decorator registering a handler `fn(monitor, **arguments) -> str | None`."""
        def register(fn):
            self.add(Command(name, signature, help, fn, aliases, raw))
            return fn
        return register

    def aliases(self) -> dict[str, str]:
        return {a: c.name for c in self.commands.values() for a in c.aliases}

    def top_words(self) -> list[str]:
        """Commands and objects (first words), in registration order."""
        return list(dict.fromkeys(n.split(" ")[0] for n in self.commands))

    def methods(self, group: str) -> list[str]:
        return [n.split(" ", 1)[1] for n in self.commands if n.startswith(group + " ")]

    def find(self, words: list[str]) -> tuple[Command | None, int]:
        """The command named by the first one or two words: (command, words used)."""
        if not words:
            return None, 0
        head = self.aliases().get(words[0], words[0])
        if len(words) > 1 and f"{head} {words[1]}" in self.commands:
            return self.commands[f"{head} {words[1]}"], 2
        if head in self.commands:
            return self.commands[head], 1
        lower = {n.lower(): c for n, c in self.commands.items()}
        if head.lower() in lower:            # Renode's commands are case-insensitive
            return lower[head.lower()], 1
        return None, 0

    def is_group(self, word: str) -> bool:
        return any(n.startswith(word + " ") for n in self.commands)


def free_name(prefix: str, taken) -> str:
    """`prefix0`, `prefix1` ... the first one not in `taken` (Renode's default names)."""
    i = 0
    while f"{prefix}{i}" in taken:
        i += 1
    return f"{prefix}{i}"


#: The commands every monitor has (registered by metersim._frontends.monitor_commands).
COMMANDS = Registry()
command = COMMANDS.command
