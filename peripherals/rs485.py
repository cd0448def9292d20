"""RS-485: half-duplex transceivers (MAX485 / SP3485 class) on a multi-drop bus, plus host endpoints.

Transceiver (`Rs485Transceiver`, MAX485-style pins): DI takes the frames of a USART TX
(`usart_tx.connect(xcvr.on_di)`; a USART sending a DMA run tells its characters at the run's
start, and each goes on the bus at its own start, as DE is then), RO hands bus frames to the USART RX (`xcvr.ro`, a `UartPort`:
`xcvr.ro.connect(usart_rx_listener)`), GPIO input 0 = DE (high: driver on), GPIO input 1 = /RE
(low: receiver on). Followed (MAX481/483/485 data sheet, function tables): with DE low the driver
outputs are high impedance, so a USART sending then is not heard by anyone; with /RE high RO is
high impedance (the USART sees an idle line); with DE high and /RE low a node hears its own
transmission (local echo), as on boards that tie /RE to GND. The bus has fail-safe biasing: an
undriven line reads idle (1).

Bus (`Rs485Bus`): any number of nodes. Timing and damage:
- A frame goes on the bus at its start time if its driver's DE is high then; a frame started with
  DE low is dropped whole (counted in `xcvr.dropped_frames`).
- DE falling during a frame cuts it: the remaining bits read idle 1 (the classic "DE released
  before the stop bit ended" bug only shows when data bits are lost).
- Two drivers whose frames overlap in time fight on the line: wherever their levels differ the
  receivers see a random (seeded) level, so both frames arrive garbled, usually with framing
  errors; both are marked corrupted.
- `bit_error_rate` flips single bits; `noise_burst()` randomises every bit it overlaps and, on an
  idle line, produces a spurious character (as a noise spike on a real bus wakes the receivers).
- Frames reach receivers at their END time (only then is the damage known), with their original
  `start_ps`; damaged frames are `LineFrame`s whose line levels decode, through
  `uart_line.sample_frame`, to the wrong value / framing / parity errors a receiver would see.
  At a frame's start the receivers are told that one has started (`rx_start`, no event), so a
  USART does not take the line for idle while a frame is still on it (its IDLE).
- `bus.tap` records the frames that reached the line (start, end, driver, sent value, value on
  the line, corrupted and why), the newest `History.DEFAULT_LIMIT` of them (100 000: hours of a
  busy 9600-baud bus; a run of days keeps bounded memory); `bus.on_tap(fn)` sees every one.

Host endpoints (`bus.attach_host(...)`) let Python take part: `send(bytes)` paces characters at
the endpoint's baud (back to back, queued behind its earlier ones), received characters are
decoded with the endpoint's own settings into `rx` / callbacks.

Not modelled: propagation delay and termination reflections, driver slew and receiver thresholds,
the transceiver's enable/disable times (tens of ns to us), unit loads and bus length, thermal
shutdown, a line without fail-safe biasing. Randomness comes only from `ctx.rng`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Callable

from metersim._errors import SetupError
from metersim._units import PS_PER_S
from metersim.peripherals.base import Context, History, UartFrame, UartPort
from metersim.peripherals.registry import model
from metersim.peripherals.uart_cable import (cached_lookahead, check_arrival, settings_changed,
                                             shortest_known_ps)
from metersim.peripherals.uart_line import (LineFrame, encode_frame_bits, receive_byte,
                                             sample_frame, take_bytes)


@dataclass
class TapRecord:
    start_ps: int
    end_ps: int
    driver: str
    sent: int                 # what the driver sent
    value: int                # what a receiver with the driver's own settings reads
    corrupted: bool
    framing_error: bool
    reasons: tuple[str, ...]  # "collision", "noise", "bit error", "DE dropped"
    frame: UartFrame = field(repr=False)


class _OnBus:
    __slots__ = ("node", "frame", "_bits", "partners", "de_drop_ps")

    def __init__(self, node, frame: UartFrame):
        self.node = node
        self.frame = frame
        self._bits: tuple[int, ...] | None = None
        self.partners: list[_OnBus] = []
        self.de_drop_ps: int | None = None

    @property
    def bits(self) -> tuple[int, ...]:
        """The line level of each bit time as sent; only a damaged or overlapped frame needs
        them, so they are worked out on first use."""
        bits = self._bits
        if bits is None:
            bits = self._bits = tuple(encode_frame_bits(self.frame))
        return bits

    def bit_start_ps(self, i: int) -> int:
        return self.frame.start_ps + i * PS_PER_S // round(self.frame.baud)

    def bit_centre_ps(self, i: int) -> int:
        return self.frame.start_ps + (2 * i + 1) * PS_PER_S // round(2 * self.frame.baud)

    def level_at(self, t_ps: int) -> int:
        i = (t_ps - self.frame.start_ps) * round(self.frame.baud) // PS_PER_S
        return self.bits[i] if 0 <= i < len(self.bits) and t_ps >= self.frame.start_ps else 1


def _node_name(node) -> str:
    return getattr(node, "name", None) or str(node)


@model("metersim.Rs485Bus")
class Rs485Bus:
    """A multi-drop RS-485 pair shared by transceivers and host endpoints."""

    def __init__(self, ctx: Context, bit_error_rate: float = 0.0, noise_baud: float = 9600.0):
        if not 0.0 <= bit_error_rate <= 1.0:
            raise SetupError(f"bit_error_rate must be within 0..1, got {bit_error_rate}")
        self.ctx = ctx
        self.bit_error_rate = bit_error_rate
        self.noise_baud = noise_baud
        self.nodes: list = []
        self.tap: History = History()   # the newest frames (History.limit), oldest first
        self._tap_fns: list[Callable[[TapRecord], None]] = []
        # What a frame's end walks: snapshots taken when nodes or taps come and go rather than
        # a copy per frame (one that joins or leaves during a delivery does not change who
        # gets that frame, as with a copy).
        self._deliver_to: tuple = ()
        self._starts_to: tuple = ()     # the nodes' rx_start, likewise
        self._tap_to: tuple[Callable[[TapRecord], None], ...] = ()
        self._active: list[_OnBus] = []
        self._bursts: list[tuple[int, int]] = []
        self._rng = ctx.rng("rs485-line")

    @property
    def name(self) -> str:
        return self.ctx.name

    def reset(self) -> None:
        """The pair of wires does not reset with a board on it (a board's power cut included)."""

    # -- membership ------------------------------------------------------------------------------
    def attach(self, node) -> None:
        """Add a node: anything with `name` and `deliver(frame, driver_name)` (at the frame's
        end), and optionally `rx_start(start_ps, frame)` (at its start)."""
        if node in self.nodes:
            raise SetupError(f"{_node_name(node)} is already on bus {self.name}")
        self.nodes.append(node)
        self._deliver_to = tuple(self.nodes)
        self._starts_to = _rx_starts(self.nodes)
        settings_changed()

    def detach(self, node) -> None:
        """Unplug a node (its frames in flight still finish, as the line is already driven)."""
        if node in self.nodes:
            self.nodes.remove(node)
            self._deliver_to = tuple(self.nodes)
            self._starts_to = _rx_starts(self.nodes)
            settings_changed()

    def attach_host(self, name: str, baud: float = 9600, data_bits: int = 8, parity: str = "N",
                    stop_half_bits: int = 2, echo: bool = False,
                    keep_rx: bool = True) -> "HostEndpoint":
        ep = HostEndpoint(self, name, baud, data_bits, parity, stop_half_bits, echo, keep_rx)
        self.attach(ep)
        return ep

    def lookahead_ps(self) -> int | None:
        """The bus as a link between machines (Emulation.add_link): the shortest character
        time of the powered machines' USARTs on it (a frame leaving one reaches the others no
        sooner; one with no baud rate yet counts as uart_cable.UNKNOWN_SPEED_PS:
        shortest_known_ps), 0 while none has one, None below two powered machines. Kept
        until `uart_cable.settings_changed()`."""
        return cached_lookahead(self, self._lookahead_now)

    def _lookahead_now(self) -> int | None:
        machines, times = set(), []
        for node in self.nodes:
            char = getattr(node, "char_ps", None)        # transceivers (hosts run in step)
            machine = getattr(node.ctx, "machine", None) if char is not None else None
            if machine is None or not machine.powered:
                continue
            machines.add(id(machine))
            times.append(char())
        return shortest_known_ps(times) if len(machines) > 1 else None

    def on_tap(self, fn: Callable[[TapRecord], None]) -> None:
        self._tap_fns.append(fn)
        self._tap_to = tuple(self._tap_fns)

    @property
    def busy(self) -> bool:
        """True while some driver's frame is on the line."""
        return bool(self._active)

    # -- line --------------------------------------------------------------------------------------
    def launch(self, node, frame: UartFrame) -> None:
        """`node` drives `frame` from now (its start time) on."""
        entry = _OnBus(node, frame)
        for other in self._active:
            # both ways: machines run ahead of each other, so an overlapping frame may have
            # been launched already although it starts later
            if other.node is not node and other.node is not None \
                    and other.frame.end_ps > frame.start_ps and frame.end_ps > other.frame.start_ps:
                other.partners.append(entry)
                entry.partners.append(other)
        self._active.append(entry)
        self.ctx.clock.schedule_at(frame.end_ps, self._complete, entry)
        # The receivers learn now that the line is busy from the frame's start (no event:
        # a USART's IDLE point may come before the frame's end, when it is delivered).
        start = frame.start_ps
        for rx_start in self._starts_to:
            rx_start(start, frame)

    def release(self, node, t_ps: int) -> None:
        """`node`'s driver switched off at `t_ps`: the rest of its frame in flight is lost."""
        for e in self._active:
            if e.node is node and e.de_drop_ps is None and e.frame.start_ps <= t_ps < e.frame.end_ps:
                e.de_drop_ps = t_ps

    def noise_burst(self, duration_ps: int, at_ps: int | None = None) -> None:
        """Randomise the line for `duration_ps` from `at_ps` (default now)."""
        start = self.ctx.clock.now_ps if at_ps is None else int(at_ps)
        self.ctx.clock.schedule_at(start, self._begin_burst, start, start + int(duration_ps))

    def _begin_burst(self, start: int, end: int) -> None:
        self._bursts.append((start, end))
        if any(e.node is not None for e in self._active):
            return
        # An idle line: the spike looks like a start bit to every receiver.
        probe = UartFrame(value=0, baud=self.noise_baud, start_ps=start)
        entry = _OnBus(None, probe)
        self._active.append(entry)
        self.ctx.clock.schedule_at(probe.end_ps, self._complete, entry)

    def _in_burst(self, lo: int, hi: int) -> bool:
        for s, e in self._bursts:
            if s < hi and lo < e:
                return True
        return False

    def _complete(self, entry: _OnBus) -> None:
        self._active.remove(entry)
        frame, rng = entry.frame, self._rng
        reasons: list[str] = []
        spurious = entry.node is None
        # A lone frame on a clean line (no partner, burst, DE drop or bit errors) arrives as
        # sent: the bit loop below would change nothing and draw no random numbers.
        clean = not (spurious or entry.partners or entry.de_drop_ps is not None
                     or self.bit_error_rate
                     or (self._bursts and self._in_burst(
                         frame.start_ps, entry.bit_start_ps(len(entry.bits)))))
        bits = () if clean else list(entry.bits)    # the loop changes only a copy
        for i in range(len(bits)):
            t = entry.bit_centre_ps(i)
            level = bits[i]
            in_burst = self._in_burst(entry.bit_start_ps(i), entry.bit_start_ps(i + 1))
            if spurious:
                # a spike on an idle line: the receivers' start bit, then noise, then idle
                level = 0 if i == 0 else (rng.getrandbits(1) if in_burst else 1)
                _add(reasons, "noise")
            else:
                if entry.de_drop_ps is not None and t >= entry.de_drop_ps:
                    level = 1
                    if bits[i] == 0:
                        _add(reasons, "DE dropped")
                for p in entry.partners:
                    if p.level_at(t) != bits[i]:
                        level = rng.getrandbits(1)
                        _add(reasons, "collision")
                if in_burst:
                    level = rng.getrandbits(1)
                    if level != bits[i]:
                        _add(reasons, "noise")
            if self.bit_error_rate and rng.random() < self.bit_error_rate:
                level ^= 1
                _add(reasons, "bit error")
            bits[i] = level
        changed = not clean and tuple(bits) != entry.bits
        if changed or entry.partners or spurious:
            line = LineFrame(value=frame.value, data_bits=frame.data_bits, parity=frame.parity,
                             stop_half_bits=frame.stop_half_bits, baud=frame.baud,
                             start_ps=frame.start_ps, corrupted=True, line_bits=tuple(bits))
            value, fe, _, _ = sample_frame(line, frame.baud, frame.data_bits, frame.parity,
                                           frame.stop_half_bits)
            delivered: UartFrame = replace(line, value=value)
        else:
            value, fe, delivered = frame.value, frame.is_break, frame
        driver = "noise" if spurious else _node_name(entry.node)
        rec = TapRecord(frame.start_ps, frame.end_ps, driver, frame.value, value,
                        delivered.corrupted, fe, tuple(reasons), delivered)
        self.tap.append(rec)
        if reasons or entry.partners:
            self.ctx.log(logging.DEBUG, "frame from %s damaged (%s): %02x -> %02x",
                         driver, ", ".join(reasons), frame.value, value)
        for fn in self._tap_to:
            fn(rec)
        if self._bursts:
            self._prune_bursts()
        for node in self._deliver_to:
            node.deliver(delivered, driver)

    def _prune_bursts(self) -> None:
        horizon = min((e.frame.start_ps for e in self._active), default=self.ctx.clock.now_ps)
        self._bursts = [(s, e) for s, e in self._bursts if e > horizon]


def _rx_starts(nodes) -> tuple:
    """The `rx_start` of each node that has one."""
    return tuple(fn for fn in (getattr(n, "rx_start", None) for n in nodes) if fn is not None)


def _add(reasons: list[str], why: str) -> None:
    if why not in reasons:
        reasons.append(why)


@model("metersim.Rs485Transceiver")
class Rs485Transceiver:
    """MAX485-style transceiver. GPIO inputs: 0 = DE (active high), 1 = /RE (active low)."""

    def __init__(self, ctx: Context, bus: Rs485Bus | None = None):
        self.ctx = ctx
        # the driver's name in bus taps, every frame: made once (a model's context is fixed)
        self.name = f"{ctx.machine_name}/{ctx.name}" if ctx.machine_name else ctx.name
        self.de = False
        self.re_n = False        # MCU pins come up low: receiver on, driver off
        self.ro = UartPort()
        self.bus: Rs485Bus | None = None
        self.dropped_frames = 0
        self.sent_frames = 0
        self.uart = None         # the USART behind DI/RO (connect_usart), for the link's lookahead
        self._uart_rx_start = None   # its rx_start: told when a frame starts on the bus
        if bus is not None:
            self.attach(bus)

    def reset(self) -> None:
        """A machine reset changes nothing here: DE and /RE follow the MCU's pins."""

    def attach(self, bus: Rs485Bus) -> None:
        if self.bus is not None:
            self.bus.detach(self)
        self.bus = bus
        bus.attach(self)
        emu = getattr(self.ctx.machine, "emulation", None)
        if emu is not None:          # a link between machines: it bounds the sync quantum
            if bus.ctx.clock is not self.ctx.clock and bus.ctx.clock is not emu.clock:
                # a bus made on one machine's clock now joins two: it moves to the
                # emulation's clock, which every machine meets at quantum ends
                bus.ctx.clock = emu.clock
            emu.add_link(bus)

    def detach(self) -> None:
        if self.bus is not None:
            self.bus.detach(self)
            self.bus = None

    def connect_usart(self, tx_port: UartPort, rx_listener: Callable[[UartFrame], None] | None = None) -> None:
        """Wire DI to a USART's TX port and RO to its receive callback."""
        tx_port.connect(self.on_di)
        if rx_listener is not None:
            self.ro.connect(rx_listener)
        self.uart = getattr(rx_listener, "__self__", None)
        self._uart_rx_start = getattr(self.uart, "rx_start", None)
        settings_changed()

    def char_ps(self) -> int:
        """One character at the USART's current settings (0 while unknown)."""
        char_ps = getattr(self.uart, "char_ps", None)
        return char_ps() if char_ps is not None else 0

    def on_gpio(self, pin: int, level: bool) -> None:
        if pin == 0:
            was = self.de
            self.de = bool(level)
            if was and not self.de and self.bus is not None:
                self.bus.release(self, self.ctx.clock.now_ps)
        elif pin == 1:
            self.re_n = bool(level)
        else:
            self.ctx.log_once(("pin", pin), logging.WARNING, "no GPIO input %d (0 = DE, 1 = /RE)", pin)

    def on_di(self, frame: UartFrame) -> None:
        """A character from the USART TX; it starts at `frame.start_ps`, which may lie
        ahead (a DMA run is told at its start): it goes on the bus then, if DE is high then."""
        now = self.ctx.clock.now_ps
        if frame.start_ps > now:
            self.ctx.clock.schedule_at(frame.start_ps, self._drive, frame)
        else:
            self._drive(frame)

    on_di.tells_ahead = True

    def _drive(self, frame: UartFrame) -> None:
        if self.bus is None:
            return
        if not self.de:
            self.dropped_frames += 1
            self.ctx.log(logging.DEBUG, "DE low: character %02x not driven onto the bus", frame.value)
            return
        self.sent_frames += 1
        self.bus.launch(self, frame)

    def rx_start(self, start_ps: int, frame: UartFrame | None = None) -> None:
        """A frame starts on the bus: the USART behind RO hears its start (its IDLE) and what
        was sent (a receive DMA takes it at its RXNE point, before the frame's end)."""
        if not self.re_n and self._uart_rx_start is not None:
            self._uart_rx_start(start_ps, frame)

    def deliver(self, frame: UartFrame, driver: str) -> None:
        if not self.re_n:
            check_arrival(self, frame.end_ps)
            self.ro.send(frame)


class HostEndpoint:
    """Python on the bus: paced transmission and decoded reception at its own settings.
    Received bytes gather in `rx` for `read`, unless `keep_rx` is False: an owner that takes
    every character from its `on_receive` callback (a Modbus master's link) would otherwise
    leave them to pile up there for as long as the bus runs."""

    def __init__(self, bus: Rs485Bus, name: str, baud: float = 9600, data_bits: int = 8,
                 parity: str = "N", stop_half_bits: int = 2, echo: bool = False,
                 keep_rx: bool = True):
        self.bus = bus
        self.name = name
        self.baud, self.data_bits, self.parity, self.stop_half_bits = baud, data_bits, parity, stop_half_bits
        sample_frame(UartFrame(0), baud, data_bits, parity, stop_half_bits)  # validates the settings
        self.echo = echo
        self.keep_rx = keep_rx
        self.rx = bytearray()
        self.errors: History = History()   # (end_ps, "framing"/"parity"/"noise")
        self._fns: list[Callable[[int, UartFrame], None]] = []
        self._call: tuple[Callable[[int, UartFrame], None], ...] = ()   # snapshot of _fns
        self._tx_free_ps = 0

    @property
    def ctx(self) -> Context:
        return self.bus.ctx

    def send(self, data: bytes, at_ps: int | None = None, gap_ps: int = 0) -> int:
        """Queue characters; returns the virtual time at which the last one has been sent."""
        clock = self.bus.ctx.clock
        t = max(clock.now_ps if at_ps is None else int(at_ps), self._tx_free_ps)
        for b in bytes(data):
            frame = UartFrame(b, self.data_bits, self.parity, self.stop_half_bits, self.baud, start_ps=t)
            clock.schedule_at(t, self.bus.launch, self, frame)
            t = frame.end_ps + gap_ps
        self._tx_free_ps = t
        return t

    def send_break(self, at_ps: int | None = None) -> int:
        clock = self.bus.ctx.clock
        t = max(clock.now_ps if at_ps is None else int(at_ps), self._tx_free_ps)
        frame = UartFrame(0, self.data_bits, self.parity, self.stop_half_bits, self.baud,
                          start_ps=t, is_break=True)
        clock.schedule_at(t, self.bus.launch, self, frame)
        self._tx_free_ps = frame.end_ps
        return frame.end_ps

    @property
    def sending(self) -> bool:
        return self._tx_free_ps > self.bus.ctx.clock.now_ps

    def on_receive(self, fn: Callable[[int, UartFrame], None]) -> None:
        """`fn(byte, frame)` for every character received (errors included, as a UART would)."""
        self._fns.append(fn)
        self._call = tuple(self._fns)

    def deliver(self, frame: UartFrame, driver: str) -> None:
        if driver == self.name and not self.echo:
            return
        value = receive_byte(frame, self.baud, self.data_bits, self.parity, self.stop_half_bits,
                             self.errors)
        if self.keep_rx:
            self.rx.append(value)
        for fn in self._call:
            fn(value, frame)

    def read(self, n: int | None = None) -> bytes:
        """Take up to `n` (default all) received bytes."""
        return take_bytes(self.rx, n)
