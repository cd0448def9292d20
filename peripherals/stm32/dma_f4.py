"""STM32F2/F4 stream DMA controller (DMA1, DMA2: 8 streams each), Renode's `DMA.STM32DMA`.

Followed: RM0430 rev 8 §9 (STM32F413/423) and RM0090 §10 (F405/F407, the same controller):
- §9.5.1-4 registers: LISR (0x00, streams 0-3) and HISR (0x04, streams 4-7), read-only, six
  flag bits per stream at bit 0, 6, 16, 22 of its register: FEIF (0), DMEIF (2), TEIF (3),
  HTIF (4), TCIF (5); LIFCR (0x08) / HIFCR (0x0C) clear them by writing 1 at the same places
  (they read 0). Then per stream x at 0x10 + 0x18 * x: SxCR, SxNDTR, SxPAR, SxM0AR, SxM1AR,
  SxFCR.
- §9.5.5 SxCR: EN (0), DMEIE (1), TEIE (2), HTIE (3), TCIE (4), PFCTRL (5), DIR[7:6] (00
  peripheral to memory, 01 memory to peripheral, 10 memory to memory: SxPAR is the source,
  SxM0AR the destination), CIRC (8), PINC (9), MINC (10), PSIZE[12:11], MSIZE[14:13], PINCOS
  (15), PL[17:16], DBM (18), CT (19), PBURST[22:21], MBURST[24:23], CHSEL[28:25] (the F413
  selects among up to 16 channels; RM0090's CHSEL is bits 27:25). While EN = 1 only EN (to
  stop the stream) and the four interrupt enables can be written; the rest of a write is
  ignored, and logged once. EN reads 0 once the last transfer of a normal-mode run is done,
  after a transfer error, and when software clears it; a stream stopped by software before
  its last transfer sets TCIF (§9.3.17 "the transfer complete interrupt flag is set to
  indicate the end of transfer"). SxNDTR, SxPAR, SxM0AR are written only while EN = 0; SxM1AR
  also while the stream runs in double-buffer mode on M0AR (CT = 0), and SxM0AR while on M1AR.
- §9.3.10 circular mode reloads SxNDTR and the addresses at the end of a run; §9.3.11
  double-buffer mode (DBM, circular implied) swaps to the other memory (CT toggles) instead.
- §9.5.10 SxFCR: FTH[1:0] (reset 01), DMDIS (2), FS[5:3] (read-only), FEIE (7); reset value
  0x21. Only direct mode is modelled: FIFO mode (DMDIS = 1) transfers as direct mode does
  (the data reach their destination in the same order, at one request each), and FS reads
  100 (FIFO empty) as it does in direct mode.
- Interrupts: stream x's output (connections[x]) is the OR of each flag with its enable
  (TCIF&TCIE, HTIF&HTIE, TEIF&TEIE, DMEIF&DMEIE, FEIF&FEIE); the F413 repl wires DMA1's
  streams 0-6 to NVIC 11-17 and stream 7 to 47, DMA2's 0-4 to 56-60 and 5-7 to 68-70.

Request inputs: GPIO input 100 * stream + channel is request channel `channel` of stream
`stream` (RM0430 Tables 30-31, DMA1/DMA2 request mapping; `DMAReceive -> dma1@4` is UART5_RX
on stream 0 channel 4, `DMATransmit -> dma1@708` UART5_TX on stream 7 channel 8). A stream
sees only the request of the channel CHSEL selects.

The transfers (one per request, TRANSFER_CYCLES HCLK cycles after it, sizes, increments,
HT/TC, errors, a USART's reception straight into memory with no event per character, bulk
streams to an SPI) are the F1 model's (dma.py, `DmaChannel`): a stream hands that engine its
configuration in the F1's CCR layout and reads its flags back.

Not modelled: stream priorities (PL is stored), bursts (PBURST/MBURST stored, single
transfers made), the FIFO (threshold, FEIF and DMEIF never set), the peripheral as flow
controller (PFCTRL: logged, the stream runs as with the DMA in control), PINCOS.
"""

from __future__ import annotations

import logging
from typing import Any

from metersim.peripherals.base import Context
from metersim.peripherals.registry import model
from metersim.peripherals.regmap import Field, Reg, RegisterMap
from metersim.peripherals.stm32 import dma as f1

LISR, HISR, LIFCR, HIFCR = 0x00, 0x04, 0x08, 0x0C
S_BASE, S_STRIDE = 0x10, 0x18
SCR, SNDTR, SPAR, SM0AR, SM1AR, SFCR = 0x00, 0x04, 0x08, 0x0C, 0x10, 0x14
STREAMS = 8
REQUEST_STRIDE = 100          # request input = 100 * stream + channel

