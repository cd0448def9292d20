"""Robot Framework keywords for the prepaid cabinet, on the emulation of the metersim library
(`metersim.robot`), so Renode-style keywords (`Create Terminal Tester`,
`Wait For Line On Uart`, ...) work on the same controller.

    *** Settings ***
    Library    metersim.robot
    Library    metersim.robot.cabinet

    *** Test Cases ***
    Heater Energy Is Metered
        Create Metering Controller    channels=4
        Inject Load                   0    heater    2000
        Top Up Room                   0    100000
        Run Cabinet For               60s
        Room Energy Should Match Reference    0

    Overload Trips After Its Delay
        Create Metering Controller
        Inject Load                   0    motor    1500    on_at=5s
        Set Room Protection           0    load_limit_W=1000    overload_delay_s=5
        Top Up Room                   0    10000
        Run Cabinet For               30s
        Room Should Be Tripped By     0    overload
        Room Relay Should Open After  0    5s    tolerance=2s

    Malformed Frames
        Create Metering Controller
        Send Raw Modbus Frame         01 04 00 00 00 01    crc=bad
        No Modbus Reply Should Come
        Modbus Request Should Fail With Exception    41 00 00    1

The keywords are thin: Modbus through `metersim._cabinet.modbus_master.ModbusMaster` (register
map: docs/modbus_map.md), loads through `metersim._cabinet.scenario` and the appliance models,
relay timing from the relays' switching history. A failed check raises
`metersim._errors.CheckFailed`; a bad argument raises `metersim._errors.SetupError`.
"""

from __future__ import annotations

import inspect
import math

from robot.api import logger
from robot.api.deco import keyword, library
from robot.libraries.BuiltIn import BuiltIn

from metersim._cabinet.board import DEFAULT_ELF, build_controller
from metersim._cabinet.checks import check_energies, power_cut
from metersim._cabinet.modbus_master import ModbusMaster
from metersim._protocols.modbus.errors import EXCEPTION_NAMES, ModbusError, ModbusException
from metersim._protocols.modbus.framer import crc16
from metersim._protocols.modbus.registers import STATUS_BITS, TRIP_REASONS
from metersim._cabinet.scenario import RoomLoad, attach_rooms
from metersim._errors import CheckFailed, SetupError
from metersim._orchestration.appliances import Motor, ResistiveHeater, SwitchModeSupply
from metersim._orchestration.load_profile import HarmonicProfile
from metersim._units import PS_PER_S, parse_time_ps

__all__ = ["cabinet"]

_KINDS = {"heater": lambda w, on: ResistiveHeater(w, schedule=on),
          "motor": lambda w, on: Motor(w, pf=0.8, schedule=on),
          "computer": lambda w, on: SwitchModeSupply(w, schedule=on)}
# room settings `ModbusMaster.set_room` writes (keyword-only arguments)
_ROOM_SETTINGS = tuple(p.name for p in inspect.signature(ModbusMaster.set_room).parameters.values()
                       if p.kind is inspect.Parameter.KEYWORD_ONLY)
_BOOL_WORDS = {"true": True, "on": True, "1": True, "false": False, "off": False, "0": False}


def _hex_bytes(text: str, what: str) -> bytes:
    try:
        data = bytes.fromhex(str(text).replace(":", " "))
    except ValueError:
        raise SetupError(f"{what} {text!r}: expected hex bytes such as '01 04 00 00 00 01'") from None
    if not data:
        raise SetupError(f"{what} is empty")
    return data


def _hex(frame: bytes) -> str:
    return frame.hex(" ")


