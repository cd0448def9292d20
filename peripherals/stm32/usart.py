"""STM32F1/F4 USART (the "v1" USART IP: SR/DR/BRR/CR1/CR2/CR3/GTPR), timed like the hardware.

Followed: RM0008 §27 (STM32F10x USART) and RM0430 §26 (STM32F413 USART), in particular
- §27.3.2 / §26.3.2 "Transmitter": TE sends an idle preamble (one frame of 1s); a DR write goes
  to TDR; TDR moves to the shift register when it is empty (TXE sets at that moment); TC sets at
  the end of the last stop bit when TXE is set; SBK sends a break after the current character.
- §27.3.3 / §26.3.3 "Receiver": data moves to DR at the first stop bit (RXNE, together with
  FE/PE/NF); a character completing while RXNE is still set gives ORE and is lost; IDLE sets
  after a whole idle frame following a received character and not again until RXNE sets.
- §27.3.4 / §26.3.4 "Fractional baud rate": baud = fCK / (16 * USARTDIV) (OVER16) and
  fCK / (8 * USARTDIV) with DIV_Fraction[2:0] (OVER8, F4 only); fCK is PCLK2 on APB2 (USART1/6),
  PCLK1 otherwise, taken from the RCC-published clock tree and followed when it changes.
- §27.6.1 / §26.6.1 SR: PE/FE/NF/ORE/IDLE cleared by reading SR then DR (only the flags that
  SR showed), TC by reading SR then writing DR or by writing 0, RXNE by reading DR or writing 0.
- Figure "M bit / parity": the parity bit takes the MSB of the word (M=0: 7 data bits + parity,
  M=1: 8 + parity); the received parity bit is readable in that MSB.
- §27.4 / §26.4 interrupt mapping: TXE&TXEIE, TC&TCIE, (RXNE|ORE)&RXNEIE, IDLE&IDLEIE, PE&PEIE,
  (FE|NF|ORE)&EIE only with DMAR=1 (multibuffer), LBD&LBDIE, CTS&CTSIE.
- §27.3.10 / §26.3.10 single-wire half duplex (HDSEL): TX and RX share one wire, so the
  receiver sees what the transmitter sends.

- §26.3.11 "Smartcard" (SCEN): the single wire is the open-drain TX line, so the receiver
  hears every character the USART sends (firmware reads its own echo, as ST's smartcard
  examples do); M=1 + PCE with 1.5 stop bits; TC rises GT[15:8] baud periods after the end of
  the last character (guard time; the model also holds the next character back for it, so
  back-to-back characters keep the card's minimum spacing); CK (CLKEN) runs at fCK / (2 x PSC[4:0]) for the card. A
  received character with a parity error is NACKed (line pulled low for one baud period after
  the frame) when CR3.NACK is set: the card on the line repeats it. A character the card NACKs
  comes back in the echo with FE (RM: "flagged as a framing error"); the F413's USART does not
  repeat it by itself, the firmware does. Cards and other far ends are attached with
  `register_child` (`card: metersim.Esam @ usart3` in a .repl) and see `nack_port`.

Timing: a character occupies (1 start + M-word + stop) bit times, computed exactly in integer
picoseconds from BRR and the real PCLK. Received frames are sampled with
`uart_line.sample_frame` at this USART's own settings, so a baud or format mismatch yields the
wrong bytes and FE/PE/NF the hardware would report. The format, divisor and these durations are
worked out once per configuration (`LineSettings`). A character a link hands over after its
RXNE point (an RS-485 bus delivers at the frame's end) is received at that instant: at once
when nothing else on this machine's clock is due by then, else as an event behind what is.

Receiver off: a character whose start bit fell while the receiver was off (reset, UE or RE
clear), or that it was turned off in before its RXNE point, is not received, even when the
receiver is enabled again before the character ends (`_rx_was_off`): the receiver never saw
it start. (The chip may sync on a later falling edge inside it and deliver a partial character,
likely with FE; that is not modelled.) The next character is received as usual.

IDLE: one character time of mark after a received character's stop bits, i.e. at its start
plus two character times, unless another character starts on the line before then. A link
that hands characters over late (an RS-485 bus at the frame's end, a cable between machines at
the RXNE point) tells the receiver when each one starts (`rx_start`, called by the sending end
at its own time, no event): the next character of a burst then reaches DR at or after the
previous one's idle point, yet IDLE is not set in between. Machines run ahead of each other
inside a quantum (metersim._engine.emulation), so the sender of a character that starts just
before the idle point may not have run there yet: the IDLE event then waits for every machine
at that instant (an event on the emulation's clock, which runs once all machines are there),
where any such start has been told.

DMA (§27.3.13 "Continuous communication using DMA"): the request outputs are levels,
DMATransmit = TXE & DMAT and DMAReceive = RXNE & DMAR, wired to a DMA channel's request input
(RM0008 Table 78/79: `DMATransmit -> dma1@4`, `DMAReceive -> dma1@5` for USART1); the DMA
(peripherals/stm32/dma.py) serves them one transfer at a time, TRANSFER_CYCLES HCLK cycles
(L) after the request: a write of DR (TXE falls, the character goes out when the shift
register is free; TC sets at the end of the last stop bit once the channel has no more to
give) or a read of DR (RXNE falls, as a DR read by firmware clears it, and with it whatever
error flags the last SR read showed). Renode's STM32_UART has one output, `DMARequest`,
which upstream's stm32f103.repl fans out to both channels (`DMARequest -> dma1@4 | dma1@5`);
on the F1 the two requests go to different channels, and one line for both would have the
receive channel read DR on every TXE, so this model drives two lines under the names Renode's
STM32SPI gives its requests, and keeps `DMARequest` as another name of DMAReceive (a
received character asks for a transfer). A channel's request input is the OR of what is
wired to it (SPI1_RX and USART3_TX share channel 2, say).
Reception by DMA without an event per character: when a character is received (its link
hands it over, `receive_frame`) while DMAR is set, RXNEIE is clear, RXNE is clear and the
channel wired to DMAReceive is enabled, peripheral-to-memory from this USART's DR with
transfers left and nothing pending, the character's RXNE point is taken L later and the
channel's transfer is done there in the same call (`DmaChannel.take`): memory, CNDTR, HT/TC
and their interrupt show at the instant the request would have been served, and the RXNE that
the DMA clears at once is not set for those L cycles (a firmware receiving by DMA does not
look at RXNE; FE/NF/PE and the error interrupt they raise with EIE show at the transfer too).
Characters told ahead of their hand-over (`_Told`, one mechanism, the hand-over optional)
are taken by the receive channel at their instant (the RXNE point plus L, or a cable's
hand-over point if later) as far as the DMA's registers show: any access to the receiving DMA
from that instant on (`dma_catch_up`: CNDTR, ISR, a flag clear) first takes those due, with
CNDTR, memory, HT/TC and its interrupt; several due at one look go to RAM in one write.
- With a hand-over: an RS-485 bus hands a character over at the frame's end (only then is
  the line's damage known), half a stop bit after the RXNE point, but tells the receiver at
  the frame's start what was sent (`rx_start(start, frame)`): the character is taken at its
  instant, as sent, if the channel takes it then, and the hand-over only corrects the memory
  and the error flags if the line changed it. A firmware timing silences from IDLE by CNDTR
  (the Modbus receivers) thus sees each character at its RXNE point plus L, as on the chip.
  Unlooked at, the character is transferred at the hand-over, as RXNE is set then without
  DMA.
- Without: a cable between machines (uart_cable.py) tells the receiver the whole character
  at its start (`rx_frame_start`, or a DMA run's characters in one call, `rx_frames_start`):
  when the receive channel will take it (the conditions above, the channels' transfers left
  counting those already kept, a clean character at this USART's settings, no SR flag a DR
  read would clear, no character being handed over the ordinary way, no idle point still to
  come before it) the USART keeps it and the cable hands nothing over. A kept character is
  also taken at any access to this USART's DR, at the instants where its transfer sets HT or
  TC with that interrupt enabled (an event each), and at the IDLE point (one event per burst,
  moved behind the characters kept). A write that changes how characters are received (BRR,
  CR1 UE/RE/RXNEIE/format, CR2 STOP, CR3 DMAR/HDSEL/SCEN; the channel's control register; a
  DMA no longer ready for them) first takes those due and hands the others back to the
  ordinary path at their hand-over points. SR (answered in C) shows nothing of a kept
  character, as on the chip (the DMA clears RXNE at once; a clean character sets no flag).
  Pulling the cable (`plugged = False`) forgets the characters that start from then on
  (`rx_forget`: the receiver is rolled back to before it was told of them). Only a host
  reading the ring's RAM directly, without looking at the DMA, sees a kept character later
  than its instant (at the next look).
Anything else (the channel off or busy, RXNE still set: then ORE as without DMA) goes through
the request line.

Transmission by DMA: each TXE is a request served by an event of the channel, L later (no CPU
either way), unless the channel's transfer to DR finds the transmitter idle (nothing shifting,
TDR empty, DMAT set, no smartcard / half duplex / break, no TXEIE, no `on_byte` callback), or
shifting the last character of a run taken before whose channel has stopped, and the channel
holds a normal-mode run of at least two bytes from RAM, one a transfer: the USART then takes
the run (`dma_stream`, as the SPI takes bulk streams), after the run before in the second case
(that run's last character is in the shift register, this transfer fills TDR): transfer k
(k >= 1) falls at the start of character k-1 plus L (its TXE), the characters go back to back,
and the listeners get every character at the run's start, each with its own start time (only
listeners marked `uart_cable.tells_ahead`, which go by the frame's times, allow this: a cable
between machines, a UartEndpoint, an RS-485 transceiver, which puts each on the bus at its
start if DE is high then). What firmware can see is what one character at a time gives, at
every instant it looks: CNDTR, HT/TC, `sent` and SR are brought up to date at any look at the
DMA or the USART (`_tx_stream_sync`); TXE sets as each character loads and clears L later at
the next transfer, so SR is read in Python during a run (the engine's C answer declines:
`_HotSr`), with a poll hint to the next change; HT/TC interrupts are an event at each enabled
instant; TC (and TXE, if not set already) at the last stop bit, an event; TXEIE set during
a run, an event at each instant TXE changes from then on. The request line
(DMATransmit) is left high through the run, which its own channel serves without it; once
the firmware writes the channel's control register (a stop, usually from its TC interrupt
after the last transfer) it follows TXE again: a channel wired to it that is enabled before
the run ends (`DmaChannel.tx_waiter`) gets an event at the next load, where the line rises,
so it starts its run as it would on the chip (chained behind the run, see above). Differences, for
firmware that does what a DMA-fed transmitter does not need: data written to the run's memory
after its start but before its transfer is not sent (the run is read at its start). A run
stopped in the middle sends what one request at a time sends: a channel stopped before its
last transfer (its control register written other than in its interrupt enables, DMAT
cleared, a DMA reset) ends the run with the last character it wrote to DR; clearing TE or UE,
or a reset (a power cut), stops the transmitter as for one character. The characters that
then never go out were told to the listeners at the run's start: those that can take them
back (a cable: `UartPort.cut`) forget them, an RS-485 transceiver drives each at its start
only while DE is high (a power cut drops it; a run stopped with DE still high is a
difference), other listeners (a host endpoint) have had the whole run.

`TC_EVENT` is an extra output (not on the chip): it follows TC, so an RS-485 board model can
release DE after the last stop bit exactly as firmware polling TC would.

Not modelled: synchronous mode (CPOL/CPHA/LBCL; CLKEN only gives the smartcard clock), IrDA, LIN
break detection (a break gives FE with data 0), mute mode / wake-up (RWU/WAKE/ADD), hardware
flow control RTS/CTS, ONEBIT,
noise from the start-bit validation. Clearing TE or UE in the middle of a character aborts it in
the model, but listeners have already received the whole frame.
"""

