"""The emulation: machines that each keep their own time, the links between them, the run loop.

Time model (conservative parallel discrete-event simulation with lookahead, like Renode's time
domains). Each machine has its own clock (`machine.clock`): its event queue and its local
time; its peripherals schedule there. The emulation runs in quanta: in each, every machine in
turn runs alone up to the quantum's end (`bound`), executing its code and only its own events
(Machine.run_to), so one machine's timer or UART events never end another machine's CPU
slices, and a core asleep in WFI with no event of its own before the bound jumps to it. Then
the emulation's own events due by the bound run (`emulation.clock`: power cuts, load changes,
testers, pollers, host endpoints, and the links' deliveries), with every machine there.

Machines meet only through links (Rs485Bus, uart_cable.UartCable, the monitor's UART hub),
which carry a character on the emulation's clock to where the receiver first sees it: no
sooner than one character (RS-485: its end; a cable: the middle of its stop bit) after it left
the sender at the sender's local time. That delay is the link's lookahead; the quantum is the
smallest lookahead of the links joining two powered machines (`sync_quantum_ps`), so every
delivery lands at or after the end of the quantum it was sent in: results are exact, and the
same whatever the order the machines run in and whatever quantum below the lookahead (a
polling loop's skip-ahead, CortexM.poll_hint, stops at slice ends, so a quantum shorter than a
few loop turns can move where it sees a flag). `quantum` caps it; machines that nothing links
use `quantum`, or 10 ms (100 µs while an `until` condition is watched). Links keep their
lookahead until a USART's speed or format, a machine's power or a link's membership changes
(uart_cable.settings_changed). A link that gets faster inside a quantum (firmware raising the baud
rate) can deliver a character after its receiver passed it: it arrives then, counted in
`late_deliveries` and logged once. An emulation event scheduled from inside a machine before
the bound (a character reaching a host endpoint) lowers the bound for that machine and the
ones after it. While a machine runs, `emulation.clock.now_ps` reads its local time.

Sleeping machines. A machine asleep (core halted in WFI/WFE with no enabled exception pending
and no reset due, or stopped on a fault, or unpowered) does nothing before its own next event:
its code does not run, its models change only in their events, and what could reach it from
outside (a link's delivery, a host endpoint, a power cut, a tester) is an emulation event. So
a step of several machines first finds `wake`, the earliest instant any machine can act (the
step's start if one runs or can wake; else the first of their own next events), capped by the
emulation's next event, the run's end and, while pollers or an `until` condition look between
steps, the step cap (`quantum`, at least 10 ms); when every machine sleeps, all of them and the
emulation jump to it at once (`_sleep_to`: cores idle, no event runs; idle cycles are counted
up to where a core stops, so one jump or many quanta give the same counts: with nobody looking
between steps a jump is not cut into steps of 10 ms), and the quantum runs from there. A step's
bound is then at most min over machines m of (earliest activity of m) + lookahead, without a
quantum longer than the lookahead: 963 quanta per virtual second of the sleeping meter become
about 120 (benchmarks/README.md). Why nothing reaches a machine already past it:
- The jump itself: no emulation event lies before `wake` (it is capped there), no machine
  acts before it (its definition), so the state at `wake` is the one that running every
  machine to it would give: no character is sent inside the jump, none arrives (every
  delivery is an event, of the emulation or of the machine whose bus it is, hence >= `wake`).
- The quantum [wake, bound], bound <= wake + lookahead: every machine is at `wake` or ahead
  of it (only after a pause, see below), so a character leaves at s >= wake and arrives at
  >= s + lookahead >= bound, where every receiver still is, whatever the order machines run
  in. Characters already on the wire arrive at their delivery events, which cap the quantum
  like any emulation event scheduled before it; a transmitter's next character starts in its
  own machine's event (TXE/TC, a transceiver's delayed drive), which counts as that machine's
  next event. A machine powered on inside a quantum (power comes from host code or emulation
  events, so only at a quantum's end) resets its USARTs: it joins the lookahead from the next
  step, each of its USARTs counting as DEFAULT_QUANTUM_PS until it has a speed again, and
  its core starts at its machine's time (Machine.power_on, perform_reset). A link made
  faster inside a quantum (a baud change, a machine powered on by its own event) is the one
  exception, counted in `late_deliveries`.
- Host endpoints send through emulation events (at or after the emulation's time when they
  are scheduled, so they cap the quantum) and receive at delivery events; a host answering
  from a machine's callback schedules at that machine's local time, which lowers the bound
  for it and the machines after it (above).
- Pollers run between steps, with every machine at the emulation's time or ahead; what they
  change (a host send, a pin, a power switch, a debugger's write) is seen by the next step's
  `wake`, computed after them. Realtime pacing limits a step to 1 ms of virtual time, so a
  jump is no longer than that there.
- `until` conditions are checked after each step; nothing changes inside a jump, so a
  condition on the machines or the host becomes true inside a quantum, and is seen at its
  end, at most one quantum after the change, as before (a condition on time itself belongs
  in `run_until_time`).
- A stop inside a machine pauses at its local time, >= `wake`; the machines that ran before
  it are at most one quantum ahead, so what the others send later still reaches them in time.

A lone machine steps to its next event, as before: a core asleep whose only due event is its
SysTick runs those ticks in C (CortexM.idle_ticks) while no `until` condition is watched.
`until` conditions are checked at each step's end; a stop (tester match, breakpoint,
Ctrl-C, `request_stop`) or a fault inside a machine pauses the emulation at that machine's
local time, at an instruction boundary; machines that had run further stay ahead until the
emulation's time passes them. Waits are in virtual time; a wall-clock guard reports a hung
engine instead of spinning forever.

Durations in this API carry their unit: "1.5s", "200ms", "250us", or Renode's "00:00:05";
a bare number is refused (the clock counts picoseconds, Renode's RunFor seconds: a bare
number would mean either). A machine without firmware is refused before anything runs, a
firmware fault ends the run once, and Ctrl-C stops it at an instruction boundary
(metersim._engine.interrupts).
"""

