# PYTHON_ARGCOMPLETE_OK
"""`metersim` command line. Each subcommand is a thin wrapper over a public Python function;
exit codes tell outcomes apart (metersim._exit_codes, listed in `metersim --help`).
"""

from __future__ import annotations

import json
import logging
import sys
from contextlib import nullcontext

from metersim._exit_codes import (EXIT_CHECK, EXIT_FAULT, EXIT_HUNG, EXIT_INTERRUPTED,
                                     EXIT_OK, EXIT_SETUP, EXIT_TIMEOUT, EXIT_USAGE, exit_code_for)
from metersim._cli.parser import UsageError, build_parser
from metersim._cli.running import run_firmware, run_with_progress, trace_firmware
from metersim._engine import interrupts
from metersim._errors import FirmwareFault, Interrupted, MetersimError

__all__ = ["main", "build_parser", "run_firmware", "run_with_progress", "trace_firmware",
           "EXIT_OK", "EXIT_CHECK", "EXIT_TIMEOUT", "EXIT_SETUP", "EXIT_FAULT", "EXIT_HUNG",
           "EXIT_USAGE", "EXIT_INTERRUPTED"]

# Commands that run an emulation in this process: Ctrl-C stops their run cleanly. The
# console and the GDB server handle Ctrl-C themselves; `build` passes it to make.
_INTERRUPTIBLE = {"run", "trace", "bench", "demo", "cabinet", "coverage"}


def _report_interrupted(args, error: Interrupted | None) -> None:
    report = getattr(args, "report", None)
    emu = (error.emulation if error is not None else None) or getattr(report, "emulation", None)
    print(f"interrupted: {error or 'Ctrl-C'}", file=sys.stderr)
    if getattr(args, "json", False) and report is not None:
        print(json.dumps(report.as_dict(EXIT_INTERRUPTED, "interrupted", str(error or "Ctrl-C")),
                         indent=2))
    elif emu is not None:
        print(emu.summary(), flush=True)


def _report_logged_to_stderr() -> bool:
    """Whether the fault report the machine logged went to stderr already."""
    return logging.getLogger("metersim").isEnabledFor(logging.ERROR) and any(
        isinstance(h, logging.StreamHandler) and getattr(h, "stream", None) is sys.stderr
        for h in logging.getLogger().handlers)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    from metersim._cli.completion import autocomplete
    autocomplete(parser)
    try:
        args = parser.parse_args(argv)
    except UsageError as e:
        print(e, file=sys.stderr)
        return EXIT_USAGE
    except SystemExit as e:   # --help, --version
        return e.code if isinstance(e.code, int) else EXIT_OK
    level = logging.WARNING if args.verbose == 0 else logging.INFO if args.verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(message)s")
    interruptible = args.command in _INTERRUPTIBLE
    try:
        with interrupts.sigint_stops_runs() if interruptible else nullcontext():
            code = args.fn(args)
            if interruptible and interrupts.interrupt_requested():
                # Ctrl-C after the last run: the work is done, but the user asked to stop.
                interrupts.clear_interrupt()
                _report_interrupted(args, None)
                return EXIT_INTERRUPTED
            return code
    except Interrupted as e:
        _report_interrupted(args, e)
        return EXIT_INTERRUPTED
    except MetersimError as e:
        code, reason = exit_code_for(e)
        if isinstance(e, FirmwareFault) and _report_logged_to_stderr():
            text = str(e).splitlines()[0] + " (fault report above)"   # logged once already
        else:
            text = str(e)
        print(f"{reason}: {text}" if not isinstance(e, FirmwareFault) else text, file=sys.stderr)
        report = getattr(args, "report", None)
        if getattr(args, "json", False) and report is not None:
            print(json.dumps(report.as_dict(code, reason.replace(" ", "_"), str(e)), indent=2))
        return code


if __name__ == "__main__":
    sys.exit(main())