from __future__ import annotations

import logging
from bisect import bisect_right
from typing import Callable

from metersim._errors import SetupError
from metersim.peripherals.base import (GPIO, Context, History, Peripheral, UartFrame, UartPort,
                                       uart_frames)
from metersim.peripherals.registry import model
from metersim.peripherals.regmap import Reg, RegisterMap
from metersim.peripherals.stm32 import clock_tree
from metersim.peripherals import uart_cable
from metersim.peripherals.uart_cable import settings_changed
from metersim.peripherals.uart_line import frame_duration_ps, parity_bit, rx_complete_ps, sample_frame
from metersim._units import PS_PER_S

# APB2 holds 0x40010000..0x40016BFF on both F1 (AFIO..TIM11) and F4 (TIM1..SPI5); APB1 below.
APB2_FIRST, APB2_LAST = 0x40010000, 0x40016BFF


class ApbClock:
    """The kernel clock of an APB peripheral, followed through RCC reconfigurations.

    `kind` is "PCLK" (bus clock) or "TIMCLK" (timer clock after the APB x2 rule); the bus is
    chosen from the sysbus address unless `name` overrides it. Without a rate in the clock tree
    (unit tests without an RCC) `fallback_hz` is used and that is logged once.
    """

    def __init__(self, ctx: Context, kind: str, name: str | None = None,
                 fallback_hz: int = 8_000_000, on_change: Callable[[int], None] | None = None):
        self.ctx = ctx
        if name is None:
            addr = ctx.address
            apb2 = addr is not None and APB2_FIRST <= addr <= APB2_LAST
            name = f"{kind}{2 if apb2 else 1}"
        self.name = str(name)
        self.fallback_hz = int(fallback_hz)
        self.tree = clock_tree(ctx)
        self._on_change = on_change
        self.tree.subscribe(self.name, self._changed)

    @property
    def hz(self) -> int:
        rate = self.tree.rate_hz(self.name)
        if rate > 0:
            return rate
        self.ctx.log_once(("no-clock", self.name), logging.WARNING,
                          "clock %s has no rate in the clock tree; assuming %d Hz",
                          self.name, self.fallback_hz)
        return self.fallback_hz

    def _changed(self, hz: int) -> None:
        if self._on_change is not None:
            self._on_change(hz)


# -- register map (RM0008 §27.6, RM0430 §26.6) ------------------------------------------------
SR, DR, BRR, CR1, CR2, CR3, GTPR = 0x00, 0x04, 0x08, 0x0C, 0x10, 0x14, 0x18
REGS = RegisterMap([
    Reg("SR", SR, 32, 0x00C0, "rc_w0", doc="status: PE FE NF ORE IDLE RXNE TC TXE LBD CTS"),
    Reg("DR", DR, 32, 0, "rw", doc="data (9 bits)"),
    Reg("BRR", BRR, 32, 0, "rw", doc="DIV_Mantissa[15:4] DIV_Fraction[3:0]"),
    Reg("CR1", CR1, 32, 0, "rw", doc="SBK RWU RE TE IDLEIE RXNEIE TCIE TXEIE PEIE PS PCE WAKE M UE OVER8"),
    Reg("CR2", CR2, 32, 0, "rw", doc="ADD LBDL LBDIE LBCL CPHA CPOL CLKEN STOP[13:12] LINEN"),
    Reg("CR3", CR3, 32, 0, "rw", doc="EIE IREN IRLP HDSEL NACK SCEN DMAR DMAT RTSE CTSE CTSIE ONEBIT"),
    Reg("GTPR", GTPR, 32, 0, "rw", doc="GT[15:8] smartcard guard time, PSC[7:0] prescaler (smartcard CK)"),
])

# SR bits
PE, FE, NF, ORE, IDLE, RXNE, TC, TXE, LBD, CTS = (1 << i for i in range(10))
# CR1 bits
SBK, RWU, RE, TE, IDLEIE, RXNEIE, TCIE, TXEIE, PEIE, PS, PCE, WAKE, M = (1 << i for i in range(13))
UE, OVER8 = 1 << 13, 1 << 15
# CR2 / CR3 bits
LBDIE, CTSIE = 1 << 6, 1 << 10
EIE, HDSEL, DMAR, DMAT = 1 << 0, 1 << 3, 1 << 6, 1 << 7
NACK, SCEN, CLKEN = 1 << 4, 1 << 5, 1 << 11

# STOP[13:12]: 00 = 1, 01 = 0.5, 10 = 2, 11 = 1.5 stop bits, in half bits.
_STOP_HALF_BITS = {0: 2, 1: 1, 2: 4, 3: 3}
_RX_ERRORS = PE | FE | NF | ORE | IDLE
_FORMAT_CR1 = M | PCE | PS | OVER8     # the CR1 bits a character's duration depends on
_STOP_CR2 = 3 << 12
# Register bits whose change alters how a character is received: characters a cable told of
# ahead for the DMA (module docstring, "DMA") go back to the ordinary path when one changes.
_RX_CONFIG = {BRR: 0xFFFF, CR1: UE | RE | RXNEIE | _FORMAT_CR1, CR2: _STOP_CR2,
              CR3: DMAR | HDSEL | SCEN}
# CR1 interrupt enables and the SR flags each lets through to IRQ (RM §27.4 / §26.4).
_IRQ_CR1 = ((TXEIE, TXE), (TCIE, TC), (RXNEIE, RXNE | ORE), (IDLEIE, IDLE), (PEIE, PE))


class LineSettings:
    """What a USART's characters look like at one configuration (BRR, kernel clock, CR1
    format bits, CR2 STOP): the divisor and clock, the format and every duration the
    transmitter and receiver need per character, worked out once. A USART keeps its current
    one until `uart_cable.settings_changed()` (which every change of these bumps), so a
    character costs no register decoding or duration arithmetic."""

    __slots__ = ("div", "hz", "baud", "data_bits", "parity", "stop_half_bits", "data_mask",
                 "half_bits", "break_half_bits", "rx_done_ps", "idle_ps", "bit_ps", "char_ps",
                 "rx_clean")

    def __init__(self, div: int, hz: int, data_bits: int, parity: str, stop_half_bits: int):
        self.div, self.hz = div, hz
        self.data_bits, self.parity, self.stop_half_bits = data_bits, parity, stop_half_bits
        self.data_mask = (1 << data_bits) - 1
        # (value, start-free sender settings) of a frame sent as is -> (DR value, error flags)
        # as received at these settings (STM32Usart._rx_value outside smartcard mode)
        self.rx_clean: dict = {}
        n_par = parity != "N"
        self.half_bits = 2 * (1 + data_bits + n_par) + stop_half_bits
        # a break: 10 (M=0) or 11 (M=1) low bits then one high bit (RM "Break characters")
        self.break_half_bits = 2 * (2 + data_bits + n_par) + 2
        self.baud = baud = hz / div if div else 0.0
        self.char_ps = self.half_bits * div * PS_PER_S // (2 * hz) if div and hz else 0
        if div:
            # RXNE at the middle of the first stop bit; IDLE one whole idle frame after a
            # character's stop bits; the smartcard receiver samples one baud into the stop bit
            self.rx_done_ps = rx_complete_ps(baud, data_bits, parity)
            self.idle_ps = 2 * frame_duration_ps(baud, data_bits, parity, stop_half_bits)
            self.bit_ps = round(PS_PER_S / baud)
        else:
            self.rx_done_ps = self.idle_ps = self.bit_ps = 0


