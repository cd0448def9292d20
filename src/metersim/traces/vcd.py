"""Signals of a run to a VCD file (pyvcd) in virtual time: GPIO lines, IRQs, relay contacts, SPI bytes.

Open it in GTKWave / Surfer / PulseView. What is traced and how it hooks in (models are never
edited, only their public callbacks used):
- any `GPIO` output (IRQ, CF, ZX, chip-select nets, relay contacts): 1-bit wire, through
  `gpio.connect(probe, pin)`; `outputs(model)` traces every GPIO a model lists in `outputs()`;
- a GPIO port (STM32 F1/F4): 1-bit wire per pin through `port.watch(fn)`;
- a relay: its `contact` and `feedback` outputs;
- an SPI device: 1-bit `cs_active` (high while selected), 8-bit `mosi` and `miso` vectors holding
  the last byte exchanged, and a `xfer` event per byte (so repeated equal bytes stay visible);
  the device's `transmit` / `set_chip_select` are wrapped on the instance. `spi_bus(spi)` does
  this for every device registered on an SPI controller;
- a UART: an 8-bit `tx` vector (value of each character, at its start bit) and a `tx_char` event.

Time: changes are stamped with the clock's `now_ps` at the callback and written in the VCD's
timescale (default 1 ns; "1 ps" keeps every picosecond). Machines of one emulation run in
lockstep quanta, so callbacks from two machines can arrive slightly out of time order; changes
wait in a reorder buffer (`reorder_ps`, default 1 ms of virtual time, larger than the engine's
quantum) and are written out, in time order, once the clock is that far past them. The file
therefore grows while the emulation runs; `flush()` writes everything buffered up to now,
`close()` writes the rest and ends the file at the current time.

Signals must all be registered before the first change is written (a VCD header lists them
once); registering later raises `TraceError`. Changes arriving after `close()` are ignored, so
a tracer can be closed while the models it listens to keep running.

Not traced: SPI bit-level SCK/MOSI/MISO edges (devices see whole bytes), UART bit-level line
levels, analog values (use the plots for waveforms).
"""

from __future__ import annotations

import heapq
import itertools
from pathlib import Path
from typing import Any

from vcd import VCDWriter

from metersim.traces.errors import TraceError
from metersim.units import PS_PER_MS

_UNIT_PS = {"ps": 1, "ns": 1_000, "us": 1_000_000, "ms": 1_000_000_000, "s": 1_000_000_000_000}


def _timescale_ps(timescale: str) -> int:
    parts = str(timescale).split()
    if len(parts) == 1:
        num = "".join(c for c in parts[0] if c.isdigit())
        parts = [num, parts[0][len(num):]]
    try:
        mag, unit = int(parts[0]), parts[1]
        if mag not in (1, 10, 100) or unit not in _UNIT_PS:
            raise ValueError
    except (ValueError, IndexError):
        raise TraceError(f"VCD timescale must be 1/10/100 and a unit of {', '.join(_UNIT_PS)} "
                         f"(e.g. '1 ns'), got {timescale!r}") from None
    return mag * _UNIT_PS[unit]


def _time_source(clock: Any):
    for obj in (clock, getattr(clock, "clock", None)):
        if obj is not None and hasattr(obj, "now_ps"):
            return obj
    raise TraceError(f"{clock!r} has no virtual time: pass a Clock, a Machine or an Emulation")


class Signal:
    """One VCD variable. `set(value)` records a change at the current virtual time."""

    def __init__(self, tracer: "VcdTracer", scope: str, name: str, size: int, kind: str, init):
        self.tracer, self.scope, self.name, self.size, self.kind = tracer, scope, name, size, kind
        self.init = init
        self.var = None          # pyvcd variable, once the header is written
        self.value = init

    def set(self, value, time_ps: int | None = None) -> None:
        self.tracer._change(self, value, time_ps)

    @property
    def path(self) -> str:
        return f"{self.scope}.{self.name}"


class _GpioProbe:
    """A GPIO receiver that records the line's level."""

    def __init__(self, signal: Signal):
        self.signal = signal

    def on_gpio(self, pin: int, level: bool) -> None:
        self.signal.set(int(bool(level)))


