"""Python in the monitor, as Renode scripts use it: `python "..."` / `python \"\"\" ... \"\"\"`,
`include @x.py`, and `cpu AddHook <address> "code"`. The code runs in CPython (Renode runs
IronPython 2.7) with the names Renode's engines give it, backed by metersim's objects:

- `monitor`: `Parse(command)` / `Execute(command)` run a monitor command (returning its output);
- `machine`: the current machine: `machine["sysbus.usart1"]` (a peripheral), `machine.SystemBus`
  (`ReadDoubleWord`, `WriteDoubleWord`, `ReadBytes`, `WriteBytes`, `GetSymbolAddress` ...),
  `machine.Name`;
- `self`: the monitor (`self.Machine` is the current machine), or in a CPU hook the CPU;
- in a CPU hook also `cpu` (`PC`, `SP`, `LR`, `GetRegister(n)`, `SetRegister(n, v)`, `Pause()`)
  and `pc`, the hooked address; `print` there writes to the monitor's output.

Peripherals are the metersim models seen through a CamelCase view: `machine["sysbus.led"].State`
reads the model's `state`, `...Press()` calls `press()`. The namespace persists across `python`
commands of one monitor, as Renode's monitor engine does.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

from metersim._frontends.monitor_syntax import MonitorError


def _snake(name: str) -> str:
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s).lower()


class PeripheralView:
    """A model seen with Renode's CamelCase member names."""

    def __init__(self, model: Any, name: str):
        object.__setattr__(self, "_model", model)
        object.__setattr__(self, "_name", name)

    def __getattr__(self, member: str):
        model = object.__getattribute__(self, "_model")
        for attr in (member, _snake(member)):
            if not attr.startswith("_") and hasattr(model, attr):
                return getattr(model, attr)
        raise AttributeError(f"{object.__getattribute__(self, '_name')} "
                             f"({type(model).__name__}) has no member {member!r}")

    def __setattr__(self, member: str, value) -> None:
        model = object.__getattribute__(self, "_model")
        attr = member if hasattr(model, member) else _snake(member)
        setattr(model, attr, value)

    def GetName(self) -> str:  # noqa: N802 - Renode's name
        return object.__getattribute__(self, "_name")


class SystemBusView:
    """`machine.SystemBus` / `machine["sysbus"]`."""

    def __init__(self, machine, monitor):
        self._m = machine
        self._mon = monitor

    def ReadByte(self, a): return self._m.sysbus.read_word(int(a), 1)  # noqa: E704,N802
    def ReadWord(self, a): return self._m.sysbus.read_word(int(a), 2)  # noqa: E704,N802
    def ReadDoubleWord(self, a): return self._m.sysbus.read_word(int(a), 4)  # noqa: E704,N802
    def WriteByte(self, a, v): self._m.sysbus.write_word(int(a), int(v) & 0xFF, 1)  # noqa: E704,N802
    def WriteWord(self, a, v): self._m.sysbus.write_word(int(a), int(v) & 0xFFFF, 2)  # noqa: E704,N802

    def WriteDoubleWord(self, a, v):  # noqa: N802
        self._m.sysbus.write_word(int(a), int(v) & 0xFFFFFFFF, 4)

    def ReadBytes(self, a, n):  # noqa: N802
        return bytes(self._m.sysbus.read_word(int(a) + i, 1) for i in range(int(n)))

    def WriteBytes(self, data, a):  # noqa: N802
        for i, b in enumerate(bytes(data)):
            self._m.sysbus.write_word(int(a) + i, b, 1)

    def GetSymbolAddress(self, name):  # noqa: N802
        return self._mon.symbol(self._m, str(name))


class CpuView:
    """The core as Renode's Python sees it (`self` in a CPU hook, `cpu`)."""

    def __init__(self, machine):
        object.__setattr__(self, "_m", machine)

    def _dbg(self):
        from metersim._engine.debug import Debugger
        return Debugger.of(object.__getattribute__(self, "_m"))

    def GetRegister(self, reg):  # noqa: N802
        return self._dbg().read_register(f"r{reg}" if isinstance(reg, int) else str(reg).lower())

    def SetRegister(self, reg, value):  # noqa: N802
        self._dbg().write_register(f"r{reg}" if isinstance(reg, int) else str(reg).lower(), int(value))

    def __getattr__(self, name: str):
        if name in ("PC", "SP", "LR") or re.fullmatch(r"R\d+", name):
            return self.GetRegister(name)
        if name == "IsHalted":
            return self._dbg().asleep
        raise AttributeError(f"cpu has no member {name!r}")

    def __setattr__(self, name: str, value) -> None:
        if name in ("PC", "SP", "LR") or re.fullmatch(r"R\d+", name):
            self.SetRegister(name, value)
        else:
            raise AttributeError(f"cpu: cannot set {name!r}")

    def Pause(self):  # noqa: N802
        self._dbg().halt()


