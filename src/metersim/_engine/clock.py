"""One virtual clock per emulation: integer picoseconds and an event queue.

Peripherals never poll: they `schedule(delay_ps, fn)` and the engine runs the callback when
virtual time reaches it. Ties are broken by scheduling order, so runs are deterministic.

While a CPU executes a slice, "now" lies inside the slice: the running CPU installs a time
source so `now_ps` is exact to the instruction during MMIO callbacks, and a horizon callback so
an event scheduled before the slice's planned end shortens the slice.
"""

from __future__ import annotations

import itertools
from heapq import heappop, heappush
from itertools import repeat
from typing import Any, Callable


class Event:
    """A scheduled callback. `cancel()` keeps it in the heap but makes it a no-op."""

    __slots__ = ("time_ps", "fn", "args", "cancelled")

    def __init__(self, time_ps: int, fn: Callable[..., Any], args: tuple):
        self.time_ps = time_ps
        self.fn = fn
        self.args = args
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True

    def __repr__(self) -> str:
        state = " cancelled" if self.cancelled else ""
        return f"<Event {getattr(self.fn, '__qualname__', self.fn)} at {self.time_ps} ps{state}>"


class Clock:
    """Virtual time in integer picoseconds plus a deterministic event queue."""

    def __init__(self) -> None:
        self._now = 0
        self._heap: list[tuple[int, int, Event]] = []
        self._seq = itertools.count()
        # Set by the engine while a CPU slice runs (see module docstring).
        self._time_source: Callable[[], int] | None = None
        self._horizon_ps: int | None = None
        self._on_earlier: Callable[[int], None] | None = None

    # -- time -------------------------------------------------------------------------------
    @property
    def now_ps(self) -> int:
        src = self._time_source
        return src() if src is not None else self._now

    def now(self) -> int:
        return self.now_ps

    # -- scheduling -------------------------------------------------------------------------
    def schedule(self, delay_ps: int, fn: Callable[..., Any], *args: Any) -> Event:
        """Run `fn(*args)` `delay_ps` picoseconds from now (0 = at the next boundary)."""
        if delay_ps < 0:
            raise ValueError(f"cannot schedule {delay_ps} ps in the past")
        return self.schedule_at(self.now_ps + int(delay_ps), fn, *args)

    def schedule_at(self, time_ps: int, fn: Callable[..., Any], *args: Any) -> Event:
        """Run `fn(*args)` at absolute virtual time `time_ps` (clamped to now)."""
        time_ps = int(time_ps)
        src = self._time_source            # self.now_ps, inlined
        now = src() if src is not None else self._now
        if time_ps < now:
            time_ps = now
        ev = Event(time_ps, fn, args)
        heappush(self._heap, (time_ps, next(self._seq), ev))
        hz = self._horizon_ps
        if hz is not None and time_ps < hz:
            self._horizon_ps = time_ps
            if self._on_earlier is not None:
                self._on_earlier(time_ps)
        return ev

    def schedule_quiet_at(self, time_ps: int, fn: Callable[..., Any], *args: Any) -> Event:
        """`schedule_at` that does not end a running CPU slice early.

        The event still runs in time order (after the slice, before any later event), so the
        model must make sure nothing observes the state it changes before then without calling
        into the model (e.g. a status register read that first catches the model up)."""
        hz = self._horizon_ps
        self._horizon_ps = None
        try:
            return self.schedule_at(time_ps, fn, *args)
        finally:
            self._horizon_ps = hz

    def call_as_of(self, time_ps: int, fn: Callable[..., Any], *args: Any) -> Any:
        """Run `fn(*args)` now with `now_ps` reading `time_ps`, an instant already passed in
        this slice: a model catching up lets the devices it calls see the time the hardware
        acted at."""
        saved = self._time_source
        # a C-level callable returning the instant: no Python frame per `now_ps` read
        self._time_source = repeat(time_ps).__next__
        try:
            return fn(*args)
        finally:
            self._time_source = saved

    def next_event_ps(self) -> int | None:
        """Time of the earliest live event, or None when the queue is empty."""
        heap = self._heap
        while heap and heap[0][2].cancelled:
            heappop(heap)
        return heap[0][0] if heap else None

    def pending(self) -> int:
        return sum(1 for _, _, ev in self._heap if not ev.cancelled)

    # -- advancing --------------------------------------------------------------------------
    def advance_to(self, time_ps: int) -> int:
        """Run every event due at or before `time_ps`, in order, then set now to `time_ps`.

        Returns how many callbacks ran. Callbacks may schedule more events; those due within
        the window run too.
        """
        if time_ps < self._now:
            raise ValueError(f"time cannot go backwards ({time_ps} < {self._now})")
        heap = self._heap
        if not heap or heap[0][0] > time_ps:
            self._now = time_ps      # nothing due (most calls from the run loop)
            return 0
        ran = 0
        while heap and heap[0][0] <= time_ps:
            t, _, ev = heappop(heap)
            if ev.cancelled:
                continue
            self._now = t
            ev.fn(*ev.args)
            ran += 1
        self._now = time_ps
        return ran

    def run_for(self, duration_ps: int) -> int:
        """Advance a clock that has no CPU attached (unit tests of device models)."""
        return self.advance_to(self._now + int(duration_ps))

    # -- engine hooks -----------------------------------------------------------------------
    def begin_slice(self, time_source: Callable[[], int], horizon_ps: int,
                    on_earlier: Callable[[int], None]) -> None:
        self._time_source = time_source
        self._horizon_ps = horizon_ps
        self._on_earlier = on_earlier

    def end_slice(self) -> None:
        # `_on_earlier` stays: it is called only while a horizon is set, and a machine's clock
        # keeps its machine's for good (Machine.__init__)
        self._time_source = None
        self._horizon_ps = None
