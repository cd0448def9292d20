"""STM32F1 DMA controller (DMA1: 7 channels, DMA2: 5 channels on high-density parts).

Followed: RM0008 rev 21 §13 "Direct memory access controller (DMA)":
- §13.4 registers: ISR (0x00, read-only: GIFx TCIFx HTIFx TEIFx, four bits per channel from
  bit 4*(x-1)), IFCR (0x04, write 1 to clear; CGIFx clears all four), then per channel x at
  0x08 + 20*(x-1): CCRx (EN TCIE HTIE TEIE DIR CIRC PINC MINC PSIZE MSIZE PL MEM2MEM), CNDTRx
  (16 bits), CPARx, CMARx. CNDTR, CPAR and CMAR are written only while EN = 0 (§13.4.4-6:
  "this register can only be written when the channel is disabled"); other writes are ignored
  and logged once.
- §13.3.3 / §13.3.4: a channel enabled with a peripheral request does one transfer per
  request (read the source at its size, write the destination at its size; Table 79: a wider
  destination gets the value zero-extended, a narrower one its low bits), increments the
  addresses it is told to (MINC / PINC, by the transfer's size), decrements CNDTR; HTIF when
  half the transfers are done (here: CNDTR reaches the count's half, rounded down), TCIF when
  CNDTR reaches 0. Circular mode (CIRC) reloads CNDTR and both addresses and goes on;
  otherwise the channel stops with EN still set, until it is disabled and set up again.
  MEM2MEM: the transfers start without a request as soon as EN is set.
- §13.3.6 errors: a transfer to or from an address with nothing behind it sets TEIF and
  clears EN.
- §13.3.7 interrupts: channel x's output (connections[x-1], `[0-6] -> nvic@[11-17]`) is
  (TCIF & TCIE) | (HTIF & HTIE) | (TEIF & TEIE); GIF is the OR of the three flags.

Request inputs: GPIO input n is channel n's request line (1..7, RM0008 Table 78's numbering,
as upstream Renode's stm32f103.repl wires `DMARequest -> dma1@4 | dma1@5` for USART1 TX/RX).
A request is a level: while it is high and the channel has transfers left, a transfer happens
every `TRANSFER_CYCLES` HCLK cycles (arbitration, a read and a write on the AHB/APB bridges);
the peripheral drops it when the write served it (an SPI drops TXE when DR is written).
Several peripherals may be wired to one channel (RM0008 Table 78 ORs them: SPI1_RX and
USART3_TX on channel 2): the channel's request is high while any of them is.

Reception from a USART: a peripheral-to-memory channel reading a USART's DR is served by the
USART itself when a character arrives and the channel is idle and ready (`take`: the USART's
DR read and this channel's write, CNDTR, HT/TC at the transfer's instant, in the character's
own call, no event); any access to this DMA first lets such a USART (the channel's `feeder`)
take the characters a link has told it of ahead and whose transfer instant has passed
(`dma_catch_up`; several in a row go to RAM in one write, `take_many`); see
peripherals/stm32/usart.py, "DMA". Transmission to a USART goes one request at a time (TXE),
an event per character, unless the USART takes the run in bulk (below).

Bulk transfers to SPI: a memory-to-peripheral channel whose peripheral address is an SPI's DR
hands its transfers to that SPI (`STM32Spi.dma_stream`), which shifts them out at its own
baud rate without an event per frame: the write of transfer k falls when the SPI would have
asked for it (TXE), flags and CNDTR are brought up to date whenever firmware reads this DMA or
the SPI, the devices on the bus get each frame's bytes at (or, in bulk, as of) the frame's end,
and the HT / TC instants that an enabled interrupt can see are ordinary events. The memory is
read when the transfer happens, as far as anything outside can tell (a buffer refilled after
HT is read after HT). Conditions and fallbacks: peripherals/stm32/spi.py, "DMA".

Bulk transfers to a USART: a memory-to-peripheral channel whose peripheral address is a
USART's DR hands a normal-mode run from RAM to that USART when its transmitter is idle, or
ends a run whose channel has stopped (`STM32Usart.dma_stream`, usart.py "DMA"): the same
one-event-per-run scheme, what firmware sees exact at each look. The peripheral is found by
the offset of its data register (`DMA_STREAM_DR`).

Shared with the F4's stream controller (dma_f4.py): `DmaChannel` (the transfers, sizes,
increments, HT/TC, errors, the USART's reception at once, bulk streams) and `DmaController`
(HCLK, the bus, RAM, the streaming peripherals, catching up before a look); a stream keeps its
own register layout and hands the engine `ccr` in this one's.

Not modelled: channel priorities between simultaneous requests (requests are served in time
order, each transfer taking TRANSFER_CYCLES), bus contention with the CPU, DMA2 on connectivity
line parts.
"""

