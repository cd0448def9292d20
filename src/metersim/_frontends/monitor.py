"""The Renode-compatible monitor: the command language of `.resc` scenes, of the console and
of GDB's `monitor` command.

    from metersim._frontends.monitor import Monitor
    mon = Monitor()
    mon.execute_script("platforms/scenes/hello_f413.resc")
    mon.execute('emulation RunFor "00:00:02"')
    print(mon.execute("sysbus ReadDoubleWord 0x08000000"))

Followed: renode-docs `basic/monitor-syntax.md` (syntax, variables, macros, `include`),
`basic/machines.md` (`mach`), `networking/machine-to-machine-connections.md` (UART hubs),
`advanced/time_framework.md` (RunFor, quantum, GetTimeSourceInfo) and the upstream scenes in
renode `scripts/single-node/*.resc`. Syntax: monitor_syntax.py. The commands are handlers in
monitor_commands.py, each registered with its signature (its one argument parser) and help
(monitor_registry.py); `help` lists them, `help <command>` gives one's usage. A front end adds
its own with `Monitor.register` (the console's `uart attach`).
`sysbus.<peripheral> Method args` calls the model's snake_case method (or reads/sets a
property), the way Renode's reflection does on its C# models.

Headless semantics: `start` marks the emulation as running; `metersim run SCENE.resc --for 5s`
then runs it for the CLI's duration after the scene (`main_run`). `emulation RunFor` runs at
once. `showAnalyzer` prints each complete line of that UART as `[machine:uart] line`.

Differences from Renode: machines are built when their platform description is loaded (a
second description before the firmware rebuilds the machine with both merged, after it is an
error); `cpu PerformanceInMips`, `emulation SetGlobalAdvanceImmediately` and similar tuning
commands are accepted with a note (the core runs at the RCC clock, one cycle per instruction);
`clear` asks before removing machines (scripts write `clear --force`); no snapshots
(`Save`/`Load`). Renode's further commands (include of .repl/.py, set/if, python, hooks, PyDev,
socket terminals, LoadHEX ...) are in monitor_renode.py; `python` runs CPython, not IronPython
(a Python 2 `print x` is read as `print(x)`). A platform piece loaded after the firmware is
built into the running machine. Commands on a peripheral the platform declares but metersim
does not model (a tagged window) give a note instead of failing. Variables: `$global.x` and
`$x` are one variable (Renode keeps per-machine ones too).
"""

from __future__ import annotations

import difflib
import logging
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from metersim._engine.emulation import Emulation
from metersim._engine.sysbus import TaggedRegion
from metersim._errors import MetersimError, SetupError
from metersim._frontends import monitor_commands  # noqa: F401 - registers the commands
from metersim._frontends import monitor_renode  # noqa: F401 - registers Renode's further commands
from metersim._frontends.monitor_commands import format_hms  # noqa: F401 - public helper
from metersim._frontends.monitor_registry import COMMANDS, Command, free_name
from metersim._frontends.monitor_syntax import MonitorError, Token, statements, tokenize
from metersim._frontends.renode_binaries import is_url, resolve_binary
from metersim._resources import data_root, extra_search_paths, platforms_dir
from metersim._units import parse_time_ps


log = logging.getLogger("metersim.monitor")

#: Renode log levels (`logLevel n`) to Python's.
LOG_LEVELS = {-1: 5, 0: logging.DEBUG, 1: logging.INFO, 2: logging.WARNING, 3: logging.ERROR}
_LEVEL_NAMES = {5: "NOISY", logging.DEBUG: "DEBUG", logging.INFO: "INFO",
                logging.WARNING: "WARNING", logging.ERROR: "ERROR"}


