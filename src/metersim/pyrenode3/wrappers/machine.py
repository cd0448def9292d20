"""pyrenode3's Machine and Peripheral wrappers over metersim machines and models, with the
system bus and the core as Renode exposes them (`sysbus.ReadDoubleWord`, `cpu.PC`)."""

from __future__ import annotations

from typing import Any, Callable

from metersim._errors import MetersimError
from metersim.pyrenode3.session import RPath, Session
from metersim.pyrenode3.wrappers.base import RenodeCallError, Wrapper, locked, run_command


#: Renode member names whose metersim model attribute is not their snake_case form.
RENODE_MEMBERS = {"BaudRate": "baud"}


def camel_to_snake(name: str) -> str:
    from metersim._frontends.monitor import camel_to_snake as c2s
    return RENODE_MEMBERS.get(name) or c2s(name)


class Machine(Wrapper):
    """One machine of the emulation, by name (pyrenode3 wraps Renode's Machine)."""

    def __init__(self, name: str):
        super().__init__(None)
        object.__setattr__(self, "name", name)

    @property
    def _slot(self):
        slot = Session.monitor().slots.get(self.name)
        if slot is None:
            raise RenodeCallError(f"machine {self.name!r} is no longer in the emulation")
        return slot

    @property
    def internal(self):
        """The metersim Machine (once a platform is loaded)."""
        m = self._slot.machine
        if m is None:
            raise RenodeCallError(f"machine {self.name!r} has no platform yet: load_repl first")
        return m

    def _command_prefix(self) -> str:
        return "machine"

    def _machine_name(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"<Machine {self.name}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Machine) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)

    @property
    def sysbus(self) -> "SysBus":
        return SysBus(self)

    @locked
    def load_repl(self, location: str) -> None:
        """Build the machine from a .repl (a path; relative ones are looked up in the current
        directory, METERSIM_SEARCH_PATH and metersim's platforms) and make it the monitor's
        current machine."""
        mon = Session.monitor()
        mon.select(self.name)
        try:
            mon.load_platform(self._slot, ("file", RPath(location).path))
        except MetersimError as exc:
            raise RenodeCallError(f"load_repl {location}: {exc}") from exc

    @locked
    def LoadPlatformDescriptionFromString(self, text: str) -> None:  # noqa: N802
        try:
            Session.monitor().load_platform(self._slot, ("text", text))
        except MetersimError as exc:
            raise RenodeCallError(f"LoadPlatformDescriptionFromString: {exc}") from exc

    def load_elf(self, location: str) -> None:
        """Load an ELF into the machine and reset its core (Renode's `sysbus LoadELF`)."""
        self.sysbus.LoadELF(RPath(location).read_file_path)

    def load_binary(self, location: str, load_point: int) -> None:
        self.sysbus.LoadBinary(RPath(location).read_file_path, load_point)

    def Reset(self) -> None:  # noqa: N802
        run_command("machine Reset", self.name)

    @locked
    def GetPeripheralsOfType(self, kind: str | type | None = None) -> list:  # noqa: N802
        """The machine's peripherals, all or those of a kind: "IUART" (anything that sends
        bytes), "ILed", or a model class."""
        out = []
        for name, model in self.internal.peripherals.items():
            if kind in (None, "") or (isinstance(kind, type) and isinstance(model, kind)) \
                    or (kind == "IUART" and hasattr(model, "on_byte")) \
                    or (kind == "ILed" and hasattr(model, "on_state_change")):
                out.append(Peripheral(self, name))
        return out


class Event:
    """A C# event as pythonnet shows it: `uart.CharReceived += fn` subscribes `fn(byte)`."""

    def __init__(self, handlers: list[Callable]):
        self.handlers = handlers

    def __iadd__(self, fn: Callable) -> "Event":
        self.handlers.append(fn)
        return self

    def __isub__(self, fn: Callable) -> "Event":
        if fn in self.handlers:
            self.handlers.remove(fn)
        return self


class Peripheral(Wrapper):
    """A peripheral of a machine. Its model's methods and properties answer to their Renode
    (CamelCase) names: `usart1.BaudRate`, `gpioPortC.ledRun.State`, `usart1.WriteChar(0x41)`;
    children (peripherals by name) are attributes too, as in pyrenode3."""

    def __init__(self, machine: Machine, name: str):
        super().__init__(None)
        object.__setattr__(self, "mach", machine)
        object.__setattr__(self, "name", name)

    @property
    def internal(self):
        return self.mach.internal.peripherals[self.name]

    @property
    def path(self) -> str:
        return f"sysbus.{self.name}"

    def __repr__(self) -> str:
        return f"<Peripheral {self.mach.name}:{self.path} ({type(self.internal).__name__})>"

    def _elements(self) -> list[str]:
        return list(self.mach.internal.peripherals)

    def get_child(self, name: str) -> "Peripheral":
        if name not in self.mach.internal.peripherals:
            raise KeyError(name)
        return Peripheral(self.mach, name)

    def _get(self, item: str):
        return self.get_child(item)

    def __iter__(self):
        return iter([])

    # -- UART members Renode's IUART has ---------------------------------------------------
    @property
    def CharReceived(self) -> Event:  # noqa: N802 - Renode's event
        model = self.internal
        if not hasattr(model, "on_byte"):
            raise AttributeError(f"{self.path} is not a UART")
        return Event(model.on_byte)

    @CharReceived.setter
    def CharReceived(self, event: Event) -> None:  # noqa: N802 - `+=` assigns the event back
        pass

    @locked
    def WriteChar(self, value: int) -> None:  # noqa: N802
        """Send one byte to the UART's receiver (as Renode's IUART.WriteChar)."""
        writer = getattr(self.internal, "write_bytes", None)
        if writer is None:
            raise RenodeCallError(f"{self.path} cannot receive bytes")
        writer(bytes([value & 0xFF]))

    # -- any other member of the model ----------------------------------------------------
    @locked
    def __getattr__(self, item: str):
        if item.startswith("_"):
            raise AttributeError(item)
        model = self.internal
        attr = camel_to_snake(item)
        if item[:1].isupper() and hasattr(model, attr) and not attr.startswith("_"):
            return getattr(model, attr)
        if item in self.mach.internal.peripherals:
            return self.get_child(item)
        raise AttributeError(f"{self.path} ({type(model).__name__}) has no member {item!r} "
                             f"(looked for {attr!r})")

    @locked
    def __setattr__(self, item: str, value: Any) -> None:
        if item in type(self).__dict__ or item in Peripheral.__dict__:
            return object.__setattr__(self, item, value)
        model = self.internal
        attr = camel_to_snake(item)
        if not hasattr(model, attr):
            raise AttributeError(f"{self.path} ({type(model).__name__}) has no property {item!r}")
        setattr(model, attr, value)


class RegisterValue(int):
    """Renode's RegisterValue: an int with `RawValue`."""

    @property
    def RawValue(self) -> int:  # noqa: N802
        return int(self)


class Cpu(Wrapper):
    """The machine's core (`sysbus.cpu`): registers by Renode's names, the rest through the
    monitor's `cpu` commands (`Step`, `IsHalted`, `PerformanceInMips` ...)."""

    def __init__(self, machine: Machine):
        super().__init__(None)
        object.__setattr__(self, "mach", machine)

    @property
    def internal(self):
        from metersim._engine.debug import Debugger
        return Debugger.of(self.mach.internal)

    @property
    def path(self) -> str:
        return "sysbus.cpu"

    def _command_prefix(self) -> str:
        return "cpu"

    def _machine_name(self) -> str:
        return self.mach.name

    @staticmethod
    def _reg(register: int | str) -> str:
        if isinstance(register, int):
            if not 0 <= register <= 15:
                raise RenodeCallError(f"register number {register}: expected 0..15")
            return f"r{register}"
        return str(register)

    @locked
    def GetRegister(self, register: int | str) -> RegisterValue:  # noqa: N802
        return RegisterValue(self.internal.read_register(self._reg(register)))

    @locked
    def SetRegister(self, register: int | str, value: int) -> None:  # noqa: N802
        self.internal.write_register(self._reg(register), int(value))

    SetRegisterUnsafe = SetRegister

    PC = property(lambda self: self.GetRegister("pc"),
                  lambda self, v: self.SetRegister("pc", int(v)))
    SP = property(lambda self: self.GetRegister("sp"),
                  lambda self, v: self.SetRegister("sp", int(v)))
    LR = property(lambda self: self.GetRegister("lr"),
                  lambda self, v: self.SetRegister("lr", int(v)))


class SysBus(Peripheral):
    """The system bus: memory access by Renode's method names, loading, and the machine's
    peripherals as attributes (`sysbus.usart1`, `sysbus.cpu`)."""

    def __init__(self, machine: Machine):
        Wrapper.__init__(self, None)
        object.__setattr__(self, "mach", machine)
        object.__setattr__(self, "name", "sysbus")

    @property
    def internal(self):
        return self.mach.internal.sysbus

    @property
    def path(self) -> str:
        return "sysbus"

    def __repr__(self) -> str:
        return f"<SysBus of {self.mach.name}>"

    def _command_prefix(self) -> str:
        return "sysbus"

    def _machine_name(self) -> str:
        return self.mach.name

    @property
    def cpu(self) -> Cpu:
        return Cpu(self.mach)

    @locked
    def _read(self, address: int, size: int) -> int:
        try:
            return self.internal.read_word(int(address), size)
        except MetersimError as exc:
            raise RenodeCallError(f"read of {size} bytes at 0x{int(address):08X}: {exc}") from exc

    @locked
    def _write(self, address: int, value: int, size: int) -> None:
        try:
            self.internal.write_word(int(address), int(value) & ((1 << (8 * size)) - 1), size)
        except MetersimError as exc:
            raise RenodeCallError(f"write of {size} bytes at 0x{int(address):08X}: {exc}") from exc

    def ReadByte(self, address: int) -> int:  # noqa: N802
        return self._read(address, 1)

    def ReadWord(self, address: int) -> int:  # noqa: N802
        return self._read(address, 2)

    def ReadDoubleWord(self, address: int) -> int:  # noqa: N802
        return self._read(address, 4)

    def WriteByte(self, address: int, value: int) -> None:  # noqa: N802
        self._write(address, value, 1)

    def WriteWord(self, address: int, value: int) -> None:  # noqa: N802
        self._write(address, value, 2)

    def WriteDoubleWord(self, address: int, value: int) -> None:  # noqa: N802
        self._write(address, value, 4)

    @locked
    def ReadBytes(self, address: int, count: int) -> bytes:  # noqa: N802
        return bytes(self.internal.read_memory(int(address), int(count)))

    @locked
    def WriteBytes(self, data: bytes, address: int) -> None:  # noqa: N802
        self.internal.write_memory(int(address), bytes(data))

    def GetSymbolAddress(self, name: str) -> int:  # noqa: N802
        try:
            return self.mach.internal.symbol(name)
        except MetersimError as exc:
            raise RenodeCallError(str(exc)) from exc

    @locked
    def LoadELF(self, path: str) -> None:  # noqa: N802
        from metersim._engine.platform_builder import load_firmware

        m = self.mach.internal
        try:
            load_firmware(m, RPath(path).path)
        except MetersimError as exc:
            raise RenodeCallError(f"LoadELF {path}: {exc}") from exc
        Session.monitor().slots[m.name].attached = True

    @locked
    def LoadBinary(self, path: str, address: int) -> None:  # noqa: N802
        data = open(RPath(path).path, "rb").read()
        m = self.mach.internal
        m.sysbus.write_memory(int(address), data)
        Session.monitor().reset_if_bootable(m)

    def __getattr__(self, item: str):
        if item.startswith("_"):
            raise AttributeError(item)
        m = self.mach.internal
        if item in m.peripherals:
            return Peripheral(self.mach, item)
        if item[:1].isupper():
            return Wrapper.__getattr__(self, item)
        raise AttributeError(f"{self.mach.name} has no peripheral {item!r}; it has: "
                             f"{', '.join(sorted(m.peripherals))}")