class MachineView:
    def __init__(self, machine, monitor):
        self._m = machine
        self._mon = monitor
        self.SystemBus = SystemBusView(machine, monitor)

    @property
    def Name(self) -> str:  # noqa: N802
        return self._m.name

    def __getitem__(self, path: str):
        parts = str(path).split(".")
        if parts == ["sysbus"]:
            return self.SystemBus
        if parts[0] == "sysbus":
            parts = parts[1:]
        if parts == ["cpu"]:
            return CpuView(self._m)
        name = parts[-1]
        if name not in self._m.peripherals:
            raise KeyError(f"{self._m.name} has no peripheral {path!r}")
        return PeripheralView(self._m.peripherals[name], name)

    def __str__(self) -> str:
        return self._m.name


class MonitorView:
    def __init__(self, monitor):
        self._mon = monitor

    def Parse(self, command: str) -> bool:  # noqa: N802
        self._mon.execute(str(command), where="python")
        return True

    def Execute(self, command: str) -> str:  # noqa: N802
        return self._mon.execute(str(command), where="python")

    @property
    def Machine(self):  # noqa: N802
        return MachineView(self._mon.machine, self._mon)


_PRINT_STATEMENT = re.compile(r"^(\s*)print(?:\s+(?!\s*[=(])(.*?))?\s*$", re.M)


def _compile_py2_tolerant(source: str, label: str):
    """Compile; Renode's scripts are IronPython 2, so a `print x` statement that CPython
    rejects is read as `print(x)` (the only Python 2 form Renode's own scenes use)."""
    try:
        return compile(source, label, "exec")
    except SyntaxError:
        fixed = _PRINT_STATEMENT.sub(lambda m: f"{m.group(1)}print({m.group(2) or ''})", source)
        if fixed == source:
            raise
        return compile(fixed, label, "exec")


class MonitorPython:
    """The Python namespace of one monitor."""

    def __init__(self, monitor):
        self.monitor = monitor
        self.scope: dict[str, Any] = {"__name__": "__monitor__", "monitor": MonitorView(monitor),
                                      "self": MonitorView(monitor)}

    def _refresh(self) -> None:
        slot = self.monitor.slots.get(self.monitor.current_machine_name or "")
        self.scope["machine"] = MachineView(slot.machine, self.monitor) \
            if slot is not None and slot.machine is not None else None

    def run(self, code: str, label: str = "python") -> str:
        """Run code (a one-liner or a block); return what it printed."""
        import contextlib
        import io

        self._refresh()
        source = textwrap.dedent(code).strip("\n")
        out = io.StringIO()
        try:
            compiled = _compile_py2_tolerant(source, label)
            with contextlib.redirect_stdout(out):
                exec(compiled, self.scope)  # noqa: S102 - the user's monitor Python
        except SyntaxError as exc:
            raise MonitorError(f"python: {label}:{exc.lineno}: {exc.msg} (metersim runs CPython 3; "
                               "Renode's IronPython 2 print statements need parentheses)") from None
        except MonitorError:
            raise
        except Exception as exc:  # noqa: BLE001 - the user's code: report it as a command error
            raise MonitorError(f"python: {type(exc).__name__}: {exc}") from None
        return out.getvalue().rstrip("\n")

    def _print(self, *values, sep: str = " ", end: str = "\n", **_kw) -> None:
        """`print` inside a hook: the hook runs while the emulation does, its text goes where
        the monitor's other output goes."""
        self.monitor.out(sep.join(str(v) for v in values) + ("" if end == "\n" else end))

    def run_file(self, path: Path) -> str:
        return self.run(path.read_text(encoding="utf-8"), str(path))

    def cpu_hook(self, machine, code: str, label: str):
        """The callable `cpu AddHook` installs: runs `code` with self/cpu/machine/pc."""
        compiled = _compile_py2_tolerant(textwrap.dedent(code).strip("\n"), label)
        cpu = CpuView(machine)
        scope = dict(self.scope)
        scope.update({"self": cpu, "cpu": cpu, "machine": MachineView(machine, self.monitor),
                      "print": self._print})

        def hook(pc: int) -> None:
            scope["pc"] = pc
            exec(compiled, scope)  # noqa: S102 - the user's hook

        return hook