class VcdTracer:
    def __init__(self, path: str | Path, clock: Any, timescale: str = "1 ns",
                 reorder_ps: int = PS_PER_MS, comment: str = "metersim virtual time"):
        self.path = Path(path)
        self._clock = _time_source(clock)
        self.timescale = timescale
        self._scale_ps = _timescale_ps(timescale)
        if reorder_ps < 0:
            raise TraceError(f"reorder_ps must be >= 0, got {reorder_ps}")
        self.reorder_ps = int(reorder_ps)
        self._comment = comment
        try:
            self._file = open(self.path, "w", encoding="ascii")
        except OSError as e:
            raise TraceError(f"cannot create VCD file {self.path}: {e}") from None
        self._writer: VCDWriter | None = None
        self._signals: dict[tuple[str, str], Signal] = {}
        self._pending: list[tuple[int, int, Signal, Any]] = []
        self._seq = itertools.count()
        self._last_written_ps = 0
        self._file_flushed_ps = -self.reorder_ps
        self.changes = 0
        self.closed = False

    # ------------------------------------------------------------------ registration
    def signal(self, scope: str, name: str, size: int = 1, init=None) -> Signal:
        """A variable of `size` bits (1 = wire, more = vector; 0 = event)."""
        if self.closed:
            raise TraceError(f"VCD {self.path} is closed: cannot add {scope}.{name}")
        if self._writer is not None:
            raise TraceError(f"cannot add {scope}.{name}: changes have been written to {self.path} "
                             "already; register every signal before the run starts")
        key = (str(scope), str(name))
        if key in self._signals:
            raise TraceError(f"signal {scope}.{name} is traced already")
        kind = "event" if size == 0 else ("wire" if size == 1 else "reg")
        if init is None:
            init = 0 if size == 1 else ("x" if size > 1 else None)
        sig = Signal(self, key[0], key[1], int(size), kind, init)
        self._signals[key] = sig
        return sig

    def gpio(self, line, name: str | None = None, scope: str = "gpio") -> Signal:
        """Trace a `GPIO` output (any object with `level` and `connect(receiver, pin)`)."""
        if not hasattr(line, "connect") or not hasattr(line, "level"):
            raise TraceError(f"{line!r} is not a GPIO output (no connect/level)")
        sig = self.signal(scope, name or getattr(line, "name", "") or "line", 1, int(bool(line.level)))
        line.connect(_GpioProbe(sig), 0)
        return sig

    irq = gpio

    def outputs(self, model, scope: str | None = None) -> list[Signal]:
        """Every GPIO output a model lists in `outputs()` (IRQ, CF, ZX, contact ...)."""
        if not hasattr(model, "outputs"):
            raise TraceError(f"{model!r} has no outputs()")
        scope = scope or _model_name(model)
        return [self.gpio(line, name, scope) for name, line in sorted(model.outputs().items())]

    def gpio_port(self, port, pins=None, names: dict[int, str] | None = None,
                  scope: str | None = None) -> list[Signal]:
        """Pins of a GPIO port model (through its `watch` hook); `names` maps pin -> label."""
        if not hasattr(port, "watch") or not hasattr(port, "pin_level"):
            raise TraceError(f"{port!r} is not a GPIO port (no watch/pin_level)")
        names = names or {}
        pins = sorted(names) if pins is None and names else (
            list(range(getattr(port, "NPINS", 16))) if pins is None else list(pins))
        scope = scope or _model_name(port)
        sigs = {p: self.signal(scope, names.get(p, f"pin{p}"), 1, int(port.pin_level(p))) for p in pins}

        def watcher(pin: int, level: bool) -> None:
            sig = sigs.get(pin)
            if sig is not None:
                sig.set(int(bool(level)))

        port.watch(watcher)
        return list(sigs.values())

    def relay(self, relay, name: str | None = None) -> list[Signal]:
        """A relay's `contact` (high = load circuit closed) and `feedback` outputs."""
        scope = name or _model_name(relay)
        return [self.gpio(relay.contact, "contact", scope), self.gpio(relay.feedback, "feedback", scope)]

    def spi_device(self, device, name: str | None = None) -> list[Signal]:
        """Chip select, MOSI/MISO bytes and a per-byte event of an SPI device."""
        if not hasattr(device, "transmit"):
            raise TraceError(f"{device!r} is not an SPI device (no transmit)")
        scope = name or _model_name(device)
        cs = self.signal(scope, "cs_active", 1, int(bool(getattr(device, "cs_active", False))))
        mosi = self.signal(scope, "mosi", 8)
        miso = self.signal(scope, "miso", 8)
        xfer = self.signal(scope, "xfer", 0)
        transmit = device.transmit

        def traced_transmit(byte: int) -> int:
            reply = transmit(byte)
            mosi.set(int(byte) & 0xFF)
            miso.set(int(reply) & 0xFF)
            xfer.set(True)
            return reply

        device.transmit = traced_transmit
        select = getattr(device, "set_chip_select", None)
        if select is not None:
            def traced_select(active: bool) -> None:
                select(active)
                cs.set(int(bool(getattr(device, "cs_active", active))))
            device.set_chip_select = traced_select
        return [cs, mosi, miso, xfer]

    def spi_bus(self, spi) -> list[Signal]:
        """Every device registered on an SPI controller (`children`), each in its own scope."""
        children = getattr(spi, "children", None)
        if children is None:
            raise TraceError(f"{spi!r} is not an SPI controller (no children)")
        out: list[Signal] = []
        for _, dev in children:
            out += self.spi_device(dev)
        return out

    def uart(self, uart, name: str | None = None) -> list[Signal]:
        """Characters a UART sends (its `tx` port): value at the start bit plus an event."""
        port = getattr(uart, "tx", None)
        if port is None or not hasattr(port, "connect"):
            raise TraceError(f"{uart!r} has no timed tx port to trace")
        scope = name or _model_name(uart)
        tx = self.signal(scope, "tx", 8)
        ev = self.signal(scope, "tx_char", 0)

        def on_frame(frame) -> None:
            tx.set(frame.value & 0xFF, frame.start_ps)
            ev.set(True, frame.start_ps)

        port.connect(on_frame)
        return [tx, ev]

    # ------------------------------------------------------------------ changes
    def _change(self, sig: Signal, value, time_ps: int | None) -> None:
        if self.closed:
            return
        now = self._clock.now_ps
        t = now if time_ps is None else int(time_ps)
        heapq.heappush(self._pending, (t, next(self._seq), sig, value))
        self._drain(now - self.reorder_ps)

    def _open(self) -> None:
        w = VCDWriter(self._file, timescale=self.timescale, date="", comment=self._comment,
                      version="metersim")
        for sig in self._signals.values():
            try:
                if sig.kind == "event":
                    sig.var = w.register_var(sig.scope, sig.name, "event")
                else:
                    sig.var = w.register_var(sig.scope, sig.name, sig.kind, size=sig.size, init=sig.init)
            except (KeyError, ValueError) as e:
                raise TraceError(f"cannot trace {sig.path}: {e}") from None
        self._writer = w

    def _drain(self, upto_ps: int) -> None:
        pending = self._pending
        if not pending or pending[0][0] > upto_ps:
            return
        if self._writer is None:
            self._open()
        w = self._writer
        while pending and pending[0][0] <= upto_ps:
            t, _, sig, value = heapq.heappop(pending)
            # a change older than what is written already (beyond the reorder window) is
            # written at the latest time so the file stays ordered
            t = max(t, self._last_written_ps)
            self._last_written_ps = t
            w.change(sig.var, t // self._scale_ps, value)
            sig.value = value
            self.changes += 1
        # hand the text to the OS about once per reorder window, so the file grows while running
        if upto_ps - self._file_flushed_ps >= self.reorder_ps:
            self._file_flushed_ps = upto_ps
            self._file.flush()

    def flush(self) -> None:
        """Write every buffered change up to now."""
        if self.closed:
            return
        self._drain(self._clock.now_ps)
        if self._writer is None:
            self._open()
        self._writer.flush()
        self._file.flush()

    def close(self) -> None:
        if self.closed:
            return
        now = self._clock.now_ps
        self._drain(max([now] + [p[0] for p in self._pending]))
        if self._writer is None:
            self._open()
        self._writer.close(max(now, self._last_written_ps) // self._scale_ps)
        self._file.close()
        self.closed = True

    def __enter__(self) -> "VcdTracer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _model_name(model) -> str:
    ctx = getattr(model, "ctx", None)
    name = getattr(ctx, "name", "") or getattr(model, "name", "")
    if not name:
        raise TraceError(f"{model!r} has no name: pass name=/scope=")
    return str(name).replace(" ", "_").replace(".", "_")
