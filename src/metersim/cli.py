"""`metersim` command line. Each subcommand is a thin wrapper over a public Python function.

Exit codes tell outcomes apart: 0 ok, 1 a check failed, 2 a wait timed out, 3 broken set-up
(bad file, bad argument), 4 the firmware faulted, 5 the engine hung.
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
from pathlib import Path

from metersim.campaign.cli import add_campaign_parser
from metersim.errors import (CheckFailed, EmulationTimeout, FirmwareFault, HungEngine,
                             MetersimError, SetupError)

EXIT_OK, EXIT_CHECK, EXIT_TIMEOUT, EXIT_SETUP, EXIT_FAULT, EXIT_HUNG = 0, 1, 2, 3, 4, 5
REPO = Path(__file__).resolve().parents[2]

EXAMPLES = """examples:
  metersim build                                  build all firmware (make -C firmware)
  metersim run build/fw/f413rg/hello.elf --for 3s  run an ELF on a bare STM32F413 machine
  metersim run --platform platforms/cpus/stm32f103rb.repl build/fw/f103rb/hello.elf --until PASS
  metersim run platforms/scenes/hello_f413.resc --for 3s   run a Renode-style scene
  metersim console platforms/scenes/two_boards.resc        interactive monitor
  metersim platform show platforms/cpus/stm32f413.repl
  metersim gdb build/fw/f413rg/hello.elf --port 3333   then: gdb-multiarch -ex 'target remote :3333'
  metersim trace --platform platforms/cpus/stm32f413.repl build/fw/f413rg/hello.elf --for 2s \
      --pcap build/hello.pcap --vcd build/hello.vcd
  metersim bench cpu --json                       metersim vs QEMU MIPS, checksums compared
  metersim bench idle --json                      WFI + 1 kHz SysTick for 60 virtual seconds
  metersim demo                                   the demo that `make demo` runs
  metersim cabinet --hours 2 --check 0.2          the metering controller for 2 virtual hours,
                                                  exit 1 if a room's energy is off the reference
