"""STM32F1/F4 CRC calculation unit at 0x40023000, RM0008 §4 and RM0430 §4.

Registered as Renode's `CRC.STM32_CRC` (its `series` argument accepted; only the fixed F1/F2/F4
unit is modelled) and `metersim.STM32_CRC`. CRC-32 with polynomial 0x04C11DB7, processed
MSB-first on whole 32-bit words, no input/output reflection, no final XOR; CR.RESET reloads
0xFFFFFFFF. Each write to DR feeds one word (byte and half-word writes are fed as a
zero-extended word, which is what the 32-bit-only unit does with them; logged once).
IDR is an 8-bit scratch register. The 4-AHB-cycle computation time is not modelled.
"""

from __future__ import annotations

import logging

from metersim.peripherals.base import Context, Peripheral
from metersim.peripherals.registry import model
from metersim.peripherals.regmap import Field, Reg, RegisterMap
from metersim.peripherals.stm32 import series_of

POLY = 0x04C11DB7
DR, IDR, CR = 0x00, 0x04, 0x08

REGISTERS = RegisterMap([
    Reg("DR", DR, 32, 0xFFFFFFFF, "rw", on_read="_dr_value", on_write="_dr_written",
        doc="reads the CRC so far; each write feeds one word"),
    Reg("IDR", IDR, 32, fields=(Field("IDR", 0, 8, doc="scratch byte"),)),
    Reg("CR", CR, 32, fields=(Field("RESET", 0, access="w", on_write="_reset_written",
                                    doc="1 reloads DR with 0xFFFFFFFF"),)),
], title="STM32F1/F4 CRC calculation unit (RM0008 §4, RM0430 §4)")


def _table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ POLY) if crc & 0x80000000 else (crc << 1)
        table.append(crc & 0xFFFFFFFF)
    return table


_TABLE = _table()


def crc32_word(crc: int, word: int) -> int:
    """Feed one 32-bit word (MSB first) into the running CRC."""
    for shift in (24, 16, 8, 0):
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _TABLE[((crc >> 24) ^ (word >> shift)) & 0xFF]
    return crc


@model("CRC.STM32_CRC", "metersim.STM32_CRC")
class STM32_CRC(Peripheral):
    size = 0x400
    registers = REGISTERS

    def __init__(self, ctx: Context, series=None, **kw):
        super().__init__(ctx)
        self.series = series_of(series, "F4")
        if self.series not in ("F1", "F2", "F4"):
            ctx.log(logging.WARNING, "series %s: modelled as the fixed F1/F4 CRC-32 unit",
                    self.series)
        self.reset()

    def reset(self) -> None:
        self.reset_registers()
        self.dr = 0xFFFFFFFF

    def write(self, offset: int, size: int, value: int) -> None:
        if offset & ~3 == DR and size != 4:
            self.ctx.log_once("subword", logging.WARNING,
                              "%d-byte write to CRC_DR: the F1/F4 unit takes whole words", size)
        super().write(offset, size, value)

    def _dr_value(self) -> int:
        return self.dr

    def _dr_written(self, _old: int, value: int) -> None:
        self.dr = crc32_word(self.dr, value)

    def _reset_written(self, value: int) -> None:
        if value:
            self.dr = 0xFFFFFFFF
