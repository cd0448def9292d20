"""pyrenode3's Emulation and ExternalsManager wrappers."""

from __future__ import annotations

import itertools
from typing import Any, Iterator

from metersim._errors import MetersimError
from metersim.pyrenode3.session import Session
from metersim.pyrenode3.timeinterval import TimeInterval, to_ps
from metersim.pyrenode3.wrappers.base import MetaSingleton, RenodeCallError, Wrapper, locked
from metersim.pyrenode3.wrappers.machine import Machine


class Emulation(Wrapper, metaclass=MetaSingleton):
    """The emulation (one per process). Machines are reachable by name as attributes
    (`Emulation().f413`) and by iteration; other calls with Renode's names run as the
    monitor's `emulation ...` command (`CreateUartHub`, `SetSeed` ...)."""

    def __init__(self):
        super().__init__()

    @property
    def internal(self):
        """The metersim Emulation."""
        return Session.monitor().emulation

    def _command_prefix(self) -> str:
        return "emulation"

    @property
    def externals(self) -> "ExternalsManager":
        return ExternalsManager()

    ExternalsManager = externals

    def __iter__(self) -> Iterator[Machine]:
        return (Machine(name) for name in Session.monitor().machine_names())

    def __delattr__(self, name: str) -> None:
        if not self.rem_mach(name):
            raise AttributeError(name)

    def _elements(self) -> list[str]:
        return Session.monitor().machine_names()

    def _get(self, item: str) -> Machine:
        return Machine(item)

    @locked
    def clear(self) -> None:
        """Remove every machine and start a new, empty emulation (time back to 0)."""
        Session.monitor().clear()
        ExternalsManager().externals.clear()

    @locked
    def add_mach(self, name: str | None = None) -> Machine | None:
        """Create a machine (named `machine0`, `machine1` ... when no name is given); None
        when the name is taken, as pyrenode3 returns."""
        mon = Session.monitor()
        if name is None:
            name = next(f"machine{i}" for i in itertools.count()
                        if f"machine{i}" not in mon.slots)
        if name in mon.slots:
            return None
        mon.create_slot(name)
        return Machine(name)

    def get_mach(self, name: str) -> Machine | None:
        return Machine(name) if name in Session.monitor().slots else None

    @locked
    def rem_mach(self, name: str) -> bool:
        mon = Session.monitor()
        slot = mon.slots.get(name)
        if slot is None:
            return False
        mon.remove_machine(slot)
        return True

    # -- running ----------------------------------------------------------------------------
    @locked
    def StartAll(self) -> None:  # noqa: N802 - Renode's names
        """Start the emulation. By default metersim's time then advances in RunFor and in the
        testers' waits only, so a script gets the same results on every run; after
        `metersim.pyrenode3.run_in_background()` it also runs on its own, paced to the host
        clock, as Renode's does."""
        mon = Session.monitor()
        try:
            mon.check_ready()
        except MetersimError as exc:
            raise RenodeCallError(f"StartAll: {exc}") from exc
        Session.start()

    @locked
    def PauseAll(self) -> None:  # noqa: N802
        Session.monitor().started = False

    @property
    def IsStarted(self) -> bool:  # noqa: N802
        return Session.monitor().started

    def RunFor(self, interval: Any) -> None:  # noqa: N802
        """Run every machine for a virtual `interval` (a TimeInterval, seconds, or "1.5s")."""
        try:
            Session.monitor().run_for(to_ps(interval, "RunFor interval"))
        except MetersimError as exc:
            raise RenodeCallError(f"RunFor: {exc}") from exc

    @property
    def ElapsedVirtualTime(self) -> TimeInterval:  # noqa: N802 - as MasterTimeSource's
        return TimeInterval(self.internal.now_ps)


class ExternalsManager(Wrapper, metaclass=MetaSingleton):
    """Named externals (LED testers registered by name)."""

    def __init__(self):
        super().__init__()
        object.__setattr__(self, "externals", {})

    @property
    def internal(self):
        return self

    def AddExternal(self, external: Any, name: str) -> None:  # noqa: N802
        self.externals[str(name)] = external

    def get_external(self, item: str):
        return self.externals.get(item)

    def __iter__(self):
        return iter(self.externals.values())

    def _elements(self) -> list[str]:
        return list(self.externals)

    def _get(self, item: str):
        return self.externals[item]
