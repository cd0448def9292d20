"""Renode's `Python.PythonPeripheral`: a memory-mapped block whose every access runs a script.

    pwrCsr1: Python.PythonPeripheral @ sysbus 0x40007004
        size: 0x4
        initable: true
        filename: "scripts/pydev/flipflop.py"

(also `machine PyDevFromFile @f.py 0xADDR size initable "name"` and `PyDevFromString` in the
monitor). Followed: renode-infrastructure `Peripherals/Python/PythonPeripheral.cs` and
`PeripheralPythonEngine.cs`. The script runs in CPython with the names Renode gives it:

- `request`: `IsInit`, `IsRead`, `IsWrite`, `IsUser`, `Type` (str() gives READ, WRITE, INIT or
  USER), `Offset` (from the block's base), `Absolute` (bus address), `Value` (what a write
  wrote; what a read returns, 0 before the script runs), `Length` (1, 2, 4 or 8 bytes),
  `Counter` (reads and writes so far, from 0);
- `self`: `NoisyLog`, `DebugLog`, `InfoLog`, `WarningLog`, `ErrorLog` (printf-style `%` text, or
  .NET `{0:X}` placeholders with arguments), `GetMachine()`, `Size`;
- `size`, `logger` (`logger.Log(LogLevel.Warning, text)`) and `LogLevel`.

The script's globals live as long as the peripheral, so `lastVal` set on init is there on the
next access. `initable: true` runs the script once with `request.IsInit` before the first
access and on every reset. Renode runs IronPython 2.7: `/` between two integers divides as
Python 2 did (floor), so scripts like Renode's `(request.Offset - 0x590) / 4` index correctly.
`ControlRead(command, value)` / `ControlWrite` send a USER request (Renode's ticker uses them).

A script path is looked up as given, then on metersim's search roots (the current directory,
METERSIM_SEARCH_PATH, the checkout), then in metersim's own `platforms/` folder, which carries
Renode-compatible `scripts/pydev/` (flipflop, counter, repeater, ticker, rolling-bit).
A script that fails raises PythonPeripheralError naming the script, its line and the access.
"""

from __future__ import annotations

import ast
import logging
import traceback
from pathlib import Path

from metersim._errors import SetupError
from metersim.peripherals.base import Context
from metersim.peripherals.registry import model

NOISY = 5   # Renode's Noisy level, below DEBUG (metersim._frontends.monitor uses the same)


class PythonPeripheralError(SetupError):
    """A Python peripheral's script could not be loaded or failed on an access."""


