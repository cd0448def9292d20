"""STM32F1/F4 SPI (CR1/CR2/SR/DR/CRCPR/RXCRCR/TXCRCR/I2SCFGR/I2SPR), master mode, timed.

Followed: RM0008 §25 (STM32F10x SPI) and RM0430 §29 (STM32F413 SPI/I2S):
- §25.3.3 "Configuring the SPI in master mode" / §25.3.5 "Data transmission and reception
  procedures": a DR write fills the Tx buffer (TXE=0); it moves to the shift register when that
  is empty (TXE=1 again at once); each frame takes 8 (DFF=0) or 16 (DFF=1) SCK periods with
  fSCK = fPCLK / 2^(BR+1); RXNE sets when the frame has been shifted in; BSY is set while a
  frame is shifted or the Tx buffer is full.
- §25.3.10 "Error flags": OVR when a frame completes with RXNE still set (the new frame is
  lost), cleared by reading DR then SR; MODF when NSS goes low in master mode (from the NSS pin
  with SSM=0 and SSOE=0, or from SSI with SSM=1): SPE and MSTR are cleared, MODF is cleared by
  an SR access followed by a CR1 write.
- §25.3.6 "CRC calculation": CRC over transmitted and received frames with CRCPR (8- or 16-bit
  per DFF), CRCNEXT sends TXCRC after the current frame, then the received CRC is compared with
  RXCRC and CRCERR is set on a mismatch; clearing CRCEN resets both CRC registers.
- §25.3.11 interrupts: TXE&TXEIE, RXNE&RXNEIE, (OVR|MODF|CRCERR)&ERRIE on one line.
- fPCLK is PCLK2 for SPI1 (and SPI4/5 on F4), PCLK1 otherwise, from the RCC clock tree.

Devices attach with `register_child(device, address=None)` (`dev: T @ spi1`); each frame is
exchanged with every device whose `cs_active` is true (chip selects are GPIOs wired to the
devices), at the end of the frame, byte by byte, most significant byte first; with LSBFIRST
the bit order on the wire is reversed. No device selected reads 0xFF (pulled-up MISO); two
selected devices drive MISO together (their bytes are ANDed and a warning is logged).

Not modelled: slave mode (MSTR=0: data is kept, nothing is clocked), RXONLY / BIDIMODE
bidirectional clocking, TI frame format and FRE, I2S (I2SCFGR/I2SPR stored), UDR, DMA requests
(TXDMAEN/RXDMAEN stored; DMAReceive/DMATransmit outputs not driven), CPOL/CPHA (stored; devices
see whole bytes).
"""

from __future__ import annotations

import logging
from typing import Any

from metersim.peripherals.base import GPIO, Context, Peripheral
from metersim.peripherals.registry import model
from metersim.peripherals.regmap import Reg, RegisterMap
from metersim.peripherals.stm32 import series_of
from metersim.peripherals.stm32.usart import ApbClock
from metersim.units import PS_PER_S

CR1, CR2, SR, DR, CRCPR, RXCRCR, TXCRCR, I2SCFGR, I2SPR = range(0, 0x24, 4)
REGS = RegisterMap([
    Reg("CR1", CR1, 16, 0, "rw", doc="CPHA CPOL MSTR BR[5:3] SPE LSBFIRST SSI SSM RXONLY DFF "
                                     "CRCNEXT CRCEN BIDIOE BIDIMODE"),
    Reg("CR2", CR2, 16, 0, "rw", doc="RXDMAEN TXDMAEN SSOE FRF ERRIE RXNEIE TXEIE"),
    Reg("SR", SR, 16, 0x0002, "r", doc="RXNE TXE CHSIDE UDR CRCERR(rc_w0) MODF OVR BSY FRE"),
    Reg("DR", DR, 16, 0, "rw"),
    Reg("CRCPR", CRCPR, 16, 0x0007, "rw", doc="CRC polynomial"),
    Reg("RXCRCR", RXCRCR, 16, 0, "r"),
    Reg("TXCRCR", TXCRCR, 16, 0, "r"),
    Reg("I2SCFGR", I2SCFGR, 16, 0, "rw", doc="I2S configuration (stored)"),
    Reg("I2SPR", I2SPR, 16, 0x0002, "rw", doc="I2S prescaler (stored)"),
])

# CR1
CPHA, CPOL, MSTR = 1, 2, 4
SPE, LSBFIRST, SSI, SSM, RXONLY, DFF, CRCNEXT, CRCEN, BIDIOE, BIDIMODE = (1 << i for i in range(6, 16))
# CR2
RXDMAEN, TXDMAEN, SSOE, ERRIE, RXNEIE, TXEIE = 1, 2, 4, 1 << 5, 1 << 6, 1 << 7
# SR
RXNE, TXE, CHSIDE, UDR, CRCERR, MODF, OVR, BSY = (1 << i for i in range(8))


