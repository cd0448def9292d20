"""Register maps as data: one table per chip drives the model, its docs and trace decoders.

A `Reg` is declared with its offset, width, reset value and `Field`s; each field has an access
mode named as the STM32 reference manuals name them (RM0008 §1.1, RM0430 §1.2):

    r      read-only: writes leave it alone (the model sets it)
    w      write-only: never stored, reads as 0 (or as its `on_read` provider says); the
           written value reaches the callbacks
    rw     read/write
    rc_w1  cleared by writing 1, writing 0 has no effect ("write 1 to clear")
    rc_w0  cleared by writing 0, writing 1 has no effect
    rc_r   cleared when read ("rc" in the ADE7753 datasheet's tables)
    rs     set by writing 1, writing 0 has no effect ("write 1 to set"); only the model clears it

Bits outside every field are reserved: they read as 0 and writes to them are ignored. A register
declared without fields is one field of its whole width with the register's `access`.

A memory-mapped model that sets `registers = RegisterMap([...])` gets `read`/`write` from
`Peripheral`: dispatch by offset, byte and half-word accesses anywhere inside a register
(merged into the written bytes only: a byte written to a rc_w0 register clears nothing in the
other bytes), and an unknown offset logged once with its address and the peripheral's name.
The value of a register lives in the model's attribute `attr` (default: the register's name in
lower case), set to the reset value by `Peripheral.reset_registers()`; the model reads and sets
that attribute directly. A register with an `on_read` provider is not stored: the model
computes it on every read.

Callbacks are names of the model's methods, so a table stays plain data (and feeds
`metersim platform show --registers` and docs/registers.md without building a model):

    Reg.on_read()            -> the register's value (computed, not stored)
    Reg.on_write(old, value) after each write, once the stored value is updated: `old` is the
                             value before (0 when nothing is stored), `value` the bits the
                             access wrote (0 outside the bytes written, reserved bits dropped,
                             write-only bits kept); the model may correct what is stored
    Field.on_read()          -> the field's value, replacing the stored bits on every read
    Field.on_write(value)    after each write touching the field, with the bits written to it
    Field.on_change(old, new) after a write that changed the field's stored value
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator

ACCESS_MODES = {
    "r": "read-only",
    "w": "write-only (reads 0)",
    "rw": "read/write",
    "rc_w1": "cleared by writing 1",
    "rc_w0": "cleared by writing 0",
    "rc_r": "cleared by a read",
    "rs": "set by writing 1",
}
_ALIASES = {"rc": "rc_r"}  # the ADE7753 datasheet's name for clear-on-read

SIZE_MASK = {1: 0xFF, 2: 0xFFFF, 4: 0xFFFFFFFF, 8: 0xFFFFFFFFFFFFFFFF}


def _check_access(owner: str, access: str) -> str:
    access = _ALIASES.get(access, access)
    if access not in ACCESS_MODES:
        raise ValueError(f"{owner}: unknown access mode {access!r} "
                         f"(one of {', '.join(ACCESS_MODES)})")
    return access


@dataclass(frozen=True)
class Field:
    name: str
    lsb: int
    width: int = 1
    access: str = "rw"
    reset: int = 0
    doc: str = ""
    on_read: str | None = None
    on_write: str | None = None
    on_change: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "access", _check_access(self.name, self.access))
        if self.reset >> self.width:
            raise ValueError(f"field {self.name}: reset 0x{self.reset:x} wider than "
                             f"{self.width} bits")

    @property
    def mask(self) -> int:
        return ((1 << self.width) - 1) << self.lsb

    @property
    def bits(self) -> str:
        """`[msb:lsb]`, or `[n]` for one bit."""
        msb = self.lsb + self.width - 1
        return f"[{self.lsb}]" if self.width == 1 else f"[{msb}:{self.lsb}]"


@dataclass(frozen=True)
class Reg:
    name: str
    offset: int          # byte offset (MMIO) or register address (SPI chips)
    width: int           # bits
    reset: int = 0       # with fields: left 0, it is their reset values put together
    access: str = "rw"   # of the whole register when it has no fields
    signed: bool = False
    doc: str = ""
    fields: tuple[Field, ...] = ()
    on_read: str | None = None
    on_write: str | None = None
    attr: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "access", _check_access(self.name, self.access))
        if not self.fields:
            object.__setattr__(self, "fields", (
                Field(self.name, 0, self.width, self.access, self.reset & self.mask),))
            return
        object.__setattr__(self, "fields", tuple(self.fields))
        seen = 0
        for f in self.fields:
            if f.mask & seen or f.mask >> self.width:
                raise ValueError(f"{self.name}.{f.name}{f.bits}: overlaps another field or "
                                 f"lies outside the {self.width}-bit register")
            seen |= f.mask
        reset = 0
        for f in self.fields:
            reset |= f.reset << f.lsb
        if self.reset not in (0, reset):
            raise ValueError(f"{self.name}: reset 0x{self.reset:x} differs from its fields' "
                             f"0x{reset:x}")
        object.__setattr__(self, "reset", reset)

    @property
    def mask(self) -> int:
        return (1 << self.width) - 1

    @property
    def storage(self) -> str | None:
        """The model attribute holding the value, or None when nothing is stored."""
        if self.on_read is not None or all(f.access == "w" for f in self.fields):
            return None
        return self.attr or self.name.lower()

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name} has no field {name!r}")

    def access_mask(self, *modes: str) -> int:
        m = 0
        for f in self.fields:
            if f.access in modes:
                m |= f.mask
        return m

    def to_signed(self, raw: int) -> int:
        raw &= self.mask
        if self.signed and raw >> (self.width - 1):
            return raw - (1 << self.width)
        return raw

    def to_raw(self, value: int) -> int:
        return value & self.mask


class RegisterMap:
    """Lookup by offset and by name over a list of `Reg`; `title` names the block in docs."""

    def __init__(self, regs: list[Reg], title: str = ""):
        self.regs = list(regs)
        self.title = title
        self.by_offset = {r.offset: r for r in regs}
        self.by_name = {r.name: r for r in regs}
        self.name_at = {r.offset: r.name for r in regs}   # offset -> name, for hot dispatch
        if len(self.by_offset) != len(regs) or len(self.by_name) != len(regs):
            raise ValueError("duplicate register offset or name in map")

    def __iter__(self) -> Iterator[Reg]:
        return iter(self.regs)

    def __getitem__(self, key: int | str) -> Reg:
        return self.by_name[key] if isinstance(key, str) else self.by_offset[key]

    def get(self, key: int | str) -> Reg | None:
        return self.by_name.get(key) if isinstance(key, str) else self.by_offset.get(key)

    def resets(self) -> dict[str, int]:
        return {r.name: r.reset for r in self.regs}

    def bind(self, model: Any) -> dict[int, tuple]:
        """Per byte offset of every register: (reader, writer, shift, written_masks), with the
        model's callbacks resolved; written_masks[size] is the register's bits an access of
        `size` bytes at that offset writes. `Peripheral` dispatches through this."""
        slots: dict[int, tuple] = {}
        for reg in self.regs:
            if reg.width % 8:
                raise ValueError(f"{reg.name}: a memory-mapped register is whole bytes wide")
            reader, writer = _reader(reg, model), _writer(reg, model)
            mask = reg.mask
            for byte in range(reg.width // 8):
                shift = 8 * byte
                masks = tuple((SIZE_MASK.get(size, 0) << shift) & mask for size in range(9))
                slots[reg.offset + byte] = (reader, writer, shift, masks)
        return slots


def _method(model: Any, name: str | None) -> Callable | None:
    return None if name is None else getattr(model, name)


def _reader(reg: Reg, model: Any) -> Callable[[], int]:
    """The register's value as a read sees it (and clears its rc_r fields)."""
    attr = reg.storage
    provider = _method(model, reg.on_read)
    fields = [(f.mask, f.lsb, _method(model, f.on_read)) for f in reg.fields if f.on_read]
    readable = reg.mask & ~reg.access_mask("w")
    for mask, _, _ in fields:
        readable |= mask                          # a provider makes even a w field readable
    clear_on_read = reg.access_mask("rc_r")
    if provider is not None and not fields:
        return lambda: provider() & readable
    if attr is None and provider is None:
        return lambda: 0
    if not fields and not clear_on_read:
        return lambda: getattr(model, attr) & readable

    def read() -> int:
        value = provider() if provider is not None else getattr(model, attr)
        for mask, lsb, fn in fields:
            value = (value & ~mask) | ((fn() << lsb) & mask)
        if clear_on_read and attr is not None:
            setattr(model, attr, getattr(model, attr) & ~clear_on_read)
        return value & readable
    return read


