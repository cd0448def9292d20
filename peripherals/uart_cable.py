"""UART wiring between machines: a null-modem cable, and what every link between machines obeys.

Machines run ahead of each other within a quantum (metersim._engine.emulation, time model), so
a character cannot reach another machine's USART the instant it starts: the receiving machine
may be elsewhere in time. A character reaches another machine's USART where that USART first
looks at it, at `arrival_ps(frame)`, the middle of its first stop bit (where an STM32 receiver
sets RXNE, `uart_line.rx_complete_ps`), as an event on the emulation's clock; a receiver at the
same settings sees it at exactly the instant a direct wire gives, one whose bit clock is slower
at its own RXNE point (`rx_start`'s answer), so the character goes to DR in the delivery. The
receiver is told at the start, at the sender's time, that a character has started (`rx_start`:
the line is no longer idle, for its IDLE); an STM32 USART is told the whole character
(`rx_frame_start`; a DMA run's characters, told at the run's start, in one call:
`rx_frames_start`), and when its receive DMA channel will take it at its instant it keeps it
and takes it itself (peripherals/stm32/usart.py, "DMA"): no hand-over event at all, so a frame
received by DMA costs no event per character. The sender's RXNE point is the link's
lookahead (`lookahead_ps`): the emulation keeps its quantum at or below it, so every delivery
lands at or after the end of the quantum it was sent in, whatever order the machines run in.
The emulation asks at every step; links keep the answer until `settings_changed()` (a USART's
speed, format, clock or reset, a machine's power, a link's membership). A USART with no speed
yet (BRR 0, after a reset or a power-on) sends nothing but may get a speed inside a quantum:
it counts as `UNKNOWN_SPEED_PS`, and never hides a faster end's time (`shortest_known_ps`).

`UartCable(a, b)` crosses two USARTs (the STM32 model, or anything with a `tx` UartPort,
`receive_frame` and `baud` / `frame_format()`); `plugged = False` lets nothing through. Both ends
on one clock (one machine, or models under test on a bare Clock): frames pass directly, at
their start.
"""

from __future__ import annotations

from typing import Any, Iterable

from metersim.peripherals.base import UartFrame
from metersim.peripherals.uart_line import rx_complete_ps
from metersim._units import PS_PER_US


# Links keep their lookahead until something it depends on changes (a USART's baud rate, frame
# format or kernel clock, a USART reset, a machine's power, who is on a link): that bumps this
# count, and the emulation asks every link at each step without recomputing from registers.
_settings_epoch = 0


def settings_changed(*_args: Any) -> None:
    """Something a link's lookahead depends on changed: links recompute it when next asked."""
    global _settings_epoch
    _settings_epoch += 1


def cached_lookahead(link: Any, compute) -> int | None:
    """`compute()`, kept on `link` until `settings_changed()` is next called."""
    epoch = _settings_epoch
    if getattr(link, "_lookahead_epoch", None) != epoch:
        link._lookahead = compute()
        link._lookahead_epoch = epoch
    return link._lookahead


def machine_of(dev: Any):
    """The machine a model belongs to (None for host-side objects)."""
    return getattr(getattr(dev, "ctx", None), "machine", None)


def arrival_ps(frame: UartFrame) -> int:
    """When another machine's receiver gets `frame`: its start plus start and data (and
    parity) bits and half a stop bit, at the sender's settings."""
    return frame.start_ps + rx_complete_ps(frame.baud, frame.data_bits, frame.parity)


def uart_lookahead_ps(uart: Any) -> int:
    """The shortest time a character from `uart` takes to reach another machine at its current
    settings; 0 while it has no baud rate yet."""
    baud = float(getattr(uart, "baud", 0.0) or 0.0)
    if baud <= 0:
        return 0
    data_bits, parity, _stop = uart.frame_format()
    return rx_complete_ps(baud, data_bits, parity)


# An end with no speed yet (BRR 0: after a reset or a power-on) may get one inside a quantum:
# it counts as this much (the emulation's quantum while a link's speed is unknown).
UNKNOWN_SPEED_PS = 100 * PS_PER_US


