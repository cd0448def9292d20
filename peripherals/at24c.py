"""AT24Cxx (24LCxxx-compatible) I2C serial EEPROM: AT24C02, AT24C64, AT24C128, AT24C256, AT24C512.

I2C controller contract (what an I2C controller model calls; Renode's II2CPeripheral plus an
explicit address phase):

    START or repeated START, then the address byte 1010 A2 A1 A0 R/W matching `dev.address`:
        ack = dev.start(read: bool)          # False = NACK of the address byte
    write transaction (R/W = 0):
        ok = dev.write(payload: bytes)       # payload = the bytes AFTER the address byte;
                                             # may be called once per transaction or per byte
                                             # (calls continue the same transaction);
                                             # False = NACK (the device did not take them)
    read transaction (R/W = 1):
        data = dev.read(n)                   # n bytes, the controller ACKs all but the last
    STOP:
        dev.finish_transmission()            # a write with data bytes starts the write cycle here

    A controller that never calls start() (Renode's STM32F1_I2C style) still works: the first
    write() after a STOP opens a new transaction and returns False if the address would be
    NACKed; read() on a device that would NACK returns FFh bytes (the bus stays high).

Followed (Microchip/Atmel AT24C256C, 24LC256, AT24C02C, AT24C64D, AT24C512C data sheets; figures
as in shared/reference/protocols-and-chips.md §6.1, [R]):
- 7-bit address 0x50 | A2A1A0 (`address_pins` = 0..7).
- Word address: 1 byte (AT24C02) or 2 bytes MSB first; unused high bits are don't-care.
- Byte write / page write: data bytes go to the page buffer; the address counter wraps inside the
  page (8/32/64/64/128-byte pages), so more than a page overwrites the first bytes. Only the
  loaded bytes are changed. The self-timed write cycle starts at STOP (tWR = 5 ms max, used as
  the cycle time); a repeated START or no data bytes (dummy write) starts no cycle.
- During the write cycle the device NACKs its address (ACK polling).
- Current-address read, random read (dummy write + repeated START), sequential read; the
  address counter rolls over from the last byte of the array to 0; after a page write it
  points one past the last written byte, wrapped inside the page.
- WP (GPIO input 0) high: the write is accepted on the bus but no write cycle runs and the memory
  is unchanged (24LC256 behaviour). Erased bytes read FFh.
- Power loss (`power_off()`) during the write cycle: the first half of tWR erases the loaded bytes
  (their 0 bits go to 1 with probability 2 x elapsed), the second half programs them (the bits
  that must become 0 do so with probability 2 x elapsed - 1); random bits come from ctx.rng, so
  the same seed gives the same bytes. Nothing outside the loaded bytes of that page changes.

Not modelled: 24C04/08/16 (word-address bits in the device address), the 24C02 write-protect
half-array variants, tWR shorter than the maximum, bus-level timing (the controller times SCL),
the device ID / security pages of newer parts, the software reset sequence (9 clocks).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from metersim._errors import SetupError
from metersim._units import PS_PER_MS
from metersim.peripherals.base import Context, History, I2CDevice
from metersim.peripherals.nvm_image import NvmImage
from metersim.peripherals.registry import model


@dataclass(frozen=True)
class EepromPart:
    name: str
    size_bytes: int
    page_size: int
    address_bytes: int


PARTS = {
    "AT24C02": EepromPart("AT24C02", 256, 8, 1),
    "AT24C64": EepromPart("AT24C64", 8 * 1024, 32, 2),
    "AT24C128": EepromPart("AT24C128", 16 * 1024, 64, 2),
    "AT24C256": EepromPart("AT24C256", 32 * 1024, 64, 2),
    "AT24C512": EepromPart("AT24C512", 64 * 1024, 128, 2),
}
WRITE_CYCLE_PS = 5 * PS_PER_MS


class At24cEeprom(I2CDevice):
    """An AT24Cxx on an I2C bus. GPIO input 0 = WP (high protects)."""

    def __init__(self, ctx: Context, part: str = "AT24C256", address_pins: int = 0,
                 image_path: str | os.PathLike | None = None, write_cycle_ps: int = WRITE_CYCLE_PS,
                 size: int | None = None, page_size: int | None = None,
                 address_bytes: int | None = None):
        if part not in PARTS:
            raise SetupError(f"unknown EEPROM part {part!r}; known: {', '.join(PARTS)}")
        p = PARTS[part]
        self.size = size or p.size_bytes
        self.page_size = page_size or p.page_size
        self.address_bytes = address_bytes or p.address_bytes
        if not 0 <= address_pins <= 7:
            raise SetupError(f"address_pins is A2A1A0 as a number 0..7, got {address_pins}")
        if self.size & (self.size - 1) or self.page_size & (self.page_size - 1):
            raise SetupError(f"size ({self.size}) and page size ({self.page_size}) must be powers of two")
        if self.address_bytes not in (1, 2) or self.size > 1 << (8 * self.address_bytes):
            raise SetupError(f"{self.address_bytes} address byte(s) cannot address {self.size} bytes")
        self.ctx = ctx
        self.part = part
        self.address = 0x50 | address_pins
        self.write_cycle_ps = int(write_cycle_ps)
        self.image = NvmImage(self.size, image_path)
        self.mem = self.image.data
        self._rng = ctx.rng("power-loss")
        self.pointer = 0            # the internal address counter
        self.wp = False
        self.powered = True
        self._cycle: dict | None = None
        self._end_transaction()
        self.write_cycles: History = History()  # (start_ps, first address, bytes)

    # -- state -----------------------------------------------------------------------------------
    def _end_transaction(self) -> None:
        self._phase: str | None = None      # None, "write" or "read"
        self._addr_buf: list[int] = []
        self._data: dict[int, int] = {}     # address -> byte, the page buffer

    @property
    def busy(self) -> bool:
        """True while the self-timed write cycle runs (the device NACKs its address)."""
        self._settle()
        return self._cycle is not None

    def _settle(self) -> None:
        c = self._cycle
        if c is not None and self.ctx.clock.now_ps >= c["end_ps"]:
            for a, b in c["data"].items():
                self.mem[a] = b
            self._cycle = None

    def _responds(self) -> bool:
        return self.powered and not self.busy

    # -- GPIO ------------------------------------------------------------------------------------
    def on_gpio(self, pin: int, level: bool) -> None:
        if pin == 0:
            self.wp = bool(level)
        else:
            self.ctx.log_once(("pin", pin), logging.WARNING, "no GPIO input %d (0 = WP)", pin)

    # -- I2C -------------------------------------------------------------------------------------
    def start(self, read: bool) -> bool:
        """(Repeated) START with our address: ACK (True) or NACK (False)."""
        if self._phase == "write" and self._data:
            self.ctx.log(logging.INFO, "repeated START after %d data bytes: write discarded",
                         len(self._data))
        self._end_transaction()
        if not self._responds():
            return False
        self._phase = "read" if read else "write"
        return True

    def write(self, data: bytes) -> bool:
        if self._phase != "write":
            if not self.start(False):
                return False
        elif not self.powered:
            return False
        for b in bytes(data):
            if len(self._addr_buf) < self.address_bytes:
                self._addr_buf.append(b)
                if len(self._addr_buf) == self.address_bytes:
                    a = 0
                    for x in self._addr_buf:
                        a = (a << 8) | x
                    self.pointer = a % self.size
            else:
                self._data[self.pointer] = b
                page = self.pointer - self.pointer % self.page_size
                self.pointer = page + (self.pointer + 1) % self.page_size
        return True

    def read(self, count: int) -> bytes:
        if self._phase != "read":
            if not self.start(True):
                return b"\xff" * count
        elif not self.powered:
            return b"\xff" * count
        out = bytearray()
        for _ in range(count):
            out.append(int(self.mem[self.pointer]))
            self.pointer = (self.pointer + 1) % self.size
        return bytes(out)

    def finish_transmission(self) -> None:
        phase, data = self._phase, self._data
        self._end_transaction()
        if phase != "write" or not data or not self.powered:
            return
        if self.wp:
            self.ctx.log(logging.INFO, "WP high: write of %d bytes at 0x%04x ignored",
                         len(data), min(data))
            return
        now = self.ctx.clock.now_ps
        ev = self.ctx.clock.schedule(self.write_cycle_ps, self._settle)
        self._cycle = dict(data=data, start_ps=now, end_ps=now + self.write_cycle_ps, event=ev)
        self.write_cycles.append((now, min(data), len(data)))

    # -- power -----------------------------------------------------------------------------------
    def power_off(self) -> None:
        """Cut the supply; a write cycle in progress leaves its loaded bytes half written."""
        self._settle()
        c = self._cycle
        if c is not None:
            c["event"].cancel()
            frac = (self.ctx.clock.now_ps - c["start_ps"]) / (c["end_ps"] - c["start_ps"])
            rng = self._rng
            for a in sorted(c["data"]):
                old, new = int(self.mem[a]), c["data"][a]
                if frac < 0.5:
                    p = 2 * frac
                    mask = sum(1 << i for i in range(8) if rng.random() < p)
                    self.mem[a] = old | mask
                else:
                    p = 2 * frac - 1
                    mask = sum(1 << i for i in range(8) if rng.random() < p)
                    self.mem[a] = 0xFF & ~(~new & mask)
            self.ctx.log(logging.INFO, "power lost during a write cycle (%.0f%% done)", 100 * frac)
            self._cycle = None
        self.powered = False
        self._end_transaction()
        self.image.flush()

    def power_on(self) -> None:
        self.powered = True
        self.pointer = 0
        self._end_transaction()

    # -- host side -------------------------------------------------------------------------------
    def read_image(self, addr: int = 0, length: int | None = None) -> bytes:
        length = self.size - addr if length is None else length
        return bytes(self.mem[addr:addr + length])

    def reset(self) -> None:
        """An MCU reset does not reach the EEPROM: only the bus transaction is dropped."""
        self._end_transaction()

    def close(self) -> None:
        self.image.close()
        self.mem = self.image.data


def _variant(part: str):
    @model(f"metersim.{part}")
    class Variant(At24cEeprom):
        def __init__(self, ctx: Context, **params):
            super().__init__(ctx, part=part, **params)

    Variant.__name__ = Variant.__qualname__ = part
    return Variant


AT24C02 = _variant("AT24C02")
AT24C64 = _variant("AT24C64")
AT24C128 = _variant("AT24C128")
AT24C256 = _variant("AT24C256")
AT24C512 = _variant("AT24C512")
