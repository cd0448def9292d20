"""The subcommands of `metersim`: each is a thin wrapper over a public Python function.
They return an exit code (metersim._exit_codes) or raise a MetersimError that `main`
maps to one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from metersim._exit_codes import EXIT_CHECK, EXIT_OK
from metersim._cli.running import RunReport, run_firmware, run_scene, trace_firmware
from metersim._errors import SetupError
from metersim._resources import data_root



def _echo_to(stream):
    return lambda machine_name, line: print(f"[{machine_name}] {line}", file=stream, flush=True)


def _say_to(stream):
    return lambda text: print(text, file=stream, flush=True)


def _finish(args, report: RunReport) -> int:
    """The run's summary: JSON on stdout with --json, else the text summary."""
    if getattr(args, "json", False):
        print(json.dumps(report.as_dict(EXIT_OK, report.exit_reason), indent=2))
    else:
        print(report.emulation.summary())
        for label, path in report.artefacts.items():
            print(f"{label}: {path}")
    return EXIT_OK


def cmd_build(args) -> int:
    firmware = data_root() / "firmware"
    if not (firmware / "Makefile").is_file():
        raise SetupError("metersim build compiles the firmware of a metersim checkout, and this "
                         f"installation has none ({firmware}); build in a checkout and point "
                         "METERSIM_FIRMWARE_PATH at its build/fw")
    return subprocess.call(["make", "-C", str(firmware)] + (["-B"] if args.rebuild else []))


def cmd_run(args) -> int:
    report = args.report = RunReport("run")
    # With --json, stdout holds the JSON only: console lines and monitor output go to stderr.
    side = sys.stderr if args.json else sys.stdout
    if args.elf.endswith(".resc"):
        if args.platform:
            raise SetupError(f"--platform {args.platform} does not apply to a scene: "
                             f"{args.elf} loads its own platforms (`machine "
                             "LoadPlatformDescription`); drop --platform or edit the scene")
        run_scene(args.elf, args.duration, args.until, args.seed, args.execute, report,
                  out=_say_to(side))
    else:
        run_firmware(args.elf, args.platform, args.duration, args.until, args.seed,
                     echo=_echo_to(side), execute=args.execute, report=report,
                     out=_say_to(side))
    report.exit_reason = "until" if args.until else "completed"
    return _finish(args, report)


def cmd_trace(args) -> int:
    report = args.report = RunReport("trace")
    side = sys.stderr if args.json else sys.stdout
    trace_firmware(args.elf, args.platform, args.duration, args.pcap, args.vcd, args.uart,
                   args.protocol, args.seed, echo=_echo_to(side), report=report)
    report.exit_reason = "completed"
    return _finish(args, report)


def cmd_console(args) -> int:
    from metersim._frontends.console import main_console
    return main_console(args)


def cmd_gdb(args) -> int:
    from metersim._frontends.gdb_stub import main_gdb
    return main_gdb(args)


def cmd_platform(args) -> int:
    from metersim._engine.boards import resolve_platform
    from metersim._platform_show import show_platform, show_registers
    path = str(resolve_platform(args.file))
    if args.registers:
        print(show_registers(path, args.registers, search_paths=args.include or None))
    else:
        print(show_platform(path, search_paths=args.include or None, show_all=args.all))
    return EXIT_OK


def cmd_bench(args) -> int:
    from metersim._bench import format_result, run
    result = run(args.name)
    print(format_result(result, args.json))
    if not result.get("checksums_agree", True):
        print("checksums differ between metersim and QEMU", file=sys.stderr)
        return EXIT_CHECK
    return EXIT_OK


def cmd_demo(args) -> int:
    from metersim._demo import main as demo_main
    return demo_main(args)


def server_address(url: str) -> tuple[str, int]:
    """`--server`'s (host, port): tcp://HOST:PORT, HOST:PORT, or a bare PORT on 127.0.0.1."""
    text = url.strip()
    if "://" in text:
        scheme, _, text = text.partition("://")
        if scheme.lower() != "tcp":
            raise SetupError(f"--server takes tcp://HOST:PORT, HOST:PORT or PORT, got {url!r} "
                             f"(the query manager's link is TCP)")
        text = text.rstrip("/")
    host, sep, port = text.rpartition(":")
    if not sep:
        host = "127.0.0.1"
    if not port.isdigit() or not 0 < int(port) <= 0xFFFF or (sep and not host):
        raise SetupError(f"--server takes tcp://HOST:PORT, HOST:PORT or PORT with a TCP port "
                         f"1..65535, got {url!r}")
    return host, int(port)


def cmd_cabinet(args) -> int:
    from metersim._cabinet.board import DEFAULT_ELF
    from metersim._cabinet.checks import check_against_references
    from metersim._cabinet.demo import run_demo

    if not args.hours > 0:
        raise SetupError(f"--hours must be > 0, got {args.hours}")
    if args.check is not None and not args.check >= 0:
        raise SetupError(f"--check takes a percentage >= 0, got {args.check}")
    elf = Path(args.elf) if args.elf else DEFAULT_ELF
    if not elf.is_file():
        raise SetupError(f"{elf} is missing: build the firmware with `metersim build`")
    server = None if args.server is None else server_address(args.server)
    rows = run_demo(args.hours, args.channels, elf, args.seed,
                    out=sys.stderr if args.json else sys.stdout,
                    credit_cents=args.credit_cents, price=args.price, server=server)
    if args.json:   # NaN (a room without a reference) is not JSON: null
        print(json.dumps([{k: None if v != v else v for k, v in r.items()} for r in rows], indent=2))
    if args.check is not None:   # whole-Wh registers: 2 Wh of slack on top of the relative bound
        check_against_references([(r["room"], r["energy_Wh"], r["reference_Wh"]) for r in rows
                                  if r["reference_Wh"] == r["reference_Wh"]],
                                 rel=args.check / 100, abs_Wh=2.0)
    return EXIT_OK


def cmd_completion(args) -> int:
    from metersim._cli.completion import completion_script
    print(completion_script(args.shell))
    return EXIT_OK


def cmd_test(args) -> int:
    import logging

    from metersim._frontends.renode_test import run_suites

    # Robot lowers the root logger's level to capture records in its log; the console keeps
    # the level -v asked for.
    level = [logging.WARNING, logging.INFO][min(args.verbose, 1)] if args.verbose < 2 else logging.DEBUG
    for h in logging.getLogger().handlers:
        if h.level == logging.NOTSET:
            h.setLevel(level)
    skip = args.skip + ([] if args.run_skipped else ["skipped"])
    return run_suites(args.tests, args.results_dir, args.variable, args.include, args.exclude,
                      args.fixture, args.stop_on_error, skip=skip, binaries=args.binaries)