from __future__ import annotations

import logging
import os
import re
import time
from heapq import heappop
from typing import Callable

from metersim._engine import interrupts
from metersim._engine.clock import Clock
from metersim.peripherals import uart_cable
from metersim._errors import EmulationTimeout, FirmwareFault, HungEngine, Interrupted, SetupError
from metersim._units import PS_PER_MS, PS_PER_US, format_time, parse_time_ps

log = logging.getLogger("metersim.emulation")

DEFAULT_QUANTUM_PS = uart_cable.UNKNOWN_SPEED_PS   # while a link's speed is not known yet;
                                                   # unlinked, watched
UNLINKED_QUANTUM_PS = 10 * PS_PER_MS     # machines nothing links (and a lone machine's step cap)


def duration_ps(value: str, what: str = "duration") -> int:
    """Picoseconds in a duration written with its unit ("1.5s", "200ms", "00:00:05");
    SetupError for a bare number, which names no unit."""
    if isinstance(value, str) and re.search(r"[a-zµ:]", value.lower()):
        return parse_time_ps(value)
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        raise SetupError(f"{what} {value!r} has no unit: write it with one, e.g. \"1.5s\", "
                         "\"200ms\", \"250us\" or \"00:00:05\"")
    raise SetupError(f"{what}: expected a duration such as \"1.5s\", got {value!r}")


class _EmulationClock(Clock):
    """The emulation's own clock. `run_for`, for tests of models without running any core,
    advances it and every machine's clock together, their events in time order (at one
    instant the machines' first, as at a quantum's end)."""

    def __init__(self, emulation: "Emulation") -> None:
        super().__init__()
        self._emulation = emulation

    def run_for(self, duration_ps: int) -> int:
        end = self._now + int(duration_ps)
        clocks = [m.clock for m in self._emulation.machines] + [self]
        ran = 0
        while True:
            due = [t for t in (c.next_event_ps() for c in clocks) if t is not None and t <= end]
            if not due:
                break
            t = min(due)
            for c in clocks:             # nothing is due before t anywhere: every clock reads t
                c._now = max(c._now, t)
            for c in clocks:
                ran += c.advance_to(c._now)
        for c in clocks:
            if c._now < end:
                c.advance_to(end)
        return ran