"""


def _cmd_build(args) -> int:
    return subprocess.call(["make", "-C", str(REPO / "firmware")] + (["-B"] if args.rebuild else []))


def _core_for_elf(elf: Path) -> str:
    return "cortex-m3" if "f103" in str(elf) else "cortex-m4f"


def build_machine_for(emu, elf: str, platform: str | None = None, name: str | None = None):
    """A machine running `elf`: built from a .repl platform, or a bare STM32F413 / STM32F103
    (chosen from the ELF's build folder) with a simple console UART."""
    from metersim.engine.machine import Machine

    elf_path = Path(elf)
    if platform:
        from metersim.engine.platform_builder import create_machine
        return create_machine(emu, platform, elf=elf_path, name=name)
    if _core_for_elf(elf_path) == "cortex-m3":
        m = Machine.bare(emu, name or "f103", "cortex-m3", 8_000_000, flash=(0x08000000, 0x20000),
                         sram=(0x20000000, 0x5000), console_address=0x40013800)
    else:
        m = Machine.bare(emu, name or "f413", "cortex-m4f", 16_000_000)
    m.load_elf(elf_path)
    return m


def run_firmware(elf: str, platform: str | None = None, duration: str = "1s",
                 until: str | None = None, seed: int = 0, name: str | None = None,
                 echo=None):
    """Run `elf` on a platform (a .repl) or a bare machine; return (emulation, machine, text)."""
    from metersim.engine.emulation import Emulation
    from metersim.orchestration.uart_capture import capture_uart

    emu = Emulation(seed=seed)
    m = build_machine_for(emu, elf, platform, name)
    cap = capture_uart(m, echo=echo)
    # complete lines only, so the matching line is printed too
    run_with_progress(emu, duration,
                      (lambda: any(until in ln.text for ln in cap.lines)) if until else None,
                      what=f"{until!r} on the console")
    return emu, m, cap.text


def run_with_progress(emu, duration: str, until=None, what: str = "condition", stream=None):
    """Run for `duration` of virtual time (or until `until()`), drawing a progress bar on a
    terminal for runs longer than a few seconds of wall time."""
    import time as _time

    from metersim.units import parse_time_ps

    total = parse_time_ps(duration)
    stream = stream or sys.stderr
    show = stream.isatty()
    start_ps, start_wall = emu.now_ps, _time.perf_counter()
    end_ps = start_ps + total
    chunk = max(total // 200, 1)
    last_draw = start_wall
    while emu.now_ps < end_ps:
        stop = emu.run_until_time(min(end_ps, emu.now_ps + chunk), until)
        now_wall = _time.perf_counter()
        if show and now_wall - last_draw > 0.5:
            last_draw = now_wall
            frac = (emu.now_ps - start_ps) / total
            bar = "#" * int(frac * 30)
            stream.write(f"\r[{bar:<30}] {emu.now_ps / 1e12:9.3f} s virtual, "
                         f"{now_wall - start_wall:6.1f} s wall")
            stream.flush()
        if stop:
            break
    if show and last_draw != start_wall:
        stream.write("\n")
    if until is not None and not until():
        from metersim.errors import EmulationTimeout
        raise EmulationTimeout(f"{what} not met within {duration} of virtual time")


def _cmd_run(args) -> int:
    if args.elf.endswith(".resc"):
        from metersim.frontends.monitor import main_run
        return main_run(argparse.Namespace(scene=args.elf, duration=args.duration, until=args.until,
                                           seed=args.seed, execute=args.execute))

    def echo(machine_name, line):
        print(f"[{machine_name}] {line}", flush=True)

    emu, m, _ = run_firmware(args.elf, args.platform, args.duration or "1s", args.until, args.seed,
                             echo=echo)
    print(emu.summary())
    return EXIT_OK


def trace_firmware(elf: str, platform: str | None = None, duration: str = "1s",
                   pcap: str | None = None, vcd: str | None = None, uart: str | None = None,
                   protocol: str = "text", seed: int = 0, echo=None):
    """Run `elf` and record its UART traffic to a pcap and its GPIO pins and UART lines to a
    VCD; returns the emulation."""
    from metersim.engine.emulation import Emulation
    from metersim.orchestration.uart_capture import capture_uart, console_uart_of
    from metersim.traces import VcdTracer, capture_uart_pcap

    if not pcap and not vcd:
        raise SetupError("nothing to trace: give --pcap FILE and/or --vcd FILE")
    emu = Emulation(seed=seed)
    m = build_machine_for(emu, elf, platform)
    uart_name, uart_model = console_uart_of(m, uart)
    capture_uart(m, uart_name, echo=echo)
    writers = []
    if pcap:
        writers.append(capture_uart_pcap(uart_model, pcap, protocol=protocol,
                                         role="slave" if protocol == "modbus" else None))
    if vcd:
        tracer = VcdTracer(vcd, m.clock)
        for name, p in m.peripherals.items():
            if name.startswith("gpioPort") and hasattr(p, "connections"):
                tracer.gpio_port(p)
        if hasattr(uart_model, "tx"):
            tracer.uart(uart_model, uart_name)
        writers.append(tracer)
    try:
        run_with_progress(emu, duration)
    finally:
        for w in writers:
            w.close()
    if pcap and protocol == "modbus":
        _check_modbus_heard(writers[0], uart_name, duration)
    return emu


def _check_modbus_heard(cap, uart_name: str, duration: str) -> None:
    """`trace` runs the firmware alone: no Modbus master polls it, so a slave stays silent.
    Say so instead of leaving an empty pcap."""
    from metersim.traces import TraceError

    if cap.valid:
        return
    seen = ("no character at all" if not cap.frames else
            f"{len(cap.frames)} burst(s) of bytes, none a valid Modbus RTU frame")
    raise TraceError(
        f"--protocol modbus: expected Modbus RTU frames on {uart_name} and saw {seen} in "
        f"{duration} of virtual time, so {cap.path} holds no Modbus record. `metersim trace` "
        f"runs the firmware with no Modbus master on the line, and a slave (such as the "
        f"metering controller) only answers when polled: poll it from Python with "
        f"metersim.cabinet.modbus_master.ModbusMaster and record the bus with "
        f"metersim.traces.capture_rs485_pcap, or trace a UART on which the firmware itself "
        f"sends Modbus requests (--uart).")


def _cmd_trace(args) -> int:
    emu = trace_firmware(args.elf, args.platform, args.duration, args.pcap, args.vcd, args.uart,
                         args.protocol, args.seed,
                         echo=lambda mach, line: print(f"[{mach}] {line}", flush=True))
    print(emu.summary())
    for label, path in (("pcap", args.pcap), ("vcd", args.vcd)):
        if path:
            print(f"{label}: {path}")
    return EXIT_OK


def _cmd_console(args) -> int:
    from metersim.frontends.console import main_console
    return main_console(args)


def _cmd_gdb(args) -> int:
    from metersim.frontends.gdb_stub import main_gdb
    return main_gdb(args)


def _cmd_platform(args) -> int:
    from metersim.platform_show import show_platform
    print(show_platform(args.file, search_paths=args.include or None, show_all=args.all))
    return EXIT_OK


def _cmd_bench(args) -> int:
    from metersim.bench import format_result, run
    result = run(args.name)
    print(format_result(result, args.json))
    if not result.get("checksums_agree", True):
        print("checksums differ between metersim and QEMU", file=sys.stderr)
        return EXIT_CHECK
    return EXIT_OK


def _cmd_demo(args) -> int:
    from metersim.demo import main as demo_main
    return demo_main(args)


def _cmd_cabinet(args) -> int:
    import json

    from metersim.cabinet.board import DEFAULT_ELF
    from metersim.cabinet.checks import check_against_references
    from metersim.cabinet.demo import run_demo

    if not args.hours > 0:
        raise SetupError(f"--hours must be > 0, got {args.hours}")
    if args.check is not None and not args.check >= 0:
        raise SetupError(f"--check takes a percentage >= 0, got {args.check}")
    elf = Path(args.elf) if args.elf else DEFAULT_ELF
    if not elf.is_file():
        raise SetupError(f"{elf} is missing: build the firmware with `metersim build`")
    rows = run_demo(args.hours, args.channels, elf, args.seed,
                    out=sys.stderr if args.json else sys.stdout,
                    credit_cents=args.credit_cents, price=args.price)
    if args.json:   # NaN (a room without a reference) is not JSON: null
        print(json.dumps([{k: None if v != v else v for k, v in r.items()} for r in rows], indent=2))
    if args.check is not None:   # whole-Wh registers: 2 Wh of slack on top of the relative bound
        check_against_references([(r["room"], r["energy_Wh"], r["reference_Wh"]) for r in rows
                                  if r["reference_Wh"] == r["reference_Wh"]],
                                 rel=args.check / 100, abs_Wh=2.0)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="metersim", description="Co-simulation of smart-meter firmware "
                                "on emulated STM32 boards.", epilog=EXAMPLES,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv: debug)")
    sub = p.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="build the firmware", epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    b.add_argument("--rebuild", action="store_true", help="rebuild everything")
    b.set_defaults(fn=_cmd_build)

    r = sub.add_parser("run", help="run a firmware ELF", epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("elf", help="firmware ELF, or a .resc scene")
    r.add_argument("--platform", help=".repl platform (default: a bare STM32 machine)")
    r.add_argument("--for", dest="duration", default=None, help="virtual time to run (default 1s)")
    r.add_argument("-e", "--execute", action="append", metavar="COMMAND",
                   help="monitor command to run before a scene (repeatable)")
    r.add_argument("--until", help="stop when this text appears on the console")
    r.add_argument("--seed", type=int, default=0)
    r.set_defaults(fn=_cmd_run)

    c = sub.add_parser("console", help="interactive monitor console", epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_argument("scene", nargs="?", help=".resc scene to run first")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("-e", "--execute", action="append", metavar="COMMAND")
    c.set_defaults(fn=_cmd_console)

    g = sub.add_parser("gdb", help="serve a firmware to gdb-multiarch", epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    from metersim.frontends.gdb_stub import add_gdb_arguments
    add_gdb_arguments(g)
    g.set_defaults(fn=_cmd_gdb)

    t = sub.add_parser("trace", help="run a firmware and record pcap/VCD traces", epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    t.add_argument("elf", help="firmware ELF")
    t.add_argument("--platform", help=".repl platform (default: a bare STM32 machine)")
    t.add_argument("--for", dest="duration", default="1s", help="virtual time to run (default 1s)")
    t.add_argument("--pcap", help="write the console UART's traffic here")
    t.add_argument("--protocol", choices=["text", "modbus"], default="text",
                   help="how the pcap frames the bytes (default text)")
    t.add_argument("--uart", help="UART to capture (default: the console)")
    t.add_argument("--vcd", help="write GPIO pins and UART lines here")
    t.add_argument("--seed", type=int, default=0)
    t.set_defaults(fn=_cmd_trace)

    pl = sub.add_parser("platform", help="platform descriptions")
    plsub = pl.add_subparsers(dest="platform_command", required=True)
    show = plsub.add_parser("show", help="list a platform's peripherals", epilog=EXAMPLES,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    show.add_argument("file")
    show.add_argument("-I", "--include", action="append", help="extra search path for `using`")
    show.add_argument("--all", action="store_true", help="show every GPIO connection")
    show.set_defaults(fn=_cmd_platform)

    be = sub.add_parser("bench", help="benchmarks (cpu, idle)", epilog=EXAMPLES,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    be.add_argument("name", choices=["cpu", "idle"])
    be.add_argument("--json", action="store_true", help="print JSON")
    be.set_defaults(fn=_cmd_bench)

    d = sub.add_parser("demo", help="run the demo", epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    d.set_defaults(fn=_cmd_demo)

    ca = sub.add_parser("cabinet", help="run the prepaid cabinet's metering controller with its "
                        "standard rooms and print the per-room table", epilog=EXAMPLES,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    ca.add_argument("--hours", type=float, default=24.0, help="virtual hours (default 24)")
    ca.add_argument("--channels", type=int, choices=(4, 32), default=4)
    ca.add_argument("--seed", type=int, default=1)
    ca.add_argument("--elf", help="controller firmware (default: the built metering_controller.elf)")
    ca.add_argument("--credit-cents", type=int, default=2000, help="credit topped up per room")
    ca.add_argument("--price", type=int, default=60, help="flat price, cents per kWh")
    ca.add_argument("--json", action="store_true", help="the rows as JSON on stdout (progress on stderr)")
    ca.add_argument("--check", type=float, metavar="PERCENT",
                    help="exit 1 if a room's energy is off the reference by more than PERCENT %% + 2 Wh")
    ca.set_defaults(fn=_cmd_cabinet)

    add_campaign_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = logging.WARNING if args.verbose == 0 else logging.INFO if args.verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(message)s")
    try:
        return args.fn(args)
    except FirmwareFault as e:
        print(str(e), file=sys.stderr)
        return EXIT_FAULT
    except EmulationTimeout as e:
        print(f"timeout: {e}", file=sys.stderr)
        return EXIT_TIMEOUT
    except HungEngine as e:
        print(f"hung: {e}", file=sys.stderr)
        return EXIT_HUNG
    except CheckFailed as e:
        print(f"check failed: {e}", file=sys.stderr)
        return EXIT_CHECK
    except SetupError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_SETUP
    except MetersimError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_SETUP


if __name__ == "__main__":
    sys.exit(main())