class _HotSr:
    """The attributes the engine answers SR from in C (hot_regs "usart_sr"): the USART's
    own, except while a DMA run is sent as one: SR's TXE then changes between events, worked
    out from the time at each look (`_tx_stream_sync`), so `regs` reads empty and the engine
    leaves the read to Python (read(SR))."""

    __slots__ = ("_usart",)
    _NONE: dict = {}

    def __init__(self, usart: "STM32Usart"):
        self._usart = usart

    @property
    def regs(self) -> dict:
        u = self._usart
        return u.regs if u._txrun is None else self._NONE

    @property
    def _poll_hint_fn(self):
        return self._usart._poll_hint_fn

    @property
    def _sr_snapshot(self) -> int:
        return self._usart._sr_snapshot

    @_sr_snapshot.setter
    def _sr_snapshot(self, value: int) -> None:
        self._usart._sr_snapshot = value


class _Told:
    """A character a link told the receiver of ahead of its hand-over, for the receive DMA
    channel to take at `take_ps` (its RXNE point plus the DMA's time; module docstring, "DMA").
    One mechanism, the hand-over optional:
    - `handover` (an RS-485 bus: told at the frame's start, handed over at its end): taken at
      `take_ps` as sent if the channel takes it then, and the hand-over corrects what the line
      changed (`_taken`);
    - without (a cable: `due_ps` is where it would have handed it over): kept only when
      nothing can come between (STM32Usart.rx_frames_start), so it is taken for certain, as
      `value`; `mark` is its HT/TC event if it has one, `before` the receiver's idle state
      before it was told (rx_forget), and it goes back to the hand-over path when a write
      changes how characters are received."""

    __slots__ = ("take_ps", "frame", "handover", "due_ps", "value", "mark", "before")

    def __init__(self, take_ps: int, frame: UartFrame, due_ps: int | None = None,
                 value: int = 0, mark=None, before: tuple | None = None):
        self.take_ps = take_ps
        self.frame = frame
        self.due_ps = due_ps
        self.handover = due_ps is None
        self.value = value
        self.mark = mark
        self.before = before


class _TxRun:
    """A send channel's run taken by the transmitter (STM32Usart.dma_stream): its characters,
    their ends, the channel's transfer instants, how many of each are done, HT/TC events."""

    __slots__ = ("ch", "frames", "ends", "xfers", "marks", "done", "sent", "load_ev",
                 "clear_at", "half")

    def __init__(self, ch, frames, ends, xfers, marks, half):
        self.ch, self.frames, self.ends, self.xfers, self.marks = ch, frames, ends, xfers, marks
        self.half = half           # half bits per character of the channel's run (the chain)
        self.done = self.sent = 0
        self.load_ev = False       # the event at the next load is on (dma_tx_enabled)
        self.clear_at = -1         # the transfer an SR read's TC/PE clear has its event at