def default_search_paths() -> list[Path]:
    """Where `@file` paths resolve after the script's folder and the current directory: the
    folders of METERSIM_SEARCH_PATH (a Renode tree, for its scripts and platforms), then the
    folder holding metersim's own `platforms/`, then `platforms/` itself (Renode-compatible
    `scripts/pydev/*.py` live there)."""
    return extra_search_paths() + [data_root(), platforms_dir()]


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
    """Runs monitor commands against one Emulation (see the module docstring).

    `out` receives output produced outside a command's return value (script echo, analyzer
    lines). `confirm(question) -> bool`, when set (the console sets it), is asked before a
    command destroys state (`clear`); without it such commands need their explicit option.
    `started` is the run state the user asked for (`start`/`pause`); `holders` are debuggers
    that hold the emulation halted meanwhile (a GDB client attached): a runner advances time
    only when `running` is true."""

    def __init__(self, emulation: Emulation | None = None, search_paths=None,
                 out: Callable[[str], None] | None = None, seed: int = 0):
        self.emulation = emulation if emulation is not None else Emulation(seed=seed)
        self.search_paths = [Path(p) for p in (search_paths if search_paths is not None
                                               else default_search_paths())]
        self.out = out if out is not None else (lambda text: print(text, flush=True))
        self.confirm: Callable[[str], bool] | None = None
        self.registry = COMMANDS.copy()
        self.lock = threading.RLock()
        self.variables: dict[str, Token] = {}
        self.macros: dict[str, str] = {}
        self.hubs: dict = {}
        self.analyzers: dict[tuple[str, str], Any] = {}   # (machine, uart) -> UartTester
        self.gdb_servers: list = []
        self.started = False
        self.holders: set = set()
        self.quit_requested = False
        self.advance_immediately = False
        self.using_sysbus = False
        self.on_start: list[Callable[[], None]] = []
        self.on_pause: list[Callable[[], None]] = []
        self.slots: dict[str, _Slot] = {}
        self.terminals: dict = {}
        self.testers: dict[str, Any] = {}        # named testers (emulation CreateLEDTester)
        self.extra_symbols: dict[str, list] = {}     # machine -> symbol tables (LoadSymbolsFrom)
        self.sd_cards: dict = {}     # (machine, name) -> (image, controller, size, persistent)
        self._python = None
        self.variables["CWD"] = Token("path", str(Path.cwd()), "@" + str(Path.cwd()))
        self._current: str | None = None
        self._script_dirs: list[Path] = []
        self._log_filter: _LogFilter | None = None
        for m in self.emulation.machines:
            self.slots[m.name] = _Slot(m.name, m, attached=True)
        if self.emulation.machines:
            self._current = self.emulation.machines[0].name

    # ==================================================================== public API
    @property
    def machine(self):
        """The current machine (built), or a MonitorError saying what is missing."""
        return self.built(self.slot())

    @property
    def current_machine_name(self) -> str | None:
        return self._current

    def machine_names(self) -> list[str]:
        return list(self.slots)

    def select(self, name: str | None) -> None:
        if name is not None and name not in self.slots:
            raise MonitorError(f"mach set: no machine named {name!r}; machines: "
                               f"{', '.join(self.slots) or 'none'}")
        self._current = name

    def register(self, cmd: Command) -> Command:
        """Add a command to this monitor only (a front end's own, e.g. the console's)."""
        return self.registry.add(cmd)

    @property
    def running(self) -> bool:
        """Started and not held by a debugger: a runner should advance time."""
        return self.started and not self.holders

    def hold(self, holder) -> None:
        self.holders.add(holder)

    def release(self, holder) -> None:
        self.holders.discard(holder)

    def execute(self, command: str, where: str = "monitor") -> str:
        """Run one statement; return what it prints. MonitorError (a SetupError) when the
        command is not understood, with what was expected; engine errors pass through."""
        with self.lock:
            return self._statement(command, where)

    def execute_script(self, path: str | Path, echo: bool = True) -> str:
        """Run a `.resc` file. Each command's output goes to `out` as it runs when `echo`;
        all of it is returned as well. `$ORIGIN` is the script's folder meanwhile."""
        p = self.resolve_path(str(path))
        old = self.variables.get("ORIGIN")
        self.variables["ORIGIN"] = Token("path", str(p.parent), "@" + str(p.parent))
        try:
            return self.execute_text(p.read_text(encoding="utf-8"), source=str(path),
                                     base_dir=p.parent, echo=echo)
        finally:
            if old is None:
                self.variables.pop("ORIGIN", None)
            else:
                self.variables["ORIGIN"] = old

    @property
    def python(self):
        """The monitor's Python namespace (metersim._frontends.monitor_python)."""
        if self._python is None:
            from metersim._frontends.monitor_python import MonitorPython
            self._python = MonitorPython(self)
        return self._python

    def symbol(self, machine, name: str) -> int:
        """A symbol's address from the loaded ELF or from `sysbus LoadSymbolsFrom` files."""
        tables = ([machine.firmware.symbols] if machine.firmware is not None else []) \
            + self.extra_symbols.get(machine.name, [])
        for table in tables:
            try:
                return table.lookup(name)
            except MetersimError:
                continue
        raise MonitorError(f"{machine.name}: no symbol {name!r} (load an ELF or `sysbus "
                           "LoadSymbolsFrom @file.elf` first)" if not tables else
                           f"{machine.name}: no symbol {name!r} in the loaded symbols")

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
                except SetupError as exc:
                    # a platform or file error: same kind, with the script line that caused it
                    if type(exc).__init__ is not Exception.__init__ or str(exc).startswith(source):
                        raise
                    raise type(exc)(f"{where}: {exc}") from exc
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
            self.check_ready()
            self.emulation.run_until_time(self.emulation.now_ps + ps)

    def run_macro(self, name: str) -> str:
        if name not in self.macros:
            raise MonitorError(f"no macro named {name!r}; define it with macro {name} "
                               '""" ... """ (macros: ' + (", ".join(self.macros) or "none") + ")")
        return self.execute_text(self.macros[name], source=f"macro {name}", echo=False)

    def close(self) -> None:
        """Stop GDB servers and remove the log filter this monitor installed."""
        for srv in self.gdb_servers:
            try:
                srv.stop()
            except Exception:  # noqa: BLE001 - closing best effort
                pass
        self.gdb_servers.clear()
        for term in self.terminals.values():
            term.close()
        self.terminals.clear()
        if self._log_filter is not None:
            logging.getLogger("metersim").removeFilter(self._log_filter)
            self._log_filter = None

    def clear(self) -> None:
        """Drop every machine, hub and analyzer and start a new emulation (Renode's `Clear`)."""
        self.close()
        q = self.emulation.quantum_ps
        self.emulation = Emulation(seed=self.emulation.seed,
                                   quantum=None if q is None else f"{q}ps")
        self.slots.clear()
        self._current = None
        self.hubs.clear()
        self.analyzers.clear()
        self.testers.clear()
        self.started = False

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
        reg = self.registry
        words = [t.value for t in tokens[:2] if t.kind == "name"]
        cmd, used = reg.find(words)
        head = reg.aliases().get(first.value, first.value)
        if reg.is_group(head) and (cmd is None or (used == 1 and len(tokens) > 1)):
            if len(tokens) == 1:
                return f"{head}: " + ", ".join(reg.methods(head))
            by_lower = {mth.lower(): mth for mth in reg.methods(head)}
            near = difflib.get_close_matches(str(tokens[1].value).lower(), list(by_lower), n=1)
            hint = f"; did you mean {head} {by_lower[near[0]]}?" if near else ""
            raise MonitorError(f"{head} has no command {tokens[1].text!r}{hint} (it has: "
                               f"{', '.join(reg.methods(head))})")
        if cmd is not None:
            rest = tokens[used:]
            args = cmd.parse(self, rest if cmd.raw else self._expand(rest))
            return cmd.handler(self, **args) or ""
        target = self._peripheral_target(first.value)
        if target is None:
            target = self.testers.get(first.value)
        if target is not None:
            return self._call_object(first.value, target, self._expand(tokens[1:])) or ""
        near = difflib.get_close_matches(first.value, reg.top_words() + list(reg.aliases()), n=3)
        if near:
            raise MonitorError(f"unknown command {first.value!r}; did you mean "
                               f"{', '.join(near)}? (`help` lists the commands)")
        raise MonitorError(f"unknown command or peripheral {first.value!r}; expected one of "
                           f"{', '.join(reg.top_words())} or a peripheral (sysbus.<name>); "
                           "`help` lists the commands, `peripherals` the devices")

    @staticmethod
    def var_key(name: str) -> str:
        """Variables live in one namespace: `$global.name` is `$name` (Renode keeps a global
        and a per-machine namespace; scripts that rely on the difference are not covered)."""
        return name[len("global."):] if name.startswith("global.") else name

    def set_variable(self, name: str, value: Token, only_if_unset: bool = False) -> None:
        key = self.var_key(name)
        if value.kind == "path" and "$" not in str(value.value):
            found = self._find_path(str(value.value))
            if found is not None:
                value = Token("path", str(found), value.text, value.column)
        if only_if_unset and key in self.variables:
            return
        self.variables[key] = value

    def _assign(self, tokens: list[Token], where: str) -> str:
        name, op = tokens[0].value, tokens[1].value
        rest = self._expand(tokens[2:])
        if len(rest) != 1:
            raise MonitorError(f"${name} {op} needs one value (a \"string\", a number or an "
                               f"@path), got {len(rest)}")
        self.set_variable(name, rest[0], only_if_unset=op == "?=")
        return ""

    def _expand(self, tokens: list[Token]) -> list[Token]:
        out = []
        for t in tokens:
            if t.kind == "var":
                key = self.var_key(str(t.value))
                if key not in self.variables:
                    raise MonitorError(f"variable ${t.value} is not set; set it first with "
                                       f"${t.value} = \"value\" (or ${t.value} ?= \"default\")")
                out.append(self.variables[key])
            elif t.kind == "path" and "$" in str(t.value):
                out.append(Token("path", self._expand_path(str(t.value)), t.text, t.column))
            elif t.kind == "subst":
                result = self._statement(str(t.value), "substitution").strip()
                tok = tokenize(result) if result else []
                out.append(tok[0] if len(tok) == 1 else Token("string", result, result, t.column))
            else:
                out.append(t)
        return out

    # ==================================================================== paths
    def _expand_path(self, text: str) -> str:
        """`$ORIGIN/dir/x.repl` with the variables' values put in."""
        def value(m: re.Match) -> str:
            key = self.var_key(m.group(1))
            if key not in self.variables:
                raise MonitorError(f"variable ${m.group(1)} is not set (in path {text!r})")
            return str(self.variables[key].value)
        return re.sub(r"\$([\w.]*\w)", value, text)

    def _find_path(self, text: str) -> Path | None:
        if is_url(text):
            return None      # fetched (or replaced) when used: resolve_path
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

    def resolve_path(self, text: str) -> Path:
        """A file named by an @path: relative to the script, the current directory or the
        search paths; a URL (`@https://...`) is replaced or downloaded (renode_binaries)."""
        if is_url(text):
            return resolve_binary(text)
        found = self._find_path(text)
        if found is None:
            dirs = ([str(self._script_dirs[-1])] if self._script_dirs else []) + [str(Path.cwd())] \
                + [str(d) for d in self.search_paths]
            raise MonitorError(f"file {text!r} not found (looked in: {', '.join(dict.fromkeys(dirs))})")
        return found

    # ==================================================================== machines
    def slot(self) -> _Slot:
        if self._current is None:
            if self.slots:
                raise MonitorError("no machine selected; use `mach set \"name\"` (machines: "
                                   f"{', '.join(self.slots)})")
            self.create_slot(None)
        return self.slots[self._current]

    @staticmethod
    def built(slot: _Slot):
        if slot.machine is None:
            raise MonitorError(f"machine {slot.name!r} has no platform yet; load one with "
                               "`machine LoadPlatformDescription @platforms/cpus/<part>.repl`")
        return slot.machine

    def create_slot(self, name: str | None) -> _Slot:
        if name is None:
            name = free_name("machine-", self.slots)
        if name in self.slots:
            raise MonitorError(f"a machine named {name!r} exists already")
        slot = self.slots[name] = _Slot(name)
        self._current = name
        return slot

    def remove_machine(self, slot: _Slot) -> None:
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
        del self.slots[slot.name]
        if self._current == slot.name:
            self._current = next(iter(self.slots), None)

    def load_platform(self, slot: _Slot, part: tuple[str, str]) -> str:
        from metersim._engine.platform_builder import build_machine
        from metersim._engine.repl import load_platform, parse_platform_string

        paths = [Path.cwd()] + ([self._script_dirs[-1]] if self._script_dirs else []) \
            + self.search_paths
        if slot.machine is not None:
            m = slot.machine
            if m.firmware is not None or slot.attached or self.emulation.now_ps > 0:
                return self._extend_platform(slot, part, paths)
        parts = slot.parts + [part]
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

    def _extend_platform(self, slot: _Slot, part: tuple[str, str], paths) -> str:
        """A platform piece for a machine already running or holding firmware: its new entries
        are built into the machine as it is (Renode adds them to the live machine too)."""
        from metersim._engine.platform_builder import extend_machine
        from metersim._engine.repl import load_platform, parse_platform_string

        m = slot.machine
        known = set(m.platform.entries) if getattr(m, "platform", None) is not None else set()
        known |= set(m.peripherals)
        base = self._script_dirs[-1] if self._script_dirs else None
        if part[0] == "file":
            piece = load_platform(part[1], paths, predeclared=known)
        else:
            piece = parse_platform_string(part[1], name="LoadPlatformDescriptionFromString",
                                          search_paths=paths, predeclared=known, base_dir=base)
        added = extend_machine(m, piece)
        slot.parts.append(part)
        return f"{m.name}: added {', '.join(added) or 'nothing'}"

    @staticmethod
    def _vector_sp(m) -> int | None:
        boot = m.boot_address if m.boot_address is not None else 0
        try:
            return int.from_bytes(m.sysbus.read_memory(boot, 4), "little")
        except MetersimError:
            return None

    def reset_if_bootable(self, m) -> None:
        if self._vector_sp(m) not in (None, 0, 0xFFFFFFFF):
            m.finalize()
            m.reset_cpu_only()
            slot = self.slots.get(m.name)
            if slot is not None:
                slot.attached = True

    def check_ready(self) -> None:
        if not self.slots and not self.emulation.machines:
            raise MonitorError("there is no machine to run; create one with `mach create` and "
                               "load a platform and firmware")
        for slot in self.slots.values():
            if slot.machine is None:
                raise MonitorError(f"machine {slot.name!r} has no platform yet; load one with "
                                   "`machine LoadPlatformDescription @file.repl`")
            sp = self._vector_sp(slot.machine)
            if sp in (None, 0, 0xFFFFFFFF) and slot.machine.firmware is None:
                raise MonitorError(f"machine {slot.name!r} has no firmware to run; load it with "
                                   "`sysbus LoadELF @path/to/firmware.elf`")

    def hub(self, name: str, action: str):
        hub = self.hubs.get(name)
        if hub is None:
            raise MonitorError(f"connector {action}: no hub named {name!r}; create one with "
                               f'emulation CreateUARTHub "{name}" (hubs: '
                               f"{', '.join(self.hubs) or 'none'})")
        return hub

    # ==================================================================== logging
    def set_log_level(self, level: int | None, peripheral: str | None) -> str:
        logger = logging.getLogger("metersim")
        if self._log_filter is None:
            self._log_filter = _LogFilter()
            self._log_filter.global_level = logger.getEffectiveLevel()
            logger.addFilter(self._log_filter)
        flt = self._log_filter
        if level is None:
            lines = [f"global: {_LEVEL_NAMES.get(flt.global_level, flt.global_level)}"]
            lines += [f"{k}: {_LEVEL_NAMES.get(v, v)}" for k, v in sorted(flt.per_source.items())]
            return "\n".join(lines)
        if level not in LOG_LEVELS:
            raise MonitorError(f"logLevel: expected -1 (noisy), 0 (debug), 1 (info), 2 (warning) "
                               f"or 3 (error), got {level}")
        if peripheral is not None:
            m, name, _ = self.peripheral(peripheral)
            flt.per_source[f"{m.name}/{name}"] = LOG_LEVELS[level]
        else:
            flt.global_level = LOG_LEVELS[level]
        logger.setLevel(min([flt.global_level, *flt.per_source.values()]))
        return ""

    # ==================================================================== peripherals
    def _peripheral_target(self, name: str):
        """What a dotted name in command position refers to, or None."""
        parts = name.split(".")
        slot = self.slots.get(self._current) if self._current else None
        bare = slot is not None and slot.machine is not None and parts[0] in slot.machine.peripherals
        if parts[0] == "sysbus" or self.using_sysbus or bare:   # Renode finds bare names too
            if parts[0] == "sysbus":
                parts = parts[1:]
            if parts == ["cpu"]:
                return "cpu"
            if parts:
                slot = self.slots.get(self._current) if self._current else None
                if slot is not None and slot.machine is not None and \
                        parts[-1] in slot.machine.peripherals:
                    return slot.machine.peripherals[parts[-1]]
                if name.startswith("sysbus."):
                    self.peripheral(name)   # raises with the list of names
        return None

    def peripheral(self, name: str):
        """(machine, short name, model) of `sysbus.<name>` on the current machine."""
        m = self.machine
        parts = name.split(".")
        if parts[0] == "sysbus":
            parts = parts[1:]
        elif not self.using_sysbus and parts[0] not in m.peripherals:
            raise MonitorError(f"{name!r}: expected a peripheral path like sysbus.usart1")
        if not parts or parts[-1] not in m.peripherals:
            raise MonitorError(f"{m.name} has no peripheral {name!r}; it has: "
                               f"{', '.join(sorted(m.peripherals))}")
        return m, parts[-1], m.peripherals[parts[-1]]

    def _call_object(self, path: str, target, args: list[Token]) -> str:
        if target == "cpu":
            return self._statement(" ".join(["cpu"] + [t.text for t in args]), path)
        if not args:
            return f"{path}: " + ", ".join(self._model_members(target))
        if args[0].kind != "name":
            raise MonitorError(f"{path}: expected a method or property name, got {args[0].text!r}")
        member = args[0].value
        slot = self.slots.get(self._current) if self._current else None
        if slot is not None and slot.machine is not None:
            note = self.unmodelled_note(slot.machine, path.split(".")[-1], target,
                                        f"{member} ignored")
            if note:
                return note
        values = [str(t.value) if t.kind == "path" else t.value for t in args[1:]]
        access = _ACCESS.fullmatch(member)
        if access is not None and hasattr(target, "read") and hasattr(target, "write"):
            return self._register_access(path, target, member, _WIDTHS[access.group(2)], values)
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
    def unmodelled_note(machine, name: str, model, what: str) -> str:
        """For a peripheral the platform declares but metersim does not model (a tagged
        window): the note a command on it gives instead of failing, since Renode would run it."""
        if not isinstance(model, TaggedRegion):
            return ""
        platform = getattr(machine, "platform", None)
        entry = platform.entries.get(name) if platform is not None else None
        if entry is None or entry.type_name is None:
            return ""
        return (f"note: {name} ({entry.type_name}) is not modelled by metersim (its registers "
                f"read as tagged): {what}")

    def _register_access(self, path: str, target, member: str, width: int, values: list) -> str:
        """`sysbus.usart1 ReadDoubleWord 0x0` / `WriteDoubleWord 0x4 0x1`: a bus access at an
        offset inside the peripheral, as the CPU would make it."""
        write = member.startswith("Write")
        need = 2 if write else 1
        if len(values) != need or not all(isinstance(v, int) for v in values):
            raise MonitorError(f"{path} {member}: expected <offset>{' <value>' if write else ''} "
                               f"as numbers, got {' '.join(map(str, values)) or 'nothing'}")
        offset = values[0]
        size = getattr(target, "size", None)
        if offset < 0 or (isinstance(size, int) and offset + width > size):
            raise MonitorError(f"{path} {member}: offset 0x{offset:X} is outside the peripheral "
                               f"(size 0x{size:X})")
        try:
            if write:
                target.write(offset, width, values[1] & ((1 << (8 * width)) - 1))
                return ""
            return f"0x{target.read(offset, width):0{2 * width}X}"
        except MetersimError as exc:
            raise MonitorError(f"{path} {member} 0x{offset:X}: {exc}") from None

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

    # ==================================================================== completion
    def completions(self, line: str) -> list[str]:
        """Words that may follow `line` (the text before the cursor): commands first, then
        methods of the object, peripheral names after `sysbus.`."""
        words = line.split(" ")
        current = words[-1]
        reg = self.registry
        if len(words) == 1:
            cands = reg.top_words() + list(reg.aliases())
            if current.startswith("sysbus."):
                cands = self._peripheral_words()
            elif self.using_sysbus:
                cands += self._peripheral_words()
            return sorted(c for c in set(cands) if c.startswith(current))
        head = reg.aliases().get(words[0], words[0])
        if len(words) == 2 and reg.is_group(head):
            return sorted(c for c in reg.methods(head) if c.startswith(current))
        if current.startswith("sysbus.") or head in ("showAnalyzer", "logLevel", "connector",
                                                     "uart"):
            return sorted(c for c in self._peripheral_words() if c.startswith(current))
        if len(words) == 2 and head.startswith("sysbus."):
            target = self._peripheral_target(head) if self._current else None
            if target is not None and target != "cpu":
                return sorted(c for c in self._model_members(target) if c.startswith(current))
        return []

    def _peripheral_words(self) -> list[str]:
        slot = self.slots.get(self._current) if self._current else None
        if slot is None or slot.machine is None:
            return []
        return ["sysbus.cpu"] + [f"sysbus.{n}" for n in slot.machine.peripherals]


