"""`metersim coverage run`: run a firmware while recording its coverage, then write lcov /
Cobertura and print the summary (the parser is added to the top-level CLI's subparsers by
`add_coverage_parser`)."""

from __future__ import annotations

import argparse
import sys

EXAMPLES = """The firmware runs unchanged: the emulator records which code runs and the ELF's DWARF
line table maps it to source lines and functions. Only sources present here are reported
(not the C library's) unless --all-sources is given. Line counts are 1 (ran) or 0.

examples:
  metersim coverage run build/fw/f413rg/rtos_ipc.elf --until PASS --lcov build/cov.info
  genhtml -o build/cov-html build/cov.info
  metersim coverage run build/fw/f413rg/hello.elf --for 2s --cobertura build/coverage.xml
  metersim coverage run build/fw/f413rg/rtos_ipc.elf --until PASS --include '*/rtos/src/*'
"""


def add_coverage_parser(sub) -> None:
    cov = sub.add_parser("coverage", help="code coverage of a firmware run (lcov, Cobertura)",
                         epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    csub = cov.add_subparsers(dest="coverage_command", required=True, metavar="ACTION")
    r = csub.add_parser("run", help="run a firmware ELF and report the coverage of its sources",
                        description="run a firmware ELF and report the coverage of its sources",
                        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("elf", help="firmware ELF (built with -g)")
    r.add_argument("--platform", help=".repl file or platform name; default: the ELF's board")
    r.add_argument("--for", dest="duration", default=None, metavar="TIME",
                   help="virtual time to run (default 1s; with --until: at most 60s)")
    r.add_argument("--until", metavar="TEXT", help="stop when a console line holds TEXT")
    r.add_argument("--lcov", metavar="FILE", help="write an lcov tracefile (genhtml renders it)")
    r.add_argument("--cobertura", metavar="FILE", help="write Cobertura XML")
    r.add_argument("--include", action="append", default=[], metavar="GLOB",
                   help="report only sources whose absolute path matches (repeatable)")
    r.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                   help="leave out sources whose absolute path matches (repeatable)")
    r.add_argument("--all-sources", action="store_true",
                   help="also report sources not present here (e.g. the C library's)")
    r.add_argument("--seed", type=int, default=0)
    r.set_defaults(fn=cmd_coverage_run)


def cmd_coverage_run(args) -> int:
    from metersim._cli.running import line_with, run_with_progress, span_for
    from metersim._coverage.recorder import CoverageRecorder
    from metersim._engine.boards import machine_for_firmware
    from metersim._engine.emulation import Emulation
    from metersim._orchestration.testers import capture_uart

    span = span_for(args.duration, args.until)
    emu = Emulation(seed=args.seed)
    m = machine_for_firmware(emu, args.elf, args.platform)
    cap = capture_uart(m)
    rec = CoverageRecorder(emu).start()
    try:
        run_with_progress(emu, span, line_with([cap], args.until) if args.until else None,
                          what=f"{args.until!r} on {m.name}:{cap.uart_name}")
    finally:   # what ran is reported even when --until never came
        data = rec.stop().filtered(args.include, args.exclude, existing=not args.all_sources)
        print(data.summary())
        if args.lcov:
            print(f"lcov: {data.write_lcov(args.lcov, test_name=m.firmware.path.stem)}")
        if args.cobertura:
            print(f"cobertura: {data.write_cobertura(args.cobertura)}")
        sys.stdout.flush()
    return 0
