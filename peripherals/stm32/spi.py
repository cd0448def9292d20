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

Polled firmware (why no event per frame): with no SPI interrupt enabled (TXEIE, RXNEIE, ERRIE)
and no DMA request (TXDMAEN, RXDMAEN), nothing outside the peripheral can see a frame end at its
exact instant except through SPI registers. A frame's end is then still a clock event, but one
that does not cut the running CPU slice short (each cut costs tens of microseconds of host time,
once per byte); instead, any register access, a pin change of a device on the bus (chip select,
latch, reset...) or the NSS input at a time after the frame's end first finishes the frame "at"
its end time (the clock reads that time while the devices exchange the byte), and the event
itself only runs, in time order before any later event, if nothing came first. Firmware sees the
same flags and data at the same instruction as with an event per frame; a device's own outputs
that change because of a byte (an IRQ pin after an IRQEN write, say) change at the first such
access instead of at the frame's end, a few core cycles later in a polling loop. Enabling an
interrupt or DMA request while a frame is on the wire turns its end back into a slice-cutting
event at the original instant. benchmarks/bench_spi_polled.py compares the two paths. The end
and its backstop are a `polled.PolledEnd`, as the I2C model's polled steps are.

SR reads are mostly answered in C by the engine (`hot_registers`), from this model's state.
A read after a polled frame's end with nothing behind it (Tx buffer empty, CRC off, IRQ and
DMA lines low) sees SR as the end leaves it (RXNE or OVR set, BSY clear) without finishing the
frame, which sets `_seen_end`: the frame then finishes, still as of its end time, at the next
access this model answers in Python (the DR read or write that follows, or the poll that skips
ahead), a device pin change, a reset, a DMA stream's start or the backstop. Only the devices'
own side effects of the byte come those few polls later, as above. DR writes of polled
firmware are made in C as well while no frame's end has passed: the byte waits behind the
frame on the wire, or starts a quiet frame on an idle bus when the backstop already armed
runs no later than its end (see `hot_registers`); each frame's end, with the devices' byte,
is then finished exactly as for a frame the Python write started.

