"""The Renode-compatible monitor: the command language of `.resc` scenes and of the console.

    from metersim.frontends.monitor import Monitor
    mon = Monitor()
    mon.execute_script("platforms/scenes/hello_f413.resc")
    mon.execute('emulation RunFor "00:00:02"')
    print(mon.execute("sysbus ReadDoubleWord 0x08000000"))

Followed: renode-docs `basic/monitor-syntax.md` (syntax, variables, macros, `include`),
`basic/machines.md` (`mach`), `networking/machine-to-machine-connections.md` (UART hubs),
`advanced/time_framework.md` (RunFor, quantum, GetTimeSourceInfo) and the upstream scenes in
renode `scripts/single-node/*.resc`. Syntax details are in monitor_syntax.py.

Commands (the subset scenes and tests use): `mach create/set/rem/clear`, `machine
LoadPlatformDescription @f`, `machine LoadPlatformDescriptionFromString "..."`, `machine Reset`
(then the `reset` macro if one is defined, as in Renode), `machine StartGdbServer port`,
`sysbus LoadELF/LoadBinary/Read*/Write*/GetSymbolAddress`, `cpu PC/Step/GetRegister/SetRegister/
VectorTableOffset`, `emulation RunFor/SetSeed/SetGlobalQuantum/GetTimeSourceInfo/CreateUartHub`,
`connector Connect/Disconnect`, `showAnalyzer`, `start`/`pause`, `logLevel`, `peripherals`,
`macro`/`runMacro`, `include`/`i`, `using sysbus`, `$var = v`/`$var ?= v`, `help`, `quit`.
`sysbus.<peripheral> Method args` calls the model's snake_case method (or reads/sets a
property), the way Renode's reflection does on its C# models.

Headless semantics: `start` marks the emulation as running; `metersim run SCENE.resc --for 5s`
then runs it for the CLI's duration after the scene (`main_run`). `emulation RunFor` runs at
once. `showAnalyzer` prints each complete line of that UART as `[machine:uart] line`.

Differences from Renode: machines are built when their platform description is loaded (a
second description before the firmware rebuilds the machine with both merged, after it is an
error); `cpu PerformanceInMips`, `emulation SetGlobalAdvanceImmediately` and similar tuning
commands are accepted with a note (the core runs at the RCC clock, one cycle per instruction);
no `python`, no snapshots (`Save`/`Load`), no terminals other than hubs.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from metersim.engine.emulation import Emulation
from metersim.errors import MetersimError
from metersim.frontends.monitor_syntax import MonitorError, Token, statements, tokenize
from metersim.frontends.uart_hub import UartHub
from metersim.units import PS_PER_S, parse_time_ps

REPO = Path(__file__).resolve().parents[3]
RENODE_UPSTREAM = REPO.parent / "shared" / "renode-upstream"

log = logging.getLogger("metersim.monitor")

#: Renode log levels (`logLevel n`) to Python's.
LOG_LEVELS = {-1: 5, 0: logging.DEBUG, 1: logging.INFO, 2: logging.WARNING, 3: logging.ERROR}
_LEVEL_NAMES = {5: "NOISY", logging.DEBUG: "DEBUG", logging.INFO: "INFO",
                logging.WARNING: "WARNING", logging.ERROR: "ERROR"}

_CPU_REGS = {**{f"r{i}": i for i in range(13)}, "sp": 13, "r13": 13, "lr": 14, "r14": 14,
             "pc": 15, "r15": 15}


def default_search_paths() -> list[Path]:
    paths = [REPO]
    if RENODE_UPSTREAM.is_dir():
        paths.append(RENODE_UPSTREAM)
    return paths


def format_hms(ps: int) -> str:
    """Renode's TimeInterval text: hh:mm:ss.ffffff."""
    us = ps // 1_000_000
    s, us = divmod(us, 1_000_000)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    return f"{h:02d}:{m:02d}:{s:02d}.{us:06d}"


def camel_to_snake(name: str) -> str:
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s).lower()


def snake_to_camel(name: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in name.split("_"))


@dataclass
class _Slot:
    """A machine as the monitor knows it: created by `mach create`, built by its platform."""
    name: str
    machine: Any = None
    parts: list[tuple[str, str]] = field(default_factory=list)   # ("file", path) / ("text", repl)
    attached: bool = False     # analyzers or hubs hold its peripherals