# SxCR
EN, DMEIE, TEIE, HTIE, TCIE, PFCTRL = (1 << i for i in range(6))
DIR_SHIFT, CIRC, PINC, MINC = 6, 1 << 8, 1 << 9, 1 << 10
PSIZE_SHIFT, MSIZE_SHIFT = 11, 13
DBM, CT = 1 << 18, 1 << 19
CHSEL_SHIFT, CHSEL_MASK = 25, 0xF
CR_MASK = 0x1FEFFFFF                     # bit 20 and 29..31 reserved
IE_BITS = DMEIE | TEIE | HTIE | TCIE     # writable while EN = 1
# flags, per stream, at its shift
FEIF, DMEIF, TEIF, HTIF, TCIF = 1 << 0, 1 << 2, 1 << 3, 1 << 4, 1 << 5
FLAG_BITS = FEIF | DMEIF | TEIF | HTIF | TCIF
_SHIFTS = (0, 6, 16, 22)
# SxFCR
FCR_RESET, FCR_FS_EMPTY, FCR_RW = 0x21, 0x20, 0x87     # FTH DMDIS FEIE are read-write
FEIE = 1 << 7


def flag_shift(stream: int) -> int:
    """Where stream x's six flags sit in LISR (x < 4) or HISR."""
    return _SHIFTS[stream & 3]


def _register_table() -> RegisterMap:
    """RM0430 §9.5: fed to docs/registers.md and `platform show --registers`."""
    flag_docs = (("TCIF", 5, "transfer complete"), ("HTIF", 4, "half transfer"),
                 ("TEIF", 3, "transfer error"), ("DMEIF", 2, "direct mode error"),
                 ("FEIF", 0, "FIFO error"))
    regs = []
    for name, off, first, access in (("LISR", LISR, 0, "r"), ("HISR", HISR, 4, "r"),
                                     ("LIFCR", LIFCR, 0, "w"), ("HIFCR", HIFCR, 4, "w")):
        clear = "C" if access == "w" else ""
        regs.append(Reg(name, off, 32, doc="interrupt status" if not clear else
                        "interrupt flag clear (write 1)", fields=tuple(
                            Field(f"{clear}{flag}{x}", flag_shift(x) + bit, access=access, doc=doc)
                            for x in range(first, first + 4) for flag, bit, doc in flag_docs)))
    for x in range(STREAMS):
        base = S_BASE + S_STRIDE * x
        regs += [
            Reg(f"S{x}CR", base + SCR, 32, doc=f"stream {x} configuration; while EN = 1 only "
                "EN and the interrupt enables are written", fields=(
                    Field("CHSEL", 25, 4, doc="request channel"), Field("MBURST", 23, 2),
                    Field("PBURST", 21, 2), Field("CT", 19, doc="current memory (DBM)"),
                    Field("DBM", 18, doc="double buffer"), Field("PL", 16, 2, doc="priority"),
                    Field("PINCOS", 15), Field("MSIZE", 13, 2), Field("PSIZE", 11, 2),
                    Field("MINC", 10), Field("PINC", 9), Field("CIRC", 8),
                    Field("DIR", 6, 2, doc="00 P->M, 01 M->P, 10 M->M"), Field("PFCTRL", 5),
                    Field("TCIE", 4), Field("HTIE", 3), Field("TEIE", 2), Field("DMEIE", 1),
                    Field("EN", 0, doc="reads 0 after a normal run's last transfer"))),
            Reg(f"S{x}NDTR", base + SNDTR, 32, doc=f"stream {x} transfers left; written only "
                "while EN = 0", fields=(Field("NDT", 0, 16),)),
            Reg(f"S{x}PAR", base + SPAR, 32, doc=f"stream {x} peripheral address",
                fields=(Field("PA", 0, 32),)),
            Reg(f"S{x}M0AR", base + SM0AR, 32, doc=f"stream {x} memory 0 address",
                fields=(Field("M0A", 0, 32),)),
            Reg(f"S{x}M1AR", base + SM1AR, 32, doc=f"stream {x} memory 1 address (DBM)",
                fields=(Field("M1A", 0, 32),)),
            Reg(f"S{x}FCR", base + SFCR, 32, FCR_RESET, doc=f"stream {x} FIFO control",
                fields=(Field("FEIE", 7), Field("FS", 3, 3, access="r", reset=4, doc="100: empty"),
                        Field("DMDIS", 2, doc="1: FIFO mode (run as direct mode)"),
                        Field("FTH", 0, 2, reset=1))),
        ]
    return RegisterMap(regs, title="STM32F4 stream DMA controller, 8 streams (RM0430 §9.5)")


REGS = _register_table()