def shortest_known_ps(times_ps: Iterable[int]) -> int:
    """A link's lookahead from its ends' character times (0: no speed yet): the shortest,
    an end with no speed counting as UNKNOWN_SPEED_PS, so that it does not hide a faster
    end's time; 0 while no end has a speed (the emulation's quantum for "unknown")."""
    shortest, unknown = 0, False
    for t in times_ps:
        if t <= 0:
            unknown = True
        elif shortest == 0 or t < shortest:
            shortest = t
    if unknown and shortest > UNKNOWN_SPEED_PS:
        shortest = UNKNOWN_SPEED_PS
    return shortest


def lookahead_ps(uarts: Iterable[Any]) -> int | None:
    """A link's lookahead over its UARTs: the shortest among those on powered machines (one
    with no speed yet counting as UNKNOWN_SPEED_PS: `shortest_known_ps`), None while fewer
    than two powered machines are on it (nothing to keep in step)."""
    machines, times = set(), []
    for u in uarts:
        m = machine_of(u)
        if m is None or not getattr(m, "powered", True):
            continue
        machines.add(id(m))
        times.append(uart_lookahead_ps(u))
    return shortest_known_ps(times) if len(machines) > 1 else None


def check_arrival(receiver: Any, due_ps: int) -> None:
    """A link hands a character due at `due_ps` to `receiver`: if the receiver's machine is
    already past that instant (only when a link got faster than its lookahead inside a
    quantum), the emulation counts a late delivery."""
    m = getattr(getattr(receiver, "ctx", None), "machine", None)   # machine_of, every character
    emu = getattr(m, "emulation", None)
    if emu is not None and m.powered and m.clock._now > due_ps:
        emu.note_late(m, due_ps)


def tells_ahead(listener):
    """Mark a UART listener that may be given a character before it starts (a USART sending a
    DMA run gives the run's characters at its start, each with its own start_ps: usart.py
    "DMA"): it looks at the frame and its times, not at the time it is called."""
    listener.tells_ahead = True
    return listener


def _teller(receiver: Any):
    """fn(frame) telling `receiver` at a character's start that it has started: its
    `rx_frame_start` (the whole character: None back when it takes it itself, by DMA), else
    its `rx_start` (start only), else nothing (it looks at the character at its arrival).
    Answers where the receiver first looks at the character."""
    whole = getattr(receiver, "rx_frame_start", None)
    if whole is not None:
        return whole
    start = getattr(receiver, "rx_start", None)
    if start is not None:
        return lambda frame: start(frame.start_ps)
    return lambda frame: frame.start_ps


class _Carrier:
    """One direction of a cable between machines, listening on the sender's TX: each
    character as it is sent, or a run told at once (`tell_run`, UartPort.send_run)."""

    __slots__ = ("cable", "to", "to_start", "to_run")
    tells_ahead = True          # goes by the frame's times (a DMA run is told at its start)

    def __init__(self, cable: "UartCable", to: Any):
        self.cable, self.to = cable, to
        self.to_start = _teller(to)
        # a receiver told the whole character (rx_frame_start) may keep several in one call
        whole = getattr(to, "rx_frame_start", None)
        self.to_run = getattr(to, "rx_frames_start", None) if whole is not None else None

    def __call__(self, frame: UartFrame) -> None:
        self.cable._carry(frame, self.to, self.to_start)

    def tell_run(self, frames: list[UartFrame]) -> None:
        self.cable._carry_run(frames, self)

    def cut(self, from_ps: int) -> None:
        """The sender's characters from `from_ps` on never go out (UartPort.cut)."""
        self.cable._cut_told(self.to, from_ps)


