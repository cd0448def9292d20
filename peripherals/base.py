"""The small interfaces every model is written against (Renode's, in snake_case).

- memory-mapped: `read(offset, size) -> int`, `write(offset, size, value)`, `reset()`
- SPI device: `transmit(byte) -> byte`, `finish_transmission()`; chip select arrives as a GPIO
- I2C device: `write(data: bytes)`, `read(count) -> bytes`, `finish_transmission()`
- GPIO receiver: `on_gpio(pin, level)`; outputs are `GPIO` objects wired with `->` in a .repl
- UART: a `UartFrame` is delivered to listeners at its start time and carries its own timing

A model gets a `Context` (clock, names, machine, logger, seeded RNG). In unit tests build one
with `Context.standalone()`; the engine builds them when it creates a machine from a .repl.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable

from metersim._engine.clock import Clock
from metersim.peripherals.regmap import SIZE_MASK, RegisterMap
from metersim._units import PS_PER_S, format_time

_log = logging.getLogger("metersim")


class History(list):
    """A record of what a model did (frames on a bus, bytes sent) that keeps only its newest
    `limit` entries, so a run of virtual days or weeks does not grow without bound. It is a
    list: index, slice and iterate it as one (index 0 is the oldest entry kept). It trims in
    halves, so `append` stays O(1) amortised; `dropped` counts the entries let go."""

    DEFAULT_LIMIT = 100_000

    def __init__(self, limit: int = DEFAULT_LIMIT):
        super().__init__()
        if limit < 1:
            raise ValueError(f"History limit must be at least 1, got {limit!r}")
        self.limit = limit
        self.dropped = 0

    def append(self, item) -> None:
        super().append(item)
        if len(self) > 2 * self.limit:
            n = len(self) - self.limit
            del self[:n]
            self.dropped += n

    def extend(self, items) -> None:
        """Append each of `items` (in one go while no trim falls among them)."""
        items = list(items)
        if len(self) + len(items) <= 2 * self.limit:
            super().extend(items)
        else:
            for item in items:
                self.append(item)


class Context:
    """What a model may use of its surroundings."""

    def __init__(self, clock: Clock, name: str = "", machine: Any = None,
                 machine_name: str = "", seed: int = 0, address: int | None = None):
        self.clock = clock
        self.name = name
        self.address = address  # sysbus base address when registered on the system bus
        self.machine = machine  # None in unit tests; SoC models look up siblings through it
        self.machine_name = machine_name or (getattr(machine, "name", "") if machine else "")
        self.seed = seed
        self._logged_once: set = set()

    @classmethod
    def standalone(cls, name: str = "dut", clock: Clock | None = None, seed: int = 0) -> "Context":
        return cls(clock or Clock(), name=name, seed=seed)

    def child(self, name: str) -> "Context":
        return Context(self.clock, name, self.machine, self.machine_name, self.seed)

    def rng(self, salt: str = "") -> random.Random:
        """A generator seeded from the emulation seed and this model's name: deterministic."""
        return random.Random(f"{self.seed}/{self.machine_name}/{self.name}/{salt}")

    # -- logging: prefixed with virtual time and machine name -------------------------------
    def log(self, level: int, msg: str, *args: Any) -> None:
        if _log.isEnabledFor(level):
            where = f"{self.machine_name}/{self.name}" if self.machine_name else self.name
            _log.log(level, f"[{format_time(self.clock.now_ps)}] {where}: " + msg, *args)

    def log_once(self, key: Any, level: int, msg: str, *args: Any) -> None:
        if key not in self._logged_once:
            self._logged_once.add(key)
            self.log(level, msg, *args)


class GPIO:
    """An output line (Renode's GPIO). Receivers get `on_gpio(pin, level)` on every change."""

    __slots__ = ("level", "_targets", "name")

    def __init__(self, name: str = "", level: bool = False):
        self.name = name
        self.level = level
        self._targets: list[tuple[Any, int]] = []

    def connect(self, receiver: Any, pin: int = 0) -> None:
        if not hasattr(receiver, "on_gpio"):
            raise TypeError(f"{receiver!r} has no on_gpio(pin, level): it cannot receive a GPIO")
        self._targets.append((receiver, pin))

    def disconnect(self) -> None:
        self._targets.clear()

    @property
    def connected(self) -> bool:
        return bool(self._targets)

    def set(self, level: bool = True) -> None:
        level = bool(level)
        if level == self.level:
            return
        self.level = level
        for rx, pin in self._targets:
            rx.on_gpio(pin, level)

    def unset(self) -> None:
        self.set(False)

    def toggle(self) -> None:
        self.set(not self.level)

    def blink(self) -> None:
        """A pulse: set then unset (edge-triggered receivers see both edges)."""
        self.set(True)
        self.set(False)

    def __repr__(self) -> str:
        return f"<GPIO {self.name} {'high' if self.level else 'low'} -> {len(self._targets)}>"