def _reverse(value: int, bits: int) -> int:
    return int(f"{value:0{bits}b}"[::-1], 2)


def crc_update(crc: int, data: int, bits: int, poly: int) -> int:
    """One frame into the SPI CRC (MSB first, no reflection, as the SPI CRC unit does)."""
    mask = (1 << bits) - 1
    for i in reversed(range(bits)):
        feedback = ((crc >> (bits - 1)) ^ (data >> i)) & 1
        crc = (crc << 1) & mask
        if feedback:
            crc ^= poly & mask
    return crc


@model("SPI.STM32SPI", "metersim.STM32_SPI")
class STM32Spi(Peripheral):
    size = 0x400

    def __init__(self, ctx: Context, series: Any = None, frequency: int = 0,
                 clock: str | None = None, **_ignored):
        super().__init__(ctx)
        self.series = series_of(series, "F4")
        self.IRQ = GPIO("IRQ")
        self.DMAReceive = GPIO("DMAReceive")     # Renode's names; DMA is not modelled
        self.DMATransmit = GPIO("DMATransmit")
        self._clk = ApbClock(ctx, "PCLK", clock, fallback_hz=int(frequency) or 8_000_000)
        self.children: list[tuple[Any, Any]] = []
        self.nss_pin_high = True                 # NSS input (pin 0); pulled up when unwired
        self._ev = None
        self.reset()

    def register_child(self, device: Any, address: Any = None) -> None:
        """Attach an SPI device (`dev: T @ spi1`). Several may share the bus behind CS lines."""
        if not hasattr(device, "transmit"):
            raise TypeError(f"{device!r} has no transmit(byte): it cannot sit on an SPI bus")
        self.children.append((address, device))

    def reset(self) -> None:
        if self._ev is not None:
            self._ev.cancel()
        self._ev = None
        self.regs = REGS.resets()
        self._txbuf = 0
        self._tx_full = False
        self._rx = 0
        self._shifting = None        # "data" or "crc" while a frame is on the wire
        self._ovr_dr_read = False
        self._modf_seen = False
        self.IRQ.unset()

    # -- flags ----------------------------------------------------------------------------
    def _set_sr(self, bits: int, on: bool = True) -> None:
        self.regs["SR"] = (self.regs["SR"] | bits) if on else (self.regs["SR"] & ~bits)
        self._update_irq()

    def _update_irq(self) -> None:
        sr, cr2 = self.regs["SR"], self.regs["CR2"]
        level = ((cr2 & TXEIE and sr & TXE) or (cr2 & RXNEIE and sr & RXNE)
                 or (cr2 & ERRIE and sr & (OVR | MODF | CRCERR)))
        self.IRQ.set(bool(level))

    @property
    def bit_rate_hz(self) -> float:
        return self._clk.hz / (2 ** (((self.regs["CR1"] >> 3) & 7) + 1))

    def _frame_bits(self) -> int:
        return 16 if self.regs["CR1"] & DFF else 8

    # -- register access ------------------------------------------------------------------
    def read(self, offset: int, size: int) -> int:
        if offset == SR:
            sr = self.regs["SR"]
            if sr & MODF:
                self._modf_seen = True
            if sr & OVR and self._ovr_dr_read:
                self._ovr_dr_read = False
                self._set_sr(OVR, False)       # DR read then SR read clears OVR
            return sr
        if offset == DR:
            self._set_sr(RXNE, False)
            if self.regs["SR"] & OVR:
                self._ovr_dr_read = True
            return self._rx
        reg = REGS.get(offset)
        if reg is None:
            return super().read(offset, size)
        return self.regs[reg.name]

    def write(self, offset: int, size: int, value: int) -> None:
        value &= 0xFFFF
        if offset == CR1:
            self._write_cr1(value)
        elif offset == CR2:
            self.regs["CR2"] = value
            self._check_nss()
            self._update_irq()
        elif offset == SR:
            if self.regs["SR"] & MODF:
                self._modf_seen = True
            if not value & CRCERR:
                self._set_sr(CRCERR, False)    # rc_w0; other bits are read-only
        elif offset == DR:
            self._txbuf = value & (0xFFFF if self.regs["CR1"] & DFF else 0xFF)
            self._tx_full = True
            self._set_sr(TXE, False)
            self._try_start()
        elif offset == CRCPR:
            self.regs["CRCPR"] = value
        elif offset in (I2SCFGR, I2SPR):
            self.regs[REGS[offset].name] = value
            if offset == I2SCFGR and value & (1 << 11):
                self.ctx.log_once("i2s", logging.WARNING, "I2S mode is not modelled")
        elif offset in (RXCRCR, TXCRCR):
            pass                               # read-only
        else:
            super().write(offset, size, value)

    def _write_cr1(self, value: int) -> None:
        old = self.regs["CR1"]
        if self._modf_seen and self.regs["SR"] & MODF:
            self._modf_seen = False
            self._set_sr(MODF, False)          # SR access then CR1 write clears MODF
        self.regs["CR1"] = value
        if (old ^ value) & CRCEN:
            self.regs["RXCRCR"] = self.regs["TXCRCR"] = 0
        if old & SPE and not value & SPE and self._ev is not None:
            self.ctx.log(logging.WARNING, "SPE cleared while a frame was being shifted: aborted")
            self._ev.cancel()
            self._ev = None
            self._shifting = None
            self._set_sr(BSY, False)
        if value & SPE and not value & MSTR:
            self.ctx.log_once("slave", logging.WARNING, "SPI slave mode is not modelled")
        if value & SPE and value & (RXONLY | BIDIMODE):
            self.ctx.log_once("bidi", logging.WARNING, "RXONLY/BIDIMODE clocking is not modelled")
        self._check_nss()
        self._try_start()

    # -- NSS / mode fault -----------------------------------------------------------------
    def on_gpio(self, pin: int, level: bool) -> None:
        """Input 0: the NSS pin (only looked at in master mode with SSM=0 and SSOE=0)."""
        if pin == 0:
            self.nss_pin_high = bool(level)
            self._check_nss()

    def _check_nss(self) -> None:
        cr1, cr2 = self.regs["CR1"], self.regs["CR2"]
        if not cr1 & MSTR or not cr1 & SPE:
            return
        if cr1 & SSM:
            nss_low = not cr1 & SSI
        elif cr2 & SSOE:
            return                               # NSS is an output: no multi-master fault
        else:
            nss_low = not self.nss_pin_high
        if nss_low:
            self.ctx.log(logging.WARNING, "mode fault: NSS low in master mode (MODF)")
            self.regs["CR1"] = cr1 & ~(SPE | MSTR)
            if self._ev is not None:
                self._ev.cancel()
                self._ev = None
                self._shifting = None
            self._set_sr(BSY, False)
            self._set_sr(MODF, True)

    # -- shifting -------------------------------------------------------------------------
    def _try_start(self) -> None:
        cr1 = self.regs["CR1"]
        if self._ev is not None or not (cr1 & SPE and cr1 & MSTR):
            return
        if self._tx_full:
            self._tx_full = False
            kind, data = "data", self._txbuf
            self._set_sr(TXE, True)             # Tx buffer moved to the shift register
        elif cr1 & CRCEN and cr1 & CRCNEXT:
            kind, data = "crc", self.regs["TXCRCR"]
        else:
            return
        bits = self._frame_bits()
        self._shifting = kind
        self._set_sr(BSY, True)
        frame_ps = bits * 2 ** (((cr1 >> 3) & 7) + 1) * PS_PER_S // self._clk.hz
        self._ev = self.ctx.clock.schedule(frame_ps, self._frame_done, kind, data, bits)

    def _exchange_byte(self, byte: int) -> int:
        selected = [dev for _, dev in self.children if getattr(dev, "cs_active", True)]
        if not selected:
            return 0xFF
        if len(selected) > 1:
            self.ctx.log_once("contention", logging.WARNING,
                              "%d SPI devices selected at once: MISO contention", len(selected))
        reply = 0xFF
        for dev in selected:
            reply &= int(dev.transmit(byte)) & 0xFF
        return reply

    def _frame_done(self, kind: str, data: int, bits: int) -> None:
        self._ev = None
        self._shifting = None
        lsb = bool(self.regs["CR1"] & LSBFIRST)
        wire = _reverse(data, bits) if lsb else data
        got = 0
        for shift in range(bits - 8, -1, -8):
            got = (got << 8) | self._exchange_byte((wire >> shift) & 0xFF)
        rx = _reverse(got, bits) if lsb else got
        cr1 = self.regs["CR1"]
        if kind == "data":
            if cr1 & CRCEN:
                poly = self.regs["CRCPR"]
                self.regs["TXCRCR"] = crc_update(self.regs["TXCRCR"], data, bits, poly)
                self.regs["RXCRCR"] = crc_update(self.regs["RXCRCR"], rx, bits, poly)
        else:
            self.regs["CR1"] &= ~CRCNEXT
            if rx != self.regs["RXCRCR"]:
                self._set_sr(CRCERR, True)
        if self.regs["SR"] & RXNE:
            self._set_sr(OVR, True)             # previous frame unread: this one is lost
        else:
            self._rx = rx
            self._set_sr(RXNE, True)
        self._try_start()
        if self._ev is None:
            self._set_sr(BSY, False)
