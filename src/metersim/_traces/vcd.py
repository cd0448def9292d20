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

A whole machine: `machine(m)` (a Machine built from a .repl, or a board handle with a
`machine`, such as the cabinet's Controller) discovers its nets from the wires the platform
made and names each signal after the net, in one scope per machine and one per port or device:
- `<machine>.gpioPortB.PB4->csDecoder0_E1_n`: a GPIO pin wired with `->` to device inputs is
  named after its receivers (input names where the model's pins are known: HC154 A0..A3,
  /E1, /E2; ADE7753 /CS, /RESET; relay SET/RESET coils; 74HC595 RCLK; 74HC165 /PL; RS-485
  DE, /RE), several joined by `,`; a pin wired to nothing but the EXTI keeps `PB4`;
- `<machine>.ade0.IRQ`, `<machine>.usart1.IRQ`: a device output wired to the NVIC or EXTI is
  named after its source; an output wired to other devices adds them
  (`<machine>.csDecoder0.Y0->ade0_CS_n`, `<machine>.relayOut.Q0->relay0_SET`);
- `<machine>.relay0.contact`, `<machine>.relay0.feedback->relayIn_D0`: every relay's contact
  and feedback, wired or not (other outputs wired to nothing are left out: trace them with
  `outputs(model)`);
- `<machine>.spi1.mosi` / `miso` / `xfer`: the bytes on each SPI bus, and
  `<machine>.ade0.cs_active` for each chip-selected device on it;
- `<machine>.usart1.tx` / `tx_char`: each UART's characters as it sends them, `rx` /
  `rx_char` as they arrive (from a device of the machine already wired to it, such as the
  cabinet's RS-485 transceiver, or through `receive_frame` from then on).

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

Not traced: characters a UART receives over a link made before `machine()` from outside the
machine (another machine's USART linked with `connect_to`: trace that machine's `tx`), SPI
bit-level SCK/MOSI/MISO edges (devices see whole bytes), UART bit-level line
levels, analog values (use the plots for waveforms).
"""

from __future__ import annotations

import heapq
import itertools
from pathlib import Path
from typing import Any

from vcd import VCDWriter

from metersim._traces.errors import TraceError
from metersim._units import PS_PER_MS

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

    def machine(self, machine, scope: str | None = None) -> list[Signal]:
        """Every net of a machine, named as its platform wires it, under scope `machine.name`.

        `machine`: a Machine built from a .repl, or a board handle with a `machine` (the
        cabinet's Controller). GPIO port pins are named after the device inputs they drive,
        device outputs after their source; relays, SPI bytes per bus with each device's chip
        select, UART characters (see the module doc). Call it before the run starts."""
        m = machine if hasattr(machine, "peripherals") else getattr(machine, "machine", None)
        if m is None or not isinstance(getattr(m, "peripherals", None), dict):
            raise TraceError(f"{machine!r} is not a machine (no peripherals): pass a Machine or a "
                             "board built around one")
        top = _clean(scope or getattr(m, "name", "") or "machine")
        nets = _Nets(m.peripherals)
        models = sorted((n, p) for n, p in m.peripherals.items() if _is_model(p))
        plan: list[tuple[str, Any]] = []    # (kind, args) decided before any probe is added
        done: set[int] = set()
        for name, p in models:
            if _is_port(p):
                names = {pin: nets.pin_net(name, p, pin) for pin in range(getattr(p, "NPINS", 16))}
                plan.append(("port", (p, names, f"{top}.{name}")))
                done |= {id(g) for g in p.connections.values()}
        for name, p in models:
            if _is_port(p):
                continue
            always = {id(p.contact), id(p.feedback)} if _is_relay(p) else set()
            for label, line in _lines(p):
                if id(line) in done or not (_targets(line) or id(line) in always):
                    continue
                done.add(id(line))
                dests = [d for d in (nets.receiver(rx, pin) for rx, pin in _targets(line)) if d]
                net = label + ("->" + ",".join(dests) if dests else "")
                plan.append(("gpio", (line, net, f"{top}.{name}")))
        for name, p in models:
            devices = _spi_devices(p)
            if devices:
                plan.append(("spi", (name, devices, top)))
            if _is_uart(p):
                plan.append(("uart", (p, f"{top}.{name}")))
        out: list[Signal] = []
        for kind, args in plan:
            if kind == "port":
                out += self.gpio_port(args[0], names=args[1], scope=args[2])
            elif kind == "gpio":
                out.append(self.gpio(args[0], args[1], args[2]))
            elif kind == "spi":
                out += self._spi_bus_of_machine(*args, nets=nets)
            else:
                out += self.uart(args[0], args[1])
                out += self._uart_rx(args[0], args[1], [p for _, p in models])
        return out

    def _spi_bus_of_machine(self, bus: str, devices: list, top: str, nets: "_Nets") -> list[Signal]:
        scope = f"{top}.{bus}"
        mosi, miso, xfer = (self.signal(scope, "mosi", 8), self.signal(scope, "miso", 8),
                            self.signal(scope, "xfer", 0))
        out = [mosi, miso, xfer]
        for dev in devices:
            transmit = dev.transmit

            def traced_transmit(byte: int, _inner=transmit) -> int:
                reply = _inner(byte)
                mosi.set(int(byte) & 0xFF)
                miso.set(int(reply) & 0xFF)
                xfer.set(True)
                return reply

            dev.transmit = traced_transmit
            name = nets.names.get(id(dev))
            select = getattr(type(dev), "set_chip_select", None)
            if name is None or select is None or not hasattr(dev, "cs_active"):
                continue
            cs = self.signal(f"{top}.{name}", "cs_active", 1, int(bool(dev.cs_active)))
            inner_select = dev.set_chip_select

            def traced_select(active: bool, _inner=inner_select, _dev=dev, _cs=cs) -> None:
                _inner(active)
                _cs.set(int(bool(getattr(_dev, "cs_active", active))))

            dev.set_chip_select = traced_select
            out.append(cs)
        return out

    def _uart_rx(self, uart, scope: str, models: list) -> list[Signal]:
        """Characters arriving at a UART: from the ports of `models` that already deliver to
        its `receive_frame` (links made when the board was built, such as the cabinet's RS-485
        transceiver), and from calls to `receive_frame` made from now on."""
        receive = getattr(uart, "receive_frame", None)
        if not callable(receive):
            return []
        rx, ev = self.signal(scope, "rx", 8), self.signal(scope, "rx_char", 0)

        def record(frame) -> None:
            value, start = getattr(frame, "value", None), getattr(frame, "start_ps", None)
            if value is not None:
                rx.set(int(value) & 0xFF, start)
                ev.set(True, start)

        for port in _ports_feeding(receive, models):
            port.connect(record)

        def traced_receive(frame, *a, **kw):
            record(frame)
            return receive(frame, *a, **kw)

        uart.receive_frame = traced_receive
        return [rx, ev]

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


# ---------------------------------------------------------------------- nets of a machine
# Input pin names of the board devices (`on_gpio` pin numbers), by model class or its nearest
# base class listed; other models' inputs are named by number.
_INPUT_NAMES = {
    "Decoder74HC154": ("A0", "A1", "A2", "A3", "E1_n", "E2_n"),
    "Ade7753": ("CS_n", "RESET_n"),
    "HC595Chain": ("RCLK", "OE_n", "MR_n"),
    "HC165Chain": ("PL_n", "CE_n"),
    "Rs485Transceiver": ("DE", "RE_n"),
    "SpiNorFlash": ("CS_n", "WP_n"),
    "At24cEeprom": ("WP",),
    "Led": ("",),
    "SPIDevice": ("CS_n",),
}
# Receivers that route interrupts: a pin or output wired only to these keeps its own name.
_ROUTERS = ("NVIC", "STM32_EXTI", "CombinedInput")


def _clean(name: str) -> str:
    return "".join("_" if c.isspace() or c == "." else c for c in str(name))


def _is_model(p) -> bool:
    return not isinstance(p, (int, str, bytes)) and hasattr(p, "__dict__")


def _is_port(p) -> bool:
    return (hasattr(p, "watch") and hasattr(p, "pin_level")
            and isinstance(getattr(p, "connections", None), dict))


def _is_relay(p) -> bool:
    return hasattr(p, "contact") and hasattr(p, "feedback") and hasattr(p.contact, "connect")


def _is_uart(p) -> bool:
    tx = getattr(p, "tx", None)
    return tx is not None and hasattr(tx, "connect") and not hasattr(tx, "level")


def _is_router(p) -> bool:
    return any(c.__name__ in _ROUTERS for c in type(p).__mro__) or hasattr(p, "port_changed")


def _targets(line) -> list:
    # the engine's GPIO keeps its receivers as (receiver, pin) pairs; probes are not nets
    return [(rx, pin) for rx, pin in getattr(line, "_targets", ())
            if not isinstance(rx, _GpioProbe)]


def _lines(p) -> list[tuple[str, Any]]:
    """(label, GPIO) of a model's outputs: named ones first, then numbered ones not named."""
    from metersim.peripherals.base import GPIO

    fn = getattr(p, "outputs", None)
    named = dict(fn()) if callable(fn) else {k: v for k, v in vars(p).items() if isinstance(v, GPIO)}
    out = [(str(k), v) for k, v in sorted(named.items()) if hasattr(v, "connect")]
    seen = {id(v) for _, v in out}
    conns = getattr(p, "connections", None)
    if isinstance(conns, dict):
        out += [(f"out{k}", v) for k, v in sorted(conns.items()) if id(v) not in seen
                and hasattr(v, "connect")]
    return out


def _port_letter(name: str) -> str | None:
    if name.startswith("gpioPort") and len(name) == len("gpioPort") + 1:
        return name[-1].upper()
    return None


class _Nets:
    """Names of a machine's models and of their input pins, found by identity."""

    def __init__(self, peripherals: dict):
        self.names = {id(p): n for n, p in peripherals.items() if _is_model(p)}
        self.models = {id(p): p for p in peripherals.values() if _is_model(p)}

    def _input(self, model, name: str, pin: int) -> str:
        letter = _port_letter(name)
        if letter is not None:
            return f"P{letter}{pin}"
        classes = [c.__name__ for c in type(model).__mro__]
        if "LatchingRelay" in classes:
            inputs = ("SET", "RESET") if getattr(model, "coils", 2) == 2 else ("A", "B")
        else:
            inputs = next((_INPUT_NAMES[c] for c in classes if c in _INPUT_NAMES), ())
        label = inputs[pin] if 0 <= pin < len(inputs) else str(pin)
        return f"{name}_{label}" if label else name

    def receiver(self, rx, pin: int) -> str | None:
        """`csDecoder0_E1_n` for a device input, None for interrupt routing or unknown hooks."""
        name = self.names.get(id(rx))
        if name is not None:
            return None if _is_router(rx) else self._input(rx, name, pin)
        # a local receiver (`relayIn#0`, `gpioPortA#8`): a small object pointing at its model
        attrs = vars(rx) if hasattr(rx, "__dict__") else {}
        parent = next((v for v in attrs.values() if id(v) in self.names), None)
        if parent is None or _is_router(parent) or _is_router(rx):
            return None
        pname = self.names[id(parent)]
        index = next((v for v in attrs.values() if isinstance(v, int) and not isinstance(v, bool)), 0)
        letter = _port_letter(pname)
        if letter is not None:
            return f"P{letter}{index}_AF{pin}"
        if type(parent).__name__ == "HC165Chain":
            return f"{pname}_D{index * 8 + pin}"
        return f"{pname}#{index}_{pin}"

    def pin_net(self, port_name: str, port, pin: int) -> str:
        """`PB4->csDecoder0_E1_n` for a pin wired to devices, `PB4` otherwise."""
        letter = _port_letter(port_name)
        own = f"P{letter}{pin}" if letter else f"pin{pin}"
        dests = [d for d in (self.receiver(rx, p) for rx, p in _targets(port.connections[pin])) if d]
        return own + ("->" + ",".join(dests) if dests else "")


def _ports_feeding(receive, models: list) -> list:
    """UART ports (`connect`/`send`) among the models' attributes that deliver to `receive`."""
    found = []
    for p in models:
        for v in vars(p).values():
            if (hasattr(v, "send") and hasattr(v, "connect") and not hasattr(v, "level")
                    and receive in getattr(v, "_listeners", ()) and v not in found):
                found.append(v)
    return found


def _spi_devices(p) -> list:
    children = getattr(p, "children", None)
    if not isinstance(children, list):
        return []
    return [dev for item in children for dev in ([item[1]] if isinstance(item, tuple) else [item])
            if hasattr(dev, "transmit")]
