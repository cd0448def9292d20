"""STM32F4 flash interface at 0x40023C00, per RM0430 §3.

Registered as Renode's `MTD.STM32F4_FlashController` (its `flash: flash` argument is the
`Memory.MappedMemory` array, used for the size) and `metersim.STM32F4_Flash`. Flash content is
read and changed through the machine's sysbus; the engine forwards CPU stores into the flash
range to `on_flash_write`.

Behaviour followed:
- Sectors (F413, 1 MiB): 4 x 16 KiB, 64 KiB, 7 x 128 KiB (0..11); larger arrays continue with
  128 KiB sectors (1.5 MiB = 16 sectors).
- KEYR 0x45670123/0xCDEF89AB clears CR.LOCK; a wrong sequence locks CR until reset.
  OPTKEYR 0x08192A3B/0x4C5D6E7F clears OPTCR.OPTLOCK; OPTSTRT applies OPTCR (nWRP, RDP,
  USER, BOR_LEV) as the effective option bytes.
- Program (CR.PG): the store's size must match PSIZE (x8/x16/x32) else PGPERR, be aligned
  else PGAERR; bits can only go 1 -> 0 (the array is AND-programmed; no ECC on F4).
  A store without PG (or while locked) sets PGSERR and writes nothing. While PGAERR, PGPERR
  or PGSERR is set, new program operations are refused.
- Erase: SER + SNB + STRT (sector) or MER + STRT (mass); STRT with neither, or with PG, sets
  PGSERR. nWRP bit n = 0 protects sector n (0..11): WRPERR, nothing done.
- Timing (DS11581 'Flash memory programming', typical): word/half-word/byte program 16 µs;
  sector erase 16 KiB 400/300/250 ms, 64 KiB 1200/700/550 ms, 128 KiB 2000/1100/1000 ms and
  mass erase 16/11/8 s for x8/x16/x32 (x64 uses the x32 column). SR.BSY (bit 16) covers it in
  virtual time; stores while busy queue behind. EOP is set only when EOPIE = 1 (RM0430
  §3.8.4); IRQ (NVIC 4) = EOP, or an error flag with ERRIE (OPERR is set on errors when
  ERRIE = 1).
- ACR: LATENCY, PRFTEN, ICEN, DCEN stored (ICRST/DCRST read 0); HCLK above 25/50/75/100 MHz
  for 0/1/2/3 wait states (2.7-3.6 V) is logged once.

Not modelled: the option-byte memory region at 0x1FFFC000 (OPTCR is the only view), read
protection effects, RDERR (PCROP), OPTCR1 (sectors 12..15 are never protected).
"""

from __future__ import annotations

import logging

from metersim.peripherals.base import Context
from metersim.peripherals.registry import model
from metersim.peripherals.regmap import Field, Reg, RegisterMap
from metersim.peripherals.stm32.flash_common import KEY1, KEY2, FlashBase, KeyLock, key_registers
from metersim._units import PS_PER_MS, PS_PER_US

ACR, KEYR, OPTKEYR, SR, CR, OPTCR = 0x00, 0x04, 0x08, 0x0C, 0x10, 0x14
EOP, OPERR, WRPERR, PGAERR, PGPERR, PGSERR, RDERR, BSY = (
    1 << 0, 1 << 1, 1 << 4, 1 << 5, 1 << 6, 1 << 7, 1 << 8, 1 << 16)
PG, SER, MER, STRT, EOPIE, ERRIE, LOCK = 1 << 0, 1 << 1, 1 << 2, 1 << 16, 1 << 24, 1 << 25, 1 << 31
OPTLOCK, OPTSTRT = 1 << 0, 1 << 1
OPTKEY1, OPTKEY2 = 0x08192A3B, 0x4C5D6E7F
ERRORS = OPERR | WRPERR | PGAERR | PGPERR | PGSERR | RDERR
PROGRAM_BLOCKERS = PGAERR | PGPERR | PGSERR

# Erase times in ms by sector size (KiB) and PSIZE (x8, x16, x32, x64).
ERASE_MS = {16: (400, 300, 250, 250), 64: (1200, 700, 550, 550), 128: (2000, 1100, 1000, 1000)}
MASS_ERASE_MS = (16000, 11000, 8000, 8000)

