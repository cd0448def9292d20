"""STM32F10x flash program/erase controller (FPEC) at 0x40022000, per RM0008 §3.3 and the
flash programming manual PM0075.

Registered as `metersim.STM32F1_Flash` (Renode has no F1 flash controller). The flash array
itself is the .repl's `Memory.MappedMemory` at 0x08000000 (read-only to the CPU); the engine
forwards CPU stores into it to `on_flash_write`, and content is read and changed through the
machine's sysbus.

Behaviour followed:
- FLASH_KEYR 0x45670123 then 0xCDEF89AB clears CR.LOCK; a wrong key (or keys written while
  unlocked) locks FPEC and CR until reset. CR.LOCK = 1 relocks. CR is ignored while locked.
- Programming (CR.PG): half-word stores only (PM0075 §2.3.3: other sizes get a bus error,
  reported here by returning False). The target must read 0xFFFF, else PGERR and nothing is
  written, except that 0x0000 may always be written (RM0008 §3.3.3).
- Page erase: PER, AR = any address in the page, STRT. Pages are 1 KiB (`page_size`, medium
  density, F103RB) or 2 KiB (high density, F103RC). Mass erase: MER, STRT.
- Write protection: WRPR bit n clear protects 4 KiB (bits 0..31 on medium density; on high
  density bits 0..30 protect 4 KiB each and bit 31 the rest); a program/erase there sets
  WRPRTERR and does nothing. WRPR/OBR come from the option bytes (`wrpr`, `obr` arguments).
- Timing (DS5319 Table 31): half-word program 52.5 µs typical (40..70), page erase and mass
  erase 20..40 ms -> 30 ms each; `program_us`, `page_erase_ms`, `mass_erase_ms` override.
  SR.BSY is set for that long in virtual time; a second store while busy queues behind the
  first (the bus stalls on the chip). SR.EOP is set when each operation ends.
- IRQ (NVIC 4): EOP & EOPIE or (PGERR | WRPRTERR) & ERRIE.
- ACR: LATENCY, HLFCYA, PRFTBE (PRFTBS follows); an HCLK above 24/48/72 MHz for 0/1/2 wait
  states is logged once.

Not modelled: option-byte programming/erase (OPTKEYR unlocks OPTWRE; OPTPG/OPTER are
logged), read protection, stalling CPU reads during an operation.
"""

from __future__ import annotations

import logging

from metersim._errors import SetupError
from metersim.peripherals.base import Context
from metersim.peripherals.registry import model
from metersim.peripherals.regmap import Field, Reg, RegisterMap
from metersim.peripherals.stm32.flash_common import KEY1, KEY2, FlashBase, KeyLock, key_registers
from metersim._units import PS_PER_MS, PS_PER_US

ACR, KEYR, OPTKEYR, SR, CR, AR, OBR, WRPR = 0x00, 0x04, 0x08, 0x0C, 0x10, 0x14, 0x1C, 0x20
BSY, PGERR, WRPRTERR, EOP = 1 << 0, 1 << 2, 1 << 4, 1 << 5
PG, PER, MER, OPTPG, OPTER, STRT, LOCK, OPTWRE, ERRIE, EOPIE = (
    1 << 0, 1 << 1, 1 << 2, 1 << 4, 1 << 5, 1 << 6, 1 << 7, 1 << 9, 1 << 10, 1 << 12)
OPTKEY1, OPTKEY2 = 0x45670123, 0xCDEF89AB

REGISTERS = RegisterMap([
    Reg("ACR", ACR, 32, on_write="_acr_written", fields=(
        Field("LATENCY", 0, 3, doc="wait states (checked against HCLK)"),
        Field("HLFCYA", 3, doc="half-cycle access (stored)"),
        Field("PRFTBE", 4, reset=1, doc="prefetch buffer enable"),
        Field("PRFTBS", 5, access="r", reset=1, on_read="_prftbs_value",
              doc="prefetch buffer status: follows PRFTBE"))),
    *key_registers(KEYR, OPTKEYR),
    Reg("SR", SR, 32, on_write="_sr_written", fields=(
        Field("BSY", 0, access="r", on_read="_busy_value", doc="an operation is in progress"),
        Field("PGERR", 2, access="rc_w1", doc="programmed a half-word not erased"),
        Field("WRPRTERR", 4, access="rc_w1", doc="write-protected"),
        Field("EOP", 5, access="rc_w1", doc="end of operation"))),
    Reg("CR", CR, 32, on_write="_cr_written", doc="ignored while locked", fields=(
        Field("PG", 0, doc="programming"), Field("PER", 1, doc="page erase"),
        Field("MER", 2, doc="mass erase"), Field("OPTPG", 4, doc="not modelled"),
        Field("OPTER", 5, doc="not modelled"),
        Field("STRT", 6, access="w", on_read="_strt_value", doc="start the erase"),
        Field("LOCK", 7, access="rs", reset=1, doc="1 locks until the keys are written"),
        Field("OPTWRE", 9, access="rc_w0", doc="option bytes writable"),
        Field("ERRIE", 10, doc="error interrupt"), Field("EOPIE", 12, doc="EOP interrupt"))),
    Reg("AR", AR, 32, fields=(Field("FAR", 0, 32, doc="address of the page to erase"),)),
    Reg("OBR", OBR, 32, doc="from the `obr` argument", fields=(
        Field("OPTERR", 0, access="r"), Field("RDPRT", 1, access="r"),
        Field("USER", 2, 8, access="r", reset=0xFF), Field("DATA0", 10, 8, access="r", reset=0xFF),
        Field("DATA1", 18, 8, access="r", reset=0xFF))),
    Reg("WRPR", WRPR, 32, doc="from the `wrpr` argument",
        fields=(Field("WRP", 0, 32, access="r", reset=0xFFFFFFFF,
                      doc="bit n = 0 protects 4 KiB from n x 4 KiB"),)),
], title="STM32F1 flash interface (RM0008 §3.3, PM0075)")