class UartCable:
    """Two USARTs crossed (TX to RX both ways), on one machine or two."""

    def __init__(self, a: Any, b: Any):
        self.ends = (a, b)
        self._plugged = True
        self._told: list = []           # (receiver, frame) told ahead of their start
        # id() -> frame of those told ahead that never go out (an unplug, the sender stopped):
        # their hand-overs are dropped (the frame is held, so that its id is not reused)
        self._cut: dict = {}
        if a.ctx.clock is not b.ctx.clock:      # two machines, each with its own time
            emu = machine_of(a).emulation
            self._clock = emu.clock
            a.tx.connect(_Carrier(self, b))
            b.tx.connect(_Carrier(self, a))
            emu.add_link(self)
        else:
            self._clock = a.ctx.clock
            a.tx.connect(lambda f: self._plugged and b.receive_frame(f))
            b.tx.connect(lambda f: self._plugged and a.receive_frame(f))

    @property
    def plugged(self) -> bool:
        return self._plugged

    @plugged.setter
    def plugged(self, value: bool) -> None:
        """Unplugging cuts what a sender told ahead (a DMA run) from this instant on: a
        receiver keeping such characters forgets them, and their hand-overs are dropped."""
        value = bool(value)
        if self._plugged and not value:
            now = self._clock.now_ps
            for to in {id(to): to for to, _ in self._told}.values():
                self._cut_told(to, now)
            self._told = []
        self._plugged = value

    def _cut_told(self, to: Any, from_ps: int) -> None:
        """The characters told to `to` ahead that start at `from_ps` or later never go out:
        a receiver that kept them forgets them (`rx_forget`), the others' hand-overs are
        dropped at their arrival."""
        keep = []
        for entry in self._told:
            frame = entry[1]
            if entry[0] is to and frame.start_ps >= from_ps:
                self._cut[id(frame)] = frame
            else:
                keep.append(entry)
        if len(keep) == len(self._told):
            return
        self._told = keep
        forget = getattr(to, "rx_forget", None)
        if forget is not None:
            for frame in forget(from_ps):
                self._cut.pop(id(frame), None)    # kept: no hand-over to drop

    def _carry(self, frame: UartFrame, to: Any, to_start) -> None:
        if self._plugged:
            if frame.start_ps > self._clock.now_ps:
                self._keep_told(to, (frame,))
            self._hand(frame, to, to_start)

    def _carry_run(self, frames: list[UartFrame], carrier: "_Carrier") -> None:
        """A run told at once (UartPort.send_run): a receiver that takes characters by DMA
        keeps what it can of it in one call (`rx_frames_start`); the rest go one by one."""
        if not self._plugged:
            return
        to, run = carrier.to, carrier.to_run
        self._keep_told(to, frames)
        kept = run(frames) if run is not None else 0
        for frame in frames[kept:] if kept else frames:
            self._hand(frame, to, carrier.to_start)

    def _keep_told(self, to: Any, frames) -> None:
        """Frames told ahead of their start are kept until they have started (an unplug
        cuts them)."""
        now = self._clock.now_ps
        told = self._told
        if told and told[0][1].start_ps <= now:
            self._told = told = [x for x in told if x[1].start_ps > now]
        for frame in frames:
            if frame.start_ps > now:
                told.append((to, frame))

    def _hand(self, frame: UartFrame, to: Any, to_start) -> None:
        # The line is busy from now on (the receiver's IDLE). The character is handed over
        # where the receiver first looks at it, at its own settings: no sooner than the
        # sender's RXNE point (the lookahead), and no sooner than the receiver's, so that
        # it goes to DR at once rather than in one more event a few ps later; not at all
        # when the receiver takes it by DMA at that instant itself (None).
        rx_due = to_start(frame)
        if rx_due is None:
            return
        due = arrival_ps(frame)
        if rx_due > due:
            due = rx_due
        self._clock.schedule_at(due, self._arrive, frame, to, due)

    def _arrive(self, frame: UartFrame, to: Any, due_ps: int) -> None:
        if self._cut and self._cut.pop(id(frame), None) is not None:
            # told ahead, started after the cable was pulled or the sender stopped
            dropped = getattr(to, "rx_dropped", None)
            if dropped is not None:
                dropped()
            return
        check_arrival(to, due_ps)
        to.receive_frame(frame)

    def lookahead_ps(self) -> int | None:
        return cached_lookahead(self, self._lookahead_now)   # asked at every step: no lambda

    def _lookahead_now(self) -> int | None:
        return lookahead_ps(self.ends)
