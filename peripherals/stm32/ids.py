"""STM32 device identification: 96-bit unique ID with the flash-size register, and DBGMCU.

`metersim.STM32_DeviceSignature` (series "F1" or "F4"):
- F1 (RM0008 §30.1-30.2), registered at 0x1FFFF7E0: F_SIZE (16 bits, KiB) at +0x00, U_ID
  (96 bits) at +0x08..+0x13.
- F4 (RM0430 §31.1-31.2), registered at 0x1FFF7A10: U_ID at +0x00..+0x0B, F_SIZE at +0x12.
U_ID layout (F4 documents it; the F1 is given the same shape): X and Y wafer coordinates
(16 bits each), wafer number (8 bits), lot number (7 ASCII characters). Without a `uid`
argument it is drawn from the machine's seeded RNG, so two machines differ and reruns agree.
The area is read-only (writes are logged).

`metersim.STM32_DBGMCU` at 0xE0042000: IDCODE (REV_ID[31:16], DEV_ID[11:0]), CR, APB1_FZ,
APB2_FZ (stored; freezing peripherals under a debugger is not modelled). DEV_ID 0x410 =
medium-density F103 (RB), 0x414 = high density (RC), 0x463 = F413/423; REV_ID defaults:
0x2003 (F1 MD rev X), 0x1003 (F1 HD rev X/Y), 0x1000 (F413 rev A). STM32F10x errata
ES0340 §2.3: IDCODE reads 0 from firmware unless a debugger is attached; set
`idcode_needs_debugger=True` to get that behaviour (default off: most firmware expects it).
"""

from __future__ import annotations

import logging

from metersim._errors import SetupError
from metersim.peripherals.base import Context, Peripheral
from metersim.peripherals.registry import model
from metersim.peripherals.stm32 import series_of

LAYOUT = {"F1": {"fsize": 0x00, "uid": 0x08}, "F4": {"fsize": 0x12, "uid": 0x00}}
DEV_IDS = {"F103MD": (0x410, 0x2003), "F103HD": (0x414, 0x1003), "F413": (0x463, 0x1000)}


def make_uid(rng) -> bytes:
    x, y = rng.randrange(1, 200), rng.randrange(1, 200)
    wafer = rng.randrange(1, 26)
    lot = "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(7))
    return (x.to_bytes(2, "little") + y.to_bytes(2, "little") + bytes([wafer])
            + lot.encode("ascii"))


@model("metersim.STM32_DeviceSignature", "metersim.STM32_UniqueID")
class STM32_DeviceSignature(Peripheral):
    size = 0x20

    def __init__(self, ctx: Context, series=None, flash_size_kib: int = 128, uid=None, **kw):
        super().__init__(ctx)
        self.series = series_of(series, "F1")
        if self.series not in LAYOUT:
            raise SetupError(f"{ctx.name}: series must be F1 or F4, got {series!r}")
        if uid is None:
            self.uid = make_uid(ctx.rng("uid"))
        else:
            raw = uid if isinstance(uid, (bytes, bytearray)) else int(str(uid), 0).to_bytes(
                12, "little")
            if len(raw) != 12:
                raise SetupError(f"{ctx.name}: the unique ID has 12 bytes, got {len(raw)}")
            self.uid = bytes(raw)
        self.flash_size_kib = int(flash_size_kib)
        lay = LAYOUT[self.series]
        self.image = bytearray(self.size)
        self.image[lay["uid"]:lay["uid"] + 12] = self.uid
        self.image[lay["fsize"]:lay["fsize"] + 2] = self.flash_size_kib.to_bytes(2, "little")

    def read(self, offset: int, size: int) -> int:
        if offset + size > self.size:
            return super().read(offset, size)
        return int.from_bytes(self.image[offset:offset + size], "little")

    def write(self, offset: int, size: int, value: int) -> None:
        self.ctx.log_once(("ro", offset), logging.WARNING,
                          "write to read-only device signature at +0x%x ignored", offset)


@model("metersim.STM32_DBGMCU")
class STM32_DBGMCU(Peripheral):
    size = 0x400

    def __init__(self, ctx: Context, part: str = "F103MD", dev_id: int | None = None,
                 rev_id: int | None = None, idcode_needs_debugger: bool = False, **kw):
        super().__init__(ctx)
        if part not in DEV_IDS and dev_id is None:
            raise SetupError(f"{ctx.name}: unknown part {part!r}; one of "
                             f"{', '.join(DEV_IDS)} or give dev_id/rev_id")
        d, r = DEV_IDS.get(part, (0, 0))
        self.dev_id = int(dev_id if dev_id is not None else d) & 0xFFF
        self.rev_id = int(rev_id if rev_id is not None else r) & 0xFFFF
        self.idcode_needs_debugger = bool(idcode_needs_debugger)
        self.debugger_attached = False
        self.regs = {0x04: 0, 0x08: 0, 0x0C: 0}

    @property
    def idcode(self) -> int:
        return self.rev_id << 16 | self.dev_id

    def reset(self) -> None:
        self.regs = {0x04: self.regs[0x04], 0x08: 0, 0x0C: 0}   # CR is kept (power-on reset only)

    def read(self, offset: int, size: int) -> int:
        reg = offset & ~3
        if reg == 0x00:
            visible = self.debugger_attached or not self.idcode_needs_debugger
            value = self.idcode if visible else 0
        elif reg in self.regs:
            value = self.regs[reg]
        else:
            return super().read(offset, size)
        return (value >> (8 * (offset & 3))) & ((1 << (8 * size)) - 1)

    def write(self, offset: int, size: int, value: int) -> None:
        reg = offset & ~3
        if reg in self.regs:
            self.regs[reg] = value & 0xFFFFFFFF
        elif reg == 0x00:
            pass
        else:
            super().write(offset, size, value)
