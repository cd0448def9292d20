"""Winbond W25Q64 / W25Q128 serial NOR flash (SPI, single I/O), with busy times and power loss.

Followed (Winbond W25Q64JV / W25Q128JV data sheets; figures as collected in
shared/reference/protocols-and-chips.md §6.2, tags [V]/[R] there):
- JEDEC ID 9Fh: EF 40 17 (W25Q64), EF 40 18 (W25Q128); ABh / 90h device ID 16h / 17h.
- 256-byte pages, 4 KiB sectors, 32/64 KiB blocks; erased = FFh.
- Status registers SR1 (b0 BUSY, b1 WEL, b2-4 BP0-2, b5 TB, b6 SEC, b7 SRP), SR2 (b0 SRL,
  b1 QE, b3-5 LB1-3, b6 CMP, b7 SUS), SR3 (b2 WPS, b5-6 DRV). Read with 05h/35h/15h at any time,
  written with 01h (SR1[, SR2]), 31h, 11h after 06h, non-volatile (tW 10 ms typ / 15 ms max) or
  after 50h volatile (immediate). SRP=1 with /WP low blocks status writes.
- WEL must be set by 06h before program, erase and status write; 04h clears it; it clears
  itself when the operation completes. Commands run when /CS goes high; a command cut short
  (address incomplete) is ignored.
- 02h page program: new = old AND data, the address wraps inside the 256-byte page and only the
  last 256 bytes sent are kept; tPP 0.4 ms typ / 3 ms max.
- 20h/52h/D8h/C7h|60h erase: tSE 45/400 ms, tBE32 120/1600 ms, tBE64 150/2000 ms,
  tCE 20/100 s (W25Q64) and 40/200 s (W25Q128). `timing="typ"` (default) or `"max"`.
- While BUSY every command except the status reads is ignored.
- 03h read (no dummy), 0Bh fast read (one dummy byte); reads wrap from the top to 0.
- B9h power-down: everything but ABh is ignored; ABh releases (after 3 dummy bytes it also
  returns the device ID). 4Bh: 4 dummy bytes then the 64-bit unique ID. 5Ah: SFDP (JESD216
  header plus a 9-DWORD basic table declaring 1-1-1 only). 66h+99h software reset.
- Block protection from BP/TB/SEC/CMP as in the W25Q64JV/W25Q128JV protection tables (the
  general rule: BP=1..6 protect capacity/64 << (BP-1) at the top or, TB=1, bottom; BP=7 all;
  SEC=1 uses 4/8/16/32 KiB; CMP inverts) [R]. A program or erase that touches protected memory
  is not executed; chip erase is refused if any block is protected.

Power loss (`power_off()`): an interrupted page program leaves a deterministic mix (seeded by
`ctx.rng`): the bytes programmed before the cut are done, the next few are partly programmed
(a random subset of their 1->0 bits), the rest keep the old value. An interrupted erase leaves a
prefix of the range erased (proportional to elapsed time) and the remainder with each bit
partially erased (set to 1 with probability = elapsed fraction). Nothing outside the page or the
erased range changes. The same seed and timing give the same bytes.

Not modelled: dual/quad I/O commands (3Bh, 6Bh, BBh, EBh, 32h: logged and ignored), program/erase
suspend (75h/7Ah), security registers (42h/44h/48h), the one-time-programmable lock of LB/SRL,
power-up write inhibit time tPUW, tDP/tRES1 (3 us), individual block locks (WPS=1), 4-byte
address mode (not on these parts), /HOLD. Non-volatile status bits persist across
`power_off()`/`power_on()` but not across instances (pass `status_registers=` to restore them).
Reading the SPI bus while the chip is unpowered or not driving returns FFh.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import numpy as np

from metersim._errors import SetupError
from metersim._units import PS_PER_MS, PS_PER_S, PS_PER_US
from metersim.peripherals.base import Context, History, SPIDevice
from metersim.peripherals.nvm_image import NvmImage
from metersim.peripherals.registry import model

PAGE_SIZE = 256
SECTOR_SIZE = 4096
BLOCK32_SIZE = 32 * 1024
BLOCK64_SIZE = 64 * 1024

# Opcodes (single I/O set).
WRSR, PP, READ, WRDI, RDSR1, WREN, FAST_READ = 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x0B
WRSR3, RDSR3, SE, WRSR2, RDSR2, RDSFDP, RDUID = 0x11, 0x15, 0x20, 0x31, 0x35, 0x5A, 0x4B
VWREN, BE32, BE64, CE1, CE2, MFID, JEDEC = 0x50, 0x52, 0xD8, 0xC7, 0x60, 0x90, 0x9F
PD, RPD, RSTEN, RST = 0xB9, 0xAB, 0x66, 0x99
_STATUS_READS = (RDSR1, RDSR2, RDSR3)
_UNSUPPORTED = {0x3B: "dual output read", 0x6B: "quad output read", 0xBB: "dual I/O read",
                0xEB: "quad I/O read", 0x32: "quad page program", 0x75: "erase/program suspend",
                0x7A: "erase/program resume", 0x42: "program security register",
                0x44: "erase security register", 0x48: "read security register"}

SR1_BUSY, SR1_WEL, SR1_SRP = 0x01, 0x02, 0x80
SR2_CMP = 0x40


@dataclass(frozen=True)
class NorPart:
    name: str
    jedec_id: tuple[int, int, int]
    device_id: int          # returned by ABh and 90h
    size_bytes: int
    chip_erase_ps: tuple[int, int]   # (typ, max)


_COMMON_TIMES_PS = {  # (typ, max), W25Q64JV / W25Q128JV AC characteristics
    "page_program": (400 * PS_PER_US, 3 * PS_PER_MS),
    "sector_erase": (45 * PS_PER_MS, 400 * PS_PER_MS),
    "block32_erase": (120 * PS_PER_MS, 1600 * PS_PER_MS),
    "block64_erase": (150 * PS_PER_MS, 2000 * PS_PER_MS),
    "status_write": (10 * PS_PER_MS, 15 * PS_PER_MS),
}

PARTS = {
    "W25Q64": NorPart("W25Q64", (0xEF, 0x40, 0x17), 0x16, 8 << 20, (20 * PS_PER_S, 100 * PS_PER_S)),
    "W25Q128": NorPart("W25Q128", (0xEF, 0x40, 0x18), 0x17, 16 << 20, (40 * PS_PER_S, 200 * PS_PER_S)),
}


def _sfdp_table(size_bytes: int) -> bytes:
    """JESD216 SFDP: header, one parameter header, 9-DWORD basic flash parameter table."""
    dwords = [
        0xFF8020E5,             # uniform 4 KiB erase (20h), write granularity >= 64 B, 3-byte addr, 1-1-1 only
        size_bytes * 8 - 1,     # density in bits - 1
        0, 0,                   # no 1-4-4 / 1-1-4 / 1-1-2 / 1-2-2 fast reads
        0xFFFFFFEE,             # no 2-2-2 / 4-4-4
        0x0000FFFF, 0x0000FFFF,
        0x520F200C,             # erase type 1: 2^12 with 20h, type 2: 2^15 with 52h
        0x0000D810,             # erase type 3: 2^16 with D8h, type 4: none
    ]
    head = bytes([0x53, 0x46, 0x44, 0x50, 0x05, 0x01, 0x00, 0xFF])          # "SFDP" rev 1.5, 1 header
    param = bytes([0x00, 0x00, 0x01, len(dwords), 0x10, 0x00, 0x00, 0xFF])  # basic table at 0x10
    table = b"".join(d.to_bytes(4, "little") for d in dwords)
    return head + param + table


class SpiNorFlash(SPIDevice):
    """A W25Qxx on an SPI bus. GPIO inputs: 0 = /CS (active low), 1 = /WP (active low)."""

    def __init__(self, ctx: Context, part: str = "W25Q64", image_path: str | os.PathLike | None = None,
                 timing: str = "typ", unique_id: int | None = None,
                 status_registers: tuple[int, int, int] | None = None):
        if part not in PARTS:
            raise SetupError(f"unknown SPI NOR part {part!r}; known: {', '.join(PARTS)}")
        if timing not in ("typ", "max"):
            raise SetupError(f"timing must be 'typ' or 'max', got {timing!r}")
        self.ctx = ctx
        self.part = PARTS[part]
        self.size = self.part.size_bytes
        self.image = NvmImage(self.size, image_path)
        self.mem = self.image.data
        col = 0 if timing == "typ" else 1
        self.times_ps = {k: v[col] for k, v in _COMMON_TIMES_PS.items()}
        self.times_ps["chip_erase"] = self.part.chip_erase_ps[col]
        self._rng = ctx.rng("power-loss")
        if unique_id is None:
            unique_id = ctx.rng("unique-id").getrandbits(64)
        self.unique_id = unique_id.to_bytes(8, "big")
        self._sfdp = _sfdp_table(self.size)
        sr = status_registers or (0x00, 0x00, 0x60)
        self.sr1 = sr[0] & 0xFC      # BUSY/WEL are volatile
        self.sr2 = sr[1] & 0x7F
        self.sr3 = sr[2]
        self.wp_low = False          # /WP pin level (False = high = writes allowed)
        self.powered = True
        self.powered_down = False
        self.cs_active = False
        self._volatile_sr_enable = False
        self._reset_enabled = False
        self._op: dict | None = None
        self._clear_transaction()
        self.operations: History = History()  # (start_ps, kind, addr, length)

    # -- GPIO ----------------------------------------------------------------------------------
    def on_gpio(self, pin: int, level: bool) -> None:
        if pin == 0:
            self.set_chip_select(not level)
        elif pin == 1:
            self.wp_low = not level
        else:
            self.ctx.log_once(("pin", pin), logging.WARNING, "no GPIO input %d (0=/CS, 1=/WP)", pin)

    # -- status --------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        self._settle()
        return self._op is not None

    @property
    def status(self) -> int:
        """SR1 as the chip would return it now."""
        self._settle()
        return self.sr1 | (SR1_BUSY if self._op else 0)

    @property
    def wel(self) -> bool:
        return bool(self.sr1 & SR1_WEL)

    # -- SPI -----------------------------------------------------------------------------------
    def _clear_transaction(self) -> None:
        self._cmd: int | None = None
        self._rx = bytearray()
        self._ignored = False
        self._page_buf: np.ndarray | None = None

    def transmit(self, byte: int) -> int:
        self._settle()
        if not self.powered or not self.cs_active:
            return 0xFF
        byte &= 0xFF
        if self._cmd is None:
            self._cmd = byte
            busy = self._op is not None
            self._ignored = ((self.powered_down and byte != RPD)
                             or (busy and byte not in _STATUS_READS))
            if self._ignored:
                self.ctx.log(logging.DEBUG, "command %02Xh ignored (%s)", byte,
                             "power-down" if self.powered_down else "busy")
            return 0xFF
        rx = self._rx
        rx.append(byte)
        if self._ignored:
            return 0xFF
        return self._out(self._cmd, len(rx) - 1, byte)

    def _addr(self, rx: bytearray | None = None) -> int:
        rx = self._rx if rx is None else rx
        return ((rx[0] << 16) | (rx[1] << 8) | rx[2]) % self.size

    def _out(self, cmd: int, i: int, byte: int) -> int:
        """The byte shifted out on DO while the i-th byte after the opcode comes in."""
        if cmd == RDSR1:
            return self.status
        if cmd == RDSR2:
            return self.sr2
        if cmd == RDSR3:
            return self.sr3
        if cmd == READ:
            return 0xFF if i < 3 else int(self.mem[(self._addr() + i - 3) % self.size])
        if cmd == FAST_READ:
            return 0xFF if i < 4 else int(self.mem[(self._addr() + i - 4) % self.size])
        if cmd == JEDEC:
            return self.part.jedec_id[i % 3]
        if cmd == MFID:
            if i < 3:
                return 0xFF
            ids = (0xEF, self.part.device_id)
            return ids[(i - 3 + (self._rx[2] & 1)) % 2]
        if cmd == RPD:
            return 0xFF if i < 3 else self.part.device_id
        if cmd == RDUID:
            return self.unique_id[i - 4] if 4 <= i < 12 else 0xFF
        if cmd == RDSFDP:
            if i < 4:
                return 0xFF
            a = ((self._rx[0] << 16) | (self._rx[1] << 8) | self._rx[2]) + i - 4
            return self._sfdp[a] if a < len(self._sfdp) else 0xFF
        if cmd == PP and i >= 3:
            if self._page_buf is None:
                self._page_buf = np.full(PAGE_SIZE, 0xFF, dtype=np.uint8)
            # wraps inside the page; a later byte for the same offset replaces the earlier one
            self._page_buf[(self._addr() + i - 3) % PAGE_SIZE] = byte
        return 0xFF

    def finish_transmission(self) -> None:
        self._settle()
        cmd, rx, ignored, page_buf = self._cmd, self._rx, self._ignored, self._page_buf
        self._clear_transaction()
        if cmd is None or ignored or not self.powered:
            return
        self._execute(cmd, rx, page_buf)

    def _execute(self, cmd: int, rx: bytearray, page_buf: np.ndarray | None) -> None:
        if cmd == WREN:
            self.sr1 |= SR1_WEL
            self._volatile_sr_enable = False
        elif cmd == WRDI:
            self.sr1 &= ~SR1_WEL
        elif cmd == VWREN:
            self._volatile_sr_enable = True
        elif cmd in (WRSR, WRSR2, WRSR3):
            self._write_status(cmd, rx)
        elif cmd == PP:
            if len(rx) < 4:
                return self._ignore(cmd, "no data after the address")
            addr = self._addr(rx)
            self._start_program(addr - addr % PAGE_SIZE, page_buf)
        elif cmd in (SE, BE32, BE64):
            if len(rx) < 3:
                return self._ignore(cmd, "address incomplete")
            unit = {SE: SECTOR_SIZE, BE32: BLOCK32_SIZE, BE64: BLOCK64_SIZE}[cmd]
            kind = {SE: "sector_erase", BE32: "block32_erase", BE64: "block64_erase"}[cmd]
            lo = self._addr(rx) - self._addr(rx) % unit
            self._start_erase(cmd, kind, lo, lo + unit)
        elif cmd in (CE1, CE2):
            if rx:
                return self._ignore(cmd, "/CS must rise right after the opcode")
            self._start_erase(cmd, "chip_erase", 0, self.size)
        elif cmd == PD:
            self.powered_down = True
        elif cmd == RPD:
            self.powered_down = False
        elif cmd == RSTEN:
            self._reset_enabled = True
            return
        elif cmd == RST:
            if self._reset_enabled:
                self._software_reset()
        elif cmd in _UNSUPPORTED:
            self.ctx.log_once(("unsupported", cmd), logging.WARNING,
                              "command %02Xh (%s) is not modelled; ignored", cmd, _UNSUPPORTED[cmd])
        elif cmd not in (READ, FAST_READ, JEDEC, MFID, RDUID, RDSFDP) + _STATUS_READS:
            self.ctx.log_once(("unknown", cmd), logging.WARNING, "unknown command %02Xh ignored", cmd)
        self._reset_enabled = False

    def _ignore(self, cmd: int, why: str) -> None:
        self.ctx.log(logging.INFO, "command %02Xh not executed: %s", cmd, why)

    def _software_reset(self) -> None:
        self.sr1 &= ~SR1_WEL
        self._volatile_sr_enable = False
        self.powered_down = False

    # -- status register writes ----------------------------------------------------------------
    def _write_status(self, cmd: int, rx: bytearray) -> None:
        if not rx:
            return self._ignore(cmd, "no data")
        if self.sr1 & SR1_SRP and self.wp_low:
            return self._ignore(cmd, "status registers protected (SRP=1, /WP low)")
        volatile = self._volatile_sr_enable
        if not volatile and not self.wel:
            return self._ignore(cmd, "WEL not set")
        new1, new2, new3 = self.sr1, self.sr2, self.sr3
        if cmd == WRSR:
            new1 = (self.sr1 & 0x03) | (rx[0] & 0xFC)
            if len(rx) > 1:
                new2 = self._merge_sr2(rx[1])
        elif cmd == WRSR2:
            new2 = self._merge_sr2(rx[0])
        else:
            new3 = rx[0] & 0xE4 | (self.sr3 & ~0xE4 & 0xFF)

        def apply() -> None:
            self.sr1 = (new1 & ~SR1_WEL) if not volatile else (new1 | (self.sr1 & SR1_WEL))
            self.sr2, self.sr3 = new2, new3

        if volatile:
            self._volatile_sr_enable = False
            apply()
        else:
            self._begin("status_write", 0, 0, apply, None)

    def _merge_sr2(self, value: int) -> int:
        lb = (self.sr2 | value) & 0x38          # lock bits can only be set
        return (value & 0x43) | lb | (self.sr2 & 0x04)

    # -- protection ----------------------------------------------------------------------------
    def protected_range(self) -> tuple[int, int, bool]:
        """(lo, hi, complement): the BP-protected range; with complement the rest is protected."""
        bp = (self.sr1 >> 2) & 7
        tb, sec = (self.sr1 >> 5) & 1, (self.sr1 >> 6) & 1
        if bp == 0:
            length = 0
        elif bp == 7:
            length = self.size
        elif sec:
            length = SECTOR_SIZE << min(bp - 1, 3)
        else:
            length = min(self.size, (self.size // 64) << (bp - 1))
        lo, hi = (0, length) if tb else (self.size - length, self.size)
        return lo, hi, bool(self.sr2 & SR2_CMP)

    def is_protected(self, lo: int, hi: int) -> bool:
        plo, phi, comp = self.protected_range()
        inside = lo < phi and plo < hi
        if not comp:
            return inside
        return lo < plo or hi > phi  # any part outside the unprotected window

    # -- operations ----------------------------------------------------------------------------
    def _start_program(self, page: int, buf: np.ndarray) -> None:
        if not self.wel:
            return self._ignore(PP, "WEL not set")
        if self.is_protected(page, page + PAGE_SIZE):
            return self._ignore(PP, f"page 0x{page:06x} is write-protected")
        self._begin("page_program", page, PAGE_SIZE, self._finish_program, buf)

    def _finish_program(self) -> None:
        page, buf = self._op["addr"], self._op["data"]
        self.mem[page:page + PAGE_SIZE] &= buf

    def _start_erase(self, cmd: int, kind: str, lo: int, hi: int) -> None:
        if not self.wel:
            return self._ignore(cmd, f"{kind}: WEL not set")
        if self.is_protected(lo, hi):
            return self._ignore(cmd, f"{kind} at 0x{lo:06x}: write-protected")
        self._begin(kind, lo, hi - lo, self._finish_erase, None)

    def _finish_erase(self) -> None:
        lo, n = self._op["addr"], self._op["length"]
        self.mem[lo:lo + n] = 0xFF

    def _begin(self, kind: str, addr: int, length: int, done, data) -> None:
        now = self.ctx.clock.now_ps
        dur = self.times_ps[kind]
        ev = self.ctx.clock.schedule(dur, self._settle)
        self._op = dict(kind=kind, addr=addr, length=length, done=done, data=data,
                        start_ps=now, end_ps=now + dur, event=ev)
        self.operations.append((now, kind, addr, length))
        self.ctx.log(logging.DEBUG, "%s at 0x%06x (%d bytes) busy for %d ps", kind, addr, length, dur)

    def _settle(self) -> None:
        """Complete the running operation if its time has come (also its scheduled event)."""
        op = self._op
        if op is not None and self.ctx.clock.now_ps >= op["end_ps"]:
            op["done"]()
            self._op = None
            self.sr1 &= ~SR1_WEL

    # -- power -----------------------------------------------------------------------------------
    def power_off(self) -> None:
        """Cut the supply: a running program/erase leaves its page or range half done."""
        self._settle()
        op = self._op
        if op is not None:
            op["event"].cancel()
            frac = (self.ctx.clock.now_ps - op["start_ps"]) / (op["end_ps"] - op["start_ps"])
            if op["kind"] == "page_program":
                self._interrupt_program(op["addr"], op["data"], frac)
            elif op["kind"] != "status_write":
                self._interrupt_erase(op["addr"], op["length"], frac)
            self.ctx.log(logging.INFO, "power lost during %s at 0x%06x (%.0f%% done)",
                         op["kind"], op["addr"], 100 * frac)
            self._op = None
        self.powered = False
        self.powered_down = False
        self.sr1 &= ~SR1_WEL
        self._volatile_sr_enable = False
        self._reset_enabled = False
        self._clear_transaction()
        self.image.flush()

    def power_on(self) -> None:
        self.powered = True
        self._clear_transaction()

    def _np_rng(self) -> np.random.Generator:
        return np.random.default_rng(self._rng.getrandbits(64))

    def _interrupt_program(self, page: int, buf: np.ndarray, frac: float) -> None:
        old = self.mem[page:page + PAGE_SIZE].copy()
        to_clear = old & ~buf                    # bits this program would take from 1 to 0
        offsets = np.flatnonzero(to_clear)
        if not len(offsets):
            return
        rng = self._np_rng()
        done = int(frac * len(offsets))
        result = old.copy()
        result[offsets[:done]] &= buf[offsets[:done]]
        partial = offsets[done:done + 4]         # the group in flight: some of its bits made it
        result[partial] &= ~(to_clear[partial] & rng.integers(0, 256, len(partial), dtype=np.uint8))
        self.mem[page:page + PAGE_SIZE] = result

    def _interrupt_erase(self, lo: int, length: int, frac: float) -> None:
        rng = self._np_rng()
        done = int(frac * length)
        self.mem[lo:lo + done] = 0xFF
        chunk = 1 << 18
        for a in range(lo + done, lo + length, chunk):
            b = min(a + chunk, lo + length)
            bits = rng.random((b - a, 8), dtype=np.float32) < frac
            self.mem[a:b] |= np.packbits(bits, axis=1).reshape(-1)

    # -- host side -------------------------------------------------------------------------------
    def read_image(self, addr: int = 0, length: int | None = None) -> bytes:
        """The array contents as they are now (no SPI traffic, no timing)."""
        length = self.size - addr if length is None else length
        return bytes(self.mem[addr:addr + length])

    def reset(self) -> None:
        """MCU/board reset line: only the transaction is dropped. The flash is not reset by the
        MCU, so power-down mode, status bits and a running operation survive (as on boards)."""
        self._clear_transaction()
        self.cs_active = False

    def close(self) -> None:
        self.image.close()
        self.mem = self.image.data


@model("metersim.W25Q64")
class W25Q64(SpiNorFlash):
    def __init__(self, ctx: Context, **params):
        super().__init__(ctx, part="W25Q64", **params)


@model("metersim.W25Q128")
class W25Q128(SpiNorFlash):
    def __init__(self, ctx: Context, **params):
        super().__init__(ctx, part="W25Q128", **params)
