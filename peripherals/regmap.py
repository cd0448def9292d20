"""Register maps as data: one table per chip drives the model, its docs and trace decoders."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reg:
    name: str
    offset: int          # byte offset (MMIO) or register address (SPI chips)
    width: int           # bits
    reset: int = 0
    access: str = "rw"   # "r", "w", "rw", "rc" (clear on read), "w1c", ...
    signed: bool = False
    doc: str = ""

    @property
    def mask(self) -> int:
        return (1 << self.width) - 1

    def to_signed(self, raw: int) -> int:
        raw &= self.mask
        if self.signed and raw >> (self.width - 1):
            return raw - (1 << self.width)
        return raw

    def to_raw(self, value: int) -> int:
        return value & self.mask


class RegisterMap:
    """Lookup by offset and by name over a list of `Reg`."""

    def __init__(self, regs: list[Reg]):
        self.regs = list(regs)
        self.by_offset = {r.offset: r for r in regs}
        self.by_name = {r.name: r for r in regs}
        if len(self.by_offset) != len(regs) or len(self.by_name) != len(regs):
            raise ValueError("duplicate register offset or name in map")

    def __iter__(self):
        return iter(self.regs)

    def __getitem__(self, key: int | str) -> Reg:
        return self.by_name[key] if isinstance(key, str) else self.by_offset[key]

    def get(self, key: int | str) -> Reg | None:
        return self.by_name.get(key) if isinstance(key, str) else self.by_offset.get(key)

    def resets(self) -> dict[str, int]:
        return {r.name: r.reset for r in self.regs}