class Emulation:
    def __init__(self, seed: int = 0, quantum: str | None = None, wall_guard_s: float = 120.0):
        self.clock = _EmulationClock(self)
        # An emulation event scheduled before the running quantum's bound lowers it: the
        # clock calls this only while a quantum runs (its horizon is set only then).
        self.clock._on_earlier = self._on_earlier_event
        self.seed = seed
        self.machines: list = []
        self.links: list = []
        # None: the links' lookahead (exact); a duration caps the quantum (smaller is exact too)
        self.quantum_ps: int | None = None if quantum is None else duration_ps(quantum, "quantum")
        self.wall_guard_s = wall_guard_s
        self.late_deliveries = 0     # characters that reached a machine already past them
        self._bound = 0              # end of the running quantum
        self._running = None         # the machine running in it
        self._lockstep = False       # a lone machine: its events end the step
        self._watching = False       # an `until` condition is checked after each step
        self._fault: FirmwareFault | None = None
        self._stop_requested = False
        self.wall_s = 0.0
        self.pollers: list[Callable[[], None]] = []  # host I/O bridges, called each step
        # Real-time pacing (Renode's AdvanceImmediately false): needed while an external program
        # talks to the emulation through a bridge, so its own timeouts hold. Off by default.
        self.realtime = False
        # A lone core asleep with only its SysTick due runs its ticks in C (CortexM.idle_ticks):
        # the same results, without Python per tick. False (or METERSIM_NATIVE_IDLE=0) keeps
        # every tick in Python, for comparison.
        self.native_idle = os.environ.get("METERSIM_NATIVE_IDLE", "1") != "0"
        self._native_ok = False     # this run allows it (no `until` to check after each step)
        self._quantum_key = None    # what the last sync_quantum_ps answer depends on
        self._quantum = 0           # ... and that answer

    # -- machines ---------------------------------------------------------------------------
    def add_machine(self, machine) -> None:
        if any(m.name == machine.name for m in self.machines):
            raise SetupError(f"a machine named {machine.name!r} exists already")
        self.machines.append(machine)

    def machine(self, name: str):
        for m in self.machines:
            if m.name == name:
                return m
        raise SetupError(f"no machine named {name!r}; machines: "
                         f"{', '.join(m.name for m in self.machines) or 'none'}")

    @property
    def now_ps(self) -> int:
        return self.clock.now_ps

    # -- links between machines ----------------------------------------------------------------
    def add_link(self, link) -> None:
        """Register something that carries characters between machines (an RS-485 bus, a UART
        cable): `link.lookahead_ps()` gives the shortest time from a character leaving one
        machine to it reaching another (its character time at the configured baud; an end
        with no baud rate yet counts as DEFAULT_QUANTUM_PS, uart_cable.shortest_known_ps),
        0 while no end has one, None while it joins fewer than two powered machines; it
        changes only with
        `uart_cable.settings_changed()` (see there)."""
        if not any(x is link for x in self.links):
            self.links.append(link)

    def sync_quantum_ps(self, watching: bool = False) -> int:
        """The next quantum: the smallest lookahead of the links (capped by `quantum`), or
        `quantum` between machines that nothing links (when not set: 10 ms, 100 us while an
        `until` condition is watched, `watching`). Kept until a link's lookahead may change
        (uart_cable.settings_changed), a link is added or `quantum` is set: asked every step."""
        key = (uart_cable._settings_epoch, len(self.links), self.quantum_ps, watching)
        if key == self._quantum_key:
            return self._quantum
        self._quantum = self._sync_quantum_now(watching)
        self._quantum_key = key
        return self._quantum

    def _sync_quantum_now(self, watching: bool) -> int:
        q = None
        for link in self.links:
            la = link.lookahead_ps()
            if la is not None:
                if la <= 0:          # a speed not known yet (BRR 0): the configured quantum
                    la = self.quantum_ps or DEFAULT_QUANTUM_PS
                if q is None or la < q:
                    q = la
        if q is None:
            return self.quantum_ps or (DEFAULT_QUANTUM_PS if watching else UNLINKED_QUANTUM_PS)
        return min(q, self.quantum_ps) if self.quantum_ps else q

    def note_late(self, machine, due_ps: int) -> None:
        """A link delivered a character due at `due_ps` to `machine`, which had run past it
        (the link's speed rose inside a quantum, beyond its lookahead): it gets it now."""
        self.late_deliveries += 1
        if self.late_deliveries == 1:
            log.warning("[%s] %s: a character due then arrives %s late (a link between machines "
                        "got faster inside a quantum); counted in late_deliveries",
                        format_time(due_ps), machine.name,
                        format_time(machine.clock._now - due_ps))

    # -- callbacks from machines ------------------------------------------------------------
    def on_fault(self, machine, fault: FirmwareFault) -> None:
        if self._fault is None:
            self._fault = fault

    def on_breakpoint(self, machine, pc: int) -> None:
        self.request_stop()

    def request_stop(self) -> None:
        """Pause at the current instant (a tester match, a breakpoint, a monitor command)."""
        self._stop_requested = True
        for m in self.machines:
            m.cpu.break_run()

    # -- running ----------------------------------------------------------------------------
    def _step(self, limit_ps: int) -> None:
        clock = self.clock
        now = clock._now
        machines = self.machines
        self._lockstep = len(machines) == 1
        if self._lockstep:
            # A lone machine steps to its next event, as it always has (an event it schedules
            # before the step's end ends the step there: Machine._on_earlier_event).
            m = machines[0]
            if self._native_ok and m.powered and m.cpu.halted and not self.pollers:
                clock._time_source = m.clock.now     # (see _run_quantum)
                try:
                    got = m.cpu.idle_ticks(limit_ps, max(self.quantum_ps or 0, UNLINKED_QUANTUM_PS))
                finally:
                    clock._time_source = None
                if got == "slice":
                    # Python took over inside a tick: finish that step as the loop below would
                    # (the horizon may have come down meanwhile: run_to takes the minimum)
                    self._run_quantum(now, m.cpu._idle.slice_end_ps)
                    return
                if got is not None:
                    clock._now = m.clock._now   # asleep at the last wrap (no event of ours before)
                    return
            target = min(limit_ps, now + max(self.quantum_ps or 0, UNLINKED_QUANTUM_PS))
            nxt = m.clock.next_event_ps()
            if nxt is not None and nxt < target:
                target = nxt
        else:
            nxt = clock.next_event_ps()
            # Every machine asleep: nothing anywhere can happen before the first of them can
            # act, so all of them jump there first (time model: sleeping machines).
            stop = limit_ps
            if self._watching or self.pollers:
                # they look between steps: a step of sleep only every 10 ms at least
                cap = now + max(self.quantum_ps or 0, UNLINKED_QUANTUM_PS)
                if cap < stop:
                    stop = cap
            if nxt is not None and nxt < stop:
                stop = nxt
            wake = self._first_activity_ps(now, stop)
            if wake > now:
                self._sleep_to(wake)
                if wake == stop and wake != nxt and wake != limit_ps:
                    return           # the cap: a step of sleep only (pollers, `until`)
                now = wake
            target = min(limit_ps, now + self.sync_quantum_ps(self._watching))
            if nxt is not None and nxt < target:
                target = nxt
            self._run_quantum(now, target)
            return
        nxt = clock.next_event_ps()
        if nxt is not None and nxt < target:
            target = nxt
        self._run_quantum(now, target)

    def _first_activity_ps(self, now: int, stop: int) -> int:
        """The earliest instant, at most `stop`, at which some machine can act: execute an
        instruction, run an event of its own or send a character. `now` while one is running
        or has an exception that can wake its core (pending and enabled) or a reset due; a
        machine asleep in WFI (or stopped on a fault, or unpowered) does nothing before its
        own next event."""
        first = stop
        for m in self.machines:
            cpu = m.cpu
            if m.powered and (not cpu.halted or m.reset_pending is not None
                              or cpu.nvic.pending_set and cpu.nvic.highest_pending() is not None):
                return now
            # m.clock.next_event_ps(), inlined
            heap = m.clock._heap
            while heap and heap[0][2].cancelled:
                heappop(heap)
            if heap:
                t = heap[0][0]
                if t < first:
                    if t <= now:
                        return now
                    first = t
        return first

    def _sleep_to(self, t_ps: int) -> None:
        """Every machine (asleep, nothing of its own before `t_ps`) and the emulation (no
        event before `t_ps`) to `t_ps`, as Machine.run_to would take them there: cores idle,
        no event runs (those at `t_ps` run in the quantum from there)."""
        for m in self.machines:
            c = m.clock
            if c._now < t_ps:
                if not m.powered or m.cpu.fault is None:
                    m.cpu.idle_to(t_ps)
                c._now = t_ps
        self.clock._now = t_ps

    def _run_quantum(self, now: int, bound: int) -> None:
        """Each machine runs alone to `bound` (its own events only), then the emulation's own
        events due by then run with every machine there. An emulation event scheduled from
        inside a machine before `bound` (a character reaching a host endpoint) brings the
        bound down to it, for that machine and the ones after it. A stop or a fault inside a
        machine pauses the emulation at that machine's local time."""
        clock = self.clock
        self._bound = bound
        clock._horizon_ps = bound
        try:
            for m in self.machines:
                # Code that reads the emulation's time while this machine runs (testers, log
                # capture, a link sending) reads this machine's local time.
                mclock = m.clock
                clock._time_source = mclock.now
                self._running = m
                if not m.run_to(self._bound):
                    clock._time_source = None
                    clock._horizon_ps = None
                    clock.advance_to(max(now, min(self._bound, mclock._now)))
                    return
        finally:
            self._running = None
            clock._time_source = None
            clock._horizon_ps = None
        clock.advance_to(self._bound)

    def _on_earlier_event(self, t_ps: int) -> None:
        if t_ps < self._bound:
            self._bound = t_ps
            self._running._on_earlier_event(t_ps)

    def _raise_if_interrupted(self) -> None:
        if interrupts.interrupt_requested():
            interrupts.clear_interrupt()
            self._stop_requested = False
            raise Interrupted(f"interrupted (Ctrl-C) at virtual time "
                              f"{format_time(self.clock._now)}", self)

    def run_until_time(self, t_end_ps: int, until: Callable[[], bool] | None = None) -> bool:
        """Run until virtual time `t_end_ps`, or until `until()` becomes true (checked after
        every step). Returns True if `until` stopped the run."""
        start_wall = time.perf_counter()
        stuck_since_wall = None      # wall time of the first step that left time unchanged
        last_now = self.clock._now
        pace_wall0, pace_virt0 = start_wall, self.clock._now
        self._stop_requested = False
        self._native_ok = self.native_idle and until is None and not self.realtime
        self._watching = until is not None
        self.check_firmware()
        for m in self.machines:  # a stop asked during an earlier run is spent
            m.cpu._break_requested = False
        try:
            with interrupts.running(self):
                while self.clock._now < t_end_ps:
                    if interrupts._requested:        # (a module flag: no call per step)
                        self._raise_if_interrupted()
                    for poll in self.pollers:
                        poll()
                    if self.realtime:
                        ahead_s = (self.clock._now - pace_virt0) / 1e12 - (time.perf_counter() - pace_wall0)
                        if ahead_s > 0.001:
                            time.sleep(min(ahead_s, 0.01))
                            stuck_since_wall = None
                            continue
                    self._step(t_end_ps if not self.realtime else min(
                        t_end_ps, self.clock._now + (self.quantum_ps or DEFAULT_QUANTUM_PS) * 10))
                    if self._fault is not None:
                        fault, self._fault = self._fault, None
                        raise fault
                    if interrupts._requested:
                        self._raise_if_interrupted()
                    if until is not None and until():
                        return True
                    if self._stop_requested:
                        self._stop_requested = False
                        if until is None:
                            return True
                    if self.clock._now != last_now:
                        last_now = self.clock._now
                        stuck_since_wall = None
                    elif stuck_since_wall is None:
                        stuck_since_wall = time.perf_counter()   # (no clock read per step)
                    elif time.perf_counter() - stuck_since_wall > self.wall_guard_s:
                        raise HungEngine(
                            f"virtual time stuck at {format_time(last_now)} for "
                            f"{self.wall_guard_s:.0f} s of wall time; machines: "
                            + ", ".join(f"{m.name} PC=0x{m.cpu.pc:08x}" for m in self.machines))
                return bool(until is not None and until())
        finally:
            self._native_ok = False
            self.wall_s += time.perf_counter() - start_wall

    def check_firmware(self) -> None:
        """SetupError naming the first machine that has nothing to run (no firmware loaded and
        no vector table at its boot address): it would only fault at its first fetch. An
        unpowered machine runs nothing, so its models may run without firmware."""
        for m in self.machines:
            if m.powered and not m.has_boot_image():
                raise SetupError(
                    f"machine {m.name!r} has no firmware loaded, so it cannot run: load one "
                    f"first with {m.name}.load_elf(\"path/to/firmware.elf\") (or "
                    f"create_machine(..., elf=...); in the monitor `sysbus LoadELF @file.elf`)")

    def run_for(self, duration: str) -> None:
        """Run for a virtual duration with its unit ("1.5s", "200ms", "00:00:05")."""
        self.run_until_time(self.clock._now + duration_ps(duration, "run_for: duration"))

    def run_until(self, condition: Callable[[], bool], timeout: str,
                  what: str = "condition") -> None:
        """Run until `condition()` holds; EmulationTimeout after `timeout` of virtual time
        (with its unit: "2s", "500ms")."""
        span = duration_ps(timeout, "run_until: timeout")
        end = self.clock._now + span
        if condition():
            return
        if not self.run_until_time(end, condition):
            raise EmulationTimeout(f"{what} not met within {format_time(span)} "
                                   f"of virtual time (now {format_time(self.clock._now)})")

    def summary(self) -> str:
        virt_s = self.clock._now / 1e12
        lines = [f"virtual time {virt_s:.6f} s, wall time {self.wall_s:.3f} s, "
                 f"ratio {virt_s / self.wall_s if self.wall_s else 0:.2f}x real time"]
        for m in self.machines:
            st = m.stats()
            mips = st["instructions"] / self.wall_s / 1e6 if self.wall_s else 0
            lines.append(f"{m.name}: {st['instructions']} instructions, {mips:.1f} MIPS, "
                         f"{st['exceptions']} exceptions, core {st['freq_hz'] / 1e6:g} MHz")
        return "\n".join(lines)