def engine_ccr(cr: int) -> int:
    """SxCR in the F1 engine's CCR layout (dma.py): EN, the three interrupt enables it
    knows, direction (memory to memory as the F1's MEM2MEM, reading SxPAR and writing SxM0AR,
    as the F1 reads CPAR and writes CMAR), CIRC (DBM implies it), increments and sizes."""
    direction = (cr >> DIR_SHIFT) & 3
    ccr = cr & EN
    if cr & TCIE:
        ccr |= f1.TCIE
    if cr & HTIE:
        ccr |= f1.HTIE
    if cr & TEIE:
        ccr |= f1.TEIE
    if direction == 1:
        ccr |= f1.DIR
    elif direction == 2:
        ccr |= f1.MEM2MEM
    if cr & (CIRC | DBM) and direction != 2:
        ccr |= f1.CIRC
    if cr & PINC:
        ccr |= f1.PINC
    if cr & MINC:
        ccr |= f1.MINC
    ccr |= ((cr >> PSIZE_SHIFT) & 3) << 8
    ccr |= ((cr >> MSIZE_SHIFT) & 3) << 10
    return ccr


class DmaStream(f1.DmaChannel):
    """One stream: the F4 registers around the shared transfer engine."""

    def __init__(self, dma: "STM32F4Dma", number: int):
        self._by_channel = [0] * (CHSEL_MASK + 1)   # request inputs high, per channel
        super().__init__(dma, number)

    def reset(self) -> None:
        super().reset()
        self.cr = 0                       # SxCR as written (EN follows the engine's)
        self.m0ar = self.m1ar = 0
        self.fcr = FCR_RESET
        self.extra = 0                    # DMEIF / FEIF (never set: no FIFO modelled)

    @property
    def chsel(self) -> int:
        return (self.cr >> CHSEL_SHIFT) & CHSEL_MASK

    def read_cr(self) -> int:
        return (self.cr & ~EN) | (self.ccr & f1.EN)

    def write_cr(self, value: int) -> None:
        value &= CR_MASK
        if self.ccr & f1.EN:
            if (value ^ self.cr) & ~(IE_BITS | EN | CT):
                self.dma.ctx.log_once(("locked-cr", self.number), logging.WARNING,
                                      "stream %d: SxCR configuration written while EN = 1: "
                                      "ignored (RM0430 §9.5.5)", self.number)
            value = (self.cr & ~(IE_BITS | EN)) | (value & (IE_BITS | EN))
        elif value & EN and value & PFCTRL:
            self.dma.ctx.log_once(("pfctrl", self.number), logging.WARNING,
                                  "stream %d: peripheral flow control is not modelled; the "
                                  "DMA controls the transfer count", self.number)
        was_chsel = self.chsel
        self.cr = value
        if self.chsel != was_chsel:
            self._high = self._by_channel[self.chsel]
            self.request = self._high > 0
        running = bool(self.ccr & f1.EN)
        if value & EN and not running:
            self._start_memory()
        self.write_ccr(engine_ccr(value))
        if running and not value & EN and self.left:
            self.flags |= f1.TCIF | f1.GIF        # stopped before its last transfer
            self._update_irq()

    def _start_memory(self) -> None:
        """Enabling in double-buffer mode: the first run goes to the memory CT names."""
        if self.cr & DBM and self.cr & CT:
            self.mar = self.m1ar
        else:
            self.mar = self.m0ar

    def write_address(self, reg: int, value: int) -> None:
        value &= 0xFFFFFFFF
        running = bool(self.ccr & f1.EN)
        if reg == SM1AR:
            if running and not (self.cr & DBM and not self.cr & CT):
                self._locked(reg)
                return
            self.m1ar = value
        elif reg == SM0AR:
            if running and not (self.cr & DBM and self.cr & CT):
                self._locked(reg)
                return
            self.m0ar = value
            if not running:
                self.mar = self.mptr = value
        else:
            self.write_reg(f1.CNDTR if reg == SNDTR else f1.CPAR, value)

    def _locked(self, reg: int) -> None:
        self.dma.ctx.log_once(("locked", self.number, reg), logging.WARNING,
                              "stream %d: memory address written while in use: ignored "
                              "(RM0430 §9.5.8-9)", self.number)

    def on_channel_request(self, channel: int, level: bool) -> None:
        n = self._by_channel[channel]
        self._by_channel[channel] = n + 1 if level else max(n - 1, 0)
        if channel == self.chsel:
            self._high = self._by_channel[channel]
            self._requested(level)

    def can_take(self, dr_addr: int | None, selector: int) -> bool:
        return selector % REQUEST_STRIDE == self.chsel and super().can_take(dr_addr, selector)

    def _reload(self) -> None:
        if self.cr & DBM:
            self.cr ^= CT                  # the other memory, from its start
            self.mar = self.m1ar if self.cr & CT else self.m0ar
        super()._reload()

    def _finished(self) -> None:
        self.ccr &= ~f1.EN                 # EN reads 0 after a normal run's last transfer

    def flags_f4(self) -> int:
        f = self.flags
        return (self.extra | (TCIF if f & f1.TCIF else 0) | (HTIF if f & f1.HTIF else 0)
                | (TEIF if f & f1.TEIF else 0))

    def clear_flags(self, bits: int) -> None:
        self.extra &= ~bits
        engine = ((f1.TCIF if bits & TCIF else 0) | (f1.HTIF if bits & HTIF else 0)
                  | (f1.TEIF if bits & TEIF else 0))
        self.flags &= ~engine
        if not self.flags & (f1.TCIF | f1.HTIF | f1.TEIF):
            self.flags = 0
        self._update_irq()

    def _update_irq(self) -> None:
        f, c = self.flags, self.ccr
        x, cr = self.extra, self.cr
        level = bool((f & f1.TCIF and c & f1.TCIE) or (f & f1.HTIF and c & f1.HTIE)
                     or (f & f1.TEIF and c & f1.TEIE) or (x & DMEIF and cr & DMEIE)
                     or (x & FEIF and self.fcr & FEIE))
        if level != self.irq.level:          # (most calls change nothing)
            self.irq.set(level)


