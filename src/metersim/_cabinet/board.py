"""Build a prepaid-cabinet metering controller (STM32F103RB + ADE7753 x N + relays + EEPROM +
RS-485) from platforms/boards/metering_controller{,_32}.repl, and wire what a .repl cannot say.

    emu = Emulation(seed=1)
    board = build_controller(emu, channels=4, elf="build/fw/f103rb/metering_controller.elf")
    board.attach_load(0, profile)          # room 0's LoadProfile feeds ADE7753 #0
    emu.run_for("10s")
    board.relay_closed(0), board.eeprom.read_image(0, 64), board.console.lines

Wired here in Python (no .repl syntax for them; the pins are in the .repl header):
- USART2 TX -> transceiver DI, transceiver RO -> USART2 RX, transceiver onto the RS-485 bus
  (a new `Rs485Bus` unless `bus=` is given, so several controllers can share one);
- /E2 of both 74HC154 decoders tied low (the .repl can connect signals, not tie pins);
- the EEPROM image file (`eeprom_image=`), set as the AT24C256's `imagePath` before building.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from metersim._engine.platform_builder import create_machine, load_firmware
from metersim._engine.repl import load_platform
from metersim._errors import SetupError
from metersim._resources import firmware_path, platforms_dir
from metersim._orchestration.testers import UartTester, capture_uart
from metersim.peripherals.base import Context
from metersim.peripherals.rs485 import Rs485Bus

BOARDS = {4: platforms_dir() / "boards" / "metering_controller.repl",
          32: platforms_dir() / "boards" / "metering_controller_32.repl"}
# The controller firmware, from the firmware search path (metersim._resources).
DEFAULT_ELF = firmware_path("f103rb", "metering_controller")


SUPPLY_NOMINAL_V = 3.3


class CabinetError(SetupError):
    """A cabinet board, scenario or check was set up wrongly."""


def device(name: str) -> property:
    """A board handle's property for the model called `name` in its .repl."""
    return property(lambda self: self.machine[name], doc=f"the board's {name!r} model")


class BoardHandle:
    """What the cabinet's board handles share: devices by name, the machine's name, firmware."""

    machine: object

    def __getitem__(self, name: str):
        return self.machine[name]

    @property
    def name(self) -> str:
        return self.machine.name

    def load_firmware(self, elf: str | os.PathLike) -> None:
        if not Path(elf).is_file():
            raise CabinetError(f"{elf}: firmware file not found (build it with `make firmware`)")
        load_firmware(self.machine, elf)