def _writer(reg: Reg, model: Any) -> Callable[[int, int], None]:
    """`write(value, written_mask)`: `value` is already shifted into place and masked."""
    attr = reg.storage
    defined = reg.access_mask(*ACCESS_MODES)       # reserved bits are in no field
    rw = reg.access_mask("rw")
    rc_w1, rc_w0, rs = reg.access_mask("rc_w1"), reg.access_mask("rc_w0"), reg.access_mask("rs")
    on_write = _method(model, reg.on_write)
    field_calls = [(f.mask, f.lsb, _method(model, f.on_write), _method(model, f.on_change))
                   for f in reg.fields if f.on_write or f.on_change]
    if attr is None:
        if not field_calls:                       # write-only or computed: the hot case
            if on_write is None:
                return lambda value, wm: None
            return lambda value, wm: on_write(0, value & defined)

        def write_unstored(value: int, wm: int) -> None:
            value &= defined
            _after_write(0, 0, value, wm, field_calls, on_write)
        return write_unstored

    if defined == rw and not field_calls and on_write is not None:
        def write_rw(value: int, wm: int) -> None:   # the common case, kept short
            value &= rw
            old = getattr(model, attr)
            setattr(model, attr, (old & ~(wm & rw)) | value)
            on_write(old, value)
        return write_rw

    def write(value: int, wm: int) -> None:
        value &= defined
        old = getattr(model, attr)
        new = (old & ~(wm & rw)) | (value & rw)
        if rc_w1:
            new &= ~(value & rc_w1)
        if rc_w0:
            new &= ~(~value & wm & rc_w0)
        if rs:
            new |= value & rs
        setattr(model, attr, new)
        if field_calls:
            _after_write(old, new, value, wm, field_calls, on_write)
        elif on_write is not None:
            on_write(old, value)
    return write


def _after_write(old: int, new: int, value: int, wm: int, field_calls: list,
                 on_write: Callable | None) -> None:
    for mask, lsb, fn_write, fn_change in field_calls:
        if fn_write is not None and wm & mask:
            fn_write((value & mask) >> lsb)
        if fn_change is not None and (old ^ new) & mask:
            fn_change((old & mask) >> lsb, (new & mask) >> lsb)
    if on_write is not None:
        on_write(old, value)