@model("DMA.STM32DMA", "metersim.STM32F4_DMA")
class STM32F4Dma(f1.DmaController):
    """The STM32F2/F4 DMA controller (Renode's `DMA.STM32DMA`): eight streams."""

    registers = REGS
    UNIT, MANUAL = "stream", "RM0430 §9.5"

    def __init__(self, ctx: Context, **_ignored: Any):
        super().__init__(ctx)
        self.channels = [DmaStream(self, i) for i in range(STREAMS)]
        self.connections = {i: s.irq for i, s in enumerate(self.channels)}

    def request_channel(self, pin: int) -> DmaStream | None:
        stream, channel = divmod(pin, REQUEST_STRIDE)
        if 0 <= stream < STREAMS and channel <= CHSEL_MASK:
            return self.channels[stream]
        return None

    def on_gpio(self, pin: int, level: bool) -> None:
        stream, channel = divmod(pin, REQUEST_STRIDE)
        if 0 <= stream < STREAMS and channel <= CHSEL_MASK:
            self.channels[stream].on_channel_request(channel, bool(level))
        else:
            self.ctx.log_once(("pin", pin), logging.WARNING, "request on input %d: inputs are "
                              "100 x stream (0..7) + channel (0..15)", pin)

    def _stream(self, offset: int) -> tuple[DmaStream | None, int]:
        i, reg = divmod(offset - S_BASE, S_STRIDE)
        if offset < S_BASE or i >= STREAMS:
            return None, 0
        return self.channels[i], reg

    def read(self, offset: int, size: int) -> int:
        self._sync()
        if offset in (LISR, HISR):
            first = 0 if offset == LISR else 4
            value, ready = 0, None
            for s in self.channels[first:first + 4]:
                value |= s.flags_f4() << flag_shift(s.number)
                if s.stream is not None:
                    t = s.stream.dma_stream_next_ps("isr")
                    ready = t if ready is None or (t is not None and t < ready) else ready
            return self.poll_hint(value, ready)
        if offset in (LIFCR, HIFCR):
            return 0
        s, reg = self._stream(offset)
        if s is None:
            self.log_unhandled(offset, size, None)
            return 0
        if reg == SCR:
            return s.read_cr()
        if reg == SNDTR:
            return self.poll_hint(s.left, s.stream.dma_stream_next_ps("cndtr") if s.stream else None)
        if reg == SPAR:
            return s.par
        if reg == SM0AR:
            return s.m0ar
        if reg == SM1AR:
            return s.m1ar
        return (s.fcr & FCR_RW) | FCR_FS_EMPTY

    def write(self, offset: int, size: int, value: int) -> None:
        self._sync()
        if offset in (LIFCR, HIFCR):
            first = 0 if offset == LIFCR else 4
            for s in self.channels[first:first + 4]:
                bits = (value >> flag_shift(s.number)) & FLAG_BITS
                if bits:
                    s.clear_flags(bits)
            self._written(None, False)
            return
        if offset in (LISR, HISR):
            return                                  # read-only
        s, reg = self._stream(offset)
        if s is None:
            self.log_unhandled(offset, size, value)
        elif reg == SCR:
            s.write_cr(value)
        elif reg == SFCR:
            if s.ccr & f1.EN:
                s.fcr = (s.fcr & ~FEIE) | (value & FEIE)   # FTH / DMDIS: only while disabled
            else:
                s.fcr = value & FCR_RW
            s._update_irq()
        else:
            s.write_address(reg, value)
        self._written(s, reg in (SCR, SFCR))