@model("metersim.STM32F1_Flash", "metersim.STM32F1_FlashController")
class STM32F1_Flash(FlashBase):
    WAIT_STATE_LIMITS = (24_000_000, 48_000_000, 72_000_000)
    LOCK = LOCK
    registers = REGISTERS

    def __init__(self, ctx: Context, flash=None, flash_base: int = 0x08000000,
                 flash_size: int = 0x20000, page_size: int = 1024,
                 program_us: float = 52.5, page_erase_ms: float = 30,
                 mass_erase_ms: float = 30, wrpr: int = 0xFFFFFFFF, obr: int = 0x03FFFFFC,
                 **kw):
        size = int(getattr(flash, "size", 0) or flash_size)
        super().__init__(ctx, flash_base, size)
        if page_size not in (1024, 2048):
            raise SetupError(f"{ctx.name}: F1 flash pages are 1024 or 2048 bytes, "
                             f"got {page_size}")
        self.page_size = int(page_size)
        self.program_ps = round(program_us * PS_PER_US)
        self.page_erase_ps = round(page_erase_ms * PS_PER_MS)
        self.mass_erase_ps = round(mass_erase_ms * PS_PER_MS)
        self.wrpr_default = int(wrpr) & 0xFFFFFFFF
        self.obr_default = int(obr) & 0xFFFFFFFF
        self.keys = KeyLock(KEY1, KEY2)
        self.optkeys = KeyLock(OPTKEY1, OPTKEY2)
        self.reset()

    def reset(self) -> None:
        self.cancel_all()
        self.reset_registers()
        self.wrpr = self.wrpr_default
        self.obr = self.obr_default
        self.keys.reset()
        self.optkeys.reset()
        self.IRQ.unset()

    # -- registers ---------------------------------------------------------------------------------
    def _prftbs_value(self) -> int:
        return (self.acr >> 4) & 1

    def _strt_value(self) -> int:
        return int(self.busy and bool(self.cr & (PER | MER)))

    def _optkeyr_written(self, _old: int, value: int) -> None:
        if self.keys.locked:
            return
        self.optkeys.write(value)
        if not self.optkeys.locked:
            self.cr |= OPTWRE

    def _sr_written(self, _old: int, _value: int) -> None:
        self.update_irq()

    def _cr_written(self, old: int, value: int) -> None:
        if self.keys.locked:
            self.cr = old
            return
        if value & LOCK:
            self.keys.lock()
            self.optkeys.lock()
        if value & (OPTPG | OPTER):
            self.ctx.log_once("optbytes", logging.WARNING,
                              "option-byte program/erase is not modelled")
        if value & STRT:
            if self.cr & PER:
                self._erase_page(self.ar)
            elif self.cr & MER:
                self.start(self.mass_erase_ps, self._do_mass_erase)
        self.update_irq()

    # -- operations -----------------------------------------------------------------------------------
    def _protected(self, offset: int) -> bool:
        bitn = min(offset // 4096, 31)       # 4 KiB per bit on both densities
        return not (self.wrpr >> bitn) & 1

    def on_flash_write(self, address: int, size: int, value: int) -> bool:
        offset = self.to_offset(address)
        if offset is None:
            return False
        if not self.cr & PG or self.keys.locked:
            self.ctx.log_once("nopg", logging.WARNING,
                              "store to flash at 0x%08x without FLASH_CR.PG: ignored", address)
            return True
        if size != 2 or offset & 1:
            self.ctx.log(logging.WARNING, "flash store of %d bytes at 0x%08x: the F1 flash "
                         "programs half-words only (bus error)", size, address)
            return False
        self.start(self.program_ps, lambda: self._do_program(offset, value & 0xFFFF))
        return True

    def _do_program(self, offset: int, value: int) -> None:
        if self._protected(offset):
            self.sr |= WRPRTERR
            return
        current = int.from_bytes(self.read_flash(offset, 2), "little")
        if current != 0xFFFF and value != 0:
            self.sr |= PGERR
            return
        self.write_flash(offset, value.to_bytes(2, "little"))
        self.sr |= EOP

    def _erase_page(self, address: int) -> None:
        offset = self.to_offset(address)
        if offset is None:
            self.ctx.log(logging.WARNING, "page erase at 0x%08x outside flash", address)
            self.start(self.page_erase_ps, lambda: None)
            return
        page = offset - offset % self.page_size
        self.start(self.page_erase_ps, lambda: self._do_erase_page(page))

    def _do_erase_page(self, page: int) -> None:
        if self._protected(page):
            self.sr |= WRPRTERR
            return
        self.write_flash(page, b"\xff" * self.page_size)
        self.sr |= EOP

    def _do_mass_erase(self) -> None:
        if self.wrpr != 0xFFFFFFFF:
            self.sr |= WRPRTERR
            return
        self.write_flash(0, b"\xff" * self.flash_size)
        self.sr |= EOP

    def update_irq(self) -> None:
        level = (self.sr & EOP and self.cr & EOPIE) or \
            (self.sr & (PGERR | WRPRTERR) and self.cr & ERRIE)
        self.IRQ.set(bool(level))

    def latency(self) -> int:
        return self.acr & 7
