"""Room loads of a prepaid cabinet and a run of N virtual hours with a progress callback.

A room's load sits BEHIND its relay and the mains: the room's ADE7753 sees the supply voltage
while the mains is up, and the room's current only while the relay contact is closed as well.
`RoomFeed` follows both (relay `on_change`, `Controller.mains_off/on`) and re-attaches the chip
to the full profile, the voltage-only profile or a dead line, keeping the profile's time origin
so waveforms stay continuous. The reference energy (checks.reference_energy_Wh) integrates the
same profile over exactly the intervals where current could flow.

Standard rooms (`standard_rooms`): heater (resistive, PF 1), motor (PF 0.8 with inrush),
computer (switch-mode supply: displacement PF 0.95, odd current harmonics, true PF ~0.6) and
mixed (heater + motor + computer on a supply with 3rd/5th voltage harmonics), each switching
on and off on its own daily schedule so the meter sees steps, idle stretches and overlaps.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

from metersim._cabinet.board import CabinetError, Controller
from metersim._orchestration.appliances import Motor, ResistiveHeater, SwitchModeSupply
from metersim._orchestration.load_profile import HarmonicProfile, Segment, Supply
from metersim._units import PS_PER_S


def _strip(profile: HarmonicProfile, voltage: bool) -> HarmonicProfile:
    """The same segments without current (and without voltage unless `voltage`)."""
    if not isinstance(profile, HarmonicProfile):
        raise CabinetError(f"room loads must be HarmonicProfiles (relay/mains gating), got {profile!r}")
    segs = [Segment(s.start_s, s.freq_hz, v=s.v if voltage else (), i=()) for s in profile.segments]
    return HarmonicProfile(segs, end_s=profile.end_s)


class RoomFeed:
    """What room `room`'s ADE7753 sees, following its relay and the mains."""

    def __init__(self, board: Controller, room: int, profile: HarmonicProfile, origin_ps: int):
        self.board, self.room = board, room
        self.full = profile
        self.volts_only = _strip(profile, True)
        self.dead = _strip(profile, False)
        self.origin_ps = origin_ps
        self._state = None
        self._on_relay = lambda closed: self.update()
        board.relays[room].on_change(self._on_relay)
        self.update()

    def detach(self) -> None:
        """Stop following the relay (the room's load is being replaced)."""
        self.board.relays[self.room].remove_on_change(self._on_relay)

    def update(self) -> None:
        b = self.board
        if not b.mains_on:
            state, prof = "dead", self.dead
        elif b.relays[self.room].closed:
            state, prof = "full", self.full
        else:
            state, prof = "volts", self.volts_only
        if state != self._state:
            self._state = state
            b.ades[self.room].attach_load(prof, origin_ps=self.origin_ps)


@dataclass
class RoomLoad:
    """One room: a name, its appliances and the supply it hangs on."""

    name: str
    appliances: Sequence = ()
    supply: Supply = field(default_factory=Supply)
    end_s: float = math.inf

    def profile(self) -> HarmonicProfile:
        return self.supply.profile(*self.appliances, end_s=self.end_s)


def _cycle(on_s: float, off_s: float, period_s: float, hours: float, start_s: float = 0.0):
    """(on, off) intervals repeating every period over `hours`."""
    out, t = [], start_s
    while t < hours * 3600:
        out.append((t + on_s, t + off_s))
        t += period_s
    return out


def standard_rooms(n: int = 4, hours: float = 24.0, power_W: float = 1500.0) -> list[RoomLoad]:
    """Heater, motor, computer and mixed rooms (repeated for n > 4), each with its schedule.
    `power_W` is the heater's and the motor's rated power; the computer draws a fifth of it."""
    harmonic_supply = Supply(230.0, 50.0, harmonics=[(3, 0.03, 0.2), (5, 0.02, 1.1)])
    rooms = []
    for r in range(n):
        kind = r % 4
        k = 1.0 + 0.1 * (r // 4)                    # later copies draw a little more
        if kind == 0:
            rooms.append(RoomLoad(f"heater{r}", [ResistiveHeater(power_W * k, schedule=_cycle(60, 2400, 3000, hours))]))
        elif kind == 1:
            rooms.append(RoomLoad(f"motor{r}", [Motor(power_W * k, pf=0.8, inrush_factor=4.0, inrush_s=0.4,
                                                       schedule=_cycle(120, 1500, 1800, hours))]))
        elif kind == 2:
            rooms.append(RoomLoad(f"computer{r}", [SwitchModeSupply(power_W * 0.2 * k,
                                                                    schedule=_cycle(30, 3300, 3600, hours))]))
        else:
            rooms.append(RoomLoad(f"mixed{r}", [
                ResistiveHeater(0.6 * power_W * k, schedule=_cycle(300, 1200, 2400, hours)),
                Motor(0.4 * power_W * k, pf=0.85, schedule=_cycle(600, 2000, 3000, hours)),
                SwitchModeSupply(0.15 * power_W * k, schedule=[(10, hours * 3600 + 10)]),
            ], supply=harmonic_supply))
    return rooms


def attach_rooms(board: Controller, rooms: Sequence[RoomLoad], origin_ps: int | None = None) -> list[RoomFeed]:
    """Profiles of `rooms` onto rooms 0..len-1, behind relays and mains; t = 0 at `origin_ps`."""
    if len(rooms) > board.channels:
        raise CabinetError(f"{len(rooms)} room loads for a {board.channels}-channel board")
    origin = board.now_ps if origin_ps is None else int(origin_ps)
    for old in board.feeds:                  # the new set replaces every room's load
        old.detach()
    feeds = []
    for r, room in enumerate(rooms):
        prof = room.profile() if isinstance(room, RoomLoad) else room
        board.profiles[r] = prof
        board.origins_ps[r] = origin
        feeds.append(RoomFeed(board, r, prof, origin))
    board.feeds = feeds
    return feeds


Progress = Callable[[float, float, float], None]   # (virtual s done, virtual s total, wall s)


def run_hours(board: Controller, hours: float, progress: Progress | None = None,
              step_s: float = 60.0) -> float:
    """Run `hours` of virtual time in steps of `step_s`, calling `progress` after each;
    returns the wall seconds spent."""
    if not hours > 0:
        raise CabinetError(f"hours must be > 0, got {hours!r}")
    emu = board.emu
    total_ps = round(hours * 3600 * PS_PER_S)
    start_ps, wall0 = emu.now_ps, time.perf_counter()
    step_ps = round(step_s * PS_PER_S)
    while emu.now_ps - start_ps < total_ps:
        emu.run_until_time(min(emu.now_ps + step_ps, start_ps + total_ps))
        if progress is not None:
            progress((emu.now_ps - start_ps) / PS_PER_S, total_ps / PS_PER_S, time.perf_counter() - wall0)
    return time.perf_counter() - wall0


def prepare_rooms(master, rooms: int, credit_cents: int = 1_000_000, malicious: bool = False,
                  price_cents_per_kWh: int | None = None, **settings) -> None:
    """Over Modbus: top up every room, set malicious-load detection and other room settings."""
    if price_cents_per_kWh is not None:
        master.set_flat_price(price_cents_per_kWh)
    for r in range(rooms):
        master.set_room(r, malicious_detect=malicious, **settings)
        if credit_cents:
            master.top_up(r, credit_cents)
