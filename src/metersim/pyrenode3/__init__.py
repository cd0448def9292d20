"""pyrenode3's API (antmicro/pyrenode3: `pyrenode3.wrappers`), backed by metersim.

A pyrenode3 script runs here with its imports changed:

    from metersim.pyrenode3.wrappers import Analyzer, Emulation, Monitor, TerminalTester
    from metersim.pyrenode3 import TimeInterval        # was: from Antmicro.Renode.Time import ...

    e = Emulation()
    mach = e.add_mach("f413")
    mach.load_repl("platforms/cpus/stm32f413.repl")
    mach.load_elf("build/fw/f413rg/hello.elf")
    Analyzer(mach.sysbus.usart1).Show()
    e.StartAll()
    TerminalTester(mach.sysbus.usart1, 5).WaitFor("uptime 2 s")

The wrappers keep pyrenode3's names, arguments and return shapes (`Monitor().execute(cmd)`
returns `(output, error)`; `TerminalTester.WaitFor` returns a result with `Line`, `Timestamp`,
`Groups` or None when the timeout passed). Calls pyrenode3 forwards to Renode's C# objects are
answered by metersim's models: `sysbus.ReadDoubleWord`, `cpu.PC`, `GetRegister`, and a model's
methods and properties under their CamelCase names (`sysbus.usart1.BaudRate`). Anything else
on the emulation, a machine or the sysbus is run as the monitor command of that name.

The difference that matters: metersim's time advances only inside waits (`WaitFor`,
`NextLine`, `IsIdle`, the LED assertions) and `Emulation().RunFor(...)`, never in the
background after `StartAll()`, so a script's results are the same on every run. docs/pyrenode3.md
lists what is there and what differs.
"""

from __future__ import annotations

from metersim.pyrenode3.timeinterval import TimeInterval

__all__ = ["RPath", "TimeInterval", "wrappers", "reset", "run_in_background"]


def __getattr__(name: str):
    if name == "RPath":
        from metersim.pyrenode3.session import RPath
        return RPath
    if name == "wrappers":
        import importlib
        return importlib.import_module("metersim.pyrenode3.wrappers")
    raise AttributeError(name)


def reset() -> None:
    """Forget the emulation and monitor (pyrenode3 keeps one per process): the next
    `Emulation()` starts empty. Tests use it between scripts."""
    from metersim.pyrenode3.session import Session
    Session.drop()


def run_in_background(on: bool = True) -> None:
    """Renode's behaviour: after `StartAll()` the emulation runs on its own, paced to the host
    clock, until `PauseAll()` (metersim.pyrenode3.background). Off by default, so that a
    script's results do not depend on host timing."""
    from metersim.pyrenode3.session import Session
    Session.background = bool(on)
    if not on and Session.runner is not None:
        Session.runner.close()
        Session.runner = None