class Peripheral:
    """Base for memory-mapped models.

    Subclasses set `size` (bytes of address space) and either declare `registers` (a
    `RegisterMap`: `read`/`write` are then dispatched by offset, see metersim.peripherals.regmap)
    or implement `read`/`write` themselves. Outputs are `GPIO` attributes (e.g.
    `self.IRQ = GPIO("IRQ")`); numbered outputs go in `self.connections[i]` (Renode's
    INumberedGPIOOutput).
    """

    size = 0x400
    registers: RegisterMap | None = None
    _poll_hint_fn = None   # the machine's poll_hint, once looked up (False: it has none)

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.connections: dict[int, GPIO] = {}
        self._slots = self.registers.bind(self) if self.registers is not None else {}

    @property
    def name(self) -> str:
        return self.ctx.name

    def read(self, offset: int, size: int) -> int:
        slot = self._slots.get(offset)
        if slot is None:
            self.log_unhandled(offset, size, None)
            return 0
        return (slot[0]() >> slot[2]) & SIZE_MASK[size]

    def write(self, offset: int, size: int, value: int) -> None:
        slot = self._slots.get(offset)
        if slot is None:
            self.log_unhandled(offset, size, value)
            return
        wm = slot[3][size]
        slot[1]((value << slot[2]) & wm, wm)

    def reset_registers(self) -> None:
        """Set every stored register of `registers` to its reset value."""
        for reg in self.registers or ():
            if reg.storage is not None:
                setattr(self, reg.storage, reg.reset)

    def reset(self) -> None:
        pass

    def poll_hint(self, value: int, ready_ps: int | None = None) -> int:
        """Mark a status read whose `value` cannot change before `ready_ps` (None: not
        before this machine's next scheduled event — right for registers that only change in
        events). Firmware spinning on it then skips ahead instead of costing one host call
        per poll. Returns `value`, so `return self.poll_hint(sr)` reads naturally."""
        hint = self._poll_hint_fn
        if hint is None:
            # The machine is fixed for the model's life: look its hook up once (False: none).
            hint = self._poll_hint_fn = getattr(self.ctx.machine, "poll_hint", None) or False
        if hint:
            hint(value, ready_ps)
        return value

    def outputs(self) -> dict[str, GPIO]:
        """Named GPIO outputs of this model (for .repl `->` connections)."""
        return {k: v for k, v in vars(self).items() if isinstance(v, GPIO)}

    def log_unhandled(self, offset: int, size: int, value: int | None) -> None:
        """Unknown registers are logged once per offset, with their address and the
        peripheral's name (the log prefix)."""
        kind = "read of" if value is None else f"write of 0x{value:x} to"
        where = f"offset 0x{offset:x}" if self.ctx.address is None else \
            f"0x{self.ctx.address + offset:08X} (offset 0x{offset:x})"
        self.ctx.log_once(("unhandled", offset, value is None), logging.WARNING,
                          "%s unknown register at %s, %d bytes", kind, where, size)


class SPIDevice:
    """An SPI slave. Chip select is GPIO input 0, active low; raising it calls
    `finish_transmission()`. The SPI controller exchanges bytes only with devices whose
    `cs_active` is true. Devices with more inputs override `on_gpio` and pass pin 0 here."""

    cs_active = False

    def on_gpio(self, pin: int, level: bool) -> None:
        if pin == 0:
            self.set_chip_select(not level)

    def set_chip_select(self, active: bool) -> None:
        if self.cs_active and not active:
            self.cs_active = False
            self.finish_transmission()
        else:
            self.cs_active = active

    def transmit(self, byte: int) -> int:
        raise NotImplementedError

    def finish_transmission(self) -> None:
        pass


class I2CDevice:
    """An I2C slave at a 7-bit address. `write` returning False means NACK."""

    def write(self, data: bytes) -> bool:
        raise NotImplementedError

    def read(self, count: int) -> bytes:
        raise NotImplementedError

    def finish_transmission(self) -> None:
        pass