class RequestType:
    """Renode's PythonRequest.RequestType: compares by name, prints as READ/WRITE/INIT/USER."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __str__(self) -> str:
        return self.name

    __repr__ = __str__


READ, WRITE, INIT, USER = (RequestType(n) for n in ("READ", "WRITE", "INIT", "USER"))
RequestType.READ, RequestType.WRITE, RequestType.INIT, RequestType.USER = READ, WRITE, INIT, USER


class PythonRequest:
    """The `request` object a script sees (Renode's naming, hence the CamelCase)."""

    def __init__(self):
        self.Value = 0
        self.Length = 4
        self.Type = INIT
        self.Offset = 0
        self.Absolute = 0
        self.Counter = 0

    IsInit = property(lambda self: self.Type is INIT)
    IsRead = property(lambda self: self.Type is READ)
    IsWrite = property(lambda self: self.Type is WRITE)
    IsUser = property(lambda self: self.Type is USER)


class LogLevel:
    """Renode's LogLevel names, as Python logging levels."""

    Noisy = NOISY
    Debug = logging.DEBUG
    Info = logging.INFO
    Warning = logging.WARNING
    Error = logging.ERROR


class _Logger:
    """Renode's static `Logger` as scripts use it: `logger.Log(LogLevel.Info, "text")`."""

    def __init__(self, ctx: Context):
        self._ctx = ctx

    def Log(self, level: int, message: str, *args) -> None:  # noqa: N802 - Renode's name
        self._ctx.log(int(level), "%s", _format(message, args))

    def LogAs(self, _owner, level: int, message: str, *args) -> None:  # noqa: N802
        self.Log(level, message, *args)


def _format(message: object, args: tuple) -> str:
    text = str(message)
    if not args:
        return text
    try:
        return text.format(*args)      # .NET composite format: "{0:X}"
    except (IndexError, KeyError, ValueError):
        return text % args


def _py2_div(a, b):
    """IronPython 2.7's `/`: floor division between integers, true division otherwise."""
    if isinstance(a, int) and isinstance(b, int):
        return a // b
    return a / b


class _Py2Division(ast.NodeTransformer):
    def visit_BinOp(self, node: ast.BinOp):  # noqa: N802 - ast API
        self.generic_visit(node)
        if isinstance(node.op, ast.Div):
            return ast.copy_location(ast.Call(ast.Name("__py2_div__", ast.Load()),
                                              [node.left, node.right], []), node)
        return node

    def visit_AugAssign(self, node: ast.AugAssign):  # noqa: N802
        self.generic_visit(node)
        if isinstance(node.op, ast.Div):
            target = node.target
            load = ast.copy_location(type(target)(**{**{f: getattr(target, f) for f in target._fields},
                                                     "ctx": ast.Load()}), target)
            value = ast.Call(ast.Name("__py2_div__", ast.Load()), [load, node.value], [])
            return ast.copy_location(ast.Assign([target], value), node)
        return node


def find_script(filename: str) -> Path:
    """Where `filename:` points (see the module docstring); PythonPeripheralError if nowhere."""
    from metersim._resources import platforms_dir, search_roots

    p = Path(filename).expanduser()
    if p.is_absolute():
        if p.is_file():
            return p
        raise PythonPeripheralError(f"Python peripheral script {filename!r} not found")
    roots = [*search_roots(), platforms_dir()]
    for r in roots:
        if (r / p).is_file():
            return (r / p).resolve()
    raise PythonPeripheralError(f"Python peripheral script {filename!r} not found (looked in: "
                                f"{', '.join(str(r) for r in dict.fromkeys(roots))})")


def compile_script(source: str, label: str):
    try:
        tree = ast.parse(source, label)
    except SyntaxError as exc:
        raise PythonPeripheralError(f"{label}:{exc.lineno}: {exc.msg} (scripts run in CPython 3; "
                                    "Python 2 print statements and the like need updating)") from None
    tree = ast.fix_missing_locations(_Py2Division().visit(tree))
    return compile(tree, label, "exec")


@model("Python.PythonPeripheral", "metersim.PythonPeripheral")
class PythonPeripheral:
    """A block of `size` bytes whose accesses run a script (see the module docstring)."""

    def __init__(self, ctx: Context, size: int, initable: bool = False, script: str | None = None,
                 filename: str | None = None):
        self.ctx = ctx
        self.size = int(size)
        if self.size <= 0:
            raise PythonPeripheralError(f"{ctx.name}: size must be positive, got {size}")
        self.initable = bool(initable)
        if (script is None) == (filename is None):
            raise PythonPeripheralError(f"{ctx.name}: give exactly one of `script` and `filename` "
                                        "(Renode: they cannot be both set or both unset)")
        if filename is not None:
            path = find_script(str(filename))
            self.label = str(path)
            source = path.read_text(encoding="utf-8")
        else:
            self.label = f"<{ctx.name} script>"
            source = str(script)
        self.code = source
        self._compiled = compile_script(source, self.label)
        self.request = PythonRequest()
        self._counter = 0
        self._inited = False
        self._new_scope()

    # -- what the script sees as `self` ----------------------------------------------------------
    @property
    def Size(self) -> int:  # noqa: N802 - Renode's name
        return self.size

    def NoisyLog(self, message, *args) -> None:  # noqa: N802
        self.ctx.log(NOISY, "%s", _format(message, args))

    def DebugLog(self, message, *args) -> None:  # noqa: N802
        self.ctx.log(logging.DEBUG, "%s", _format(message, args))

    def InfoLog(self, message, *args) -> None:  # noqa: N802
        self.ctx.log(logging.INFO, "%s", _format(message, args))

    def WarningLog(self, message, *args) -> None:  # noqa: N802
        self.ctx.log(logging.WARNING, "%s", _format(message, args))

    def ErrorLog(self, message, *args) -> None:  # noqa: N802
        self.ctx.log(logging.ERROR, "%s", _format(message, args))

    def Log(self, level, message, *args) -> None:  # noqa: N802
        self.ctx.log(int(level), "%s", _format(message, args))

    def GetMachine(self):  # noqa: N802
        return self.ctx.machine_name or self.ctx.machine

    # -- running the script ----------------------------------------------------------------------
    def _new_scope(self) -> None:
        self.scope = {"__name__": "__pydev__", "__builtins__": __builtins__,
                      "__py2_div__": _py2_div, "request": self.request, "self": self,
                      "size": self.size, "logger": _Logger(self.ctx), "LogLevel": LogLevel}

    def _run(self, what: str) -> None:
        try:
            exec(self._compiled, self.scope)  # noqa: S102 - the user's peripheral script
        except Exception as exc:  # noqa: BLE001 - any script error is reported with its line
            frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == self.label]
            line = f":{frames[-1].lineno}" if frames else ""
            raise PythonPeripheralError(f"{self.label}{line}: {type(exc).__name__}: {exc} "
                                        f"(Python peripheral {self.ctx.name}, {what})") from None

    def _ensure_init(self) -> None:
        if not self._inited:
            self._inited = True
            if self.initable:
                self.request.Type = INIT
                self._run("init")

    def _absolute(self, offset: int) -> int:
        return (self.ctx.address or 0) + offset

    def read(self, offset: int, size: int) -> int:
        self._ensure_init()
        r = self.request
        r.Length, r.Value, r.Type, r.Offset = size, 0, READ, offset
        r.Absolute = self._absolute(offset)
        r.Counter = self._counter
        self._counter += 1
        self._run(f"read{8 * size} at +0x{offset:x}")
        return int(r.Value) & ((1 << (8 * size)) - 1)

    def write(self, offset: int, size: int, value: int) -> None:
        self._ensure_init()
        r = self.request
        r.Length, r.Value, r.Type, r.Offset = size, value, WRITE, offset
        r.Absolute = self._absolute(offset)
        r.Counter = self._counter
        self._counter += 1
        self._run(f"write{8 * size} 0x{value:x} at +0x{offset:x}")

    def control_read(self, command: int, value: int = 0) -> int:
        """Renode's ControlRead: a USER request with Offset = command."""
        self._ensure_init()
        r = self.request
        r.Value, r.Type, r.Offset, r.Length = value, USER, int(command), 8
        self._run(f"user request {command}")
        return int(r.Value)

    def control_write(self, command: int, value: int) -> None:
        self.control_read(command, value)

    def reset(self) -> None:
        """Renode's Reset: forget the init, then run it again (when initable)."""
        self._inited = False
        self._ensure_init()
