"""One exception root for everything metersim raises, with a subclass per kind of failure.

The CLI maps these to exit codes so a script can tell a failed check from a timeout from a
broken set-up (see metersim._exit_codes).
"""


class MetersimError(Exception):
    """Root of all metersim errors."""


class SetupError(MetersimError):
    """The set-up is broken: missing file, bad platform, bad ELF, bad argument."""


class PlatformError(SetupError):
    """A platform description (.repl) could not be parsed or built."""


class FirmwareFault(MetersimError):
    """The firmware faulted and did not handle it (or the core locked up).

    `report` holds the multi-line fault report (PC, LR, xPSR, decoded CFSR/HFSR, backtrace).
    """

    def __init__(self, message: str, report: str = ""):
        super().__init__(message if not report else f"{message}\n{report}")
        self.report = report


class EmulationTimeout(MetersimError):
    """A wait ran out of virtual time before its condition was met."""


class HungEngine(MetersimError):
    """The wall-clock guard fired: the engine made no virtual progress for too long."""


class CheckFailed(MetersimError):
    """An orchestration check (energy, relay state, record) did not hold."""


class Interrupted(KeyboardInterrupt):
    """The run was stopped by Ctrl-C (SIGINT) at an instruction boundary.

    A KeyboardInterrupt, not a MetersimError: code that handles metersim's errors does not
    swallow Ctrl-C, and test runners and scripts stop on it as on any Ctrl-C. `emulation` is
    the emulation that stopped (its summary is still valid).
    """

    def __init__(self, message: str, emulation=None):
        super().__init__(message)
        self.emulation = emulation
