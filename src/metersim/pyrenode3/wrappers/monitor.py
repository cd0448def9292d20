"""pyrenode3's Monitor wrapper: metersim's monitor, Renode's command language."""

from __future__ import annotations

from metersim._errors import MetersimError
from metersim.pyrenode3.session import Session
from metersim.pyrenode3.wrappers.base import MetaSingleton, Wrapper


class Monitor(Wrapper, metaclass=MetaSingleton):
    """`execute(command)` returns `(output, error)` as pyrenode3's does: an unknown command or
    a failing one gives `("", message)`, never an exception."""

    def __init__(self):
        super().__init__()

    @property
    def internal(self):
        return Session.monitor()

    @property
    def Machine(self):  # noqa: N802 - Renode's property
        from metersim.pyrenode3.wrappers.machine import Machine
        name = self.internal.current_machine_name
        return Machine(name) if name is not None else None

    @Machine.setter
    def Machine(self, machine) -> None:  # noqa: N802
        self.internal.select(getattr(machine, "name", machine))

    def execute(self, command: str) -> tuple[str, str]:
        try:
            return self.internal.execute(command, where="pyrenode3"), ""
        except MetersimError as exc:
            return "", str(exc)

    def execute_script(self, path: str) -> tuple[str, str]:
        try:
            return self.internal.execute_script(path, echo=False), ""
        except MetersimError as exc:
            return "", str(exc)