REGISTERS = RegisterMap([
    Reg("ACR", ACR, 32, on_write="_acr_written", fields=(
        Field("LATENCY", 0, 4, doc="wait states (checked against HCLK)"),
        Field("PRFTEN", 8, doc="stored"), Field("ICEN", 9, doc="stored"),
        Field("DCEN", 10, doc="stored"), Field("ICRST", 11, access="w", doc="no effect"),
        Field("DCRST", 12, access="w", doc="no effect"))),
    *key_registers(KEYR, OPTKEYR),
    Reg("SR", SR, 32, on_write="_sr_written", fields=(
        Field("EOP", 0, access="rc_w1", doc="end of operation (only with EOPIE)"),
        Field("OPERR", 1, access="rc_w1", doc="an error with ERRIE"),
        Field("WRPERR", 4, access="rc_w1", doc="write-protected sector"),
        Field("PGAERR", 5, access="rc_w1", doc="misaligned program"),
        Field("PGPERR", 6, access="rc_w1", doc="program size is not PSIZE"),
        Field("PGSERR", 7, access="rc_w1", doc="program/erase sequence error"),
        Field("RDERR", 8, access="rc_w1", doc="not raised (no PCROP)"),
        Field("BSY", 16, access="r", on_read="_busy_value", doc="an operation is in progress"))),
    Reg("CR", CR, 32, on_write="_cr_written", doc="ignored while locked", fields=(
        Field("PG", 0, doc="programming"), Field("SER", 1, doc="sector erase"),
        Field("MER", 2, doc="mass erase"), Field("SNB", 3, 4, doc="sector to erase"),
        Field("PSIZE", 8, 2, doc="program size x8/x16/x32/x64"),
        Field("STRT", 16, access="w", on_read="_strt_value", doc="start the erase"),
        Field("EOPIE", 24, doc="EOP flag and interrupt"), Field("ERRIE", 25, doc="error interrupt"),
        Field("LOCK", 31, access="rs", reset=1, doc="1 locks until the keys are written"))),
    Reg("OPTCR", OPTCR, 32, on_write="_optcr_written",
        doc="option bytes (the `optcr` argument); ignored while OPTLOCK", fields=(
            Field("OPTLOCK", 0, access="rs", reset=1, doc="1 locks until OPTKEYR"),
            Field("OPTSTRT", 1, access="w", doc="apply OPTCR as the option bytes"),
            Field("BOR_LEV", 2, 2, reset=3), Field("USER", 5, 3, reset=7, doc="stored"),
            Field("RDP", 8, 8, reset=0xAA, doc="stored"),
            Field("nWRP", 16, 12, reset=0xFFF, doc="bit n = 0 protects sector n"))),
], title="STM32F4 flash interface (RM0430 §3)")


def sector_layout(size: int) -> list[tuple[int, int]]:
    """(offset, size) of each sector for a flash of `size` bytes."""
    sectors, off = [], 0
    for kib in (16, 16, 16, 16, 64):
        if off >= size:
            break
        sectors.append((off, kib * 1024))
        off += kib * 1024
    while off < size:
        sectors.append((off, 128 * 1024))
        off += 128 * 1024
    return sectors