from __future__ import annotations

import logging
from typing import Any

from metersim.peripherals.base import GPIO, Context, Peripheral
from metersim.peripherals.registry import model
from metersim.peripherals.regmap import Field, Reg, RegisterMap
from metersim.peripherals.stm32.usart import ApbClock
from metersim._units import PS_PER_S

ISR, IFCR = 0x00, 0x04
CH_BASE, CH_STRIDE = 0x08, 20
CCR, CNDTR, CPAR, CMAR = 0, 4, 8, 12
# CCR
EN, TCIE, HTIE, TEIE, DIR, CIRC, PINC, MINC = (1 << i for i in range(8))
MEM2MEM = 1 << 14
MAX_CHANNELS = 7
# ISR, per channel
GIF, TCIF, HTIF, TEIF = 1, 2, 4, 8
TRANSFER_CYCLES = 5


def _register_table() -> RegisterMap:
    """RM0008 §13.4 for DMA1's seven channels (DMA2 has channels 1..5 at the same offsets).
    It feeds docs/registers.md and `platform show --registers`; the model decodes accesses
    itself (flags live per channel, CNDTR/CPAR/CMAR keep a programmed and a current value)."""
    regs = [
        Reg("ISR", ISR, 32, doc="interrupt status", fields=tuple(
            Field(f"{flag}{x}", 4 * (x - 1) + bit, access="r", doc=doc)
            for x in range(1, MAX_CHANNELS + 1)
            for flag, bit, doc in (("TEIF", 3, "transfer error"), ("HTIF", 2, "half transfer"),
                                   ("TCIF", 1, "transfer complete"),
                                   ("GIF", 0, "TEIF or HTIF or TCIF")))),
        Reg("IFCR", IFCR, 32, doc="interrupt flag clear: writing 1 clears the ISR flag", fields=tuple(
            Field(f"C{flag}{x}", 4 * (x - 1) + bit, access="w",
                  doc="clears the channel's four flags" if flag == "GIF" else "")
            for x in range(1, MAX_CHANNELS + 1)
            for flag, bit in (("TEIF", 3), ("HTIF", 2), ("TCIF", 1), ("GIF", 0)))),
    ]
    for x in range(1, MAX_CHANNELS + 1):
        base = CH_BASE + CH_STRIDE * (x - 1)
        regs += [
            Reg(f"CCR{x}", base + CCR, 32, doc=f"channel {x} configuration", fields=(
                Field("MEM2MEM", 14, doc="memory to memory: transfers start without a request"),
                Field("PL", 12, 2, doc="priority level (not modelled: served in time order)"),
                Field("MSIZE", 10, 2, doc="memory size: 00 8, 01 16, 10 32 bits"),
                Field("PSIZE", 8, 2, doc="peripheral size: 00 8, 01 16, 10 32 bits"),
                Field("MINC", 7, doc="memory increment"),
                Field("PINC", 6, doc="peripheral increment"),
                Field("CIRC", 5, doc="circular: CNDTR and the addresses reload"),
                Field("DIR", 4, doc="1 memory to peripheral, 0 peripheral to memory"),
                Field("TEIE", 3), Field("HTIE", 2), Field("TCIE", 1),
                Field("EN", 0, doc="cleared by a transfer error"))),
            Reg(f"CNDTR{x}", base + CNDTR, 32, doc=f"channel {x} transfers left; written only "
                "while EN = 0", fields=(Field("NDT", 0, 16, doc="counts down per transfer"),)),
            Reg(f"CPAR{x}", base + CPAR, 32, doc=f"channel {x} peripheral address; written only "
                "while EN = 0", fields=(Field("PA", 0, 32),)),
            Reg(f"CMAR{x}", base + CMAR, 32, doc=f"channel {x} memory address; written only "
                "while EN = 0", fields=(Field("MA", 0, 32),)),
        ]
    return RegisterMap(regs, title=f"STM32F1 DMA controller, {MAX_CHANNELS} channels (RM0008 §13.4)")


