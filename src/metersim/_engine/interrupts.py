"""Ctrl-C (SIGINT) stops a run at a clean instruction boundary.

Python raises KeyboardInterrupt wherever the main thread happens to be when the signal is
handled; during a run that is often inside a unicorn callback, where the exception is lost
("Exception ignored on calling ctypes callback function") and the run goes on. Instead,
while an emulation runs, the SIGINT handler only sets a flag and asks the running cores to
end their slices; the run loop sees the flag between slices and raises
`metersim._errors.Interrupted`, with the emulation stopped at the instant its cores reached.

The handler is installed only in the main thread, and only over Python's default one (a
program with its own SIGINT handler keeps it); `sigint_stops_runs()` installs it for a
longer stretch (the CLI wraps a whole command in it, so a Ctrl-C between two runs stops the
next one at once).
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager

_requested = False
_running: list = []   # emulations inside a run


def request_interrupt() -> None:
    """Ask every running emulation to stop at its next slice boundary (signal-safe: sets a
    flag and lowers the cores' slice limits, raises nothing)."""
    global _requested
    _requested = True
    for emu in list(_running):
        emu.request_stop()   # the cores end their slices; the run pauses where they stopped


def interrupt_requested() -> bool:
    return _requested


def clear_interrupt() -> None:
    global _requested
    _requested = False


def _on_sigint(signum, frame) -> None:
    request_interrupt()


@contextmanager
def sigint_stops_runs(force: bool = True):
    """While inside, SIGINT stops runs cleanly (see the module docstring). With
    `force=False` the handler is installed only over Python's default one."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous is _on_sigint or (not force and previous is not signal.default_int_handler):
        yield
        return
    signal.signal(signal.SIGINT, _on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def running(emulation):
    """Marks `emulation` as running (so a SIGINT breaks its cores' slices)."""
    _running.append(emulation)
    try:
        with sigint_stops_runs(force=False):
            yield
    finally:
        _running.remove(emulation)