@model("MTD.STM32F4_FlashController", "metersim.STM32F4_Flash")
class STM32F4_Flash(FlashBase):
    WAIT_STATE_LIMITS = (25_000_000, 50_000_000, 75_000_000, 100_000_000)
    LOCK = LOCK
    registers = REGISTERS

    def __init__(self, ctx: Context, flash=None, flash_base: int = 0x08000000,
                 flash_size: int = 0x100000, program_us: float = 16,
                 optcr: int = 0x0FFFAAED, **kw):
        size = int(getattr(flash, "size", 0) or flash_size)
        super().__init__(ctx, flash_base, size)
        self.sectors = sector_layout(self.flash_size)
        self.program_ps = round(program_us * PS_PER_US)
        self.optcr_default = int(optcr)
        self.keys = KeyLock(KEY1, KEY2)
        self.optkeys = KeyLock(OPTKEY1, OPTKEY2)
        self.option_bytes = self.optcr_default & ~(OPTLOCK | OPTSTRT)
        self.reset()

    def reset(self) -> None:
        self.cancel_all()
        self._erasing = None          # (sector, begin ps, end ps) of the last erase started
        self.reset_registers()
        self.optcr = self.option_bytes | OPTLOCK
        self.keys.reset()
        self.optkeys.reset()
        self.IRQ.unset()

    # -- registers -----------------------------------------------------------------------------------
    def _strt_value(self) -> int:
        return int(self.busy and bool(self.cr & (SER | MER)))

    def _optkeyr_written(self, _old: int, value: int) -> None:
        self.optkeys.write(value)
        if not self.optkeys.locked:
            self.optcr &= ~OPTLOCK

    def _sr_written(self, _old: int, _value: int) -> None:
        self.update_irq()

    def _cr_written(self, old: int, value: int) -> None:
        if self.keys.locked:
            self.cr = old
            return
        if value & LOCK:
            self.keys.lock()
        cr = self.cr
        if value & STRT:
            if cr & PG or not cr & (SER | MER):
                self._error(PGSERR)
            elif cr & MER:
                self.start(MASS_ERASE_MS[self.psize()] * PS_PER_MS, self._do_mass_erase)
            else:
                snb = (cr >> 3) & 0xF
                if snb >= len(self.sectors):
                    self._error(PGSERR)
                    return
                kib = self.sectors[snb][1] // 1024
                dur = ERASE_MS[kib][self.psize()] * PS_PER_MS
                begin = max(self.ctx.clock.now_ps, self._queue_end_ps)
                self._erasing = (snb, begin, begin + dur)
                self.start(dur, lambda: self._do_erase_sector(snb))
        self.update_irq()

    def _optcr_written(self, old: int, value: int) -> None:
        if old & OPTLOCK:
            self.optcr = old
            return
        if value & OPTLOCK:
            self.optkeys.lock()
        if value & OPTSTRT:
            self.start(self.program_ps, self._apply_options)

    def _apply_options(self) -> None:
        self.option_bytes = self.optcr & ~(OPTLOCK | OPTSTRT)

    # -- operations ------------------------------------------------------------------------------------
    def psize(self) -> int:
        return (self.cr >> 8) & 3

    def sector_of(self, offset: int) -> int:
        for i, (start, size) in enumerate(self.sectors):
            if start <= offset < start + size:
                return i
        return len(self.sectors) - 1

    def _protected(self, sector: int) -> bool:
        return sector < 12 and not (self.option_bytes >> (16 + sector)) & 1

    def _error(self, flag: int) -> None:
        self.sr |= flag
        if self.cr & ERRIE:
            self.sr |= OPERR
        self.update_irq()

    def on_flash_write(self, address: int, size: int, value: int) -> bool:
        offset = self.to_offset(address)
        if offset is None:
            return False
        if self.keys.locked or not self.cr & PG:
            self.ctx.log_once("nopg", logging.WARNING,
                              "store to flash at 0x%08x without FLASH_CR.PG: PGSERR", address)
            self._error(PGSERR)
            return True
        if self.sr & PROGRAM_BLOCKERS:
            return True
        if size != (1, 2, 4, 8)[self.psize()]:
            self._error(PGPERR)
            return True
        if offset % size:
            self._error(PGAERR)
            return True
        self.start(self.program_ps, lambda: self._do_program(offset, size, value))
        return True

    def _do_program(self, offset: int, size: int, value: int) -> None:
        if self._protected(self.sector_of(offset)):
            self._error(WRPERR)
            return
        old = int.from_bytes(self.read_flash(offset, size), "little")
        self.write_flash(offset, (old & value).to_bytes(size, "little"))
        self._done()

    def power_off(self) -> None:
        """Power lost: a sector erase in progress stops part way. The model erases the share
        of the sector that the elapsed time covers, from its start (so an image's header there
        is gone first) and leaves the rest as it was: neither the old content nor erased."""
        now = self.ctx.clock.now_ps
        if self._erasing is not None:
            snb, begin, end = self._erasing
            if begin <= now < end and not self._protected(snb):
                start, size = self.sectors[snb]
                done = size * (now - begin) // (end - begin) & ~0xF
                if done:
                    self.write_flash(start, b"\xff" * done)
        self.reset()

    def _do_erase_sector(self, snb: int) -> None:
        self._erasing = None
        if self._protected(snb):
            self._error(WRPERR)
            return
        start, size = self.sectors[snb]
        self.write_flash(start, b"\xff" * size)
        self._done()

    def _do_mass_erase(self) -> None:
        if any(self._protected(i) for i in range(len(self.sectors))):
            self._error(WRPERR)
            return
        self.write_flash(0, b"\xff" * self.flash_size)
        self._done()

    def _done(self) -> None:
        if self.cr & EOPIE:
            self.sr |= EOP

    def update_irq(self) -> None:
        self.IRQ.set(bool(self.sr & EOP or (self.sr & ERRORS and self.cr & ERRIE)))

    def latency(self) -> int:
        return self.acr & 0xF