REGS = _register_table()
CCR_MASK = REGS["CCR1"].access_mask("rw")      # 0x7FFF: bits 15..31 reserved
_SIZES = {0: 1, 1: 2, 2: 4, 3: 4}       # PSIZE/MSIZE 11 is reserved: taken as 32 bits, logged


class DmaChannel:
    """One channel: its registers, its request line and its transfers. This is the transfer
    engine of both STM32 DMA controllers: the F4's streams (dma_f4.py) keep their own register
    layout and hand this engine `ccr` in the F1's layout (EN TCIE HTIE TEIE DIR CIRC PINC MINC
    PSIZE MSIZE MEM2MEM) and read its `flags` (GIF TCIF HTIF TEIF) back."""

    def __init__(self, dma: "DmaController", number: int):
        self.dma = dma
        self.number = number                 # 1-based, as RM0008 numbers them
        self.irq = GPIO(f"channel{number}")
        self.request = False
        self._high = 0                       # request inputs high (wired sources OR-ed)
        self._stream = self._feeder = None   # (`stream`, `feeder`)
        self.tx_waiter = None                # a USART to ask when this channel is enabled
        self._ev = None
        self.reset()

    def reset(self) -> None:
        if self._ev is not None:
            self._ev.cancel()
        self._ev = None
        if self.stream is not None:
            self.stream.dma_stream_stop()
        self.stream = None
        self.ccr = 0
        self.count = 0                        # CNDTR as programmed (the reload value)
        self.left = 0                         # CNDTR now
        self.par = self.mar = 0               # as programmed
        self.pptr = self.mptr = 0             # the addresses of the next transfer
        self.flags = 0
        self.irq.unset()

    # -- the peripherals that bring it up to date before a look (DmaController._sync) ---------
    @property
    def stream(self):
        """The peripheral serving this channel in bulk (an SPI, a USART sending a run), if any."""
        return self._stream

    @stream.setter
    def stream(self, dev) -> None:
        self._stream = dev
        self.dma._watch = None

    @property
    def feeder(self):
        """The USART receiving into this channel (usart.py "DMA"), if any."""
        return self._feeder

    @feeder.setter
    def feeder(self, usart) -> None:
        self._feeder = usart
        self.dma._watch = None

    # -- configuration ----------------------------------------------------------------------
    @property
    def enabled(self) -> bool:
        return bool(self.ccr & EN)

    @property
    def psize(self) -> int:
        return _SIZES[(self.ccr >> 8) & 3]

    @property
    def msize(self) -> int:
        return _SIZES[(self.ccr >> 10) & 3]

    def write_ccr(self, value: int) -> None:
        value &= CCR_MASK
        was = self.ccr
        stream = self.stream
        if stream is not None:
            irqs = getattr(stream, "dma_stream_irqs", None)
            if irqs is not None and value & EN and not (value ^ was) & ~(TCIE | HTIE | TEIE):
                # only the interrupt enables change (the F4 allows no more while EN is set):
                # the transfers go on as one request at a time would have them
                self.ccr = value
                self._update_irq()
                irqs()
                return
            stream.dma_stream_stop()          # finishes what happened before this write
            self.stream = None
        if (value >> 8) & 3 == 3 or (value >> 10) & 3 == 3:
            self.dma.ctx.log_once(("size", self.number), logging.WARNING,
                                  "channel %d: PSIZE/MSIZE 11 is reserved", self.number)
        self.ccr = value
        if value & EN and not was & EN:
            self.left = self.count
            self.pptr, self.mptr = self.par, self.mar
            waiter = self.tx_waiter
            if waiter is not None:
                # a USART whose run went on after its channel stopped brings its request
                # line up to now first (usart.py "DMA", transmission)
                self.tx_waiter = None
                waiter.dma_tx_enabled()
            if value & MEM2MEM or self.request:
                self._plan()
        elif not value & EN and self._ev is not None:
            self._ev.cancel()
            self._ev = None
        self._update_irq()

    def write_reg(self, reg: int, value: int) -> None:
        if self.ccr & EN:
            self.dma.ctx.log_once(("locked", self.number, reg), logging.WARNING,
                                  "%s %d: count/address register written while enabled: "
                                  "ignored (%s)", self.dma.UNIT, self.number, self.dma.MANUAL)
            return
        if reg == CNDTR:
            self.count = self.left = value & 0xFFFF
        elif reg == CPAR:
            self.par = self.pptr = value & 0xFFFFFFFF
        else:
            self.mar = self.mptr = value & 0xFFFFFFFF

    # -- requests and transfers -------------------------------------------------------------
    def on_request(self, level: bool) -> None:
        # each source's line changes only between levels (GPIO.set): count the high ones
        self._high = self._high + 1 if level else max(self._high - 1, 0)
        self._requested(level)

    def _requested(self, level: bool) -> None:
        """The (selected) request input changed to `level`; self._high is up to date."""
        self.request = self._high > 0
        if level and self.ccr & EN and self.stream is None:
            self._plan()

    def can_take(self, dr_addr: int | None, selector: int) -> bool:
        """Would this channel take a character from the USART whose DR is at `dr_addr`, wired
        to its request input `selector`, at once (usart.py "DMA")? Enabled, peripheral to
        memory from that DR, transfers left, no transfer under way or requested."""
        return ((self.ccr & (EN | DIR | MEM2MEM)) == EN and self.left > 0 and self._ev is None
                and not self.request and self.pptr == dr_addr)

    def plain_run(self, n: int) -> bool:
        """Is this a normal-mode run of n bytes read from RAM, one byte a transfer (what a
        peripheral may take in bulk: usart.py "DMA")?"""
        if self.ccr & (CIRC | MEM2MEM) or not self.ccr & MINC or self.msize != 1 or self.psize != 1:
            return False
        lo, hi = self.dma.ram_range(self.mptr)
        return lo <= self.mptr and self.mptr + n <= hi

    def takes_left(self, n: int) -> bool:
        """Can n more transfers be made before the channel stops (normal mode)?"""
        return self.left >= n or bool(self.ccr & CIRC and self.count)

    def irq_transfers(self, first: int, end: int) -> list[int]:
        """The k in [first, end) for which the transfer after the next k sets HT or TC with
        its interrupt enabled, in order (a USART taking transfers ahead makes an event at
        each: usart.py "DMA"). The transfer after the next k leaves CNDTR at left - k - 1
        (modulo the count in circular mode): TC where that is 0, HT where it is count // 2."""
        ccr, left, count = self.ccr, self.left, self.count
        wanted = []                     # CNDTR before the transfer, for each enabled flag
        if ccr & TCIE:
            wanted.append(1)
        if ccr & HTIE:
            wanted.append(count // 2 + 1)
        if not wanted or first >= end:
            return []
        circular = bool(ccr & CIRC and count)
        out = set()
        for before in wanted:
            k = left - before           # the k whose transfer starts from CNDTR = before
            if circular:
                if not 1 <= before <= count:
                    continue
                k = first + (k - first) % count
                while k < end:
                    out.add(k)
                    k += count
            elif first <= k < end and before <= left:
                out.add(k)
        return sorted(out)

    def _plan(self) -> None:
        """The next transfer, TRANSFER_CYCLES from now (arbitration and the two bus accesses)."""
        if self._ev is None and self.left:
            self._ev = self.dma.ctx.clock.schedule(self.dma.transfer_ps(), self._transfer_event)

    def _transfer_event(self) -> None:
        self._ev = None
        if not (self.ccr & EN and self.left) or not (self.request or self.ccr & MEM2MEM):
            return
        if self.ccr & DIR and not self.ccr & MEM2MEM:
            dev = self.dma.stream_at(self.pptr)
            if dev is not None and dev.dma_stream(self):
                self.stream = dev
                return
        self.transfer_one()
        if self.ccr & EN and self.left and (self.request or self.ccr & MEM2MEM):
            self._plan()

    def _addresses(self) -> tuple[int, int, int, int]:
        """(source, source size, destination, destination size) of the next transfer."""
        if self.ccr & DIR:
            return self.mptr, self.msize, self.pptr, self.psize
        return self.pptr, self.psize, self.mptr, self.msize

    def transfer_one(self) -> None:
        src, ssize, dst, dsize = self._addresses()
        bus = self.dma.bus
        value = bus.cpu_read(src, ssize) if bus is not None else None
        self._store(value, src, dst, dsize)

    def take(self, value: int) -> None:
        """A peripheral-to-memory transfer whose read the peripheral made itself (a USART
        serving its receive channel at once, usart.py "DMA"): `value` is what a read of the
        peripheral register gives; it goes to memory as transfer_one would put it there."""
        dst, size = self.mptr, self.msize
        value &= (1 << (8 * self.psize)) - 1
        lo, hi = self.dma._ram
        if not lo <= dst < hi - size + 1:
            lo, hi = self.dma._ram = self.dma.ram_range(dst)
        if lo <= dst < hi - size + 1:            # RAM: straight in, as cpu_write would store it
            self.dma.bus.uc.mem_write(dst, (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little"))
            self._advance(1)
        else:
            self._store(value, self.pptr, dst, size)

    def take_many(self, values) -> None:
        """`take` for several values in a row (a USART's characters kept for this channel,
        taken at one look): byte transfers into RAM go in one write per stretch up to the
        channel's reload, with the same addresses, CNDTR and flags as one take each."""
        if self.msize != 1 or not self.ccr & MINC:
            for v in values:
                self.take(v)
            return
        i, n = 0, len(values)
        while i < n:
            dst, step = self.mptr, min(n - i, self.left)
            lo, hi = self.dma._ram
            if not lo <= dst < hi - step + 1:
                lo, hi = self.dma._ram = self.dma.ram_range(dst)
            if step <= 0 or not lo <= dst < hi - step + 1:
                for v in values[i:]:
                    self.take(v)
                return
            self.dma.bus.uc.mem_write(dst, bytes([v & 0xFF for v in values[i:i + step]]))
            self._advance(step)
            i += step

    def _store(self, value: int | None, src: int, dst: int, dsize: int) -> None:
        """The write half of a transfer (`value` read from `src`; None: nothing answered)."""
        bus = self.dma.bus
        ok = value is not None and bus.cpu_write(dst, dsize, value & ((1 << (8 * dsize)) - 1))
        if not ok:
            self.dma.ctx.log(logging.WARNING, "channel %d: transfer error at 0x%08x -> 0x%08x",
                             self.number, src, dst)
            self.ccr &= ~EN
            self.flags |= TEIF | GIF
            self._update_irq()
            return
        self._advance(1)

    def _advance(self, n: int) -> None:
        """Count n transfers as done: addresses, CNDTR, HT/TC flags, circular reload."""
        left = self.left
        if n == 1 and left > 1:           # one transfer, not the run's last: most calls
            ccr = self.ccr
            self.left = left - 1
            if ccr & MINC:
                self.mptr += _SIZES[(ccr >> 10) & 3]
            if ccr & PINC:
                self.pptr += _SIZES[(ccr >> 8) & 3]
            if left - 1 == self.count // 2:
                self.flags |= HTIF | GIF
            self._update_irq()
            return
        while n > 0:
            step = min(n, self.left)
            before = self.left
            self.left -= step
            if self.ccr & MINC:
                self.mptr += step * self.msize
            if self.ccr & PINC:
                self.pptr += step * self.psize
            half = self.count // 2
            if before > half >= self.left:
                self.flags |= HTIF | GIF
            n -= step
            if self.left == 0:
                self.flags |= TCIF | GIF
                if self.ccr & CIRC and self.count:
                    self._reload()
                else:
                    self._finished()
                    n = 0
        self._update_irq()

    def _reload(self) -> None:
        """Circular mode at the end of a run: CNDTR and both addresses start again."""
        self.left = self.count
        self.pptr, self.mptr = self.par, self.mar

    def _finished(self) -> None:
        """The last transfer of a normal-mode run: the F1 channel keeps EN set (RM0008 §13.3.3:
        it stays enabled until software disables it); the F4 stream clears it."""

    # -- bulk (stream) side: used by the peripheral serving the channel ----------------------
    def stream_take(self, n: int) -> list[int]:
        """Do the next n transfers' memory side: the values read (at the peripheral's size),
        with the channel's addresses, CNDTR and flags moved on (raising its IRQ if due)."""
        out: list[int] = []
        bus = self.dma.bus
        pmask = (1 << (8 * self.psize)) - 1
        while n > 0 and self.left:
            step = min(n, self.left)
            size = self.msize
            if self.ccr & MINC:
                raw = bus.read_memory(self.mptr, step * size)
                if size == 1:
                    vals = list(raw)
                else:
                    vals = [int.from_bytes(raw[i:i + size], "little") for i in range(0, len(raw), size)]
            else:
                vals = [int.from_bytes(bus.read_memory(self.mptr, size), "little")] * step
            out.extend([v & pmask for v in vals])
            self._advance(step)
            n -= step
        return out

    def stream_marks(self) -> tuple[int, int | None]:
        """(transfers until the next HT or TC that an enabled interrupt can see, or until the
        channel's last transfer; None when there is no such point ahead of a circular channel
        with neither interrupt enabled) counted from now, and whether the run ends there."""
        left, half = self.left, self.count // 2
        if not self.ccr & CIRC:
            marks = [left]
        else:
            marks = [left] if self.ccr & TCIE else []
        if self.ccr & HTIE and left > half:
            marks.append(left - half)
        return left, (min(marks) if marks else None)

    def _update_irq(self) -> None:
        f, c = self.flags, self.ccr
        level = bool((f & TCIF and c & TCIE) or (f & HTIF and c & HTIE) or (f & TEIF and c & TEIE))
        if level != self.irq.level:          # (most calls change nothing)
            self.irq.set(level)


class DmaController(Peripheral):
    """What the STM32 DMA controllers share around their channels (F1) or streams (F4):
    the transfer time from HCLK, the system bus, the memory a receive channel stores to
    directly, the SPI a transmit channel hands a bulk stream to, and bringing channels up to
    date before firmware looks at them. Subclasses set `channels` and decode registers."""

    size = 0x400
    UNIT, MANUAL = "channel", "RM0008 §13.4"      # for log messages
    channels: list

    def __init__(self, ctx: Context):
        super().__init__(ctx)
        self._transfer_ps = None            # kept until HCLK changes
        self._hclk = ApbClock(ctx, "HCLK", "HCLK", fallback_hz=8_000_000,
                              on_change=self._hclk_changed)
        self._bus = None
        self._ram = (0, 0)                   # a writable memory range: transfers go straight in
        self._watch = None                   # channels with a stream or feeder (None: look again)

    @property
    def bus(self) -> Any:
        if self._bus is None:
            self._bus = getattr(self.ctx.machine, "sysbus", None)
        return self._bus

    def transfer_ps(self) -> int:
        """A transfer's time from its request: TRANSFER_CYCLES of HCLK."""
        tp = self._transfer_ps
        if tp is None:
            tp = self._transfer_ps = TRANSFER_CYCLES * PS_PER_S // self._hclk.hz
        return tp

    def _hclk_changed(self, _hz: int) -> None:
        self._transfer_ps = None

    def ram_range(self, addr: int) -> tuple[int, int]:
        """The writable memory region around `addr` as (first, end), or (0, 0): a receive
        channel's stores there go to the core's memory directly (through unicorn, so code
        translated from those bytes is dropped, as sysbus.cpu_write does)."""
        bus = self.bus
        region = bus.region_at(addr) if hasattr(bus, "region_at") else None
        if region is None or not region.writable or not region.base <= addr < region.base + region.size:
            return (0, 0)
        return (region.base, region.base + region.size)

    def stream_at(self, addr: int) -> Any:
        """The peripheral whose data register is at `addr`, if it can take a memory-to-
        peripheral channel's transfers in bulk (`dma_stream`: an SPI's DR at 0x0C, a USART's
        at 0x04; spi.py and usart.py, "DMA")."""
        bus = self.bus
        entry = getattr(bus, "_pages", {}).get(addr >> 10) if bus is not None else None
        if entry is None:
            return None
        dev, base = entry
        if addr - base == getattr(dev, "DMA_STREAM_DR", None):
            return dev
        return None

    def request_channel(self, pin: int) -> DmaChannel | None:
        """The channel (stream) request input `pin` goes to, or None (usart.py "DMA")."""
        raise NotImplementedError

    def _written(self, ch: DmaChannel | None, control: bool) -> None:
        """After a register write: a USART holding characters for a receive channel to take
        at their instants (usart.py "DMA", a cable's characters) checks that the channel
        still takes them; a write of that channel's control register hands them back to the
        ordinary path (its interrupt enables or mode may have changed)."""
        for c in self._watched():
            feeder = c._feeder
            if feeder is not None and feeder._kept:
                feeder.dma_changed(control and c is ch)

    def reset(self) -> None:
        # What was due before the reset stands (a bulk stream's transfers, the characters a
        # USART keeps for a receive channel); such a USART then hands the ones still to come
        # back to the ordinary path, as the channel is off (usart.py "DMA").
        self._sync()
        for ch in self.channels:
            ch.reset()
        self._written(None, False)

    def _sync(self) -> None:
        """Bring streaming channels up to now (flags, CNDTR) before firmware looks, and
        receiving ones up to the characters their USART has been told of."""
        for ch in self._watched():
            if ch._stream is not None:
                ch._stream.dma_stream_sync()
            elif ch._feeder is not None:
                ch._feeder.dma_catch_up()

    def _watched(self) -> tuple:
        """The channels with a stream or a feeder, in order (kept until one of them changes:
        firmware looks at the DMA far more often than those change)."""
        watch = self._watch
        if watch is None:
            watch = self._watch = tuple(ch for ch in self.channels
                                        if ch._stream is not None or ch._feeder is not None)
        return watch


@model("DMA.STM32G0DMA", "metersim.STM32F1_DMA")
class STM32F1Dma(DmaController):
    """The STM32F1 DMA controller, under Renode's name for this channel-based block
    (upstream stm32f103.repl: `dma1: DMA.STM32G0DMA`, `numberOfChannels: 7`). Renode's
    `DMA.STM32DMA` is the F2/F4 stream controller (dma_f4.py)."""

    registers = REGS

    def __init__(self, ctx: Context, numberOfChannels: int = MAX_CHANNELS, **_ignored: Any):
        super().__init__(ctx)
        n = int(numberOfChannels)
        if not 1 <= n <= MAX_CHANNELS:
            raise ValueError(f"{ctx.name}: numberOfChannels must be 1..{MAX_CHANNELS}, got {n}")
        self.channels = [DmaChannel(self, i + 1) for i in range(n)]
        self.connections = {i: ch.irq for i, ch in enumerate(self.channels)}

    def request_channel(self, pin: int) -> DmaChannel | None:
        return self.channels[pin - 1] if 1 <= pin <= len(self.channels) else None

    def on_gpio(self, pin: int, level: bool) -> None:
        if 1 <= pin <= len(self.channels):
            self.channels[pin - 1].on_request(bool(level))
        else:
            self.ctx.log_once(("pin", pin), logging.WARNING,
                              "request on input %d: channels are 1..%d", pin, len(self.channels))

    def read(self, offset: int, size: int) -> int:
        self._sync()
        if offset == ISR:
            value = 0
            ready = None
            for ch in self.channels:
                value |= ch.flags << (4 * (ch.number - 1))
                if ch.stream is not None:
                    t = ch.stream.dma_stream_next_ps("isr")
                    ready = t if ready is None or (t is not None and t < ready) else ready
            return self.poll_hint(value, ready)
        if offset == IFCR:
            return 0
        ch, reg = self._channel(offset)
        if ch is None:
            self.log_unhandled(offset, size, None)     # also a channel this instance lacks
            return 0
        if reg == CCR:
            return ch.ccr
        if reg == CNDTR:
            return self.poll_hint(ch.left, ch.stream.dma_stream_next_ps("cndtr") if ch.stream else None)
        return ch.par if reg == CPAR else ch.mar

    def write(self, offset: int, size: int, value: int) -> None:
        self._sync()
        if offset == IFCR:
            for ch in self.channels:
                bits = (value >> (4 * (ch.number - 1))) & 0xF
                if bits & GIF:
                    bits = 0xF
                if bits:
                    ch.flags &= ~bits
                    if ch.flags & (TCIF | HTIF | TEIF) == 0:
                        ch.flags = 0
                    ch._update_irq()
            self._written(None, False)
            return
        if offset == ISR:
            return                                  # read-only
        ch, reg = self._channel(offset)
        if ch is None:
            self.log_unhandled(offset, size, value)
        elif reg == CCR:
            ch.write_ccr(value)
        else:
            ch.write_reg(reg, value)
        self._written(ch, reg == CCR)

    def _channel(self, offset: int) -> tuple[DmaChannel | None, int]:
        i, reg = divmod(offset - CH_BASE, CH_STRIDE)
        if offset < CH_BASE or i >= len(self.channels) or reg not in (CCR, CNDTR, CPAR, CMAR):
            return None, 0
        return self.channels[i], reg