@library(scope="TEST")
class cabinet:                     # noqa: N801 - Robot imports the module's class by name
    def __init__(self):
        self.board = None
        self.master = None
        self._loads: dict[int, tuple[str, float, float]] = {}   # room -> (kind, W, on_s from origin)
        self._origin_ps: int | None = None                      # t = 0 of every injected load
        self._raw_replies: list[bytes] | None = None

    def _emulation(self):
        return BuiltIn().get_library_instance("metersim.robot").emulation

    def _need(self):
        if self.board is None:
            raise SetupError("no metering controller: use Create Metering Controller first")
        return self.board

    def _room(self, room) -> int:
        b = self._need()
        try:
            r = int(room)
        except (TypeError, ValueError):
            raise SetupError(f"room {room!r}: expected a room number") from None
        if not 0 <= r < b.channels:
            raise SetupError(f"room {r} does not exist on {b.name} (rooms 0..{b.channels - 1})")
        return r

    # -- set-up ---------------------------------------------------------------------------------
    @keyword
    def create_metering_controller(self, channels: int = 4, elf: str = str(DEFAULT_ELF),
                                   address: int = 1) -> str:
        """Build and boot a controller (1.5 s of virtual time); returns the machine name.

        ``channels`` is 4 or 32 (the two boards); ``address`` the Modbus slave address the
        keywords below talk to."""
        emu = self._emulation()
        self.board = build_controller(emu, channels=int(channels), elf=elf, address=int(address))
        self.master = ModbusMaster(emu, self.board.bus, default_address=int(address))
        emu.run_for("1.5s")
        return self.board.name

    @keyword
    def inject_load(self, room: int, kind: str, power_W: float, on_at: str = "0s") -> None:
        """Put a ``heater``, ``motor`` (PF 0.8) or ``computer`` (switch-mode supply) of
        ``power_W`` behind room ``room``'s relay, switching on ``on_at`` from now (default at once)
        and staying on.

        All injected loads share one time origin (the first injection), so injecting another
        room later neither restarts the loads already there nor loses their reference energy.

        | Inject Load    0    heater    1500    on_at=5s
        """
        b = self._need()
        r = self._room(room)
        if kind not in _KINDS:
            raise SetupError(f"load kind {kind!r}: expected one of {', '.join(_KINDS)}")
        if self._origin_ps is None:
            self._origin_ps = b.now_ps
        on_s = (b.now_ps - self._origin_ps + parse_time_ps(on_at)) / PS_PER_S
        self._loads[r] = (kind, float(power_W), on_s)
        rooms = []
        for rr in range(max(self._loads) + 1):
            if rr in self._loads:
                k, w, t_on = self._loads[rr]
                rooms.append(RoomLoad(k, [_KINDS[k](w, [(t_on, math.inf)])]))
            else:
                rooms.append(RoomLoad("none", []))
        attach_rooms(b, rooms, origin_ps=self._origin_ps)

    @keyword
    def attach_constant_load_to_every_room(self, first_A: float = 0.5, step_A: float = 0.25,
                                           volts: float = 230.0, pf: float = 1.0) -> None:
        """Feed every room's ADE7753 a steady sinusoidal load of ``first_A + step_A * room``
        amperes at ``volts`` and power factor ``pf``, directly (not behind the relay), so the
        measured current does not depend on credit or protection.

        | Attach Constant Load To Every Room    first_A=0.5    step_A=0.25
        """
        b = self._need()
        if b.feeds:
            raise SetupError("rooms already have loads behind their relays (Inject Load); "
                             "use one or the other on a controller")
        for r in range(b.channels):
            b.attach_load(r, HarmonicProfile.constant(float(volts), float(first_A) + float(step_A) * r,
                                                      pf=float(pf)))

    @keyword
    def top_up_room(self, room: int, cents: int, token: int | None = None) -> int:
        """Add ``cents`` of credit to the room over Modbus: amount and top-up token with one
        function 16. Without ``token`` the room's next token is used (a new top-up); give the
        token a keyword returned to repeat that write: the controller answers it and credits
        it once (docs/modbus_map.md, "Top-up tokens"). Returns the token."""
        return self.master.top_up(self._room(room), int(cents),
                                  token=None if token is None else int(token))

    @keyword
    def set_malicious_load_detection(self, room: int, on: bool) -> None:
        """Switch the room's malicious-load (resistive step) detection on or off over Modbus."""
        self.master.set_room(self._room(room), malicious_detect=bool(on))

    @keyword
    def set_room_protection(self, room: int, **settings) -> None:
        """Write room settings over Modbus, one request per setting, by their
        `ModbusMaster.set_room` names: ``load_limit_W``, ``overload_delay_s``,
        ``overcurrent_cA``, ``reclose_delay_s``, ``reclose_attempts``, ``malicious_detect``
        (true/false), ``alarm1_cents``, ``alarm2_cents``, ``overdraft_cents``,
        ``schedule_off_min``, ``schedule_on_min``.

        | Set Room Protection    3    load_limit_W=1000    overload_delay_s=5    malicious_detect=false
        """
        r = self._room(room)
        if not settings:
            raise SetupError(f"Set Room Protection: no setting given (names: {', '.join(_ROOM_SETTINGS)})")
        values = {}
        for name, text in settings.items():
            if name not in _ROOM_SETTINGS:
                raise SetupError(f"room setting {name!r}: expected one of {', '.join(_ROOM_SETTINGS)}")
            if name == "malicious_detect":
                if str(text).lower() not in _BOOL_WORDS:
                    raise SetupError(f"malicious_detect={text!r}: expected true or false")
                values[name] = _BOOL_WORDS[str(text).lower()]
                continue
            try:
                values[name] = int(text)
            except ValueError:
                raise SetupError(f"{name}={text!r}: expected a whole number") from None
            if values[name] < 0:
                raise SetupError(f"{name}={text!r}: must not be negative")
        self.master.set_room(r, **values)

    @keyword
    def run_cabinet_for(self, duration: str) -> None:
        """Run the emulation for a virtual ``duration`` (``30s``, ``250ms``, ``00:00:05``)."""
        self._need().emu.run_for(duration)

    @keyword
    def power_cut_at(self, at: str, holdup_ms: float = 20, off_ms: float = 1000) -> None:
        """Mains failure at virtual time `at` (e.g. `12.5s`), hold-up, cut, restore."""
        b = self._need()
        power_cut(b, at_ps=parse_time_ps(at), holdup_ms=float(holdup_ms), off_ms=float(off_ms))

    # -- energy and relays ---------------------------------------------------------------------
    @keyword
    def read_room_energy_over_modbus(self, room: int) -> int:
        """Energy total of the room in Wh, read with function 04."""
        return self.master.room_energy_Wh(self._room(room))

    @keyword
    def read_room_balance_over_modbus(self, room: int) -> int:
        """Balance of the room in cents (credit - cost, signed), read with function 04."""
        return self.master.room_balance_cents(self._room(room))

    @keyword
    def room_energy_should_match_reference(self, room: int, percent: float = 0.2, slack_Wh: float = 2.0) -> None:
        """The room's energy over Modbus is within ``percent`` of the reference integral of its
        load (counted while its relay was closed and the mains up), plus ``slack_Wh``."""
        r = self._room(room)
        check_energies(self._need(), {r: self.master.room_energy_Wh(r)}, rel=float(percent) / 100,
                       abs_Wh=float(slack_Wh))

    @keyword
    def room_relay_should_be(self, room: int, state: str) -> None:
        """The room's relay contact is ``open`` or ``closed`` now."""
        b = self._need()
        r = self._room(room)
        states = {"closed": True, "open": False}
        if str(state).lower() not in states:
            raise SetupError(f"relay state {state!r}: expected open or closed")
        want = states[str(state).lower()]
        if b.relay_closed(r) != want:
            raise CheckFailed(f"room {r} relay is {'closed' if not want else 'open'}, expected {state}")

    # -- protection ----------------------------------------------------------------------------
    @keyword
    def room_should_be_tripped_by(self, room: int, reason: str) -> None:
        """Over Modbus the room reports itself tripped with trip reason ``reason`` (``balance``,
        ``load limit``, ``overload``, ``over-current``, ``malicious load``, ``schedule``,
        ``remote``), and its relay contact is open."""
        b = self._need()
        r = self._room(room)
        if reason not in TRIP_REASONS.values():
            raise SetupError(f"trip reason {reason!r}: expected one of {', '.join(TRIP_REASONS.values())}")
        got = self.master.room(r)
        if not got.tripped:
            raise CheckFailed(f"room {r} is not tripped (expected a {reason} trip); trip reason register "
                              f"says {got.trip_reason_name}, {got.power_W:.0f} W, relay "
                              f"{'closed' if b.relay_closed(r) else 'open'}")
        if got.trip_reason_name != reason:
            raise CheckFailed(f"room {r} tripped by {got.trip_reason_name}, expected {reason}")
        if b.relay_closed(r):
            raise CheckFailed(f"room {r} reports a {reason} trip but its relay contact is closed")

    @keyword
    def room_should_not_be_tripped(self, room: int) -> None:
        """Over Modbus the room reports no trip, and its relay contact is closed."""
        b = self._need()
        r = self._room(room)
        got = self.master.room(r)
        if got.tripped:
            raise CheckFailed(f"room {r} tripped by {got.trip_reason_name} ({got.trips} trips so far)")
        if not b.relay_closed(r):
            raise CheckFailed(f"room {r} reports no trip but its relay contact is open")

    @keyword
    def room_status_flag_should_be_set(self, room: int, flag: str) -> None:
        """A bit of the room's status register (docs/modbus_map.md) is set: ``relay_closed``,
        ``tripped``, ``alarm1``, ``alarm2``, ``locked_out``, ``schedule_off``,
        ``illegal_load_seen``."""
        r = self._room(room)
        if flag not in STATUS_BITS:
            raise SetupError(f"status flag {flag!r}: expected one of {', '.join(STATUS_BITS)}")
        got = self.master.room(r)
        if not got.flag(flag):
            raise CheckFailed(f"room {r}: status flag {flag} is clear (status {got.status:#06x})")

    @keyword
    def room_relay_should_open_after(self, room: int, delay: str, tolerance: str = "2s") -> None:
        """The room's relay opened between ``delay`` and ``delay + tolerance`` after its
        injected load started drawing current (the later of the load switching on and the
        relay closing), e.g. an overload trip after the overload delay.

        | Room Relay Should Open After    3    5s    tolerance=2s
        """
        b = self._need()
        r = self._room(room)
        if r not in self._loads:
            raise SetupError(f"room {r} has no injected load (use Inject Load)")
        lo_ps = parse_time_ps(delay)
        hi_ps = lo_ps + parse_time_ps(tolerance)
        load_on_ps = self._origin_ps + round(self._loads[r][2] * PS_PER_S)
        hist = b.relays[r].history
        opened = [t for t, closed in hist if not closed and t > load_on_ps]
        if not opened:
            raise CheckFailed(f"room {r}'s relay never opened after its load switched on at "
                              f"{load_on_ps / PS_PER_S:.3f} s (now {b.now_ps / PS_PER_S:.3f} s)")
        closes = [t for t, closed in hist if closed and t < opened[0]]
        if not closes:
            raise CheckFailed(f"room {r}'s relay was never closed before it opened at "
                              f"{opened[0] / PS_PER_S:.3f} s")
        start_ps = max(load_on_ps, closes[-1])
        took_ps = opened[0] - start_ps
        if not lo_ps <= took_ps <= hi_ps:
            raise CheckFailed(f"room {r}'s relay opened {took_ps / PS_PER_S:.3f} s after the load drew "
                              f"current (at {start_ps / PS_PER_S:.3f} s), expected "
                              f"{lo_ps / PS_PER_S:g} to {hi_ps / PS_PER_S:g} s")
        logger.info(f"room {r}'s relay opened {took_ps / PS_PER_S:.3f} s after the load drew current")

    # -- every room ----------------------------------------------------------------------------
    @keyword
    def modbus_should_answer_for_every_room(self) -> None:
        """Reads every room's input registers (function 04); fails naming each room whose
        request got no reply or an exception."""
        b = self._need()
        bad = []
        for r in range(b.channels):
            try:
                self.master.room(r)
            except ModbusError as e:
                bad.append(f"room {r}: {e}")
        if bad:
            raise CheckFailed(f"{len(bad)} of {b.channels} rooms not answered: " + "; ".join(bad))

    @keyword
    def every_room_current_should_match_its_load(self, tolerance_A: float = 0.01) -> None:
        """Every room's current read over Modbus equals the RMS current of the load it is fed
        now (zero while its relay is open or the mains down, for rooms behind a relay), within
        ``tolerance_A``. Meant for steady loads: the firmware reports the last second."""
        b = self._need()
        bad = []
        for r in range(b.channels):
            prof = b.profiles.get(r)
            expected = 0.0
            flowing = (b.mains_on and b.relay_closed(r)) if r < len(b.feeds) else True
            if prof is not None and flowing:
                expected = float(prof.irms_A((b.now_ps - b.origins_ps[r]) / PS_PER_S))
            try:
                got = self.master.room(r).current_A
            except ModbusError as e:
                bad.append(f"room {r}: {e}")
                continue
            if abs(got - expected) > float(tolerance_A):
                bad.append(f"room {r}: {got:.3f} A over Modbus, load draws {expected:.3f} A")
        if bad:
            raise CheckFailed(f"{len(bad)} of {b.channels} room currents off by more than "
                              f"{float(tolerance_A):g} A: " + "; ".join(bad))

    @keyword
    def read_modbus_device_info(self) -> dict:
        """The device block (input registers 0..12) as a dictionary: ``version``, ``channels``,
        ``uptime_s``, ``rtc``, ``power_failures``, ``events``, ``crc_errors``.

        | ${info}=    Read Modbus Device Info
        | Should Be Equal As Integers    ${info}[channels]    32
        """
        self._need()
        return self.master.device_info()

    # -- raw Modbus frames ---------------------------------------------------------------------
    @keyword
    def send_raw_modbus_frame(self, frame: str, crc: str = "none", window: str = "200ms") -> list:
        """Sends bytes given in hex on the RS-485 bus as one frame and keeps the frames heard
        within ``window`` of virtual time for `No Modbus Reply Should Come`; returns them in hex.

        ``crc``: ``none`` sends the bytes as given, ``good`` appends their CRC-16/MODBUS,
        ``bad`` appends that CRC with its high byte inverted.

        | Send Raw Modbus Frame    07 04 00 00 00 01    crc=good
        """
        self._need()
        data = _hex_bytes(frame, "frame")
        mode = str(crc).lower()
        if mode not in ("none", "good", "bad"):
            raise SetupError(f"crc={crc!r}: expected none, good or bad")
        if mode != "none":
            c = crc16(data)
            data += bytes([c & 0xFF, (c >> 8) ^ (0xFF if mode == "bad" else 0)])
        self._raw_replies = self.master.raw(data, window=window)
        return [_hex(f) for f in self._raw_replies]

    @keyword
    def no_modbus_reply_should_come(self) -> None:
        """Nothing was heard on the bus after the last `Send Raw Modbus Frame` (within its window)."""
        if self._raw_replies is None:
            raise SetupError("no raw frame sent yet: use Send Raw Modbus Frame first")
        if self._raw_replies:
            raise CheckFailed("expected no reply, heard: " + ", ".join(_hex(f) for f in self._raw_replies))

    @keyword
    def modbus_request_should_fail_with_exception(self, pdu: str, code: int, address: int | None = None) -> None:
        """Sends request ``pdu`` (function code and data in hex; address and CRC are added) and
        expects the exception reply with ``code`` (1 illegal function, 2 illegal data address,
        3 illegal data value, 4 slave device failure).

        | Modbus Request Should Fail With Exception    04 50 00 00 01    2
        """
        self._need()
        request = _hex_bytes(pdu, "PDU")
        code = int(code)
        if code not in EXCEPTION_NAMES:
            raise SetupError(f"exception code {code}: expected one of {sorted(EXCEPTION_NAMES)}")
        try:
            reply = self.master.transact(request, address=None if address is None else int(address))
        except ModbusException as e:
            if e.code != code:
                raise CheckFailed(f"request {_hex(request)}: exception {e.code} "
                                  f"({EXCEPTION_NAMES.get(e.code, 'unknown')}), expected {code} "
                                  f"({EXCEPTION_NAMES[code]})") from None
            return
        except ModbusError as e:
            raise CheckFailed(f"request {_hex(request)}: expected exception {code} "
                              f"({EXCEPTION_NAMES[code]}), got: {e}") from None
        raise CheckFailed(f"request {_hex(request)} answered normally ({_hex(reply) if reply else 'no reply'}), "
                          f"expected exception {code} ({EXCEPTION_NAMES[code]})")

    # -- console -------------------------------------------------------------------------------
    @keyword
    def console_should_contain(self, text: str) -> None:
        """A line of the controller's USART1 console so far contains `text`."""
        b = self._need()
        if not any(text in ln for ln in b.console.line_texts()):
            raise CheckFailed(f"{text!r} not on {b.name}'s console; last lines: "
                              + " | ".join(b.console.line_texts()[-5:]))