@dataclass
class Controller(BoardHandle):
    """Handles to one metering controller and the devices around its MCU."""

    emu: object
    machine: object
    channels: int
    address: int
    bus: Rs485Bus
    ades: list = field(default_factory=list)
    relays: list = field(default_factory=list)
    console: UartTester | None = None
    origins_ps: dict = field(default_factory=dict)   # room -> virtual time of its profile's t=0
    profiles: dict = field(default_factory=dict)     # room -> LoadProfile
    feeds: list = field(default_factory=list)        # scenario.RoomFeed per room (relay/mains gating)
    mains_on: bool = True
    mains_history: list = field(default_factory=list)  # (time_ps, on) of every mains change

    # -- devices ------------------------------------------------------------------------------
    @property
    def pwr(self):
        return self.machine["pwr"]

    @property
    def eeprom(self):
        return self.machine["eeprom"]

    @property
    def xcvr(self):
        return self.machine["rs485"]

    @property
    def relay_out(self):
        return self.machine["relayOut"]

    @property
    def relay_in(self):
        return self.machine["relayIn"]

    @property
    def decoders(self) -> list:
        return [self.machine["csDecoder0"], self.machine["csDecoder1"]]

    @property
    def led_run(self):
        return self.machine["ledRun"]

    @property
    def led_alarm(self):
        return self.machine["ledAlarm"]

    @property
    def now_ps(self) -> int:
        return self.emu.clock.now_ps

    # -- rooms --------------------------------------------------------------------------------
    def _room(self, room: int) -> int:
        if not isinstance(room, int) or not 0 <= room < self.channels:
            raise CabinetError(f"{self.name}: room {room!r} does not exist (0..{self.channels - 1})")
        return room

    def attach_load(self, room: int, profile, origin_ps: int | None = None) -> None:
        """Feed room `room`'s ADE7753 from `profile`, whose t = 0 is `origin_ps` (default now),
        directly (not behind the relay: see scenario.attach_rooms for rooms behind relays)."""
        self._room(room)
        origin = self.now_ps if origin_ps is None else int(origin_ps)
        self.ades[room].attach_load(profile, origin_ps=origin)
        self.profiles[room] = profile
        self.origins_ps[room] = origin

    def set_mains(self, on: bool) -> None:
        """Mains up or down for every room (the loads stop, the ADE7753s lose their voltage)."""
        if bool(on) == self.mains_on:
            return
        self.mains_on = bool(on)
        self.mains_history.append((self.now_ps, self.mains_on))
        for feed in self.feeds:
            feed.update()

    def relay_closed(self, room: int) -> bool:
        return self.relays[self._room(room)].closed

    def reference_Wh(self, room: int, until_ps: int | None = None, since_ps: int = 0) -> float:
        """Active energy the room's profile delivered between two virtual times (the reference
        meter), counting only while the room's relay contact was closed."""
        from metersim._cabinet.checks import reference_energy_Wh

        return reference_energy_Wh(self, room, since_ps, self.now_ps if until_ps is None else until_ps)

    def set_supply_V(self, volts: float) -> None:
        self.pwr.set_supply_V(volts)



def new_bus(emu, name: str = "rs485") -> Rs485Bus:
    """An RS-485 bus on the emulation's clock, seeded from the emulation."""
    return Rs485Bus(Context(emu.clock, name=name, seed=emu.seed))


def join_rs485(emu, m, bus: Rs485Bus | None = None) -> Rs485Bus:
    """Wire board `m`'s RS-485 transceiver to its USART2 (TX -> DI, RO -> RX; no .repl syntax
    for it) and onto `bus` (a new one if None); returns the bus."""
    if bus is None:
        bus = new_bus(emu)
    xcvr, usart2 = m["rs485"], m["usart2"]
    xcvr.connect_usart(usart2.tx, usart2.receive_frame)
    xcvr.attach(bus)
    return bus


def build_controller(emu, channels: int = 4, elf: str | os.PathLike | None = None,
                     eeprom_image: str | os.PathLike | None = None, bus: Rs485Bus | None = None,
                     address: int = 1, name: str | None = None) -> Controller:
    """A metering controller machine with `channels` (4 or 32) rooms, on `bus` (new if None).

    `address` is the Modbus address the firmware is expected to answer at (its setting lives in
    the EEPROM; `modbus_master.ModbusMaster.set_slave_address` changes it over the bus).
    """
    if channels not in BOARDS:
        raise CabinetError(f"a metering controller board has 4 or 32 channels, got {channels!r}")
    if not isinstance(address, int) or not 1 <= address <= 247:
        raise CabinetError(f"Modbus slave address must be 1..247, got {address!r}")
    platform = load_platform(BOARDS[channels])
    if eeprom_image is not None:
        platform.entries["eeprom"].ctor_args["imagePath"] = str(eeprom_image)
    m = create_machine(emu, platform, name=name or f"controller{address}")
    bus = join_rs485(emu, m, bus)
    for dec in (m["csDecoder0"], m["csDecoder1"]):
        dec.on_gpio(5, False)          # /E2 tied to ground on the board
    board = Controller(emu, m, channels, address, bus,
                       ades=[m[f"ade{c}"] for c in range(channels)],
                       relays=[m[f"relay{c}"] for c in range(channels)])
    board.console = capture_uart(m, "usart1")
    if elf is not None:
        board.load_firmware(elf)
    return board

