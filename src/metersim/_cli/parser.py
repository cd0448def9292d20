"""The `metersim` command line: options, and each subcommand's own examples."""

from __future__ import annotations

import argparse

from metersim._cli import commands as C
from metersim._exit_codes import exit_codes_help
from metersim._cli.running import DEFAULT_FOR, DEFAULT_UNTIL_FOR


class UsageError(Exception):
    """The command line is wrong (argparse's complaint, already printed with the usage)."""


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error raises UsageError (the CLI's own exit code) instead of
    exiting with 2, which metersim keeps for a timed-out wait."""

    def error(self, message):
        self.print_usage(argparse._sys.stderr)
        raise UsageError(f"{self.prog}: error: {message}")


OVERVIEW = f"""commands and their examples: metersim COMMAND --help

{exit_codes_help()}
"""

EXAMPLES = {
    "build": """examples:
  metersim build                 build every firmware (make -C firmware): ELF, map, bin, sizes
  metersim build --rebuild       rebuild from scratch
""",
    "run": f"""The board comes from the target the firmware build recorded in the ELF; an ELF built
elsewhere needs --platform. --for defaults to {DEFAULT_FOR}; with --until and no --for the run
waits up to {DEFAULT_UNTIL_FOR} of virtual time for the text (exit 2 if it never appears).

examples:
  metersim run build/fw/f413rg/hello.elf --for 3s          an ELF on its bare board
  metersim run build/fw/f413rg/systick_rate.elf --until PASS
  metersim run --platform stm32f103rb build/fw/f103rb/hello.elf --until "uptime 2 s"
  metersim run build/fw/f413rg/hello.elf -e "cpu PC" --for 10ms   a monitor command first
  metersim run platforms/scenes/hello_f413.resc --for 3s   a Renode-style scene
  metersim run platforms/scenes/two_boards.resc --until "uptime 2 s"
  metersim run build/fw/f413rg/hello.elf --for 2s --json    machine-readable summary
""",
    "console": """examples:
  metersim console                                   an empty emulation: type `help`
  metersim console platforms/scenes/two_boards.resc  run a scene, then stay interactive
""",
    "gdb": """examples:
  metersim gdb build/fw/f413rg/systick_rate.elf --port 3333
  gdb-multiarch build/fw/f413rg/systick_rate.elf -ex 'target remote :3333' -ex 'break main'
""",
    "trace": """examples:
  metersim trace build/fw/f413rg/hello.elf --for 2s --pcap build/hello.pcap --vcd build/hello.vcd
  metersim trace --platform stm32f413 build/fw/f413rg/hello.elf --pcap build/hello.pcap --json
  tshark -r build/hello.pcap; gtkwave build/hello.vcd
""",
    "platform show": """examples:
  metersim platform show stm32f413                    a platform by name
  metersim platform show platforms/boards/metering_controller.repl --all
""",
    "bench": """examples:
  metersim bench cpu --json      metersim vs QEMU MIPS on the same ELF, checksums compared
  metersim bench idle --json     WFI + 1 kHz SysTick for 60 virtual seconds
""",
    "demo": """examples:
  metersim demo                  two boards' shells, then a virtual day of the cabinet
""",
    "cabinet": """examples:
  metersim cabinet --hours 2 --check 0.2   2 virtual hours, exit 1 if a room's energy is off
  metersim cabinet --hours 0.5 --json      the per-room rows as JSON (progress on stderr)
  metersim cabinet --hours 1 --server 5020 with a query manager reporting to a head end
  metersim cabinet --server tcp://pc.example:5020   ... to a head end on another machine
""",
    "completion": """examples:
  eval "$(metersim completion bash)"                     this shell
  metersim completion bash > ~/.local/share/bash-completion/completions/metersim
  eval "$(register-python-argcomplete metersim)"        the same, with argcomplete's tool
""",
    "test": """Runs Robot suites as Renode's renode-test does: the suite files unchanged, Renode's
keywords and suite/test setup and teardown injected. Exit 0 when every test passed, 1 otherwise.

examples:
  metersim test robot/renode_style/hello.robot             results in ./test-results
  metersim test tests/*.robot -r build/results --include smoke
  metersim test suite.robot -f "Should Print"              tests whose name holds the text
  metersim test suite.robot --variable ELF:build/fw/f413rg/hello.elf
  metersim test STM32F4_Discovery.robot --binaries build/fw/renode_samples/binaries
""",
}


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    import metersim
    try:
        uc = version("unicorn")
    except PackageNotFoundError:
        uc = "not installed"
    return f"metersim {metersim.__version__} (unicorn {uc})"


def build_parser() -> argparse.ArgumentParser:
    common = Parser(add_help=False)
    common.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                        help="more logging (-vv: debug)")

    p = Parser(prog="metersim", description="Co-simulation of smart-meter firmware on emulated "
               "STM32 boards.", epilog=OVERVIEW, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv: debug)")
    p.add_argument("--version", action="version", version=_version())
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name, help_text, fn, examples_key=None, parent=sub):
        sp = parent.add_parser(name, help=help_text, description=help_text, parents=[common],
                               epilog=EXAMPLES[examples_key or name],
                               formatter_class=argparse.RawDescriptionHelpFormatter)
        sp.set_defaults(fn=fn)
        return sp

    b = command("build", "build the firmware", C.cmd_build)
    b.add_argument("--rebuild", action="store_true", help="rebuild everything")

    r = command("run", "run a firmware ELF or a .resc scene", C.cmd_run)
    r.add_argument("elf", metavar="ELF|SCENE", help="firmware ELF, or a .resc scene")
    r.add_argument("--platform", help=".repl file or platform name (stm32f413, stm32f103rb ...); "
                   "default: the board the ELF was built for")
    r.add_argument("--for", dest="duration", default=None, metavar="TIME",
                   help=f"virtual time to run (default {DEFAULT_FOR}; with --until: at most "
                   f"{DEFAULT_UNTIL_FOR})")
    r.add_argument("--until", metavar="TEXT", help="stop when a console line holds TEXT "
                   "(exit 2 if it does not appear in time)")
    r.add_argument("-e", "--execute", action="append", metavar="COMMAND",
                   help="monitor command run before the scene, or once the ELF is loaded "
                   "(repeatable)")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--json", action="store_true", help="a JSON summary on stdout (virtual time, "
                   "instructions, exit reason, console lines); console output goes to stderr")

    c = command("console", "interactive monitor console", C.cmd_console)
    c.add_argument("scene", nargs="?", help=".resc scene to run first")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("-e", "--execute", action="append", metavar="COMMAND")

    from metersim._frontends.gdb_stub import add_gdb_arguments
    add_gdb_arguments(command("gdb", "serve a firmware to gdb-multiarch", C.cmd_gdb))

    t = command("trace", "run a firmware and record pcap/VCD traces", C.cmd_trace)
    t.add_argument("elf", help="firmware ELF")
    t.add_argument("--platform", help=".repl file or platform name; default: the ELF's board")
    t.add_argument("--for", dest="duration", default=DEFAULT_FOR, metavar="TIME",
                   help=f"virtual time to run (default {DEFAULT_FOR})")
    t.add_argument("--pcap", help="write the console UART's traffic here")
    t.add_argument("--protocol", choices=["text", "modbus"], default="text",
                   help="how the pcap frames the bytes (default text)")
    t.add_argument("--uart", help="UART to capture (default: the console)")
    t.add_argument("--vcd", help="write the board's nets here (pins named after what they drive, device lines, SPI bytes, UART characters)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--json", action="store_true", help="a JSON summary on stdout (with the "
                   "artefacts' paths); console output goes to stderr")

    pl = sub.add_parser("platform", help="platform descriptions", parents=[common],
                        epilog=EXAMPLES["platform show"],
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    plsub = pl.add_subparsers(dest="platform_command", required=True, metavar="ACTION")
    show = command("show", "list a platform's peripherals", C.cmd_platform, "platform show",
                   parent=plsub)
    show.add_argument("file", help=".repl file or platform name")
    show.add_argument("-I", "--include", action="append", help="extra search path for `using`")
    show.add_argument("--all", action="store_true", help="show every GPIO connection")
    show.add_argument("--registers", metavar="NAME",
                      help="show the register map (fields, reset values) of peripheral NAME")

    be = command("bench", "benchmarks (cpu, idle, mpu)", C.cmd_bench)
    be.add_argument("name", choices=["cpu", "idle", "mpu"])
    be.add_argument("--json", action="store_true", help="print JSON")

    command("demo", "run the demo", C.cmd_demo)

    ca = command("cabinet", "run the prepaid cabinet's metering controller with its standard "
                 "rooms and print the per-room table", C.cmd_cabinet)
    ca.add_argument("--hours", type=float, default=24.0, help="virtual hours (default 24)")
    ca.add_argument("--channels", type=int, choices=(4, 32), default=4)
    ca.add_argument("--seed", type=int, default=1)
    ca.add_argument("--elf", help="controller firmware (default: the built metering_controller.elf)")
    ca.add_argument("--credit-cents", type=int, default=2000, help="credit topped up per room")
    ca.add_argument("--price", type=int, default=60, help="flat price, cents per kWh")
    ca.add_argument("--json", action="store_true", help="the rows as JSON on stdout (progress on stderr)")
    ca.add_argument("--check", type=float, metavar="PERCENT",
                    help="exit 1 if a room's energy is off the reference by more than PERCENT %% + 2 Wh")
    ca.add_argument("--server", metavar="URL",
                    help="add a query manager reporting to the PC server's link at URL: "
                    "tcp://HOST:PORT, HOST:PORT, or PORT on 127.0.0.1 "
                    "(`metersim headend serve --cabinet NAME=PORT`)")

    co = command("completion", "print the shell completion script", C.cmd_completion)
    co.add_argument("shell", choices=["bash", "zsh", "fish", "tcsh"], nargs="?", default="bash")

    te = command("test", "run Robot suites the way Renode's renode-test does", C.cmd_test)
    te.add_argument("tests", nargs="+", metavar="SUITE", help=".robot file or folder of them")
    te.add_argument("-r", "--results-dir", default="test-results",
                    help="where robot_output.xml, log.html, report.html and xunit.xml go "
                    "(default ./test-results)")
    te.add_argument("-f", "--fixture", help="run only tests whose name holds FIXTURE")
    te.add_argument("--include", action="append", default=[], metavar="TAG")
    te.add_argument("--exclude", action="append", default=[], metavar="TAG",
                    help="skip tests with TAG (default: excluded)")
    te.add_argument("--variable", action="append", default=[], metavar="NAME:VALUE")
    te.add_argument("--skip", action="append", default=[], metavar="TAG",
                    help="mark tests with TAG skipped without running them (renode-test's "
                    "option; tests tagged `skipped` always are, unless --run-skipped)")
    te.add_argument("--run-skipped", action="store_true",
                    help="run the tests tagged `skipped` too (Renode marks unstable tests so)")
    te.add_argument("--binaries", action="append", default=[], metavar="DIR",
                    help="folder of files replacing the suites' `@https://...` binaries: a file "
                    "named as the URL's last segment, or that name without Renode's "
                    "-s_<size>-<sha1> suffix (added before $METERSIM_BINARIES)")
    te.add_argument("--stop-on-error", action="store_true", help="stop at the first failure")

    from metersim._campaign.cli import add_campaign_parser
    add_campaign_parser(sub)
    from metersim._coverage.cli import add_coverage_parser
    add_coverage_parser(sub)
    from metersim._image.cli import add_image_parser
    add_image_parser(sub)
    from metersim._headend.cli import add_headend_parser
    add_headend_parser(sub)
    return p