The quiet path is on by default (`STM32Spi.polled_fast_path`, per class or per instance; set it
False to compare): both paths make every register access of a firmware run at the same cycle
with the same value (checked on drv_lfs_reboot and drv_ade7753). SR reads also give the engine
a poll hint (the frame's end), so a loop spinning on TXE/RXNE/BSY skips ahead to it.

DMA (§25.3.9): the request outputs are levels, DMATransmit = TXE & TXDMAEN and DMAReceive =
RXNE & RXDMAEN, wired to a DMA channel's request input (`DMATransmit -> dma1@5`); the DMA
(peripherals/stm32/dma.py) serves them a transfer at a time. A memory-to-SPI channel finding
the SPI idle (no frame on the wire, Tx buffer empty) with TXDMAEN set, RXDMAEN, TXEIE, RXNEIE,
ERRIE, CRCEN and LSBFIRST clear, and a DMA latency L (request to write) not above the frame time
T, hands the whole transfer to the SPI instead (`dma_stream`): the frames go out back to back at
the baud rate, transfer 0 written at s (the stream's start), transfer k >= 1 at s + (k-1)·T + L,
frame k ended at s + (k+1)·T, exactly where TXE-paced requests served one by one fall; nothing
happens per frame, and any access to this SPI or that DMA, a device pin change, or an event
at an HT/TC instant an enabled DMA interrupt can see brings the frames, flags (TXE, BSY, RXNE,
OVR as the received frames would leave them) and the channel's CNDTR up to now, handing the
devices the bytes of every frame ended by then (a device with `transmit_block(bytes)` takes
them in one call). A register write that changes the set-up (CR1, CR2, DR) or disabling the
channel ends the stream at that instant: the frame on the wire and the one in the Tx buffer
go on as ordinary frames.

Not modelled: slave mode (MSTR=0: data is kept, nothing is clocked), RXONLY / BIDIMODE
bidirectional clocking, TI frame format and FRE, I2S (I2SCFGR/I2SPR stored), UDR, CPOL/CPHA
(stored; devices see whole bytes).
"""

from __future__ import annotations

import logging
import sys
from array import array
from typing import Any

from metersim.peripherals.base import GPIO, Context, Peripheral
from metersim.peripherals.registry import model
from metersim.peripherals.regmap import Reg, RegisterMap
from metersim.peripherals.stm32 import series_of
from metersim.peripherals.stm32.polled import PolledEnd, watch_device_pins
from metersim.peripherals.stm32.usart import ApbClock
from metersim._units import PS_PER_S

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
# Anything that lets the outside see a flag change at its own instant.
_WATCHERS = TXEIE | RXNEIE | ERRIE | TXDMAEN | RXDMAEN
_IRQ_ENABLES = TXEIE | RXNEIE | ERRIE
_DMA_ENABLES = TXDMAEN | RXDMAEN


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
    DMA_STREAM_DR = 0x0C         # a DMA channel writing here may hand its run over (dma_stream)
    polled_fast_path = True      # quiet frame ends for polled firmware (see docstring)

    def __init__(self, ctx: Context, series: Any = None, frequency: int = 0,
                 clock: str | None = None, **_ignored):
        super().__init__(ctx)
        self.series = series_of(series, "F4")
        self.IRQ = GPIO("IRQ")
        self.DMAReceive = GPIO("DMAReceive")     # Renode's names (request levels, see "DMA")
        self.DMATransmit = GPIO("DMATransmit")
        self.DMASend = self.DMATransmit         # the name Renode's STM32SPI gives it
        self._clk = ApbClock(ctx, "PCLK", clock, fallback_hz=int(frequency) or 8_000_000)
        self.children: list[tuple[Any, Any]] = []
        self._devices: tuple[Any, ...] = ()     # the children's devices, in order (per byte)
        self._all_have_cs = True
        self.nss_pin_high = True                 # NSS input (pin 0); pulled up when unwired
        self._pins_watched = True                # every device's pin changes settle frames first
        self._ev = None
        self._end = PolledEnd(ctx)               # a quiet frame's end (polled.py)
        self._seen_end = False
        self._st = None
        self.reset()

    def register_child(self, device: Any, address: Any = None) -> None:
        """Attach an SPI device (`dev: T @ spi1`). Several may share the bus behind CS lines."""
        if not hasattr(device, "transmit"):
            raise TypeError(f"{device!r} has no transmit(byte): it cannot sit on an SPI bus")
        self.children.append((address, device))
        self._devices = tuple(dev for _, dev in self.children)
        # A device without `cs_active` is always selected; when every device has one (SPIDevice
        # gives it), the per-byte selection reads the attribute directly.
        self._all_have_cs = all(hasattr(dev, "cs_active") for dev in self._devices)
        if not watch_device_pins(device, self._settle):
            self._pins_watched = False
            self.ctx.log(logging.INFO, "cannot watch the pins of %r: an event per SPI frame", device)

    def reset(self) -> None:
        if self._seen_end:
            self._settle()           # a frame firmware saw end (in C) ended before the reset
        if self._st is not None:
            if self._st.ev is not None:
                self._st.ev.cancel()
            self._st.chan.stream = None
            self._st = None
        if self._ev is not None:
            self._ev.cancel()
        self._end.drop()
        self._ev = None              # ordinary event at the frame's end (an interrupt may watch)
        self._due_ps = None          # end of the frame on the wire (None: bus idle)
        self._frame = None           # (kind, data, bits) of that frame
        self._quiet = False          # its end does not cut CPU slices: self._end has it
        self._seen_end = False       # an SR read answered in C saw that end (hot_registers)
        self.regs = REGS.resets()
        self._txbuf = 0
        self._tx_full = False
        self._rx = 0
        self._shifting = None        # "data" or "crc" while a frame is on the wire
        self._ovr_dr_read = False
        self._modf_seen = False
        self.IRQ.unset()
        self.DMATransmit.unset()
        self.DMAReceive.unset()

    # -- flags ----------------------------------------------------------------------------
    def _set_sr(self, bits: int, on: bool = True) -> None:
        regs = self.regs
        regs["SR"] = (regs["SR"] | bits) if on else (regs["SR"] & ~bits)
        # Polled firmware (no interrupt or DMA enable, lines low) needs neither update: the
        # same early outs as _update_irq / _update_dma, without the two calls per flag.
        cr2 = regs["CR2"]
        if cr2 & _IRQ_ENABLES or self.IRQ.level:
            self._update_irq()
        if cr2 & _DMA_ENABLES or self.DMATransmit.level or self.DMAReceive.level:
            self._update_dma()

    def _update_dma(self) -> None:
        sr, cr2 = self.regs["SR"], self.regs["CR2"]
        if self._st is not None or not (cr2 & (TXDMAEN | RXDMAEN) or self.DMATransmit.level
                                        or self.DMAReceive.level):
            return                       # the stream serves the channel; or no DMA at all
        self.DMATransmit.set(bool(cr2 & TXDMAEN and sr & TXE))
        self.DMAReceive.set(bool(cr2 & RXDMAEN and sr & RXNE))

    def _update_irq(self) -> None:
        sr, cr2 = self.regs["SR"], self.regs["CR2"]
        if not cr2 & (TXEIE | RXNEIE | ERRIE) and not self.IRQ.level:
            return
        level = ((cr2 & TXEIE and sr & TXE) or (cr2 & RXNEIE and sr & RXNE)
                 or (cr2 & ERRIE and sr & (OVR | MODF | CRCERR)))
        self.IRQ.set(bool(level))

    @property
    def bit_rate_hz(self) -> float:
        return self._clk.hz / (2 ** (((self.regs["CR1"] >> 3) & 7) + 1))

    def _frame_bits(self) -> int:
        return 16 if self.regs["CR1"] & DFF else 8

    # -- register access ------------------------------------------------------------------
    def hot_registers(self) -> list:
        """SR, which polled firmware spins on, is answered in C by the engine
        (metersim._engine.hot_regs) when its read changes nothing but the poll hint's
        bookkeeping: no DMA stream, MODF clear, OVR not being cleared, and no polling loop to
        skip ahead. A polled frame whose end has passed is seen as its end leaves SR when that
        end changes nothing else firmware sees (Tx buffer empty, CRC off, IRQ and DMA lines
        low); C then sets `_seen_end` and the frame finishes, as of its end, at this model's
        next Python access. It reads _st, _end (due_ps, settling), regs["SR"], regs["CR1"],
        _tx_full, _shifting, the IRQ/DMA lines' levels, _ovr_dr_read and _poll_hint_fn.

        DR writes of polled firmware (CR2's interrupt and DMA enables clear, lines low, no
        stream, no polled end passed) are made in C too: behind a quiet frame on the wire the
        byte waits in the Tx buffer; on an idle bus in master mode it starts a quiet frame
        (`_try_start`, `_schedule_end`) when the polled end's backstop already runs no later
        than the new end. It reads _due_ps, _quiet, _tx_full, polled_fast_path,
        _pins_watched, _clk.hz and _end.backstop, and sets _txbuf, _tx_full, regs["SR"],
        _shifting, _frame, _due_ps, _quiet and _end's due_ps, fn (`_frame_done`) and args."""
        from metersim._engine.hot_regs import HotRegister

        return [HotRegister(SR, "spi_sr", self), HotRegister(DR, "spi_dr_write", self)]

    def read(self, offset: int, size: int) -> int:
        if self._st is not None:
            self._stream_settle()
            if offset == SR and self._st is not None:
                return self.poll_hint(self.regs["SR"], self.dma_stream_next_ps())
        if self._quiet and self._due_ps is not None:
            self._settle()
        if offset == SR:
            sr = self.regs["SR"]
            if sr & MODF:
                self._modf_seen = True
            if sr & OVR and self._ovr_dr_read:
                self._ovr_dr_read = False
                self._set_sr(OVR, False)       # DR read then SR read clears OVR
            # Flags change at the end of the frame on the wire (or at the next event): a
            # firmware loop spinning on SR may skip ahead to it.
            return self.poll_hint(sr, self._due_ps)
        if offset == DR:
            self._set_sr(RXNE, False)
            if self.regs["SR"] & OVR:
                self._ovr_dr_read = True
            return self._rx
        name = REGS.name_at.get(offset)
        if name is None:
            return super().read(offset, size)
        return self.regs[name]

    def write(self, offset: int, size: int, value: int) -> None:
        if self._st is not None:
            if offset in (CR1, CR2, DR):
                self.dma_stream_stop()
            else:
                self._stream_settle()
        if self._quiet and self._due_ps is not None:
            self._settle()
        value &= 0xFFFF
        if offset == CR1:
            self._write_cr1(value)
        elif offset == CR2:
            self.regs["CR2"] = value
            self._check_nss()
            self._update_irq()
            self._update_dma()
            if self._due_ps is not None and self._quiet != self._may_be_quiet():
                if self._ev is not None:
                    self._ev.cancel()
                    self._ev = None
                self._schedule_end()           # an interrupt now watches the frame's end, or none
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
        if old & SPE and not value & SPE and self._due_ps is not None:
            self.ctx.log(logging.WARNING, "SPE cleared while a frame was being shifted: aborted")
            self._abort_frame()
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
            if self._due_ps is not None:
                self._settle()
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
            if self._due_ps is not None:
                self._abort_frame()
            self._set_sr(BSY, False)
            self._set_sr(MODF, True)

    # -- shifting -------------------------------------------------------------------------
    def _may_be_quiet(self) -> bool:
        return (self.polled_fast_path and self._pins_watched
                and not self.regs["CR2"] & _WATCHERS)

    def _schedule_end(self) -> None:
        """Plan the frame's end: an ordinary event when an interrupt or DMA request could see
        it; otherwise a polled end (polled.PolledEnd: a quiet backstop no later than it)."""
        self._quiet = self._may_be_quiet()
        if self._quiet:
            self._end.start(self._due_ps, self._frame_done)
        else:
            self._end.take()
            self._ev = self.ctx.clock.schedule_at(self._due_ps, self._frame_end_event)

    def _abort_frame(self) -> None:
        if self._ev is not None:
            self._ev.cancel()
        self._ev = None
        self._end.take()
        self._due_ps = None
        self._frame = None
        self._shifting = None

    def _settle(self) -> None:
        """Finish, at their own end times, the quiet frames that ended before this access or
        pin change (see the module docstring)."""
        if self._st is not None:
            self._stream_settle()
        self._end.settle()               # (an ordinary event runs on time by itself)

    def _frame_end_event(self) -> None:
        self._ev = None
        self._frame_done()

    def _try_start(self) -> None:
        cr1 = self.regs["CR1"]
        if self._due_ps is not None or not (cr1 & SPE and cr1 & MSTR):
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
        self._frame = (kind, data, bits)
        self._due_ps = self.ctx.clock.now_ps + frame_ps
        self._schedule_end()

    def _exchange_byte(self, byte: int) -> int:
        if self._all_have_cs:
            selected = [dev for dev in self._devices if dev.cs_active]
        else:
            selected = [dev for dev in self._devices if getattr(dev, "cs_active", True)]
        if len(selected) == 1:
            return int(selected[0].transmit(byte)) & 0xFF   # (0xFF & x: the one device's byte)
        if not selected:
            return 0xFF
        if len(selected) > 1:
            self.ctx.log_once("contention", logging.WARNING,
                              "%d SPI devices selected at once: MISO contention", len(selected))
        reply = 0xFF
        for dev in selected:
            reply &= int(dev.transmit(byte)) & 0xFF
        return reply

    def _frame_done(self) -> None:
        kind, data, bits = self._frame
        self._seen_end = False
        self._due_ps = None
        self._frame = None
        self._shifting = None
        lsb = bool(self.regs["CR1"] & LSBFIRST)
        wire = _reverse(data, bits) if lsb else data
        if bits == 8:
            got = self._exchange_byte(wire & 0xFF)
        else:
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
        if self._due_ps is None:
            self._set_sr(BSY, False)

    # -- DMA stream (see "DMA" in the module docstring) --------------------------------------
    def dma_stream(self, chan: Any) -> bool:
        """Take channel `chan`'s memory-to-DR transfers in bulk from now; False when this SPI
        cannot (then the channel does them one request at a time)."""
        if self._seen_end:
            self._settle()               # firmware saw the frame end (an SR read in C)
        cr1, cr2 = self.regs["CR1"], self.regs["CR2"]
        if (self._st is not None or self._due_ps is not None or self._tx_full
                or self._end.settling
                or not self._pins_watched or not (cr1 & SPE and cr1 & MSTR)
                or cr1 & (CRCEN | LSBFIRST) or not cr2 & TXDMAEN
                or cr2 & (RXDMAEN | TXEIE | RXNEIE | ERRIE)):
            return False
        bits = self._frame_bits()
        frame_ps = bits * 2 ** (((cr1 >> 3) & 7) + 1) * PS_PER_S // self._clk.hz
        latency_ps = chan.dma.transfer_ps()
        if latency_ps > frame_ps:
            return False                 # the DMA would leave gaps between frames
        self._st = _Stream(chan, self.ctx.clock.now_ps, frame_ps, bits, latency_ps)
        self.regs["SR"] = (self.regs["SR"] | BSY) & ~TXE
        chan.stream = self
        self._stream_settle()
        return True

    def dma_stream_sync(self) -> None:
        if self._st is not None:
            self._stream_settle()

    def dma_stream_next_ps(self, what: str = "sr") -> int | None:
        """When, after now, something firmware may poll next changes by itself (a poll hint):
        this SPI's SR ("sr"), the channel's CNDTR ("cndtr") or its HT/TC flags ("isr")."""
        st = self._st
        if st is None:
            return None
        now, s, t = self.ctx.clock.now_ps, st.start_ps, st.frame_ps
        more = st.total is None
        nxt_write = self._stream_write_ps(st.written) if more else None
        if what == "cndtr":
            return nxt_write
        if what == "isr":
            if not more:
                return None
            left, half = st.chan.left, st.chan.count // 2
            k = st.written + (left - half if left > half else left) - 1
            return self._stream_write_ps(k)
        times = [s + (st.total if not more else (now - s) // t + 1) * t]   # BSY / frame start
        if nxt_write is not None:
            times.append(nxt_write)
        elif st.total:
            times.append(s + (st.total - 1) * t)                           # TXE
        if st.delivered < 2:
            times.append(s + (st.delivered + 1) * t)                       # RXNE, OVR
        later = [x for x in times if x > now]
        return min(later) if later else None

    def _stream_due(self, now: int) -> tuple[int, int]:
        """(writes due, frames ended) by `now`, counted from the stream's start."""
        st = self._st
        elapsed = now - st.start_ps
        writes = (elapsed - st.latency_ps) // st.frame_ps + 2 if elapsed >= st.latency_ps else 1
        return writes, elapsed // st.frame_ps

    def _stream_write_ps(self, k: int) -> int:
        st = self._st
        return st.start_ps if k == 0 else st.start_ps + (k - 1) * st.frame_ps + st.latency_ps

    def _stream_settle(self) -> None:
        st = self._st
        if st is None or st.busy:
            return
        st.busy = True
        try:
            now = self.ctx.clock.now_ps
            writes, ended = self._stream_due(now)
            if st.total is None and writes > st.written:
                got = st.chan.stream_take(writes - st.written)
                st.wire.extend(got)
                st.written += len(got)
                if st.chan.left == 0 and not st.chan.ccr & 0x20:   # CIRC clear: the last one
                    st.total = st.written
            ended = min(ended, st.written)
            if ended > st.delivered:
                self._stream_deliver(ended - st.delivered)
            sr = self.regs["SR"]
            if st.total is not None and st.delivered == st.total:
                self._stream_finish()
                return
            txe = st.written <= (now - st.start_ps) // st.frame_ps + 1   # Tx buffer empty
            self.regs["SR"] = (sr | TXE) if txe else (sr & ~TXE)
            self._stream_plan(now)
        finally:
            st.busy = False

    def _stream_deliver(self, n: int) -> None:
        """Hand the devices the next n frames of the stream (ended by now), as of the last
        one's end; RXNE / OVR / DR as those received frames leave them."""
        st = self._st
        frames, st.wire = st.wire[:n], st.wire[n:]
        st.delivered += n
        if st.bits == 16:
            words = array("H", [v & 0xFFFF for v in frames])   # MSB first on the wire
            if sys.byteorder == "little":
                words.byteswap()
            data = words.tobytes()
        else:
            data = bytes(frames)
        end_ps = st.start_ps + st.delivered * st.frame_ps
        reply = self.ctx.clock.call_as_of(end_ps, self._exchange_block, data)
        sr = self.regs["SR"]
        if sr & RXNE or n > 1:
            sr |= OVR
        if not sr & RXNE:
            self._rx = reply[0] << 8 | reply[1] if st.bits == 16 else reply[0]
            sr |= RXNE
        self.regs["SR"] = sr

    def _exchange_block(self, data: bytes) -> bytes:
        selected = [dev for _, dev in self.children if getattr(dev, "cs_active", True)]
        if len(selected) == 1 and hasattr(selected[0], "transmit_block"):
            return bytes(selected[0].transmit_block(data))
        return bytes(self._exchange_byte(b) for b in data)

    def _stream_plan(self, now: int) -> None:
        """The stream's next event: the write that sets an HT/TC flag (an ordinary event when a
        DMA interrupt is enabled), or the last frame's end; quiet otherwise."""
        st = self._st
        if st.ev is not None:
            st.ev.cancel()
            st.ev = None
        if st.total is not None:
            at, loud = st.start_ps + st.total * st.frame_ps, False
        else:
            left, marks = st.chan.stream_marks()
            if marks is None:
                marks = st.chan.count or 1            # circular, nothing watching: a backstop
            at = self._stream_write_ps(st.written + marks - 1)
            loud = bool(st.chan.ccr & 0x6)           # TCIE | HTIE
        at = max(at, now)
        clock = self.ctx.clock
        st.ev = (clock.schedule_at if loud else clock.schedule_quiet_at)(at, self._stream_event)

    def _stream_event(self) -> None:
        if self._st is not None:
            self._st.ev = None
            self._stream_settle()

    def _stream_finish(self) -> None:
        st = self._st
        if st.ev is not None:
            st.ev.cancel()
        st.chan.stream = None
        self._st = None
        self.regs["SR"] = (self.regs["SR"] | TXE) & ~BSY
        self._update_irq()
        self._update_dma()

    def dma_stream_stop(self) -> None:
        """End the stream now: what was written and is still on the wire (the frame shifting
        and the one in the Tx buffer) goes on as ordinary frames."""
        st = self._st
        if st is None:
            return
        self._stream_settle()
        st = self._st
        if st is None:
            return
        if st.ev is not None:
            st.ev.cancel()
        chan = st.chan
        chan.stream = None
        self._st = None
        sr = self.regs["SR"] & ~(TXE | BSY)
        if st.wire:
            self._frame = ("data", st.wire[0], st.bits)
            self._shifting = "data"
            self._due_ps = st.start_ps + (st.delivered + 1) * st.frame_ps
            sr |= BSY
            if len(st.wire) > 1:
                self._txbuf, self._tx_full = st.wire[1], True
            else:
                sr |= TXE
            self.regs["SR"] = sr
            self._schedule_end()
        else:
            self.regs["SR"] = sr | TXE
        self._update_irq()
        self._update_dma()
        if chan.request and chan.enabled and chan.left:
            chan._plan()


class _Stream:
    """A DMA channel's transfers being shifted out by an SPI (STM32Spi.dma_stream)."""

    __slots__ = ("chan", "start_ps", "frame_ps", "bits", "latency_ps", "written", "delivered",
                 "wire", "total", "ev", "busy")

    def __init__(self, chan: Any, start_ps: int, frame_ps: int, bits: int, latency_ps: int):
        self.chan = chan
        self.latency_ps = latency_ps
        self.start_ps = start_ps
        self.frame_ps = frame_ps
        self.bits = bits
        self.written = 0          # transfers the channel has done (DR writes)
        self.delivered = 0        # frames whose end has passed (bytes given to the devices)
        self.wire: list[int] = []  # written, not yet delivered (at most 2 once settled)
        self.total = None         # the stream's last transfer count, once the channel ran out
        self.ev = None
        self.busy = False
