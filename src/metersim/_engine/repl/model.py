"""The resolved platform: what a set of .repl files says once `using` and merging are done.

This is the data the machine builder and `metersim platform show` consume. Values from the
files are converted to plain Python where one exists:

    "text" / '''text'''  -> str          true / false      -> bool
    0x10, 1_000, -3      -> int          1.5               -> float
    <0x4000, +0x400>     -> Range(0x4000, 0x400)   (also <begin, end>: size = end - begin)
    STM32Series.F4, .F4  -> Enum(text)   nvic              -> Reference("nvic")
    [a, b]               -> list         new T { x: 1 }    -> InlineObject("T", {"x": 1})
    empty                -> None  (Renode: the parameter's default value)

An attribute set to `none` is not stored at all: in Renode it cancels an earlier value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union


@dataclass(frozen=True)
class Range:
    """A .repl range `<start, +size>`; `end` is the last address inside it."""

    start: int
    size: int

    @property
    def end(self) -> int:
        return self.start + self.size - 1


@dataclass(frozen=True)
class Reference:
    """A reference to another entry (or to a peripheral the machine already has)."""

    name: str


@dataclass(frozen=True)
class Enum:
    """An enum value as written: `STM32Series.F4`, or the shorthand `.F4`."""

    text: str

    @property
    def member(self) -> str:
        return self.text.rsplit(".", 1)[-1]


@dataclass
class InlineObject:
    """`new Type { attrs }`: an object defined in place (registration points, list items)."""

    type_name: str
    attrs: dict[str, Any] = field(default_factory=dict)
    connections: list["Connection"] = field(default_factory=list)


Value = Union[int, float, bool, str, Range, Reference, Enum, InlineObject, list, None]


@dataclass
class Registration:
    """Where an entry is attached: `@ sysbus 0x4000`, `@ sysbus <a, +s>`, `@ spi1`, `@ i2c1 0x50`.

    `address` is the bus address (or the I2C address, or None for `@ spi1`); `size` comes from
    a range or a registration object's `size`. `extra` holds whatever else the registration
    point said: for `new Bus.BusPointRegistration { address: ..; cpu: cpu0 }` it is
    `{"type": "Bus.BusPointRegistration", "cpu": Reference("cpu0")}`; a registration point that
    is not a number, range or object is kept as `extra["point"]`.
    """

    parent: str
    address: int | None = None
    size: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    location: str = ""

    @property
    def end(self) -> int | None:
        if self.address is None or self.size is None:
            return None
        return self.address + self.size - 1


@dataclass(frozen=True)
class Target:
    """One receiving end of a connection: `nvic@37` or, with a local index, `gpioPortA#8@1`."""

    peripheral: str
    pin: int
    local_index: int | None = None

    def __str__(self) -> str:
        local = f"#{self.local_index}" if self.local_index is not None else ""
        return f"{self.peripheral}{local}@{self.pin}"


@dataclass
class Connection:
    """One output of an entry wired to one or more receivers (fan-out with `|`).

    `source` is None for the default output (`-> nvic@37`), the output's name
    (`IRQ -> nvic@35`) or its number (`[0-4] -> nvic@[6-10]` gives five Connections).
    """

    source: str | int | None
    targets: list[Target]
    location: str = ""

    def __str__(self) -> str:
        src = "" if self.source is None else f"{self.source} "
        return f"{src}-> " + " | ".join(str(t) for t in self.targets)


@dataclass(frozen=True)
class Tag:
    """A `sysbus Tag <start, end> "NAME" value` statement: a named, unmodelled register range.

    `end` is inclusive, as in the Monitor. `value` is None when the statement gives none
    (Renode then reads the range as 0).
    """

    start: int
    end: int
    name: str
    value: int | None = None
    owner: str = "sysbus"
    statement: str = ""
    location: str = ""

    @property
    def size(self) -> int:
        return self.end - self.start + 1


@dataclass
class Entry:
    """One peripheral (or an update of one, like `sysbus:`) after merging all its entries."""

    name: str
    type_name: str | None = None
    registrations: list[Registration] = field(default_factory=list)
    ctor_args: dict[str, Any] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)
    connections: list[Connection] = field(default_factory=list)
    init: list[str] = field(default_factory=list)
    reset: list[str] = field(default_factory=list)
    alias: str | None = None
    location: str = ""
    preinit: list[str] = field(default_factory=list)
    local: bool = False
    locations: list[str] = field(default_factory=list)  # every entry merged in, in order

    def connection(self, source: str | int | None = None) -> Connection | None:
        """The connection of one output (None = the default output), or None if unwired."""
        for c in self.connections:
            if c.source == source:
                return c
        return None

    @property
    def sysbus_address(self) -> int | None:
        """The first address this entry has on the system bus, or None."""
        for r in self.registrations:
            if r.parent == "sysbus" and r.address is not None:
                return r.address
        return None


@dataclass
class Platform:
    """A loaded platform: merged entries in file order, the files read, the tags."""

    entries: dict[str, Entry] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)  # the loaded file first, then its usings
    tags: list[Tag] = field(default_factory=list)
    name: str = ""

    def __getitem__(self, name: str) -> Entry:
        return self.entries[name]

    def __contains__(self, name: object) -> bool:
        return name in self.entries

    def peripherals(self) -> list[Entry]:
        """Entries that create a peripheral (those with a type), in file order."""
        return [e for e in self.entries.values() if e.type_name is not None]