class _kept:
    """A read-only attribute worked out on first use and then kept in the instance (a
    non-data descriptor: the instance's own value wins from then on). For values of frozen
    frames that every receiver on a bus asks for."""

    def __init__(self, fn: Callable[[Any], Any]):
        self.fn = fn
        self.name = fn.__name__
        self.__doc__ = fn.__doc__

    def __get__(self, obj: Any, cls: type | None = None) -> Any:
        if obj is None:
            return self
        value = obj.__dict__[self.name] = self.fn(obj)
        return value


@dataclass(frozen=True)
class UartFrame:
    """One character on a UART line, with its timing.

    Delivered to listeners at `start_ps`; it has fully arrived at `end_ps`. Receivers with a
    different baud or format decode it with `metersim.peripherals.uart_line.sample_frame`.
    """

    value: int                 # data bits, LSB first on the wire
    data_bits: int = 8         # 7, 8 or 9
    parity: str = "N"          # "N", "E" or "O"
    stop_half_bits: int = 2    # 1, 2, 3 or 4 half bits (0.5, 1, 1.5, 2 stop bits)
    baud: float = 9600.0       # bits per second as the sender's clock really produces it
    start_ps: int = 0
    is_break: bool = False     # the line held low for a whole frame
    corrupted: bool = False    # set by a bus when two drivers collided or noise hit the line

    @property
    def bits(self) -> float:
        """Bit times from the start bit to the end of the stop bits."""
        return 1 + self.data_bits + (self.parity != "N") + self.stop_half_bits / 2

    @_kept
    def duration_ps(self) -> int:
        return _duration_ps(self.data_bits, self.parity, self.stop_half_bits, self.baud)

    @_kept
    def end_ps(self) -> int:
        return self.start_ps + self.duration_ps


def uart_frames(values: list[int], starts: list[int], data_bits: int, parity: str,
                stop_half_bits: int, baud: float) -> list[UartFrame]:
    """UartFrame(value, data_bits, parity, stop_half_bits, baud, start) for each value and
    start, in order (the characters of a DMA run): the same frames, made without the frozen
    dataclass's __init__, which sets each field through object.__setattr__ in turn."""
    common = {"data_bits": data_bits, "parity": parity, "stop_half_bits": stop_half_bits,
              "baud": baud, "is_break": False, "corrupted": False}
    new = object.__new__
    out = []
    for value, start in zip(values, starts):
        frame = new(UartFrame)
        fields = frame.__dict__
        fields["value"] = value
        fields.update(common)
        fields["start_ps"] = start
        out.append(frame)
    return out


@lru_cache(maxsize=1024)
def _duration_ps(data_bits: int, parity: str, stop_half_bits: int, baud: float) -> int:
    """UartFrame.duration_ps, the same float arithmetic as `bits`; cached because a line
    carries a few settings only and buses ask for every frame's end several times."""
    bits = 1 + data_bits + (parity != "N") + stop_half_bits / 2
    return round(bits * PS_PER_S / baud)


UartListener = Callable[[UartFrame], None]


class UartPort:
    """The TX side of anything that sends UART frames: listeners get each frame at its start."""

    def __init__(self) -> None:
        self._listeners: list[UartListener] = []
        # What send() walks: a snapshot taken on (dis)connection rather than a copy per frame
        # (a listener that connects or disconnects others during a send does not change who
        # gets that frame).
        self._send_to: tuple[UartListener, ...] = ()

    def connect(self, listener: UartListener) -> None:
        self._listeners.append(listener)
        self._send_to = tuple(self._listeners)

    def disconnect(self, listener: UartListener) -> None:
        self._listeners.remove(listener)
        self._send_to = tuple(self._listeners)

    def send(self, frame: UartFrame) -> None:
        for fn in self._send_to:
            fn(frame)

    def send_run(self, frames: list[UartFrame]) -> None:
        """Several frames at once, each with its own start (a DMA run told ahead: only for
        listeners marked `uart_cable.tells_ahead`, which go by each frame's times, not by
        when or in which order they are told): a listener with `tell_run` takes them in one
        call, the others get each frame in turn, as `send` gives it."""
        for fn in self._send_to:
            run = getattr(fn, "tell_run", None)
            if run is not None:
                run(frames)
            else:
                for frame in frames:
                    fn(frame)

    def cut(self, from_ps: int) -> None:
        """The sender stopped in the middle of a run told ahead (`send_run`: disabled, reset,
        its DMA stopped): the characters that would have started at `from_ps` or later never
        go out.
        Listeners that can take back what they were told (`cut`) do; the others decide at
        each character's start (an RS-485 transceiver drives only while DE is high)."""
        for fn in self._send_to:
            cut = getattr(fn, "cut", None)
            if cut is not None:
                cut(from_ps)