@model("UART.STM32_UART", "metersim.STM32_USART")
class STM32Usart(Peripheral):
    """One USART. `tx` is the line it drives; `receive_frame` is where the line arrives."""

    size = 0x400
    DMA_STREAM_DR = DR           # a send channel writing here may hand its run over (dma_stream)

    def __init__(self, ctx: Context, frequency: int = 0, clock: str | None = None, **_ignored):
        super().__init__(ctx)
        self.IRQ = GPIO("IRQ")
        self.TC_EVENT = GPIO("TC_EVENT")       # follows TC: RS-485 DE release hook
        self.DMAReceive = GPIO("DMAReceive")     # request levels (module docstring, "DMA")
        self.DMATransmit = GPIO("DMATransmit")
        self.DMARequest = self.DMAReceive       # Renode's one request line: the receive one
        self.tx = UartPort()
        self.on_byte: list[Callable[[int], None]] = []   # called with each byte sent, at its end
        self.sent = History()          # (end_ps, value) of each byte sent, the newest kept
        self.nack_port: list[Callable[[int], None]] = []  # smartcard: fn(t_ps) on each NACK sent
        self._nacked: set[int] = set()                   # start_ps of our frames a card NACKed
        # Renode's `frequency` (8 MHz default there) is only a fallback: the real PCLK rules.
        # (a new PCLK changes the baud rate: links between machines recompute their lookahead)
        self._clk = ApbClock(ctx, "PCLK", clock, fallback_hz=int(frequency) or 8_000_000,
                             on_change=settings_changed)
        self._host_next_ps = 0
        self._line_settings: LineSettings | None = None
        self._line_epoch = -1        # uart_cable's settings count _line_settings was made at
        self._tx_ev = None
        self._txrun = None
        self._rx_events: list = []
        self._lazy_events: list = []
        self._idle_ev = None
        self._told: list = []
        self._kept = 0
        # DR on the system bus, where a receive channel's CPAR points (None: not on a bus)
        self._dr_addr = None if ctx.address is None else ctx.address + DR
        self.reset()

    # -- state ----------------------------------------------------------------------------
    def reset(self) -> None:
        # What happened before the reset stands: a run's characters sent and its channel's
        # transfers up to now, the kept characters the receive channel has taken by now.
        # The kept ones still to come go back to the ordinary path, where the receiver, off
        # from now on, drops those it was off for (_rx_was_off) and takes the others as it
        # is set up again by then.
        self._tx_stream_sync()
        self._tx_stream_drop(cut=True)
        if self._kept:
            self.dma_catch_up()
        pending = [t for t in self._told if not t.handover]
        for ev in (self._tx_ev, self._idle_ev, *self._rx_events, *self._lazy_events):
            if ev is not None:
                ev.cancel()
        self._rx_events = []
        self._told: list = []        # characters told ahead for the receive channel (_Told)
        self._kept = 0               # how many of them have no hand-over (a cable's, kept)
        self._lazy_events: list = []  # the kept ones' HT/TC instants, and hand-backs
        self._lazy_idle_ps = -1      # the idle point of the newest kept one
        self._handovers = 0          # characters a cable will still hand over
        self._nacked = set()
        self._taken: dict = {}       # start_ps -> (address, value, errors) taken ahead by DMA,
                                     # for the hand-over's correction
        self.regs = REGS.resets()
        self._tdr = 0
        self._tdr_full = False
        self._tx_ev = None           # end of the character (or idle preamble) being shifted out
        self._tx_kind = None         # "data", "break", "preamble"
        self._chain = (0, 0, 0, 0, -1)  # (base_ps, half bits since base, div, hz, end_ps)
        self._rdr = 0
        self._sr_snapshot = 0        # SR as last read (clearing sequences need SR read first)
        self._rx_seq = 0
        self._rx_heard_ps = -1       # start of the latest character heard on the RX line
        self._heard: list = []       # the starts heard, in order, of characters not yet done
        # The receiver's last time off: from when it went off (reset, UE or RE cleared) to when
        # it was enabled again (UE and RE set); a character it overlaps is lost (_rx_was_off)
        now = self.ctx.clock.now_ps
        self._rx_off_ps = now
        self._rx_gap = (now, now)
        self._idle_ev = None
        self._idle_after_ps = -1     # start of the character the pending IDLE event follows
        self._idle_armed = False
        self._irq_mask = 0           # SR flags that raise IRQ (CR1-3 at reset enable none)
        self._dma_cr3 = 0            # CR3's DMAR | DMAT: request lines to follow
        self._rx_dma = None          # the channel DMAReceive drives, while DMAR is set
        self._rx_pin = 0             # the DMA request input DMAReceive is wired to
        self.IRQ.unset()
        self.DMAReceive.unset()
        self.DMATransmit.unset()
        self.TC_EVENT.set(True)      # TC is set after reset
        settings_changed()           # BRR 0: no speed (links between machines: uart_cable)
        if pending:
            self._hand_over(pending)

    @property
    def sr(self) -> int:
        return self.regs["SR"]

    def _set_sr(self, bits: int, on: bool = True) -> None:
        regs = self.regs
        old = regs["SR"]
        new = (old | bits) if on else (old & ~bits)
        if new != old:
            regs["SR"] = new
            if (old ^ new) & TC:
                self.TC_EVENT.set(bool(new & TC))
            # The enables only change in register writes, which refresh _irq_mask; most flag
            # changes leave the line as it is (the level test spares the call).
            level = bool(new & self._irq_mask)
            if level != self.IRQ.level:
                self.IRQ.set(level)
            if self._dma_cr3 and (old ^ new) & (RXNE | TXE):
                self._update_dma()

    def _update_dma(self) -> None:
        """The request lines: DMAReceive = RXNE & DMAR, DMATransmit = TXE & DMAT."""
        sr, cr3 = self.regs["SR"], self.regs["CR3"]
        level, line = bool(cr3 & DMAR and sr & RXNE), self.DMAReceive
        if level != line.level:
            line.set(level)
        level, line = bool(cr3 & DMAT and sr & TXE), self.DMATransmit
        if level != line.level:
            line.set(level)

    def _rx_channel(self):
        """The DMA channel (F1) or stream (F4) DMAReceive is wired to (its one target with
        `request_channel`), if any; the request input it is wired to goes to `_rx_pin`."""
        found = None
        for target, pin in self.DMAReceive._targets:
            lookup = getattr(target, "request_channel", None)
            ch = lookup(pin) if lookup is not None else None
            if ch is not None:
                if found is not None:
                    return None       # several: each is served through its request line
                found = ch
                self._rx_pin = pin
        return found

    def _rx_dma_ready(self, ch) -> bool:
        """Would `ch` serve a character received now at once (module docstring, "DMA")?"""
        return (ch.can_take(self._dr_addr, self._rx_pin)
                and not self.regs["CR1"] & RXNEIE and not self.regs["SR"] & RXNE)

    def _update_irq(self) -> None:
        """CR1/CR2/CR3 changed: refresh the SR bits that raise the IRQ, and the IRQ."""
        self._irq_mask = mask = self._irq_enabled_sr()
        self.IRQ.set(bool(self.regs["SR"] & mask))

    def _irq_enabled_sr(self) -> int:
        """The SR flags that raise IRQ under the current enables (RM §27.4 / §26.4 mapping):
        the IRQ line is then one AND away on every flag change."""
        regs = self.regs
        cr1, cr2, cr3 = regs["CR1"], regs["CR2"], regs["CR3"]
        mask = 0
        for enable, flags in _IRQ_CR1:
            if cr1 & enable:
                mask |= flags
        if cr3 & EIE and cr3 & DMAR:
            mask |= FE | NF | ORE     # error interrupt only in multibuffer (DMA) reception
        if cr2 & LBDIE:
            mask |= LBD
        if cr3 & CTSIE:
            mask |= CTS
        return mask

    # -- configuration --------------------------------------------------------------------
    def frame_format(self) -> tuple[int, str, int]:
        """(data bits excluding parity, parity 'N'/'E'/'O', stop half bits) from CR1/CR2."""
        cr1 = self.regs["CR1"]
        word = 9 if cr1 & M else 8
        if cr1 & PCE:
            data_bits, parity = word - 1, ("O" if cr1 & PS else "E")
        else:
            data_bits, parity = word, "N"
        return data_bits, parity, _STOP_HALF_BITS[(self.regs["CR2"] >> 12) & 3]

    def _divisor(self) -> int:
        """fCK cycles per bit: BRR as is (OVER16), 8 x mantissa + fraction[2:0] (OVER8)."""
        brr = self.regs["BRR"] & 0xFFFF
        if self.regs["CR1"] & OVER8:
            return 8 * (brr >> 4) + (brr & 7)
        return brr

    @property
    def pclk_hz(self) -> int:
        return self._clk.hz

    @property
    def baud(self) -> float:
        """Actual bit rate from BRR and the real PCLK; 0.0 while BRR is not programmed."""
        div = self._divisor()
        return self._clk.hz / div if div else 0.0

    def char_ps(self) -> int:
        """One character at the current BRR, PCLK and format, 0 while BRR is 0 (an RS-485
        bus's lookahead between machines, Rs485Bus.lookahead_ps)."""
        return self._line().char_ps

    def _line(self) -> LineSettings:
        """The current LineSettings, made again only after `uart_cable.settings_changed()`
        (BRR, PCLK, CR1 format bits, CR2 STOP and reset all bump it)."""
        epoch = uart_cable._settings_epoch
        if self._line_epoch != epoch:
            div = self._divisor()
            self._line_settings = LineSettings(div, self._clk.hz if div else 0, *self.frame_format())
            self._line_epoch = epoch
        return self._line_settings

    def _char_ps(self, half_bits: int) -> int:
        """Exact duration of `half_bits` half bit times at the current BRR and PCLK."""
        return half_bits * self._divisor() * PS_PER_S // (2 * self._clk.hz)

    # -- register access ------------------------------------------------------------------
    def hot_registers(self) -> list:
        """SR, which firmware polls, is answered in C by the engine (metersim._engine.hot_regs)
        as `read(SR)` does: regs["SR"], stored as _sr_snapshot, and the poll hint's bookkeeping
        (read through _poll_hint_fn); a read whose poll hint skips ahead stays in Python, and
        so does every read during a DMA run sent as one (`_HotSr`)."""
        from metersim._engine.hot_regs import HotRegister

        return [HotRegister(SR, "usart_sr", _HotSr(self))]

    def read(self, offset: int, size: int) -> int:
        if self._txrun is not None:
            self._tx_stream_sync()
        if offset == SR:
            sr = self._sr_snapshot = self.regs["SR"]
            if self._txrun is None:
                return self.poll_hint(sr)
            # SR only changes in this model's events (or, during a DMA run, at the instants
            # _tx_stream_sync follows): a polling loop may skip to the next.
            if sr & (TC | PE):
                self._tx_stream_clear_at_next_write()
            return self.poll_hint(sr, self._tx_stream_next_ps())
        if offset == DR:
            if self._kept:
                self.dma_catch_up()
            value = self._rdr
            clear = self._sr_snapshot & _RX_ERRORS
            self._sr_snapshot = 0
            self._set_sr(clear | RXNE, False)
            return value
        name = REGS.name_at.get(offset)
        if name is None:
            return super().read(offset, size)
        return self.regs[name]

    def write(self, offset: int, size: int, value: int) -> None:
        value &= 0xFFFF
        if self._txrun is not None:
            self._tx_stream_sync()
        if self._kept and offset in _RX_CONFIG:
            self.dma_catch_up()
            reg = self.regs[REGS.name_at[offset]]
            if (reg ^ value) & _RX_CONFIG[offset]:
                self._hand_back()         # received as it would be after this write
        if offset == SR:
            # rc_w0: RXNE, TC, LBD, CTS clear when written 0; the other bits are read-only.
            w0c = RXNE | TC | LBD | CTS
            self._set_sr(w0c & ~value, False)
        elif offset == DR:
            self._write_dr(value)
        elif offset == BRR:
            if value != self.regs["BRR"]:
                settings_changed()
            self.regs["BRR"] = value
        elif offset == CR1:
            if (value ^ self.regs["CR1"]) & _FORMAT_CR1:
                settings_changed()
            self._write_cr1(value)
        elif offset == CR2:
            if (value ^ self.regs["CR2"]) & _STOP_CR2:
                settings_changed()
            self.regs["CR2"] = value
            self._update_irq()
        elif offset == CR3:
            if self._txrun is not None and not value & DMAT:
                self.dma_stream_stop()    # no more requests: the channel's transfers end
            self.regs["CR3"] = value
            self._dma_cr3 = value & (DMAR | DMAT)
            ch = self._rx_dma
            self._rx_dma = self._rx_channel() if value & DMAR and self._dr_addr is not None else None
            if ch is not None and ch.feeder is self:
                ch.feeder = None
            if self._rx_dma is not None:
                self._rx_dma.feeder = self        # its DMA catches up before being looked at
            self._update_irq()
            self._update_dma()
        elif offset == GTPR:
            self.regs["GTPR"] = value
        else:
            super().write(offset, size, value)

    def _write_cr1(self, value: int) -> None:
        old = self.regs["CR1"]
        self.regs["CR1"] = value
        self._irq_mask = self._irq_enabled_sr()   # flags set below already see the new enables
        if old & UE and not value & UE:
            self._abort_tx("UE cleared")
            for ev in self._rx_events:
                ev.cancel()
            self._rx_events = []
        elif old & TE and not value & TE and self._tx_kind in ("data", "break", "stream"):
            self._abort_tx("TE cleared")
        if value & UE and value & TE and (not old & TE or not old & UE):
            self._start_preamble()
        was_on, on = old & UE and old & RE, value & UE and value & RE
        if was_on and not on:
            self._rx_off_ps = self.ctx.clock.now_ps
        elif on and not was_on:
            self._rx_gap = (self._rx_off_ps, self.ctx.clock.now_ps)   # (_rx_was_off)
        if value & SBK:
            self._try_load()
        if value & TXEIE and not old & TXEIE and self._txrun is not None:
            self._tx_stream_txeie()
        level = bool(self.regs["SR"] & self._irq_mask)   # (the mask set above still holds)
        if level != self.IRQ.level:
            self.IRQ.set(level)

    def _write_dr(self, value: int) -> None:
        clear = self._sr_snapshot & (TC | PE)
        self._sr_snapshot = 0
        self._tdr = value & 0x1FF
        self._tdr_full = True
        self._set_sr(clear | TXE, False)
        self._try_load()

    # -- transmitter ----------------------------------------------------------------------
    def _tx_enabled(self) -> bool:
        cr1 = self.regs["CR1"]
        return bool(cr1 & UE and cr1 & TE)

    def _abort_tx(self, why: str) -> None:
        if self._txrun is not None:
            self._tx_stream_sync()
            self._tx_stream_drop(cut=True)
            if self._dma_cr3:
                self._update_dma()        # (TXE followed the run without the request line)
            if self._tx_ev is not None:
                self._tx_ev.cancel()      # (listeners have had the whole run already)
            self._tx_ev = None
            self._tx_kind = None
            self.ctx.log(logging.WARNING, "%s during a DMA run: it is cut short", why)
            return
        if self._tx_ev is not None:
            self._tx_ev.cancel()
            self._tx_ev = None
            if self._tx_kind not in ("preamble", "guard"):
                self.ctx.log(logging.WARNING, "%s during a character: it is cut short", why)
        self._tx_kind = None

    def _start_preamble(self) -> None:
        """TE set: the transmitter first sends one idle frame (RM: 'idle preamble')."""
        line = self._line()
        if self._tx_ev is not None or not line.div:
            return
        self._tx_kind = "preamble"
        self._tx_ev = self.ctx.clock.schedule(line.char_ps, self._tx_done)

    def _try_load(self) -> None:
        """Move the next thing to send into the (idle) shift register."""
        if self._tx_ev is not None or not self._tx_enabled():
            return
        if not (self._tdr_full or self.regs["CR1"] & SBK):
            return                        # nothing to send (the end of a burst)
        line = self._line()
        if not line.div:
            self.ctx.log_once("brr0", logging.WARNING, "transmit with BRR = 0: nothing is sent")
            return
        clock = self.ctx.clock
        now = clock.now_ps
        if self.regs["CR1"] & SBK:
            frame = UartFrame(0, line.data_bits, line.parity, line.stop_half_bits, line.baud, now,
                              is_break=True)
            half_bits = line.break_half_bits
            self._tx_kind = "break"
        else:
            frame = UartFrame(self._tdr & line.data_mask, line.data_bits, line.parity,
                              line.stop_half_bits, line.baud, now)
            half_bits = line.half_bits
            self._tdr_full = False
            self._tx_kind = "data"
            self._set_sr(TXE, True)       # TDR moved to the shift register
        self._tx_ev = clock.schedule_at(self._chain_end_ps(now, half_bits, line.div, line.hz),
                                        self._tx_done, frame)
        self.tx.send(frame)
        if self.regs["CR3"] & (HDSEL | SCEN):
            self.receive_frame(frame)     # single wire: the receiver hears the transmitter

    def _chain_end_ps(self, now: int, half_bits: int, div: int, hz: int) -> int:
        """End of a character starting now at `div` fCK cycles per bit with fCK = `hz`.
        Back-to-back characters are timed from the first one's start so that picosecond
        rounding does not accumulate over long bursts."""
        base, total, cdiv, chz, cend = self._chain
        if cend == now and cdiv == div and chz == hz:
            total += half_bits
        else:
            base, total = now, half_bits
        end = base + total * div * PS_PER_S // (2 * hz)
        self._chain = (base, total, div, hz, end)
        return end

    def _tx_done(self, frame: UartFrame | None = None) -> None:
        kind = self._tx_kind
        self._tx_ev = None
        self._tx_kind = None
        if kind == "break":
            self.regs["CR1"] &= ~SBK      # cleared by hardware during the break's stop bit
        elif kind == "data" and frame is not None:
            now = self.ctx.clock.now_ps
            self.sent.append((now, frame.value))
            if self.on_byte:              # (a copy: a callback may add or remove callbacks)
                for fn in list(self.on_byte):
                    fn(frame.value)
        self._try_load()
        if self._tx_ev is None and kind == "data" and self.regs["SR"] & TXE:
            gt = (self.regs["GTPR"] >> 8) & 0xFF
            if self.regs["CR3"] & SCEN and gt:
                # Smartcard guard time: TC only after GT more baud periods (TXE stays set).
                self._tx_kind = "guard"
                self._tx_ev = self.ctx.clock.schedule(self._char_ps(2 * gt), self._guard_done)
            else:
                self._set_sr(TC, True)    # end of the last stop bit with nothing more to send

    def _guard_done(self) -> None:
        self._tx_ev = None
        self._tx_kind = None
        self._try_load()
        if self._tx_ev is None and self.regs["SR"] & TXE:
            self._set_sr(TC, True)

    # -- transmission of a DMA run ----------------------------------------------------------
    def dma_stream(self, ch) -> bool:
        """A send channel's transfer to DR is due now with this transmitter idle, or with
        the last character of a run taken before loaded and that run's channel stopped: take
        the channel's whole run from here (module docstring, "DMA"), after that run's end in
        the second case, or False (then it goes one request at a time). The characters go to
        the listeners now, each with its own start."""
        regs = self.regs
        cr1, cr3 = regs["CR1"], regs["CR3"]
        if (self._tdr_full or self.on_byte
                or not (cr1 & UE and cr1 & TE) or cr1 & (SBK | TXEIE) or not cr3 & DMAT
                or cr3 & (HDSEL | SCEN) or not regs["SR"] & TXE):
            return False
        run = self._txrun
        if run is not None:
            last = len(run.frames) - 1
            if run.ch is not None or run.done <= last or run.sent != last:
                return False              # (its last character is not shifting yet)
        elif self._tx_ev is not None:
            return False
        if not all(getattr(fn, "tells_ahead", False) for fn in self.tx._send_to):
            return False
        n = ch.left
        if n < 2 or not ch.plain_run(n):
            return False
        line = self._line()
        if not line.div:
            return False
        clock = self.ctx.clock
        now = clock.now_ps
        # the first character loads now, or where the run before ends (then DR waits in TDR)
        t0 = now if run is None else run.ends[-1]
        data = ch.dma.bus.read_memory(ch.mptr, n)
        lat = ch.dma.transfer_ps()
        mask, bits, parity, stop, baud = (line.data_mask, line.data_bits, line.parity,
                                          line.stop_half_bits, line.baud)
        # back to back from the first character's start, as _chain_end_ps times a burst
        half, div, hz = line.half_bits, line.div, line.hz
        end = self._chain_end_ps(t0, half, div, hz)
        base, total = self._chain[0], self._chain[1]
        starts, ends = [t0], [end]
        scale, hz2 = div * PS_PER_S, 2 * hz
        for _ in range(1, n):
            starts.append(end)
            total += half
            end = base + total * scale // hz2
            ends.append(end)
        self._chain = (base, total, div, hz, end)
        # transfer k (k >= 1) at character k-1's load (TXE) plus L; transfer 0 now
        xfers = [now]
        xfers += [t + lat for t in starts[:-1]]
        frames = uart_frames(list(data) if mask == 0xFF else [b & mask for b in data], starts,
                             bits, parity, stop, baud)
        marks = [clock.schedule_at(xfers[k], self._tx_stream_sync)
                 for k in ch.irq_transfers(1, n)]
        clear = self._sr_snapshot & (TC | PE)      # transfer 0 writes DR now (as _write_dr)
        self._sr_snapshot = 0
        if run is None:
            if clear:
                self._set_sr(clear, False)
            # (TXE stays set: character 0 loads at once; _tx_stream_sync follows it from here)
            self._txrun = run = _TxRun(ch, frames, ends, xfers, marks, half)
            self._tx_kind = "stream"
        else:
            # DR written while the run before ends: TDR full, TXE clear, until its end
            self._set_sr(clear | TXE, False)
            done = len(run.frames)
            run.frames += frames
            run.ends += ends
            run.xfers += xfers
            run.marks += marks
            run.ch, run.done, run.load_ev, run.half = ch, done, False, half
            for c in self._tx_channels():
                if c.tx_waiter is self:
                    c.tx_waiter = None
            self._tx_ev.cancel()
        self._tx_ev = clock.schedule_at(ends[-1], self._tx_stream_end)
        ch._advance(1)
        run.done += 1
        self.tx.send_run(frames)
        return True

    def _tx_stream_sync(self) -> None:
        """Bring the run up to now: the channel's transfers (CNDTR, HT/TC and their
        interrupt at their instants' events), the characters sent (`sent`)."""
        run = self._txrun
        if run is None:
            return
        now = self.ctx.clock.now_ps
        frames = run.frames
        n = len(frames)
        done = run.done
        ch = run.ch
        if ch is not None and done < n:
            xfers = run.xfers
            k = done
            while k < n and xfers[k] <= now:
                k += 1
            if k > done:
                # (several at one look: flags and CNDTR as one at a time leaves them; an
                # interrupt they raise has an event at its own transfer, `marks`)
                ch._advance(k - done)
                run.done = done = k
                # each transfer writes DR: the end of a clearing sequence begun by an SR
                # read (TC, PE: as _write_dr), which a later DR read no longer completes
                clear = self._sr_snapshot & (TC | PE)
                self._sr_snapshot = 0
                if clear:
                    self._set_sr(clear, False)
        sent = run.sent
        if sent < n:
            ends = run.ends
            j = sent
            while j < n and ends[j] <= now:
                j += 1
            if j > sent:
                self.sent.extend([(ends[i], frames[i].value) for i in range(sent, j)])
                run.sent = sent = j
        # TXE: set when a character loads (character `sent` is shifting), cleared L later by
        # the transfer of the next one; set for good once the last one has loaded
        regs = self.regs
        if sent >= n - 1 or done <= sent + 1:
            regs["SR"] |= TXE
        else:
            regs["SR"] &= ~TXE
        if self._irq_mask & TXE:          # TXEIE set during the run (_tx_stream_txeie)
            level = bool(regs["SR"] & self._irq_mask)
            if level != self.IRQ.level:
                self.IRQ.set(level)

    def _tx_stream_txeie(self) -> None:
        """TXEIE was set during a run: IRQ follows TXE from now on, so an event at each
        instant TXE changes (each load, each transfer) until the run's end."""
        run = self._txrun
        clock, n = self.ctx.clock, len(run.frames)
        times = run.ends[run.sent:n - 1]
        if run.ch is not None:
            times += run.xfers[run.done:]
        sync = self._tx_stream_sync
        run.marks += [clock.schedule_at(t, sync) for t in sorted(times)]

    def _tx_stream_clear_at_next_write(self) -> None:
        """SR was read with TC or PE set during a run: the channel's next write of DR clears
        them (as _write_dr does), an edge of TC_EVENT and the IRQ at that instant, so an
        event there (one per run and instant)."""
        run = self._txrun
        if run.ch is None or run.done >= len(run.frames):
            return
        at = run.xfers[run.done]
        if run.clear_at != at:
            run.clear_at = at
            run.marks.append(self.ctx.clock.schedule_at(at, self._tx_stream_sync))

    def _tx_stream_next_ps(self) -> int | None:
        """The next instant the run changes SR (TXE) or the channel (CNDTR, HT/TC)."""
        run = self._txrun
        n = len(run.frames)
        nxt = run.xfers[run.done] if run.done < n else None
        if run.sent < n and (nxt is None or run.ends[run.sent] < nxt):
            nxt = run.ends[run.sent]
        return nxt

    def _tx_stream_end(self) -> None:
        """The last stop bit of the run: TXE (set since the last character loaded), TC."""
        self._tx_stream_sync()
        self._tx_stream_drop()
        self._tx_ev = None
        self._tx_kind = None
        self._set_sr(TXE, True)
        if self._dma_cr3:
            self._update_dma()            # (TXE followed the run without the request line)
        self._try_load()
        if self._tx_ev is None and self.regs["SR"] & TXE:
            self._set_sr(TC, True)

    def _tx_stream_drop(self, cut: bool = False) -> None:
        """The run is over (its end), or the transmitter stopped in the middle of it (`cut`:
        disabled or reset): the characters that would have started after now never go out,
        so the listeners that can take back what they were told (a cable) do."""
        run = self._txrun
        if run is None:
            return
        self._txrun = None
        now = self.ctx.clock.now_ps
        if cut and run.ends[-1] > now:
            self.tx.cut(now + 1)          # (the character starting now has gone out)
        for ev in run.marks:
            ev.cancel()
        if run.ch is None:
            for ch in self._tx_channels():
                if ch.tx_waiter is self:
                    ch.tx_waiter = None
        if run.ch is not None and run.ch.stream is self:
            run.ch.stream = None

    # the channel's side (dma.py: `stream`)
    def dma_stream_sync(self) -> None:
        self._tx_stream_sync()

    def dma_stream_next_ps(self, what: str = "sr") -> int | None:
        """The next transfer of the run (CNDTR and maybe HT/TC change then): a poll hint."""
        run = self._txrun
        if run is None or run.done >= len(run.frames):
            return None
        return run.xfers[run.done]

    def dma_stream_irqs(self) -> None:
        """The channel's interrupt enables were written mid-run (its transfers go on): an
        event at each transfer left whose HT or TC an enabled interrupt now sees."""
        self._tx_stream_sync()
        run = self._txrun
        ch = run.ch if run is not None else None
        if ch is None:
            return
        clock, done, xfers = self.ctx.clock, run.done, run.xfers
        for k in ch.irq_transfers(0, ch.left):
            run.marks.append(clock.schedule_at(xfers[done + k], self._tx_stream_sync))

    def dma_stream_stop(self) -> None:
        """The channel's control register is written (or DMAT cleared, or the channel
        reset): its transfers end here. The characters it has written to DR go out (their
        ends, TC) as planned; those it has not never do (`_tx_stream_truncate`)."""
        self._tx_stream_sync()
        run = self._txrun
        if run is not None and run.ch is not None:
            if run.ch.stream is self:
                run.ch.stream = None
            run.ch = None
            self._tx_stream_truncate()
            if self._dma_cr3:
                self._update_dma()        # the request as TXE has it now (the channel's `request`)
            # No transfer comes any more: TXE sets for good at the next load, and the request
            # line rises with it. Only a channel enabled before the run ends can act on it
            # (as on the chip, it starts its transfers then): such an enable asks here
            # (`dma_tx_enabled`), and the rise is an event from then on.
            if run.sent < len(run.frames) - 1:
                for ch in self._tx_channels():
                    ch.tx_waiter = self

    def _tx_stream_truncate(self) -> None:
        """The run ends with the last character its channel wrote to DR (a stop before its
        last transfer): the others never go out, and listeners that can take back what they
        were told (a cable: UartPort.cut) forget them (they all start after now: each
        follows a transfer that has not happened)."""
        run = self._txrun
        keep = run.done
        dropped = len(run.frames) - keep
        if dropped <= 0:
            return
        self.tx.cut(run.frames[keep].start_ps)
        del run.frames[keep:], run.ends[keep:], run.xfers[keep:]
        base, total, div, hz, _end = self._chain
        self._chain = (base, total - dropped * run.half, div, hz, run.ends[-1])
        clock = self.ctx.clock
        self._tx_ev.cancel()
        self._tx_ev = clock.schedule_at(run.ends[-1], self._tx_stream_end)

    def _tx_channels(self) -> list:
        """The DMA channels (streams) DMATransmit is wired to."""
        out = []
        for target, pin in self.DMATransmit._targets:
            lookup = getattr(target, "request_channel", None)
            ch = lookup(pin) if lookup is not None else None
            if ch is not None:
                out.append(ch)
        return out

    def dma_tx_enabled(self) -> None:
        """A channel DMATransmit is wired to is being enabled while a run whose channel has
        stopped is still going out: the request line as TXE has it now, and an event at the
        next load, where TXE sets for good and the line rises."""
        run = self._txrun
        if run is None:
            return
        self._tx_stream_sync()
        if self._dma_cr3:
            self._update_dma()
        if run.ch is None and run.sent < len(run.frames) - 1 and not run.load_ev:
            run.load_ev = True
            run.marks.append(self.ctx.clock.schedule_at(run.ends[run.sent], self._tx_stream_load))

    def _tx_stream_load(self) -> None:
        """A character of a run whose channel has stopped loads: TXE, and the request line."""
        self._tx_stream_sync()
        if self._dma_cr3:
            self._update_dma()

    # -- receiver -------------------------------------------------------------------------
    def rx_start(self, start_ps: int, frame: UartFrame | None = None) -> int:
        """A character starts on the RX line at `start_ps`: told by a link that hands it over
        later (RS-485 bus, cable between machines), at the sender's time, which may lie ahead
        of or behind this machine's. The line is not idle from then on: an IDLE due after it
        is off (the character's own RXNE sets the next one). Costs no event. Returns where
        this receiver's RXNE point lies at its current settings (the start while it has no
        baud rate): a cable delivers there, so the character goes to DR at once. A link that
        hands the character over after that point (RS-485) gives `frame` as well: a receive
        channel may take it at its own instant, before the hand-over (`_Told`)."""
        self._hear(start_ps)
        line = self._line()
        if self.regs["CR3"] & SCEN:
            return start_ps + line.rx_done_ps + line.bit_ps
        done = start_ps + line.rx_done_ps
        ch = self._rx_dma
        if frame is not None and ch is not None and line.div:
            self._told.append(_Told(done + ch.dma.transfer_ps(), frame))
        return done

    def dma_catch_up(self) -> None:
        """Before the DMA's registers or DR are looked at, at a kept character's HT/TC
        instant and at the IDLE point: the characters told ahead (`_Told`) whose instant has
        come are taken by the receive channel, in order (module docstring, "DMA")."""
        told = self._told
        if not told:
            return
        ch = self._rx_dma
        if ch is None:
            # (kept characters were handed back when DMAR went: only hand-overs are left)
            self._told = [t for t in told if not t.handover]
            return
        now = self.ctx.clock.now_ps
        i, n = 0, len(told)
        kept_taken = False
        while i < n and told[i].take_ps <= now:
            t = told[i]
            if t.handover:
                i += 1
                self._take_told(ch, t.frame)
                continue
            j = i + 1                     # a row of kept characters: one store
            while j < n and told[j].take_ps <= now and not told[j].handover:
                j += 1
            values = [told[k].value for k in range(i, j)]
            self._kept -= j - i
            self._rdr = values[-1]
            self._idle_armed = True
            self._dma_store(ch, 0, values)
            kept_taken = True
            i = j
        if i:
            del told[:i]
            if kept_taken and not self._kept:
                self._lazy_events = []    # (their HT/TC instants, all passed)

    def _take_told(self, ch, frame: UartFrame) -> None:
        """A character told ahead of its hand-over, at its instant: taken as sent if the
        receive channel takes it now (`_taken` keeps it for the hand-over's correction)."""
        cr1 = self.regs["CR1"]
        if (frame.start_ps in self._taken or not (cr1 & UE and cr1 & RE)
                or self._rx_was_off(frame)):
            return
        if self._rx_dma_ready(ch):
            addr = ch.mptr
            value, errors = self._rx_value(frame, self._line())
            self._rdr = value
            self._idle_armed = True
            self._dma_store(ch, errors, (value,))
            self._taken[frame.start_ps] = (addr, value, errors)

    def rx_frame_start(self, frame: UartFrame) -> int | None:
        """A cable between machines tells of a whole character at its start, at the sender's
        time (module docstring, "DMA"): None when the receive channel will take it at its
        instant with no hand-over (the cable then schedules nothing), else as rx_start (the
        cable hands it over where that says)."""
        if self._rx_dma is not None and self.rx_frames_start((frame,)):
            return None
        self._handovers += 1
        return self.rx_start(frame.start_ps)

    def rx_frames_start(self, frames) -> int:
        """Keep for the receive channel to take at their instants as many of `frames` (a
        run told at once, in order) as nothing can come between, from the first: returns how
        many. Kept: DMA reception ready for them (and for those kept before), no character
        being handed over or received the ordinary way, no flag in SR that a DMA read of DR
        would clear (what the take does to SR is then nothing), a clean character at this
        USART's settings, the receiver not yet past the take's instant, and no idle point
        between the previous character and this one still to come. The others the link hands
        over (rx_frame_start)."""
        regs = self.regs
        cr1 = regs["CR1"]
        ch = self._rx_dma
        if (ch is None or self._handovers or self._rx_events or len(self._told) != self._kept
                or not (cr1 & UE and cr1 & RE) or regs["CR3"] & (HDSEL | SCEN)
                or regs["SR"] & (_RX_ERRORS | RXNE)):
            return 0
        line = self._line()
        if not line.div or not self._rx_dma_ready(ch):
            return 0
        told, kept = self._told, self._kept
        lat = ch.dma.transfer_ps()
        clock = self.ctx.clock
        now = clock.now_ps
        ev = self._idle_ev
        heard, after, idle_ps = self._rx_heard_ps, self._idle_after_ps, self._lazy_idle_ps
        rx_done, idle_len = line.rx_done_ps, line.idle_ps
        marks = self._lazy_events
        clean = line.rx_clean
        made = 0
        idle_due = ev is not None       # an IDLE event is on for the characters before
        # an IDLE due before a character starts makes the characters before it a burst of
        # their own: the later of the event on and the newest kept character's idle point
        ev_ps = ev.time_ps if ev is not None else -1
        idle_at = idle_ps if idle_ps > ev_ps else ev_ps
        end = kept + len(frames)
        irq_at = set(ch.irq_transfers(kept, end))   # their HT/TC instants
        room = end if ch.takes_left(end) else ch.left   # how many the channel can take
        on_ps = self._rx_gap[1]
        for frame in frames:
            # what DR gets, its errors, and where the cable would hand it over (the sender's
            # RXNE point, uart_cable.arrival_ps), worked out once per character and settings
            key = (frame.value, frame.baud, frame.data_bits, frame.parity,
                   frame.stop_half_bits, frame.is_break)
            plain = type(frame) is UartFrame and not frame.corrupted
            got = clean.get(key) if plain else None
            if got is None:
                got = (*self._rx_value(frame, line),
                       rx_complete_ps(frame.baud, frame.data_bits, frame.parity))
                if plain:
                    clean[key] = got
            value, errors, arrival = got
            start = frame.start_ps
            rxne = start + rx_done
            due = start + arrival
            if rxne > due:
                due = rxne
            take = rxne + lat
            if take < due:
                take = due                          # (a slower sender: taken at hand-over)
            if now > take or (idle_due and start >= idle_at) or errors or kept >= room:
                break
            if start < on_ps:
                break                   # (the receiver off at its start: the hand-over drops it)
            mark = None
            if kept in irq_at:
                mark = clock.schedule_at(take, self.dma_catch_up)
                marks.append(mark)
            told.append(_Told(take, frame, due, value, mark,
                              (heard, after, idle_ps, not idle_due)))
            kept += 1
            if start > heard:
                heard = start
            after, idle_ps = start, start + idle_len
            idle_at = idle_ps if idle_ps > ev_ps else ev_ps
            idle_due = True
            made += 1
        if made:
            self._kept = kept
            self._rx_heard_ps, self._idle_after_ps, self._lazy_idle_ps = heard, after, idle_ps
            if ev is None:
                # the IDLE point of the run's last character: one event for the burst
                self._idle_ev = clock.schedule_at(idle_ps, self._idle)
        return made

    def rx_forget(self, from_ps: int) -> list:
        """A cable was pulled at `from_ps`, or its sender stopped mid-run: the characters it
        told of that start then or later never come; this receiver is as it was before it
        was told of them. Returns the frames it had kept (they have no hand-over to drop)."""
        told = self._told
        for i, entry in enumerate(told):
            if not entry.handover and entry.frame.start_ps >= from_ps:
                break
        else:
            return []
        dropped = [t for t in told[i:] if not t.handover]
        self._told = told[:i] + [t for t in told[i:] if t.handover]
        self._kept -= len(dropped)
        for entry in dropped:
            if entry.mark is not None:
                entry.mark.cancel()
        heard, after, lazy_idle, made_idle = dropped[0].before
        self._rx_heard_ps, self._idle_after_ps, self._lazy_idle_ps = heard, after, lazy_idle
        ev = self._idle_ev
        if ev is not None and (made_idle or ev.time_ps > lazy_idle):
            ev.cancel()                   # made for them, or chained behind them
            self._idle_ev = None
            if not made_idle:
                clock = self.ctx.clock
                self._idle_ev = clock.schedule_at(max(lazy_idle, clock.now_ps), self._idle)
        return [t.frame for t in dropped]

    def rx_dropped(self) -> None:
        """A character a cable would have handed over is not coming (pulled)."""
        if self._handovers:
            self._handovers -= 1

    def dma_changed(self, control: bool) -> None:
        """The receive channel's DMA was written (dma.py `_written`): characters kept for it
        go back to the ordinary path if it no longer takes them all, or its control register
        was written."""
        self.dma_catch_up()
        ch = self._rx_dma
        if self._kept and (control or ch is None or not self._rx_dma_ready(ch)
                           or not ch.takes_left(self._kept)):
            self._hand_back()

    def _hand_back(self) -> None:
        """The characters kept for the receive channel are handed over as a cable would
        have (receive_frame at their hand-over point, on this machine's clock), and the IDLE
        follows them the ordinary way."""
        pending = [t for t in self._told if not t.handover]
        self._told = [t for t in self._told if t.handover]
        self._kept = 0
        for ev in self._lazy_events:
            ev.cancel()
        self._lazy_events = []
        self._lazy_idle_ps = -1
        if not pending:
            return
        ev = self._idle_ev
        if ev is not None and ev.time_ps > pending[0].frame.start_ps:
            ev.cancel()                   # inside the burst: the hand-overs set it again
            self._idle_ev = None
        # The line as heard before they were told: _hand_over hears each of them again, as
        # the cable tells a character's start to a receiver it hands the character to.
        self._rx_heard_ps, self._idle_after_ps = pending[0].before[:2]
        self._hand_over(pending)

    def _hand_over(self, pending: list) -> None:
        """Kept characters (`_Told`) handed over at their hand-over points, as a cable would
        have, on this machine's clock; their starts heard now, as the cable tells them (an
        IDLE the one before each sets is then off, whatever the receiver's settings)."""
        for t in pending:
            self._hear(t.frame.start_ps)
        clock = self.ctx.clock
        now = clock.now_ps
        for t in pending:
            self._handovers += 1
            self._lazy_events.append(clock.schedule_at(max(t.due_ps, now), self.receive_frame,
                                                       t.frame))

    def _hear(self, start_ps: int) -> None:
        """A character starts on the line at `start_ps`: an IDLE due after that is off."""
        if start_ps > self._rx_heard_ps:
            self._rx_heard_ps = start_ps
            heard = self._heard
            heard.append(start_ps)
            if len(heard) > 64:
                # starts no character will be done after any more (a receiver off while a
                # peer talks): a character is done well within a second of its start
                old = self.ctx.clock.now_ps - PS_PER_S
                if heard[0] < old:
                    del heard[:bisect_right(heard, old)]
            ev = self._idle_ev
            if (ev is not None and start_ps > self._idle_after_ps
                    and (ev.time_ps > start_ps or self._lazy_idle_ps > start_ps)):
                ev.cancel()
                self._idle_ev = None
                self._lazy_idle_ps = -1

    def receive_frame(self, frame: UartFrame) -> None:
        """A character starts on the RX line now (called at `frame.start_ps`), or is handed
        over late, by a link between machines (at the end of the frame on RS-485)."""
        if self._handovers:
            self._handovers -= 1
        if self._kept:
            self.dma_catch_up()           # the characters before this one, taken ahead
        cr1 = self.regs["CR1"]
        if not (cr1 & UE and cr1 & RE) or self._rx_was_off(frame):
            return
        line = self._line()
        if not line.div:
            self.ctx.log_once("rx-brr0", logging.WARNING, "character received with BRR = 0: ignored")
            return
        self._rx_seq = seq = self._rx_seq + 1
        start = frame.start_ps
        self._hear(start)                 # (a direct wire calls here at the start)
        told = self._told
        while told and told[0].handover and told[0].frame.start_ps <= start:
            told.pop(0)                   # handed over now: no longer taken ahead
        if self._taken and min(self._taken) < start:
            for k in [k for k in self._taken if k < start]:
                del self._taken[k]        # taken ahead, never handed over (receiver off)
        done = start + line.rx_done_ps
        if self.regs["CR3"] & SCEN:
            done += line.bit_ps           # 1.5 stop bits: sampled one baud into the stop bit
        ch = self._rx_dma
        dma = ch is not None and self._rx_dma_ready(ch)
        if dma:
            done += ch.dma.transfer_ps()  # served at once by the DMA: its transfer's instant
        clock = self.ctx.clock
        now = clock.now_ps
        if done <= now:
            # Already due (a link delivers at the frame's end): an event now would run first
            # thing unless this clock has another one due by now, so run it now when it has
            # none (the same order, one event fewer per character and receiver).
            nxt = clock.next_event_ps()
            if nxt is None or nxt > now:
                self._rx_done(frame, seq, line, dma)
                return
        self._rx_events.append(clock.schedule_at(done, self._rx_event, frame, seq, line, dma))

    def _rx_was_off(self, frame: UartFrame) -> bool:
        """Whether the receiver was off (reset, or UE or RE clear) at some instant between
        `frame`'s start and its RXNE point, its last time off (`_rx_gap`) told. A receiver
        enabled after the start bit fell never saw it, so it cannot sample that character; at
        most it may sync on a later falling edge inside it, as a partial character with likely
        framing errors, which is not modelled: the character is dropped, whichever way it
        arrives (here at its start, at a link's hand-over, or told ahead: _Told,
        rx_frames_start). One taken at its RXNE point before the receiver went off stays."""
        off_ps, on_ps = self._rx_gap
        start = frame.start_ps
        return start < on_ps and off_ps < start + self._line().rx_done_ps

    def _rx_event(self, frame: UartFrame, seq: int, line: LineSettings, dma: bool) -> None:
        now = self.ctx.clock.now_ps
        self._rx_events = [ev for ev in self._rx_events if not ev.cancelled and ev.time_ps > now]
        self._rx_done(frame, seq, line, dma)

    def _rx_done(self, frame: UartFrame, seq: int, line: LineSettings, dma: bool = False) -> None:
        """The character reaches DR (RXNE) at this USART's settings when it started; with
        `dma`, at the DMA transfer that takes it from DR (module docstring, "DMA")."""
        taken = self._taken.pop(frame.start_ps, None) if self._taken else None
        cr1 = self.regs["CR1"]
        if not (cr1 & UE and cr1 & RE) or self._rx_was_off(frame):
            return                        # the receiver off since its start bit (_rx_was_off)
        if taken is not None:
            # taken by the DMA ahead of this hand-over, as sent: the line may have changed it
            addr, sent, sent_errors = taken
            value, errors = self._rx_value(frame, line)
            if (value, errors) != (sent, sent_errors):
                self._rdr = value
                ch = self._rx_dma
                if ch is not None and value != sent:
                    ch.dma.bus.cpu_write(addr, ch.msize, value & ((1 << (8 * ch.psize)) - 1))
                self._set_sr(errors, True)
        elif self.regs["SR"] & RXNE:
            self._rx_value(frame, line)   # (a smartcard NACK still goes out)
            self._set_sr(ORE, True)       # RDR still full: the new character is lost
        else:
            value, errors = self._rx_value(frame, line)
            self._rdr = value
            self._idle_armed = True
            ch = self._rx_dma if dma else None
            if ch is not None and self._rx_dma_ready(ch):
                self._dma_store(ch, errors, (value,))
            else:
                self._set_sr(RXNE | errors, True)
        if seq == self._rx_seq:
            # IDLE: one whole idle frame after this character's stop bits, unless the next
            # character has already been heard starting before then (a burst). The next one
            # heard, not the newest: a link may tell several starts ahead (a DMA run told at
            # its start whose characters are handed over one by one).
            start = frame.start_ps
            idle_at = start + line.idle_ps
            heard = self._heard
            if heard and heard[0] <= start:
                del heard[:bisect_right(heard, start)]    # this one and those before it
            if not (heard and heard[0] < idle_at):
                if self._idle_ev is not None:
                    self._idle_ev.cancel()
                self._idle_after_ps = start
                self._lazy_idle_ps = -1
                self._idle_ev = self.ctx.clock.schedule_at(idle_at, self._idle)

    def _rx_value(self, frame: UartFrame, line: LineSettings) -> tuple[int, int]:
        """What DR gets from `frame` at these settings (the received parity bit in the word's
        MSB) and the error flags it sets; a smartcard NACK goes out here."""
        data_bits, parity = line.data_bits, line.parity
        value, fe, pe, nf = sample_frame(frame, line.baud, data_bits, parity, line.stop_half_bits)
        if frame.corrupted and not getattr(frame, "line_bits", ()):
            nf = True
        if self.regs["CR3"] & SCEN:
            if frame.start_ps in self._nacked:
                self._nacked.discard(frame.start_ps)
                fe = True                 # the card pulled the line low in our stop bit
            elif pe and self.regs["CR3"] & NACK:
                now = self.ctx.clock.now_ps
                for fn in list(self.nack_port):
                    fn(now)               # line low for one baud period from now
        if parity != "N":                 # the received parity bit reads in the word's MSB
            pbit = parity_bit(value, data_bits, parity) ^ int(pe)
            value |= pbit << data_bits
        return value, (FE if fe else 0) | (PE if pe else 0) | (NF if nf else 0)

    def _dma_store(self, ch, errors: int, values) -> None:
        """RXNE and the receive channel's DR read in one (module docstring, "DMA"): the read
        clears what the last SR read showed (as read(DR) does), the channel stores the value;
        several `values` in a row are kept characters (clean), taken at one look."""
        if self._txrun is not None:
            self._tx_stream_sync()        # a send run's DR writes before this end SR reads' sequences
        clear = self._sr_snapshot & _RX_ERRORS
        self._sr_snapshot = 0
        if errors:
            self._set_sr(errors, True)
        if clear:
            self._set_sr(clear, False)
        if len(values) == 1:
            ch.take(values[0])
        else:
            ch.take_many(values)

    def _idle(self, waited: bool = False) -> None:
        """The idle point of the last character received. Another machine that has not run to
        this instant yet may still start a character before it (time model: machines run
        ahead of each other inside a quantum): then IDLE waits for all of them here, on the
        emulation's clock (`waited`), and is off if one did (rx_start)."""
        self._idle_ev = None
        if self._kept:
            self.dma_catch_up()
        now = self.ctx.clock.now_ps
        if self._lazy_idle_ps > now:
            # characters taken ahead started before this idle point: the line goes idle
            # after the newest of them (rx_frame_start); one event per burst, not per character
            self._idle_ev = self.ctx.clock.schedule_at(self._lazy_idle_ps, self._idle)
            return
        cr1 = self.regs["CR1"]
        if not (self._idle_armed and cr1 & UE and cr1 & RE):
            return
        if not waited:
            emu = getattr(self.ctx.machine, "emulation", None)
            if emu is not None and len(emu.machines) > 1:
                me, now = self.ctx.machine, self.ctx.clock.now_ps
                if any(m is not me and m.clock._now < now for m in emu.machines):
                    self._idle_ev = emu.clock.schedule_at(now, self._idle, True)
                    return
        self._idle_armed = False          # not set again until RXNE sets
        self._set_sr(IDLE, True)

    # -- smartcard ------------------------------------------------------------------------
    @property
    def smartcard(self) -> bool:
        return bool(self.regs["CR3"] & SCEN)

    @property
    def ck_hz(self) -> float:
        """Frequency of the CK pin in smartcard mode (fCK / (2 x PSC[4:0])), 0 when off."""
        psc = self.regs["GTPR"] & 0x1F
        if not (self.regs["CR1"] & UE and self.regs["CR2"] & CLKEN and self.smartcard and psc):
            return 0.0
        return self._clk.hz / (2 * psc)

    def nack(self, frame_start_ps: int) -> None:
        """A card NACKs (parity error) the character we started sending at `frame_start_ps`."""
        self._nacked.add(frame_start_ps)

    def register_child(self, child, point=None) -> None:
        """A .repl entry `x: T @ usartN`: cross the far end's line with this USART."""
        if hasattr(child, "attach_uart"):
            child.attach_uart(self)
        elif hasattr(child, "connect_usart"):
            child.connect_usart(self.tx, self.receive_frame)
        else:
            raise SetupError(f"{type(child).__name__} has no UART side (attach_uart or "
                             f"connect_usart): it cannot hang on {self.name}")

    # -- host conveniences ----------------------------------------------------------------
    def connect(self, other: "STM32Usart") -> None:
        """Cross this USART's TX/RX with another one (null-modem link; between two machines
        a link that bounds their quantum, `uart_cable.UartCable`)."""
        from metersim.peripherals.uart_cable import UartCable

        UartCable(self, other)

    def write_bytes(self, data: bytes, gap_ps: int = 0) -> int:
        """Send `data` from the host to this USART's RX at its current settings, characters
        back to back (plus `gap_ps` between them), after any bytes queued before.
        Returns the virtual time at which the last character has fully arrived."""
        line = self._line()
        if not line.div:
            raise SetupError(f"{self.name}: BRR is 0, the USART has no baud rate to send at yet")
        if gap_ps < 0:
            raise SetupError(f"{self.name}: gap_ps must not be negative, got {gap_ps}")
        t = max(self.ctx.clock.now_ps, self._host_next_ps)
        for b in bytes(data):
            frame = UartFrame(b & line.data_mask, line.data_bits, line.parity, line.stop_half_bits,
                              line.baud, t)
            self.ctx.clock.schedule_at(t, self.receive_frame, frame)
            t = frame.end_ps + gap_ps
        self._host_next_ps = t
        return t - gap_ps if data else t

    def sent_bytes(self) -> bytes:
        return bytes(v & 0xFF for _, v in self.sent)
