"""The one map from outcomes to process exit codes, shared by every command-line entry point
(`metersim ...`, `python -m metersim._frontends.monitor`; README "Command line" lists them).

Each outcome has its own code, so a script can tell a failed check from a timeout from a
broken set-up from a mistyped command line.
"""

from __future__ import annotations

import sys

from metersim._errors import (CheckFailed, EmulationTimeout, FirmwareFault, HungEngine,
                             Interrupted, MetersimError, SetupError)

EXIT_OK = 0           # the command did what was asked
EXIT_CHECK = 1        # a check failed (an energy off its reference, checksums differ ...)
EXIT_TIMEOUT = 2      # a wait (--until) ran out of virtual time
EXIT_SETUP = 3        # broken set-up: missing or wrong file, bad platform, bad argument value
EXIT_FAULT = 4        # the firmware faulted (the fault report is on stderr)
EXIT_HUNG = 5         # the engine made no virtual progress (wall-clock guard)
EXIT_USAGE = 64       # the command line itself is wrong (unknown option, missing argument)
EXIT_INTERRUPTED = 130  # stopped by Ctrl-C (SIGINT); the summary up to that point is printed

EXIT_CODES = {
    EXIT_OK: "ok",
    EXIT_CHECK: "a check failed",
    EXIT_TIMEOUT: "a wait timed out",
    EXIT_SETUP: "broken set-up (file, platform, argument value)",
    EXIT_FAULT: "firmware fault",
    EXIT_HUNG: "hung engine",
    EXIT_USAGE: "usage error (the command line)",
    EXIT_INTERRUPTED: "interrupted by Ctrl-C",
}

# Most specific first (PlatformError is a SetupError, every one a MetersimError but Ctrl-C).
_ERROR_CODES = [
    (Interrupted, EXIT_INTERRUPTED, "interrupted"),
    (FirmwareFault, EXIT_FAULT, "fault"),
    (EmulationTimeout, EXIT_TIMEOUT, "timeout"),
    (HungEngine, EXIT_HUNG, "hung"),
    (CheckFailed, EXIT_CHECK, "check failed"),
    (SetupError, EXIT_SETUP, "error"),
    (MetersimError, EXIT_SETUP, "error"),
]


def exit_code_for(error: BaseException) -> tuple[int, str]:
    """(exit code, short reason) for an error a command raised."""
    for cls, code, reason in _ERROR_CODES:
        if isinstance(error, cls):
            return code, reason
    raise TypeError(f"no exit code for {type(error).__name__}")


def exit_codes_help() -> str:
    return "exit codes: " + ", ".join(f"{code} {what}" for code, what in EXIT_CODES.items())


def exit_code(error: BaseException) -> int:
    return exit_code_for(error)[0]


def report(error: BaseException, stream=None) -> int:
    """Print `error` once on stderr, prefixed with its reason (a fault report as it is);
    return its exit code."""
    code, reason = exit_code_for(error)
    text = str(error) if code == EXIT_FAULT else f"{reason}: {error}"
    print(text, file=stream or sys.stderr)
    return code
