"""Robot Framework keywords for the prepaid cabinet, on the emulation of the metersim library
(`metersim.frontends.robot_library`), so Renode-style keywords (`Create Terminal Tester`,
`Wait For Line On Uart`, ...) work on the same controller.

    *** Settings ***
    Library    metersim.frontends.robot_library
    Library    metersim.cabinet.robot_keywords

    *** Test Cases ***
    Heater Energy Is Metered
        Create Metering Controller    channels=4
        Inject Load                   0    heater    2000
        Top Up Room                   0    100000
        Run Cabinet For               60s
        Room Energy Should Match Reference    0
"""

from __future__ import annotations

from robot.api.deco import keyword, library
from robot.libraries.BuiltIn import BuiltIn

from metersim.cabinet.board import DEFAULT_ELF, build_controller
from metersim.cabinet.checks import power_cut, reference_energy_Wh
from metersim.cabinet.modbus_master import ModbusMaster
from metersim.cabinet.scenario import RoomLoad, attach_rooms
from metersim.errors import CheckFailed, SetupError
from metersim.orchestration.appliances import Motor, ResistiveHeater, SwitchModeSupply
from metersim.units import PS_PER_S, parse_time_ps

_KINDS = {"heater": lambda w: ResistiveHeater(w), "motor": lambda w: Motor(w, pf=0.8),
          "computer": lambda w: SwitchModeSupply(w)}


@library(scope="TEST")
class robot_keywords:                     # noqa: N801 - Robot imports the module's class by name
    def __init__(self):
        self.board = None
        self.master = None
        self._loads: dict[int, RoomLoad] = {}

    def _emulation(self):
        return BuiltIn().get_library_instance("metersim.frontends.robot_library").emulation

    def _need(self):
        if self.board is None:
            raise SetupError("no metering controller: use Create Metering Controller first")
        return self.board

    @keyword
    def create_metering_controller(self, channels: int = 4, elf: str = str(DEFAULT_ELF),
                                   address: int = 1) -> str:
        """Build and boot a controller (1.5 s of virtual time); returns the machine name."""
        emu = self._emulation()
        self.board = build_controller(emu, channels=int(channels), elf=elf, address=int(address))
        self.master = ModbusMaster(emu, self.board.bus, default_address=int(address))
        emu.run_for("1.5s")
        return self.board.name

    @keyword
    def inject_load(self, room: int, kind: str, power_W: float) -> None:
        """Put a `heater`, `motor` or `computer` of `power_W` behind room `room`'s relay from now."""
        b = self._need()
        if kind not in _KINDS:
            raise SetupError(f"load kind {kind!r}: expected one of {', '.join(_KINDS)}")
        self._loads[int(room)] = RoomLoad(kind, [_KINDS[kind](float(power_W))])
        rooms = [self._loads.get(r, RoomLoad("none", [])) for r in range(max(self._loads) + 1)]
        for feed in b.feeds:                       # re-attach all: one origin for this set
            b.relays[feed.room]._fns.clear()
        attach_rooms(b, rooms)

    @keyword
    def top_up_room(self, room: int, cents: int) -> None:
        self._need()
        self.master.top_up(int(room), int(cents))

    @keyword
    def set_malicious_load_detection(self, room: int, on: bool) -> None:
        self._need()
        self.master.set_room(int(room), malicious_detect=bool(on))

    @keyword
    def run_cabinet_for(self, duration: str) -> None:
        self._need().emu.run_for(duration)

    @keyword
    def read_room_energy_over_modbus(self, room: int) -> int:
        """Energy total of the room in Wh, read with function 04."""
        self._need()
        return self.master.room_energy_Wh(int(room))

    @keyword
    def room_energy_should_match_reference(self, room: int, percent: float = 0.2, slack_Wh: float = 2.0) -> None:
        b = self._need()
        wh = self.master.room_energy_Wh(int(room))
        ref = reference_energy_Wh(b, int(room))
        if abs(wh - ref) > float(percent) / 100 * ref + float(slack_Wh):
            raise CheckFailed(f"room {room}: {wh} Wh over Modbus, reference {ref:.2f} Wh")

    @keyword
    def room_relay_should_be(self, room: int, state: str) -> None:
        b = self._need()
        want = {"closed": True, "open": False}[state.lower()]
        if b.relay_closed(int(room)) != want:
            raise CheckFailed(f"room {room} relay is {'closed' if not want else 'open'}, expected {state}")

    @keyword
    def console_should_contain(self, text: str) -> None:
        """A line of the controller's USART1 console so far contains `text`."""
        b = self._need()
        if not any(text in ln for ln in b.console.line_texts()):
            raise CheckFailed(f"{text!r} not on {b.name}'s console; last lines: "
                              + " | ".join(b.console.line_texts()[-5:]))

    @keyword
    def power_cut_at(self, at: str, holdup_ms: float = 20, off_ms: float = 1000) -> None:
        """Mains failure at virtual time `at` (e.g. `12.5s`), hold-up, cut, restore."""
        b = self._need()
        power_cut(b, at_ps=parse_time_ps(at), holdup_ms=float(holdup_ms), off_ms=float(off_ms))
