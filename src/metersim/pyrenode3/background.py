"""Opt-in: let the emulation run in the background after `StartAll()`, as Renode does, paced
to the host clock (Renode's default, AdvanceImmediately false).

    import metersim.pyrenode3
    metersim.pyrenode3.run_in_background(True)

Virtual time then advances while the script sleeps (`time.sleep(5)` lets 5 virtual seconds
pass); waits and RunFor take the monitor's lock and run the emulation themselves, the runner
waiting meanwhile. Results then depend on host timing; without it (the default) they do not.
"""

from __future__ import annotations

import threading
import time

from metersim._errors import MetersimError
from metersim._units import PS_PER_MS, PS_PER_S

#: Most virtual time one runner step may cover (the lock is released between steps).
MAX_STEP_PS = 50 * PS_PER_MS


class Runner:
    def __init__(self, monitor):
        self.monitor = monitor
        self.stop = threading.Event()
        self.error: MetersimError | None = None
        self.thread = threading.Thread(target=self._loop, name="pyrenode3-runner", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        mon = self.monitor
        anchor = None
        while not self.stop.is_set():
            if not mon.started:
                anchor = None
                time.sleep(0.02)
                continue
            with mon.lock:
                if not mon.started:          # paused while this thread waited for the lock
                    continue
                emu = mon.emulation
                now = emu.now_ps
                wall = time.perf_counter()
                if anchor is None or anchor[1] + int((wall - anchor[0]) * PS_PER_S) < now:
                    anchor = (wall, now)         # started, or a wait ran time ahead
                target = min(anchor[1] + int((wall - anchor[0]) * PS_PER_S), now + MAX_STEP_PS)
                if target > now:
                    try:
                        emu.run_until_time(target)
                    except MetersimError as exc:
                        self.error = exc
                        mon.started = False
                        print(f"emulation paused: {exc}", flush=True)
            time.sleep(0.01)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
