"""The one map from outcomes to process exit codes, shared by every command-line entry point
(`metersim ...`, `python -m metersim.frontends.monitor`), so a script can tell a failed check
from a timeout from a broken set-up."""

from __future__ import annotations

import sys

from metersim.errors import (CheckFailed, EmulationTimeout, FirmwareFault, HungEngine,
                             MetersimError, SetupError)

EXIT_OK, EXIT_CHECK, EXIT_TIMEOUT, EXIT_SETUP, EXIT_FAULT, EXIT_HUNG = 0, 1, 2, 3, 4, 5

#: (error class, exit code, prefix of the message on stderr), most specific first.
_MAP = [
    (FirmwareFault, EXIT_FAULT, ""),
    (EmulationTimeout, EXIT_TIMEOUT, "timeout: "),
    (HungEngine, EXIT_HUNG, "hung: "),
    (CheckFailed, EXIT_CHECK, "check failed: "),
    (SetupError, EXIT_SETUP, "error: "),
    (MetersimError, EXIT_SETUP, "error: "),
]


def exit_code(exc: MetersimError) -> int:
    return next(code for cls, code, _ in _MAP if isinstance(exc, cls))


def report(exc: MetersimError, stream=None) -> int:
    """Print `exc` once on stderr with its prefix; return its exit code."""
    _, code, prefix = next(row for row in _MAP if isinstance(exc, row[0]))
    print(f"{prefix}{exc}", file=stream or sys.stderr)
    return code