_ACCESS = re.compile(r"(Read|Write)(Byte|Word|DoubleWord)")
_WIDTHS = {"Byte": 1, "Word": 2, "DoubleWord": 4}


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


def peripherals_export(machine) -> str:
    """`peripherals export @file`: a text map of the machine, under the header Renode's export
    starts with ("Peripheral Map 1.0"), then one peripheral a line, tab-separated: its name,
    its Renode type (as the platform names it) and its system-bus ranges or its parent."""
    platform = getattr(machine, "platform", None)
    ranges: dict[str, list[tuple[int, int]]] = {}
    for mp in machine.sysbus.mappings:
        key = mp.name.split("@")[0].split(".")[0]
        if key not in machine.peripherals and (platform is None or key not in platform.entries):
            key = mp.name
        ranges.setdefault(key, []).append((mp.base, mp.size))
    lines = ["Peripheral Map 1.0",
             f"# {machine.name}: name, Renode type, system-bus ranges or parent (tab-separated)"]
    entries = platform.entries.values() if platform is not None else []
    for e in sorted(entries, key=lambda e: (min((b for b, _ in ranges.get(e.name, [])),
                                                default=1 << 64), e.name)):
        if not e.type_name:
            continue
        where = " ".join(f"<0x{b:08X}, 0x{b + n - 1:08X}>" for b, n in sorted(ranges.get(e.name, [])))
        if not where:
            where = next((f"@ {r.parent}" for r in e.registrations), "")
        lines.append(f"{e.name}\t{e.type_name}\t{where}")
    return "\n".join(lines) + "\n"


# ======================================================================== headless runs
def main_run(args) -> int:
    """`metersim run SCENE.resc [--for 5s] [--until TEXT]`: run the scene, then, when it said
    `start` (or --for was given), run for --for of virtual time (default 1 s), or until a
    complete line holding TEXT appears on an analyzed UART (on the machines' console UARTs when none is analyzed).

    args: scene, duration (None = not given), until, seed, execute (monitor commands run
    before the scene, e.g. `$bin=@build/fw/f413rg/hello.elf`). MetersimErrors propagate (the
    CLI maps them to exit codes); returns 0."""
    from metersim._orchestration.testers import capture_uart

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
                mon.check_ready()
                seen = [0] * len(caps)

                def line_with_text() -> bool:   # complete lines only, so they are printed too
                    for i, c in enumerate(caps):
                        new, seen[i] = c.lines[seen[i]:], len(c.lines)
                        if any(until in ln.text for ln in new):
                            return True
                    return False

                emu.run_until(line_with_text, timeout=span,
                              what=f"{until!r} on {', '.join(c.label for c in caps)}")
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

    from metersim._exit_codes import report

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    try:
        sys.exit(main_run(build_run_parser().parse_args()))
    except MetersimError as exc:
        sys.exit(report(exc))