class _LogFilter(logging.Filter):
    """Per-peripheral thresholds for `logLevel n sysbus.x` on the "metersim" logger, whose
    model messages start with "[time] machine/peripheral: "."""

    _WHERE = re.compile(r"^\[[^\]]*\] ([^:]+):")

    def __init__(self):
        super().__init__()
        self.global_level = logging.WARNING
        self.per_source: dict[str, int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.per_source:
            return True
        m = self._WHERE.match(str(record.msg))
        level = self.per_source.get(m.group(1), self.global_level) if m else self.global_level
        return record.levelno >= level


class Monitor:
    """Runs monitor commands against one Emulation (see the module docstring)."""

    TOP = ("mach", "machine", "sysbus", "cpu", "emulation", "connector", "showAnalyzer", "start",
           "pause", "include", "logLevel", "peripherals", "macro", "runMacro", "using", "help",
           "quit", "sleep", "Clear")
    ALIASES = {"s": "start", "p": "pause", "i": "include", "q": "quit", "h": "help", "?": "help",
               "exit": "quit", "clear": "Clear"}

    def __init__(self, emulation: Emulation | None = None, search_paths=None,
                 out: Callable[[str], None] | None = None, seed: int = 0):
        self.emulation = emulation if emulation is not None else Emulation(seed=seed)
        self.search_paths = [Path(p) for p in (search_paths if search_paths is not None
                                               else default_search_paths())]
        self.out = out if out is not None else (lambda text: print(text, flush=True))
        self.lock = threading.RLock()
        self.variables: dict[str, Token] = {}
        self.macros: dict[str, str] = {}
        self.hubs: dict[str, UartHub] = {}
        self.analyzers: dict[tuple[str, str], Any] = {}   # (machine, uart) -> UartCapture
        self.gdb_servers: list = []
        self.started = False
        self.quit_requested = False
        self.advance_immediately = False
        self.on_start: list[Callable[[], None]] = []
        self.on_pause: list[Callable[[], None]] = []
        self._slots: dict[str, _Slot] = {}
        self._current: str | None = None
        self._using_sysbus = False
        self._script_dirs: list[Path] = []
        self._log_filter: _LogFilter | None = None
        self._wall_start = time.perf_counter()
        for m in self.emulation.machines:
            self._slots[m.name] = _Slot(m.name, m, attached=True)
        if self.emulation.machines:
            self._current = self.emulation.machines[0].name

    # ==================================================================== public API
    @property
    def machine(self):
        """The current machine (built), or a MonitorError saying what is missing."""
        return self._built(self._slot())

    @property
    def current_machine_name(self) -> str | None:
        return self._current

    def machine_names(self) -> list[str]:
        return list(self._slots)

    def execute(self, command: str, where: str = "monitor") -> str:
        """Run one statement; return what it prints. MonitorError (a SetupError) when the
        command is not understood, with what was expected; engine errors pass through."""
        with self.lock:
            return self._statement(command, where)

    def execute_script(self, path: str | Path, echo: bool = True) -> str:
        """Run a `.resc` file. Each command's output goes to `out` as it runs when `echo`;
        all of it is returned as well."""
        p = self._resolve_path(str(path))
        return self.execute_text(p.read_text(encoding="utf-8"), source=str(path), base_dir=p.parent,
                                 echo=echo)

    def execute_text(self, text: str, source: str = "<script>", base_dir: Path | None = None,
                     echo: bool = True) -> str:
        outputs = []
        if base_dir is not None:
            self._script_dirs.append(base_dir)
        try:
            for line_no, stmt in statements(text, source):
                if self.quit_requested:
                    break
                where = f"{source}:{line_no}"
                try:
                    with self.lock:
                        result = self._statement(stmt, where)
                except MonitorError as exc:
                    msg = str(exc)
                    raise MonitorError(msg if msg.startswith(source) else f"{where}: {msg}") from None
                if result:
                    outputs.append(result)
                    if echo:
                        self.out(result)
        finally:
            if base_dir is not None:
                self._script_dirs.pop()
        return "\n".join(outputs)

    def run_for(self, duration: str | int) -> None:
        """Advance virtual time (what `emulation RunFor` and the headless `start` do)."""
        ps = duration if isinstance(duration, int) else parse_time_ps(duration)
        with self.lock:
            self._check_ready()
            self.emulation.run_until_time(self.emulation.now_ps + ps)

    def close(self) -> None:
        """Stop GDB servers and remove the log filter this monitor installed."""
        for srv in self.gdb_servers:
            stop = getattr(srv, "stop", None) or getattr(srv, "close", None)
            if stop is not None:
                try:
                    stop()
                except Exception:  # noqa: BLE001 - closing best effort
                    pass
        self.gdb_servers.clear()
        if self._log_filter is not None:
            logging.getLogger("metersim").removeFilter(self._log_filter)
            self._log_filter = None

    # ==================================================================== statements
    def _statement(self, text: str, where: str) -> str:
        tokens = tokenize(text, where)
        if not tokens:
            return ""
        first = tokens[0]
        if first.kind == "var" and len(tokens) > 1 and tokens[1].kind == "assign":
            return self._assign(tokens, where)
        if first.kind != "name":
            raise MonitorError(f"expected a command, got {first.text!r}; type `help` for the list")
        head = self.ALIASES.get(first.value, first.value)
        if head in ("macro", "runMacro"):
            return getattr(self, f"_cmd_{head}")(tokens[1:])
        args = self._expand(tokens[1:])
        handler = getattr(self, f"_cmd_{head}", None)
        if handler is None and head.lower() in {t.lower() for t in self.TOP}:
            head = next(t for t in self.TOP if t.lower() == head.lower())
            handler = getattr(self, f"_cmd_{head}")
        if handler is not None:
            return handler(args) or ""
        target = self._peripheral_target(first.value)
        if target is not None:
            return self._call_object(first.value, target, args) or ""
        raise MonitorError(f"unknown command or peripheral {first.value!r}; expected one of "
                           f"{', '.join(self.TOP)} or a peripheral (sysbus.<name>); "
                           "`help` lists the commands, `peripherals` the devices")

    def _assign(self, tokens: list[Token], where: str) -> str:
        name, op = tokens[0].value, tokens[1].value
        rest = self._expand(tokens[2:])
        if len(rest) != 1:
            raise MonitorError(f"${name} {op} needs one value (a \"string\", a number or an "
                               f"@path), got {len(rest)}")
        value = rest[0]
        if value.kind == "path":
            found = self._find_path(str(value.value))
            if found is not None:
                value = Token("path", str(found), value.text, value.column)
        if op == "?=" and name in self.variables:
            return ""
        self.variables[name] = value
        return ""

    def _expand(self, tokens: list[Token]) -> list[Token]:
        out = []
        for t in tokens:
            if t.kind == "var":
                if t.value not in self.variables:
                    raise MonitorError(f"variable ${t.value} is not set; set it first with "
                                       f"${t.value} = \"value\" (or ${t.value} ?= \"default\")")
                out.append(self.variables[t.value])
            elif t.kind == "subst":
                result = self._statement(str(t.value), "substitution").strip()
                tok = tokenize(result) if result else []
                out.append(tok[0] if len(tok) == 1 else Token("string", result, result, t.column))
            else:
                out.append(t)
        return out

    # ==================================================================== argument helpers
    @staticmethod
    def _int(tok: Token, what: str) -> int:
        if tok.kind == "number" and isinstance(tok.value, int):
            return tok.value
        if tok.kind == "string":
            try:
                return int(str(tok.value), 0)
            except ValueError:
                pass
        raise MonitorError(f"{what}: expected an integer (e.g. 0x08000000 or 42), got {tok.text!r}")

    @staticmethod
    def _text(tok: Token, what: str) -> str:
        if tok.kind in ("string", "name", "path"):
            return str(tok.value)
        if tok.kind == "number":
            return tok.text
        raise MonitorError(f"{what}: expected a \"string\", got {tok.text!r}")

    @staticmethod
    def _need(args: list[Token], n: int, usage: str, at_most: int | None = None) -> None:
        if len(args) < n or (at_most is not None and len(args) > at_most):
            raise MonitorError(f"usage: {usage}")

    @staticmethod
    def _duration(tok: Token, what: str) -> int:
        if tok.kind == "number":
            return parse_time_ps(tok.value)
        if tok.kind == "string":
            return parse_time_ps(str(tok.value))
        raise MonitorError(f"{what}: expected a duration like \"00:00:05\" or \"1.5s\", got "
                           f"{tok.text!r}")

    def _find_path(self, text: str) -> Path | None:
        p = Path(text).expanduser()
        if p.is_absolute():
            return p if p.exists() else None
        dirs = ([self._script_dirs[-1]] if self._script_dirs else []) + [Path.cwd()] \
            + self.search_paths
        for d in dirs:
            cand = d / p
            if cand.exists():
                return cand.resolve()
        return None

    def _resolve_path(self, text: str) -> Path:
        found = self._find_path(text)
        if found is None:
            dirs = ([str(self._script_dirs[-1])] if self._script_dirs else []) + [str(Path.cwd())] \
                + [str(d) for d in self.search_paths]
            raise MonitorError(f"file {text!r} not found (looked in: {', '.join(dict.fromkeys(dirs))})")
        return found

    def _path_arg(self, tok: Token, what: str) -> Path:
        if tok.kind not in ("path", "string"):
            raise MonitorError(f"{what}: expected a file as @path, got {tok.text!r}")
        return self._resolve_path(str(tok.value))

    # ==================================================================== machines
    def _slot(self) -> _Slot:
        if self._current is None:
            if self._slots:
                raise MonitorError("no machine selected; use `mach set \"name\"` (machines: "
                                   f"{', '.join(self._slots)})")
            self._create_slot(None)
        return self._slots[self._current]

    def _built(self, slot: _Slot):
        if slot.machine is None:
            raise MonitorError(f"machine {slot.name!r} has no platform yet; load one with "
                               "`machine LoadPlatformDescription @platforms/cpus/<part>.repl`")
        return slot.machine

    def _create_slot(self, name: str | None) -> _Slot:
        if name is None:
            i = 0
            while f"machine-{i}" in self._slots:
                i += 1
            name = f"machine-{i}"
        if name in self._slots:
            raise MonitorError(f"a machine named {name!r} exists already")
        slot = self._slots[name] = _Slot(name)
        self._current = name
        return slot

    def _cmd_mach(self, args: list[Token]) -> str:
        if not args:
            if not self._slots:
                return "no machines; `mach create \"name\"` creates one"
            return "\n".join(f"{'*' if n == self._current else ' '} {i}: {n}"
                             + ("" if s.machine is not None else " (no platform yet)")
                             for i, (n, s) in enumerate(self._slots.items()))
        sub = args[0].value if args[0].kind == "name" else None
        if sub == "create":
            self._need(args, 1, 'mach create ["name"]', 2)
            name = self._text(args[1], "mach create") if len(args) > 1 else None
            slot = self._create_slot(name)
            return f"machine {slot.name!r} created and selected"
        if sub == "set":
            self._need(args, 2, 'mach set "name" | mach set <index>', 2)
            if args[1].kind == "number":
                names = list(self._slots)
                i = self._int(args[1], "mach set")
                if not 0 <= i < len(names):
                    raise MonitorError(f"mach set {i}: no machine with that index; there are "
                                       f"{len(names)} (0..{len(names) - 1})")
                self._current = names[i]
            else:
                name = self._text(args[1], "mach set")
                if name not in self._slots:
                    raise MonitorError(f"mach set: no machine named {name!r}; machines: "
                                       f"{', '.join(self._slots) or 'none'}")
                self._current = name
            return ""
        if sub == "rem":
            self._need(args, 2, 'mach rem "name"', 2)
            name = self._text(args[1], "mach rem")
            slot = self._slots.get(name)
            if slot is None:
                raise MonitorError(f"mach rem: no machine named {name!r}")
            self._remove_machine(slot)
            return f"machine {name!r} removed"
        if sub == "clear":
            self._current = None
            return ""
        raise MonitorError(f"mach: expected create, set, rem or clear, got {args[0].text!r}")

    def _remove_machine(self, slot: _Slot) -> None:
        m = slot.machine
        if m is not None:
            for hub in self.hubs.values():
                for p in m.peripherals.values():
                    hub.detach(p)
            for key in [k for k in self.analyzers if k[0] == slot.name]:
                cap = self.analyzers.pop(key)
                uart = m.peripherals.get(key[1])
                if uart is not None and cap.feed in uart.on_byte:
                    uart.on_byte.remove(cap.feed)
            self.emulation.machines.remove(m)
        del self._slots[slot.name]
        if self._current == slot.name:
            self._current = next(iter(self._slots), None)

    # -- machine ----------------------------------------------------------------------
    def _cmd_machine(self, args: list[Token]) -> str:
        if not args:
            return self._members_text("machine", self._MACHINE_METHODS)
        method = args[0].value
        rest = args[1:]
        slot = self._slot()
        if method == "LoadPlatformDescription":
            self._need(rest, 1, "machine LoadPlatformDescription @platforms/cpus/<part>.repl", 1)
            path = self._path_arg(rest[0], "LoadPlatformDescription")
            return self._load_platform(slot, ("file", str(path)))
        if method == "LoadPlatformDescriptionFromString":
            self._need(rest, 1, 'machine LoadPlatformDescriptionFromString "<repl text>"', 1)
            return self._load_platform(slot, ("text", self._text(rest[0], method)))
        if method == "Reset":
            m = self._built(slot)
            m.reset()
            out = f"{m.name}: reset"
            if "reset" in self.macros:
                more = self._run_macro_text("reset")
                out += ("\n" + more) if more else ""
            return out
        if method == "StartGdbServer":
            self._need(rest, 1, "machine StartGdbServer <port> [autostartEmulation]", 3)
            return self._start_gdb(self._built(slot), self._int(rest[0], "StartGdbServer port"),
                                   rest[1].value if len(rest) > 1 and rest[1].kind == "bool" else True)
        if method == "Name":
            return slot.name
        if method in ("Pause", "Start"):
            return self._cmd_pause([]) if method == "Pause" else self._cmd_start([])
        if method in ("SetQuantum", "SetAdvanceImmediately", "GetClockSourceInfo"):
            if method == "SetQuantum":
                self._need(rest, 1, 'machine SetQuantum "0.0001"', 1)
                self.emulation.quantum_ps = self._duration(rest[0], method)
                return ""
            if method == "SetAdvanceImmediately":
                return self._cmd_emulation([Token("name", "SetGlobalAdvanceImmediately", "")] + rest)
            return self._clock_info(self._built(slot))
        raise MonitorError(f"machine has no command {method!r}; expected one of "
                           f"{', '.join(self._MACHINE_METHODS)}")

    _MACHINE_METHODS = ("LoadPlatformDescription", "LoadPlatformDescriptionFromString", "Reset",
                        "StartGdbServer", "Name", "Pause", "Start", "SetQuantum",
                        "SetAdvanceImmediately", "GetClockSourceInfo")

    def _load_platform(self, slot: _Slot, part: tuple[str, str]) -> str:
        from metersim.engine.platform_builder import build_machine
        from metersim.engine.repl import load_platform, parse_platform_string

        if slot.machine is not None:
            m = slot.machine
            if m.firmware is not None or slot.attached or self.emulation.now_ps > 0:
                raise MonitorError(f"machine {slot.name!r} is already built and in use; load every "
                                   "platform description before `sysbus LoadELF`, `showAnalyzer` "
                                   "and `connector Connect`")
        parts = slot.parts + [part]
        paths = [Path.cwd()] + ([self._script_dirs[-1]] if self._script_dirs else []) \
            + self.search_paths
        if len(parts) == 1 and part[0] == "file":
            platform = load_platform(part[1], paths)
        else:
            usings, body = [], []
            for kind, value in parts:
                if kind == "file":
                    usings.append(f'using "{value}"')
                else:
                    for line in value.splitlines():
                        (usings if line.lstrip().startswith("using ") else body).append(line)
            platform = parse_platform_string("\n".join(usings + body),
                                             name="LoadPlatformDescriptionFromString",
                                             search_paths=paths,
                                             base_dir=self._script_dirs[-1] if self._script_dirs else None)
        old = slot.machine
        if old is not None:
            self.emulation.machines.remove(old)
            slot.machine = None
        try:
            slot.machine = build_machine(self.emulation, platform, slot.name)
        except MetersimError:
            if old is not None:   # a bad addition leaves the machine as it was
                self.emulation.machines.append(old)
                slot.machine = old
            raise
        slot.parts = parts
        m = slot.machine
        return (f"{m.name}: {m.cpu.core} at {m.cpu.freq_hz / 1e6:g} MHz, "
                f"{len(m.peripherals)} peripherals")

    def _start_gdb(self, machine, port: int, autostart: bool) -> str:
        try:
            from metersim.frontends.gdb_stub import GdbServer
        except ImportError as exc:
            raise MonitorError(f"machine StartGdbServer: the GDB stub is not available ({exc})") from None
        try:
            server = GdbServer(self.emulation, machine, port, monitor=self)
        except TypeError:
            server = GdbServer(self.emulation, machine, port)
        server.start()
        self.gdb_servers.append(server)
        return f"{machine.name}: GDB server listening on port {getattr(server, 'port', port)}"

    def _clock_info(self, m) -> str:
        rates = getattr(m.clocks, "rates", None)
        if callable(rates):
            rates = rates()
        if not isinstance(rates, dict):
            rates = {k: m.clocks.rate_hz(k) for k in ("SYSCLK", "HCLK", "PCLK1", "PCLK2")}
        lines = [f"{m.name}: core {m.cpu.freq_hz / 1e6:g} MHz"]
        lines += [f"  {k}: {v / 1e6:g} MHz" for k, v in sorted(rates.items())]
        return "\n".join(lines)

    # -- sysbus -----------------------------------------------------------------------
    _SIZES = {"DoubleWord": 4, "Word": 2, "Byte": 1}
    _SYSBUS_METHODS = ("LoadELF", "LoadBinary", "ReadDoubleWord", "ReadWord", "ReadByte",
                       "WriteDoubleWord", "WriteWord", "WriteByte", "GetSymbolAddress",
                       "LogPeripheralAccess")

    def _cmd_sysbus(self, args: list[Token]) -> str:
        if not args:
            return self._members_text("sysbus", self._SYSBUS_METHODS)
        method, rest = args[0].value, args[1:]
        m = self.machine
        if method == "LoadELF":
            self._need(rest, 1, "sysbus LoadELF @path/to/firmware.elf", 3)
            return self._load_elf(m, self._path_arg(rest[0], "LoadELF"))
        if method == "LoadBinary":
            self._need(rest, 2, "sysbus LoadBinary @file.bin 0x08000000", 2)
            path = self._path_arg(rest[0], "LoadBinary")
            addr = self._int(rest[1], "LoadBinary address")
            data = path.read_bytes()
            m.sysbus.write_memory(addr, data)
            self._reset_if_bootable(m)
            return f"{m.name}: {len(data)} bytes at 0x{addr:08X}"
        if method.startswith("Read") and method[4:] in self._SIZES:
            size = self._SIZES[method[4:]]
            self._need(rest, 1, f"sysbus {method} 0x<address>", 1)
            addr = self._int(rest[0], method)
            try:
                value = m.sysbus.read_word(addr, size)
            except MetersimError as exc:
                raise MonitorError(f"sysbus {method} 0x{addr:08X}: {exc}") from None
            return f"0x{value:0{2 * size}X}"
        if method.startswith("Write") and method[5:] in self._SIZES:
            size = self._SIZES[method[5:]]
            self._need(rest, 2, f"sysbus {method} 0x<address> 0x<value>", 2)
            addr = self._int(rest[0], method)
            value = self._int(rest[1], f"{method} value")
            if not 0 <= value < (1 << (8 * size)) and not -(1 << (8 * size - 1)) <= value < 0:
                raise MonitorError(f"sysbus {method}: value {rest[1].text} does not fit in "
                                   f"{8 * size} bits")
            try:
                m.sysbus.write_word(addr, value, size)
            except MetersimError as exc:
                raise MonitorError(f"sysbus {method} 0x{addr:08X}: {exc}") from None
            return ""
        if method == "GetSymbolAddress":
            self._need(rest, 1, 'sysbus GetSymbolAddress "main"', 1)
            return f"0x{m.symbol(self._text(rest[0], method)):X}"
        if method == "LogPeripheralAccess":
            return ("note: sysbus LogPeripheralAccess is not supported by metersim: use "
                    "`logLevel 0 sysbus.<peripheral>` for the model's own debug log")
        raise MonitorError(f"sysbus has no command {method!r}; expected one of "
                           f"{', '.join(self._SYSBUS_METHODS)}")

    def _load_elf(self, m, path: Path) -> str:
        from metersim.engine.platform_builder import load_firmware

        fw = load_firmware(m, path)
        slot = self._slots.get(m.name)
        if slot is not None:
            slot.attached = True
        entry = getattr(fw, "entry", None)
        return (f"{m.name}: loaded {path.name}" + (f", entry 0x{entry:08X}" if entry is not None else "")
                + f", PC 0x{m.cpu.pc:08X}")

    @staticmethod
    def _vector_sp(m) -> int | None:
        boot = m.boot_address if m.boot_address is not None else 0
        try:
            return int.from_bytes(m.sysbus.read_memory(boot, 4), "little")
        except MetersimError:
            return None

    def _reset_if_bootable(self, m) -> None:
        if self._vector_sp(m) not in (None, 0, 0xFFFFFFFF):
            m.finalize()
            m.reset_cpu_only()
            slot = self._slots.get(m.name)
            if slot is not None:
                slot.attached = True

    # -- cpu --------------------------------------------------------------------------
    _CPU_METHODS = ("PC", "Step", "GetRegister", "SetRegister", "VectorTableOffset", "IsHalted",
                    "Reset", "PerformanceInMips")

    def _cmd_cpu(self, args: list[Token]) -> str:
        if not args:
            return self._members_text("cpu", self._CPU_METHODS)
        from unicorn import arm_const as A

        method, rest = args[0].value, args[1:]
        m = self.machine
        cpu = m.cpu
        if method == "PC":
            self._need(rest, 0, "cpu PC [0x<new value>]", 1)
            if rest:
                cpu.set_reg(A.UC_ARM_REG_PC, self._int(rest[0], "cpu PC") | 1)
                cpu.halted = False
                return ""
            return f"0x{cpu.pc & ~1:X}"
        if method == "Step":
            self._need(rest, 0, "cpu Step [count]", 1)
            n = self._int(rest[0], "cpu Step") if rest else 1
            if n <= 0:
                raise MonitorError(f"cpu Step: expected a positive count, got {n}")
            self._check_ready()
            target = cpu.time_at_cycles(cpu.cycles_now() + n)
            self.emulation.run_until_time(target)
            return f"0x{cpu.pc & ~1:X}"
        if method in ("GetRegister", "SetRegister"):
            self._need(rest, 1 if method == "GetRegister" else 2,
                       f"cpu {method} <number or name (R0..R15, SP, LR, PC)>"
                       + (" <value>" if method == "SetRegister" else ""), 2)
            reg = self._register(rest[0])
            if method == "GetRegister":
                value = cpu.pc & ~1 if reg == A.UC_ARM_REG_PC else cpu.reg(reg)
                return f"0x{value:X}"
            value = self._int(rest[1], "SetRegister value")
            cpu.set_reg(reg, value | 1 if reg == A.UC_ARM_REG_PC else value)
            return ""
        if method == "VectorTableOffset":
            if not rest:
                return f"0x{(m.boot_address or 0):X}"
            m.boot_address = self._int(rest[0], "VectorTableOffset")
            self._reset_if_bootable(m)
            return ""
        if method == "IsHalted":
            return str(bool(cpu.halted or cpu.fault is not None)).lower()
        if method == "Reset":
            m.reset_cpu_only()
            return ""
        if method == "PerformanceInMips":
            return (f"note: metersim runs {m.name}'s core at the clock its RCC sets, one cycle per "
                    f"instruction (now {cpu.freq_hz / 1e6:g} MHz): PerformanceInMips ignored")
        raise MonitorError(f"cpu has no command {method!r}; expected one of "
                           f"{', '.join(self._CPU_METHODS)}")

    def _register(self, tok: Token) -> int:
        from unicorn import arm_const as A

        if tok.kind == "number":
            n = self._int(tok, "register")
            if not 0 <= n <= 15:
                raise MonitorError(f"register number {n}: expected 0..15")
            return A.UC_ARM_REG_PC if n == 15 else A.UC_ARM_REG_SP if n == 13 else \
                A.UC_ARM_REG_LR if n == 14 else getattr(A, f"UC_ARM_REG_R{n}")
        name = self._text(tok, "register").lower()
        if name in _CPU_REGS:
            return self._register(Token("number", _CPU_REGS[name], name))
        reg = getattr(A, f"UC_ARM_REG_{name.upper()}", None)
        if reg is None:
            raise MonitorError(f"unknown register {tok.text!r}; expected R0..R15, SP, LR, PC, "
                               "XPSR, MSP, PSP, CONTROL, PRIMASK, BASEPRI or FAULTMASK")
        return reg

    # -- emulation --------------------------------------------------------------------
    _EMULATION_METHODS = ("RunFor", "SetSeed", "SetGlobalQuantum", "GetTimeSourceInfo",
                          "CreateUartHub", "SetGlobalAdvanceImmediately", "SetGlobalSerialExecution")

    def _cmd_emulation(self, args: list[Token]) -> str:
        if not args:
            return self._members_text("emulation", self._EMULATION_METHODS)
        method, rest = args[0].value, args[1:]
        emu = self.emulation
        if method == "RunFor":
            self._need(rest, 1, 'emulation RunFor "00:00:05"', 1)
            ps = self._duration(rest[0], "RunFor")
            self.run_for(ps)
            return ""
        if method == "SetSeed":
            self._need(rest, 1, "emulation SetSeed <integer>", 1)
            emu.seed = self._int(rest[0], "SetSeed")
            built = [s.name for s in self._slots.values() if s.machine is not None]
            return (f"note: the seed applies to machines built after this command "
                    f"({', '.join(built)} keep their seed)") if built else ""
        if method == "SetGlobalQuantum":
            self._need(rest, 1, 'emulation SetGlobalQuantum "0.0001"', 1)
            q = self._duration(rest[0], "SetGlobalQuantum")
            if q <= 0:
                raise MonitorError("SetGlobalQuantum: the quantum must be positive")
            emu.quantum_ps = q
            return ""
        if method == "GetTimeSourceInfo":
            return self._time_source_info()
        if method == "CreateUartHub":
            self._need(rest, 1, 'emulation CreateUartHub "name"', 2)
            name = self._text(rest[0], "CreateUartHub")
            if name in self.hubs:
                raise MonitorError(f"a UART hub named {name!r} exists already")
            self.hubs[name] = UartHub(name)
            return ""
        if method == "SetGlobalAdvanceImmediately":
            self._need(rest, 1, "emulation SetGlobalAdvanceImmediately true|false", 1)
            if rest[0].kind != "bool":
                raise MonitorError(f"SetGlobalAdvanceImmediately: expected true or false, got "
                                   f"{rest[0].text!r}")
            self.advance_immediately = bool(rest[0].value)
            return ""
        if method == "SetGlobalSerialExecution":
            return "note: metersim always runs the machines one after the other within a quantum"
        raise MonitorError(f"emulation has no command {method!r}; expected one of "
                           f"{', '.join(self._EMULATION_METHODS)}")

    def _time_source_info(self) -> str:
        emu = self.emulation
        virt = emu.now_ps
        host_s = emu.wall_s
        load = host_s / (virt / PS_PER_S) if virt else 0.0
        return "\n".join([
            f"Elapsed Virtual Time: {format_hms(virt)}",
            f"Elapsed Host Time: {format_hms(round(host_s * PS_PER_S))}",
            f"Cumulative load: {load:.3f}",
            f"State: {'Started' if self.started else 'Paused'}",
            f"Advance immediately: {self.advance_immediately}",
            f"Quantum: {format_hms(emu.quantum_ps)}",
            f"Seed: {emu.seed}",
        ])

    # -- connector, hubs, analyzers ---------------------------------------------------
    def _cmd_connector(self, args: list[Token]) -> str:
        usage = "connector Connect|Disconnect sysbus.<uart> <hub name>"
        self._need(args, 3, usage, 3)
        action = args[0].value
        if action not in ("Connect", "Disconnect"):
            raise MonitorError(f"connector: expected Connect or Disconnect, got {args[0].text!r}")
        pname = self._text(args[1], "connector")
        hub_name = self._text(args[2], "connector")
        hub = self.hubs.get(hub_name)
        if hub is None:
            raise MonitorError(f"connector {action}: no hub named {hub_name!r}; create one with "
                               f'emulation CreateUartHub "{hub_name}" (hubs: '
                               f"{', '.join(self.hubs) or 'none'})")
        m, name, uart = self._peripheral(pname)
        if action == "Connect":
            hub.attach(f"{m.name}:{name}", uart)
            self._slots[m.name].attached = True
            return ""
        if not hub.detach(uart):
            raise MonitorError(f"connector Disconnect: {m.name}:{name} is not connected to "
                               f"{hub_name!r}")
        return ""

    def _cmd_showAnalyzer(self, args: list[Token]) -> str:
        from metersim.orchestration.uart_capture import capture_uart

        self._need(args, 1, "showAnalyzer sysbus.<uart>", 3)
        m, name, uart = self._peripheral(self._text(args[0], "showAnalyzer"))
        if not hasattr(uart, "on_byte"):
            raise MonitorError(f"showAnalyzer: {name} ({type(uart).__name__}) is not a UART")
        key = (m.name, name)
        if key in self.analyzers:
            return ""
        label = f"[{m.name}:{name}]"
        self.analyzers[key] = capture_uart(m, name, echo=lambda _mn, line: self.out(f"{label} {line}"))
        self._slots[m.name].attached = True
        return ""

    # -- running ------------------------------------------------------------------------
    def _check_ready(self) -> None:
        if not self._slots and not self.emulation.machines:
            raise MonitorError("there is no machine to run; create one with `mach create` and "
                               "load a platform and firmware")
        for slot in self._slots.values():
            if slot.machine is None:
                raise MonitorError(f"machine {slot.name!r} has no platform yet; load one with "
                                   "`machine LoadPlatformDescription @file.repl`")
            sp = self._vector_sp(slot.machine)
            if sp in (None, 0, 0xFFFFFFFF) and slot.machine.firmware is None:
                raise MonitorError(f"machine {slot.name!r} has no firmware to run; load it with "
                                   "`sysbus LoadELF @path/to/firmware.elf`")

    def _cmd_start(self, args: list[Token]) -> str:
        self._check_ready()
        self.started = True
        for fn in list(self.on_start):
            fn()
        return "Starting emulation..."

    def _cmd_pause(self, args: list[Token]) -> str:
        self.started = False
        self.emulation.request_stop()
        for fn in list(self.on_pause):
            fn()
        return f"Pausing emulation... (virtual time {format_hms(self.emulation.now_ps)})"

    def _cmd_sleep(self, args: list[Token]) -> str:
        self._need(args, 1, "sleep <seconds of host time>", 1)
        if args[0].kind != "number":
            raise MonitorError(f"sleep: expected a number of seconds, got {args[0].text!r}")
        self.lock.release()
        try:
            time.sleep(float(args[0].value))
        finally:
            self.lock.acquire()
        return ""

    # -- scripts, macros, variables ----------------------------------------------------
    def _cmd_include(self, args: list[Token]) -> str:
        self._need(args, 1, "include @path/to/script.resc", 1)
        path = self._path_arg(args[0], "include")
        return self.execute_text(path.read_text(encoding="utf-8"), source=str(path),
                                 base_dir=path.parent, echo=False)

    def _cmd_macro(self, args: list[Token]) -> str:
        self._need(args, 2, 'macro <name> """ commands """', 2)
        if args[0].kind != "name" or args[1].kind != "string":
            raise MonitorError('usage: macro <name> """ commands """ (a name, then a string)')
        self.macros[args[0].value] = str(args[1].value)
        return ""

    def _cmd_runMacro(self, args: list[Token]) -> str:
        self._need(args, 1, "runMacro $name", 1)
        if args[0].kind not in ("var", "name"):
            raise MonitorError(f"runMacro: expected $name, got {args[0].text!r}")
        return self._run_macro_text(str(args[0].value))

    def _run_macro_text(self, name: str) -> str:
        if name not in self.macros:
            raise MonitorError(f"no macro named {name!r}; define it with macro {name} "
                               '""" ... """ (macros: ' + (", ".join(self.macros) or "none") + ")")
        return self.execute_text(self.macros[name], source=f"macro {name}", echo=False)

    def _cmd_using(self, args: list[Token]) -> str:
        self._need(args, 1, "using sysbus", 1)
        if args[0].value != "sysbus":
            raise MonitorError(f"using: only `using sysbus` is supported, got {args[0].text!r}")
        self._using_sysbus = True
        return ""

    def _cmd_quit(self, args: list[Token]) -> str:
        self.quit_requested = True
        self.started = False
        return ""

    def _cmd_Clear(self, args: list[Token]) -> str:
        """Drop every machine, hub and analyzer and start a new emulation (Renode's `Clear`)."""
        self.close()
        self.emulation = Emulation(seed=self.emulation.seed, quantum=self.emulation.quantum_ps)
        self._slots.clear()
        self._current = None
        self.hubs.clear()
        self.analyzers.clear()
        self.started = False
        return ""

    # -- logging ------------------------------------------------------------------------
    def _cmd_logLevel(self, args: list[Token]) -> str:
        logger = logging.getLogger("metersim")
        if self._log_filter is None:
            self._log_filter = _LogFilter()
            self._log_filter.global_level = logger.getEffectiveLevel()
            logger.addFilter(self._log_filter)
        flt = self._log_filter
        if not args:
            lines = [f"global: {_LEVEL_NAMES.get(flt.global_level, flt.global_level)}"]
            lines += [f"{k}: {_LEVEL_NAMES.get(v, v)}" for k, v in sorted(flt.per_source.items())]
            return "\n".join(lines)
        self._need(args, 1, "logLevel <-1..3> [sysbus.<peripheral>]", 2)
        n = self._int(args[0], "logLevel")
        if n not in LOG_LEVELS:
            raise MonitorError(f"logLevel: expected -1 (noisy), 0 (debug), 1 (info), 2 (warning) "
                               f"or 3 (error), got {n}")
        level = LOG_LEVELS[n]
        if len(args) == 2:
            m, name, _ = self._peripheral(self._text(args[1], "logLevel"))
            flt.per_source[f"{m.name}/{name}"] = level
        else:
            flt.global_level = level
        logger.setLevel(min([flt.global_level, *flt.per_source.values()]))
        return ""

    # -- peripherals ----------------------------------------------------------------------
    def _peripheral_target(self, name: str):
        """What a dotted name in command position refers to, or None."""
        parts = name.split(".")
        if parts[0] == "sysbus" or self._using_sysbus:
            if parts[0] == "sysbus":
                parts = parts[1:]
            if parts == ["cpu"]:
                return "cpu"
            if parts:
                slot = self._slots.get(self._current) if self._current else None
                if slot is not None and slot.machine is not None and \
                        parts[-1] in slot.machine.peripherals:
                    return slot.machine.peripherals[parts[-1]]
                if name.startswith("sysbus."):
                    self._peripheral(name)   # raises with the list of names
        return None

    def _peripheral(self, name: str):
        """(machine, short name, model) of `sysbus.<name>` on the current machine."""
        m = self.machine
        parts = name.split(".")
        if parts[0] == "sysbus":
            parts = parts[1:]
        elif not self._using_sysbus and parts[0] not in m.peripherals:
            raise MonitorError(f"{name!r}: expected a peripheral path like sysbus.usart1")
        if not parts or parts[-1] not in m.peripherals:
            raise MonitorError(f"{m.name} has no peripheral {name!r}; it has: "
                               f"{', '.join(sorted(m.peripherals))}")
        return m, parts[-1], m.peripherals[parts[-1]]

    def _call_object(self, path: str, target, args: list[Token]) -> str:
        if target == "cpu":
            return self._cmd_cpu(args)
        if not args:
            return self._members_text(path, self._model_members(target))
        if args[0].kind != "name":
            raise MonitorError(f"{path}: expected a method or property name, got {args[0].text!r}")
        member = args[0].value
        values = [self._plain(t) for t in args[1:]]
        if member in ("WriteChar", "WriteLine") and hasattr(target, "write_bytes"):
            if member == "WriteChar":
                data = bytes([v & 0xFF if isinstance(v, int) else ord(str(v)[0]) for v in values])
            else:
                data = (" ".join(str(v) for v in values) + "\r").encode()
            target.write_bytes(data)
            return ""
        attr = camel_to_snake(member)
        if not hasattr(target, attr) or attr.startswith("_"):
            raise MonitorError(f"{path} ({type(target).__name__}) has no method or property "
                               f"{member!r} (looked for {attr!r}); it has: "
                               f"{', '.join(self._model_members(target)) or 'nothing public'}")
        value = getattr(target, attr)
        if callable(value):
            try:
                result = value(*values)
            except TypeError as exc:
                raise MonitorError(f"{path} {member}: {exc}") from None
        elif values:
            if len(values) != 1:
                raise MonitorError(f"{path} {member}: a property takes one value, got {len(values)}")
            try:
                setattr(target, attr, values[0])
            except (AttributeError, TypeError, ValueError) as exc:
                raise MonitorError(f"{path} {member}: cannot set: {exc}") from None
            return ""
        else:
            result = value
        if result is None:
            return ""
        if isinstance(result, bool):
            return str(result)
        if isinstance(result, int):
            return f"0x{result:X}" if result > 9 else str(result)
        return str(result)

    @staticmethod
    def _plain(tok: Token):
        return str(tok.value) if tok.kind == "path" else tok.value

    @staticmethod
    def _model_members(model) -> list[str]:
        names = []
        for attr in dir(model):
            if attr.startswith("_") or attr in ("ctx", "read", "write", "size", "type_names"):
                continue
            try:
                value = getattr(type(model), attr, None)
            except Exception:  # noqa: BLE001 - descriptors may fail on the class
                value = None
            if callable(value) or isinstance(value, property) or attr in vars(model):
                names.append(snake_to_camel(attr))
        return sorted(set(names))

    @staticmethod
    def _members_text(path: str, members) -> str:
        return f"{path}: " + ", ".join(members)

    def _cmd_peripherals(self, args: list[Token]) -> str:
        return peripherals_tree(self.machine)

    # -- help -------------------------------------------------------------------------------
    def _cmd_help(self, args: list[Token]) -> str:
        if args:
            name = self.ALIASES.get(str(args[0].value), str(args[0].value))
            detail = HELP.get(name)
            if detail is None:
                raise MonitorError(f"help: no command {args[0].text!r}; `help` lists them")
            return f"{name}: {detail}"
        width = max(len(k) for k in HELP)
        return "\n".join(f"  {k.ljust(width)}  {v.splitlines()[0]}" for k, v in HELP.items())

    # -- completion -------------------------------------------------------------------------
    def completions(self, line: str) -> list[str]:
        """Words that may follow `line` (the text before the cursor): commands first, then
        methods of the object, peripheral names after `sysbus.`."""
        words = line.split(" ")
        current = words[-1]
        if len(words) == 1:
            cands = list(self.TOP) + list(self.ALIASES)
            if current.startswith("sysbus.") or self._using_sysbus:
                cands += self._peripheral_words()
            if current.startswith("sysbus."):
                cands = self._peripheral_words()
            return sorted(c for c in set(cands) if c.startswith(current))
        head = words[0]
        methods = {"machine": self._MACHINE_METHODS, "sysbus": self._SYSBUS_METHODS,
                   "cpu": self._CPU_METHODS, "emulation": self._EMULATION_METHODS,
                   "mach": ("create", "set", "rem", "clear"),
                   "connector": ("Connect", "Disconnect")}
        if len(words) == 2 and head in methods:
            return sorted(c for c in methods[head] if c.startswith(current))
        if current.startswith("sysbus.") or head in ("showAnalyzer", "logLevel", "connector"):
            return sorted(c for c in self._peripheral_words() if c.startswith(current))
        if len(words) == 2 and head.startswith("sysbus."):
            target = self._peripheral_target(head) if self._current else None
            if target is not None and target != "cpu":
                return sorted(c for c in self._model_members(target) if c.startswith(current))
        return []

    def _peripheral_words(self) -> list[str]:
        slot = self._slots.get(self._current) if self._current else None
        if slot is None or slot.machine is None:
            return []
        return ["sysbus.cpu"] + [f"sysbus.{n}" for n in slot.machine.peripherals]


HELP = {
    "mach": 'machines: mach create ["name"] | mach set "name"|index | mach rem "name" | mach clear',
    "machine": "machine LoadPlatformDescription @file.repl | LoadPlatformDescriptionFromString "
               "\"...\" | Reset | StartGdbServer <port>",
    "sysbus": "sysbus LoadELF @f.elf | LoadBinary @f.bin 0xaddr | ReadDoubleWord/ReadWord/ReadByte "
              "0xaddr | WriteDoubleWord/WriteWord/WriteByte 0xaddr 0xvalue | GetSymbolAddress \"sym\"",
    "cpu": "cpu PC [0xvalue] | Step [n] | GetRegister r | SetRegister r v | VectorTableOffset 0xaddr",
    "emulation": 'emulation RunFor "00:00:05" | SetSeed n | SetGlobalQuantum "0.0001" | '
                 'GetTimeSourceInfo | CreateUartHub "name"',
    "connector": "connector Connect|Disconnect sysbus.<uart> <hub>: join a UART to a hub",
    "showAnalyzer": "showAnalyzer sysbus.<uart>: print the UART's lines as [machine:uart] line",
    "start": "start (s): run the emulation (headless: for the duration given to `metersim run`)",
    "pause": "pause (p): stop the emulation",
    "include": "include @file.resc (i): run another script",
    "logLevel": "logLevel <-1..3> [sysbus.<peripheral>]: -1 noisy, 0 debug, 1 info, 2 warning, 3 error",
    "peripherals": "peripherals: the current machine's devices with their addresses",
    "macro": 'macro <name> """ commands """: define a macro (`reset` also runs after machine Reset)',
    "runMacro": "runMacro $name: run a macro",
    "using": "using sysbus: name peripherals without the sysbus. prefix",
    "sleep": "sleep <seconds>: wait in host time",
    "Clear": "Clear: remove all machines and start a new emulation",
    "help": "help [command]",
    "quit": "quit (q): leave the console / stop the script",
    "$name": '$name = "value" | $name ?= "default" | $name = @path: variables',
    "sysbus.<p>": "sysbus.<peripheral> Method args: call a model method (snake_case of Method) or "
                  "read/set a property",
}


def _type_label(model) -> str:
    names = getattr(type(model), "type_names", None)
    return names[0] if names else type(model).__name__


def peripherals_tree(machine) -> str:
    """Renode's `peripherals` listing: sysbus and its children with their address ranges;
    devices on other buses (SPI, I2C, GPIO) nested under their parent."""
    platform = getattr(machine, "platform", None)
    ranges: dict[str, list[tuple[int, int]]] = {}
    kinds: dict[str, str] = {}
    for mp in machine.sysbus.mappings:
        if mp.kind == "bitband":
            key = mp.name
        else:
            key = mp.name.split("@")[0].split(".")[0] if mp.name.split("@")[0] in machine.peripherals \
                or mp.name.split(".")[0] in machine.peripherals else mp.name
        kinds[key] = mp.kind
        starts = [mp.base] + list(getattr(mp.model, "aliases", []) or [])
        ranges.setdefault(key, []).extend((s, mp.size) for s in starts)
    parent_of: dict[str, str] = {}
    where_on_parent: dict[str, str] = {}
    types: dict[str, str] = {}
    if platform is not None:
        for e in platform.entries.values():
            if e.type_name:
                types[e.name] = e.type_name
            for r in e.registrations:
                if r.parent != "sysbus" and r.parent in platform.entries:
                    parent_of[e.name] = r.parent
                    where_on_parent[e.name] = f"@ {r.parent}" + (
                        f" 0x{r.address:X}" if r.address is not None else "")
                break
    children: dict[str, list[str]] = {}
    top: list[str] = []
    names = set(machine.peripherals) | set(ranges)
    for n in names:
        p = parent_of.get(n)
        if p is not None and p in names:
            children.setdefault(p, []).append(n)
        else:
            top.append(n)

    def sort_key(n: str):
        r = ranges.get(n)
        return (0, min(b for b, _ in r)) if r else (1, n)

    lines = [f"Available peripherals of {machine.name}:", "  sysbus (SystemBus)"]

    def describe(n: str) -> str:
        model = machine.peripherals.get(n)
        kind = kinds.get(n)
        if n in types:
            t = types[n]
        elif kind == "bitband":
            t = "Miscellaneous.BitBanding"
        elif kind == "tag":
            t = "tagged"
        else:
            t = _type_label(model) if model is not None else "memory"
        if kind == "tag" and n in types:
            t += ", not modelled: tagged"
        text = f"{n} ({t})"
        if n in ranges:
            text += " " + " ".join(f"<0x{b:08X}, 0x{b + s - 1:08X}>" for b, s in sorted(ranges[n]))
        elif n in where_on_parent:
            text += " " + where_on_parent[n]
        return text

    def walk(items: list[str], prefix: str) -> None:
        items = sorted(items, key=sort_key)
        for i, n in enumerate(items):
            last = i == len(items) - 1
            lines.append(f"{prefix}{'└── ' if last else '├── '}{describe(n)}")
            if n in children:
                walk(children[n], prefix + ("    " if last else "│   "))

    lines.append(f"  ├── cpu (CPU.CortexM, {machine.cpu.core}, {machine.cpu.freq_hz / 1e6:g} MHz)")
    walk(top, "  ")
    return "\n".join(lines)


# ======================================================================== headless runs
def main_run(args) -> int:
    """`metersim run SCENE.resc [--for 5s] [--until TEXT]`: run the scene, then, when it said
    `start` (or --for was given), run for --for of virtual time (default 1 s), or until a
    complete line holding TEXT appears on an analyzed UART (on the machines' console UARTs when none is analyzed).

    args: scene, duration (None = not given), until, seed, execute (monitor commands run
    before the scene, e.g. `$bin=@build/fw/f413rg/hello.elf`). MetersimErrors propagate (the
    CLI maps them to exit codes); returns 0."""
    from metersim.orchestration.uart_capture import capture_uart

    scene = getattr(args, "scene", None) or getattr(args, "elf", None)
    duration = getattr(args, "duration", None)
    until = getattr(args, "until", None)
    mon = Monitor(seed=getattr(args, "seed", 0) or 0)
    try:
        for cmd in getattr(args, "execute", None) or []:
            out = mon.execute(cmd, where="-e")
            if out:
                mon.out(out)
        mon.execute_script(scene)
        emu = mon.emulation
        if mon.quit_requested:
            return 0
        if mon.started or duration is not None:
            span = duration or "1s"
            if until:
                caps = list(mon.analyzers.values()) or [capture_uart(m) for m in emu.machines]
                mon._check_ready()
                seen = [0] * len(caps)

                def line_with_text() -> bool:   # complete lines only, so they are printed too
                    for i, c in enumerate(caps):
                        new, seen[i] = c.lines[seen[i]:], len(c.lines)
                        if any(until in ln.text for ln in new):
                            return True
                    return False

                emu.run_until(line_with_text, timeout=span,
                              what=f"{until!r} on {', '.join(c.machine_name + ':' + c.uart_name for c in caps)}")
            else:
                mon.run_for(span)
        elif emu.now_ps == 0:
            mon.out("note: the scene did not `start` the emulation, nothing ran (add `start`, "
                    "or pass --for)")
        mon.out(emu.summary())
        return 0
    finally:
        mon.close()


def build_run_parser():
    import argparse

    p = argparse.ArgumentParser(prog="metersim run", description="Run a .resc scene headless.")
    p.add_argument("scene", help=".resc scene")
    p.add_argument("--for", dest="duration", default=None,
                   help="virtual time to run after the scene's `start` (default 1s)")
    p.add_argument("--until", help="stop when this text appears on an analyzed UART")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-e", "--execute", action="append", metavar="COMMAND",
                   help="monitor command to run before the scene, e.g. '$bin=@fw.elf'")
    return p


if __name__ == "__main__":
    import sys

    from metersim.errors import EmulationTimeout, FirmwareFault

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    try:
        sys.exit(main_run(build_run_parser().parse_args()))
    except FirmwareFault as exc:
        print(exc, file=sys.stderr)
        sys.exit(4)
    except EmulationTimeout as exc:
        print(f"timeout: {exc}", file=sys.stderr)
        sys.exit(2)
    except MetersimError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(3)
