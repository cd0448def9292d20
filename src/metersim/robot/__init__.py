"""Robot Framework keywords with Renode's names, run on metersim's engine in virtual time.

    *** Settings ***
    Library    metersim.robot

    *** Test Cases ***
    Hello Prints Its Uptime
        Execute Command          mach create
        Execute Command          machine LoadPlatformDescription @platforms/cpus/stm32f413.repl
        Execute Command          sysbus LoadELF @build/fw/f413rg/hello.elf
        Create Terminal Tester   sysbus.usart1
        Start Emulation
        Wait For Line On Uart    uptime 3 s

Followed: Renode's keyword library (renode `src/Renode/RobotFrameworkEngine/*Keywords.cs`), its
terminal tester (renode-infrastructure `src/Emulator/Main/Testing/TerminalTester.cs`) and the
set-up `renode-test` injects (`tests/renode-keywords.robot`): names, argument names, defaults
and return shapes are Renode's; see metersim._orchestration.testers for the matching rules.

Differences from Renode, on purpose:
- The emulation only advances inside keywords that wait or run (`Wait For ...`, `Run For`,
  `Should Not Be On Uart`, `Execute Command  emulation RunFor ...`), never in the background,
  so every interaction happens at a reproducible virtual instant. Robot's own `Sleep  0.3`
  with the emulation started runs it for 0.3 s of virtual time (Renode's started emulation
  runs on while a suite sleeps).
- `Provides` / `Requires` keep no snapshot: `Provides  name` records the keywords run since
  the last `Reset Emulation`, and `Requires  name` resets and runs them again. The engine is
  deterministic, so this rebuilds the same state at the same virtual time (Renode's
  `Reexecution` provider type, always).
- Every test starts from an empty emulation, as `renode-test`'s injected test setup does
  (library argument `reset_between_tests=False` turns that off).
- Each terminal tester writes every line it sees, with its virtual time, to
  `${OUTPUT DIR}/metersim/<suite>/<test>/<machine>.<uart>.log`; failure messages name it.
- `Create Terminal Tester` without `machine=` uses the monitor's current machine (Renode
  wants the only machine); `defaultPauseEmulation`, `defaultWaitForEcho` and
  `defaultMatchNextLine` belong to the tester created with them (in Renode the last
  `Create Terminal Tester` sets them for every tester).
- `Assert LED Duty Cycle` measures the whole window (Renode counts only the time between the
  first and the last change, and passes an LED that never changes).
- Failure messages keep Renode's first words ("There is more than one tester available ...",
  "PC value assertion failed ...", "LED changed state.") and add the virtual times and what
  the tester saw.

Added by metersim: `Run For`, `Power Cut`, `Power Restore`, `Get Virtual Time`,
`Log Terminal Tester Reports` and `Create Log Tester`'s named-only `level=`.
`metersim test SUITE.robot` runs suites as renode-test does (metersim._frontends.renode_test).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from robot.api import logger
from robot.api.deco import keyword, library

from metersim._errors import MetersimError, SetupError
from metersim._frontends.robot_support import KeywordError, _errors, _recorded
from metersim._frontends.renode_testers import (BinaryResult, RenodeUartTester,
                                               TerminalTesterFailed)
from metersim._frontends.robot_renode_keywords import RenodeExtraKeywords
from metersim._orchestration.testers import LogTester, UartLine, duration_ps
from metersim._units import PS_PER_S, format_time

__version__ = "0.1.0"
__all__ = ["MetersimLibrary", "KeywordError"]


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "unnamed"


@library(scope="SUITE", version=__version__, doc_format="ROBOT")
class MetersimLibrary(RenodeExtraKeywords):
    """Renode-compatible keywords for metersim.

    Import with ``Library    metersim.robot``. Library arguments:
    ``seed`` (the emulation's random seed, default 0), ``reset_between_tests`` (start every
    test from an empty emulation, as ``renode-test`` does; default True) and ``log_dir``
    (where terminal testers write their logs; default ``${OUTPUT DIR}/metersim``).

    = Virtual time =

    Every timeout counts virtual time: ``Wait For Line On Uart  uptime 3 s  timeout=2`` fails
    when two seconds of the emulated machine's time pass without that line, however long the
    host takes. Timeouts accept seconds (``8``, ``0.5``), units (``1.5s``, ``250ms``) and
    Renode's ``00:00:08``. The emulation runs only inside waiting keywords, ``Run For``,
    monitor commands that run it and Robot's ``Sleep`` once started; between keywords it
    stands still.

    = Results =

    ``Wait For Line On Uart`` and friends return an object with ``line``, ``timestamp``
    (virtual milliseconds, as Renode), ``timestamp_ps`` (exact picoseconds) and ``groups``
    (regex groups), usable as ``${r.line}``, ``${r}[line]`` or ``${r.groups}[0]``.

    = Failures =

    A failed wait says what was expected, the virtual time window, the last lines the tester
    saw and the path of the full UART log.
    """

    ROBOT_LISTENER_API_VERSION = 3

    def __init__(self, seed: int = 0, reset_between_tests: bool = True,
                 log_dir: str | None = None):
        self.seed = int(seed)
        self.reset_between_tests = reset_between_tests
        self.log_dir = Path(log_dir) if log_dir else None
        self.ROBOT_LIBRARY_LISTENER = self
        self._monitor = None
        self._emulation = None
        self._testers: list[RenodeUartTester] = []
        self._default_tester: int | None = None
        self._default_timeout: Any = 8
        self._log_tester: LogTester | None = None
        self._recipe: list[tuple[str, tuple, dict, bool]] = []
        self._provided: dict[str, list[tuple[str, tuple, dict, bool]]] = {}
        self._led_testers: list = []
        self._led_default_timeout: float = 0
        self._tmp_dir: Path | None = None

    # ------------------------------------------------------------------ listener (v3)
    def start_test(self, data, result) -> None:
        if self.reset_between_tests:
            self._reset()

    def end_keyword(self, data, result) -> None:
        """Robot's `Sleep` with the emulation started runs it for that long in virtual time:
        under Renode a started emulation runs while the suite sleeps (Renode's suites sleep
        between `Press` and `Release` of a button for the firmware to see both)."""
        if (result.name != "Sleep" or getattr(result, "owner", None) != "BuiltIn"
                or not result.passed or not result.args or self._monitor is None
                or not self._monitor.running or not self._monitor.emulation.machines):
            return
        from robot.libraries.BuiltIn import BuiltIn
        from robot.utils import timestr_to_secs
        try:
            secs = timestr_to_secs(BuiltIn().replace_variables(str(result.args[0])))
        except Exception:  # noqa: BLE001 - Robot reported the bad time already
            return
        ps = round(secs * PS_PER_S)
        if ps > 0:
            self._monitor.run_for(ps)
            self._check_emulation()

    def close(self) -> None:
        self._close_all()
        self._remove_temp()

    # ------------------------------------------------------------------ internals
    @property
    def monitor(self):
        """The Monitor the keywords talk to (created on first use)."""
        if self._monitor is None:
            from metersim._frontends.monitor import Monitor, default_search_paths

            paths = default_search_paths()
            suite_dir = self._suite_dir()
            if suite_dir is not None and suite_dir not in paths:
                paths.append(suite_dir)
            self._monitor = Monitor(search_paths=paths, out=self._out, seed=self.seed)
            self._emulation = self._monitor.emulation
        return self._monitor

    @staticmethod
    def _suite_dir() -> Path | None:
        try:
            from robot.libraries.BuiltIn import BuiltIn

            src = BuiltIn().get_variable_value("${SUITE SOURCE}")
        except Exception:  # noqa: BLE001 - not running inside Robot
            return None
        if not src:
            return None
        p = Path(src)
        return p if p.is_dir() else p.parent

    @property
    def emulation(self):
        return self.monitor.emulation

    @staticmethod
    def _out(text: str) -> None:
        if text:
            logger.info(text)

    def _close_all(self) -> None:
        self._close_extra()
        for t in self._testers:
            t.close()
        self._testers.clear()
        self._default_tester = None
        if self._log_tester is not None:
            self._log_tester.close()
            self._log_tester = None
        if self._monitor is not None:
            self._monitor.close()
        self._monitor = None
        self._emulation = None

    def _reset(self) -> None:
        self._close_all()
        self._recipe = []

    def _check_emulation(self) -> None:
        """A monitor `Clear` replaces the emulation: testers of the old one are dropped."""
        if self._monitor is not None and self._monitor.emulation is not self._emulation:
            if self._testers or self._log_tester is not None:
                logger.warn("the emulation was cleared; its terminal and log testers are closed")
            for t in self._testers:
                t.close()
            self._testers.clear()
            self._close_extra()
            self._default_tester = None
            if self._log_tester is not None:
                self._log_tester.close()
                self._log_tester = None
            self._emulation = self._monitor.emulation
    
    def _machine(self, name: str | None = None):
        mon = self.monitor
        if name:
            return mon.emulation.machine(str(name))
        if mon.current_machine_name is None and len(mon.emulation.machines) == 1:
            # built outside the monitor (e.g. by another keyword library on this emulation)
            return mon.emulation.machines[0]
        return mon.machine

    def _tester(self, tester_id: Any = None, binary: bool | None = False) -> RenodeUartTester:
        """Renode's choice of tester: `testerId`, else the default one (Set Default Tester),
        else the only one; with several and no id it fails. `binary` (True/False) is the mode
        the keyword needs (None: either)."""
        self._check_emulation()
        if tester_id in (None, ""):
            if self._default_tester is not None:
                t = self._testers[self._default_tester]
            elif len(self._testers) != 1:
                raise SetupError("There are no testers available." if not self._testers else
                                 "There is more than one tester available - please specify "
                                 "ID of the desired tester.")
            else:
                t = self._testers[0]
        else:
            idx = int(tester_id)
            if not 0 <= idx < len(self._testers) or self._testers[idx].closed:
                raise SetupError(f"Tester for given ID={tester_id} was not found. Did you "
                                 "forget to create the tester?")
            t = self._testers[idx]
        if binary is not None and t.binary != binary:
            raise TerminalTesterFailed(
                f"Attempt to wait for {'bytes' if binary else 'text'} on a tester configured "
                f"in {'binary' if t.binary else 'text'} mode. Please set "
                f"binaryMode={not t.binary} when creating the tester.")
        return t

    def _log_path(self, machine: str, uart: str) -> Path | None:
        base = self.log_dir
        suite = test = None
        try:
            from robot.libraries.BuiltIn import BuiltIn

            bi = BuiltIn()
            if base is None:
                base = Path(bi.get_variable_value("${OUTPUT DIR}")) / "metersim"
            suite = bi.get_variable_value("${SUITE NAME}")
            test = bi.get_variable_value("${TEST NAME}")
        except Exception:  # noqa: BLE001 - not running inside Robot (library used from Python)
            pass
        if base is None:
            return None
        d = base
        if suite:
            d = d / _safe_name(suite)
        if test:
            d = d / _safe_name(test)
        path = d / f"{_safe_name(machine)}.{_safe_name(uart)}.log"
        n = 1
        while any(t.log_path == path for t in self._testers):
            n += 1
            path = d / f"{_safe_name(machine)}.{_safe_name(uart)}.{n}.log"
        return path

    # ------------------------------------------------------------------ general
    @keyword
    @_recorded
    def execute_command(self, command: str, machine: str | None = None) -> str:
        """Runs one monitor command and returns what it prints.

        The command language is Renode's monitor (``mach create``, ``machine
        LoadPlatformDescription @platforms/cpus/stm32f413.repl``, ``sysbus LoadELF @file``,
        ``emulation RunFor "00:00:01"``, ``sysbus.usart1 ...``). Paths are looked up relative
        to the current directory, the suite's directory and the metersim repository, and
        ``${CURDIR}`` works too. With ``machine`` the command runs with that machine
        selected. Fails with the monitor's message when the command cannot run.

        | ${out}=    Execute Command    sysbus ReadDoubleWord 0x08000000
        """
        mon = self.monitor
        previous = mon.current_machine_name
        try:
            if machine:
                mon.execute(f'mach set "{machine}"')
            out = mon.execute(command)
        finally:
            if machine and previous is not None and previous in mon.machine_names():
                mon.execute(f'mach set "{previous}"')
            self._check_emulation()
        if out:
            logger.info(out)
        return out

    @keyword
    @_recorded
    def execute_script(self, path: str) -> str:
        """Runs a monitor script (``.resc``) and returns its output.

        | Execute Script    ${CURDIR}/hello.resc
        """
        try:
            out = self.monitor.execute_script(path, echo=False)
        finally:
            self._check_emulation()
        if out:
            logger.info(out)
        return out

    @keyword
    @_recorded
    def start_emulation(self) -> None:
        """Marks the emulation as started (the monitor's ``start``).

        Time still only advances inside waiting keywords and ``Run For``; waiting keywords
        start a paused emulation by themselves, as in Renode.
        """
        self.monitor.execute("start")

    @keyword
    @_errors
    def reset_emulation(self) -> None:
        """Drops every machine, tester and hub and starts from an empty emulation.

        Runs automatically before each test unless the library was imported with
        ``reset_between_tests=False``.
        """
        self._reset()

    @keyword
    @_recorded
    def run_for(self, duration: str) -> None:
        """Runs the emulation for a virtual ``duration`` (``1.5s``, ``250ms``, ``00:00:02``,
        or seconds). Terminal testers keep collecting lines meanwhile.

        | Run For    2s
        """
        ps = duration_ps(duration, "Run For duration")
        self.monitor.run_for(ps)

    @keyword
    @_errors
    def get_virtual_time(self) -> float:
        """Returns the emulation's virtual time in seconds."""
        return self.emulation.now_ps / PS_PER_S

    # ------------------------------------------------------------------ snapshots (replay)
    @keyword
    @_errors
    def provides(self, name: str, type: str | None = None) -> None:  # noqa: A002 - Renode's name
        """Remembers the state reached so far under ``name`` for ``Requires``.

        No snapshot is saved: metersim records the keywords run since the last reset and
        ``Requires`` replays them, which gives the same state because the engine is
        deterministic. ``type`` is accepted for compatibility (Renode's ``Reexecution`` is
        what always happens).
        """
        self._provided[name] = list(self._recipe)

    @keyword
    @_errors
    def requires(self, name: str) -> None:
        """Resets the emulation and rebuilds the state a ``Provides  name`` recorded."""
        if name not in self._provided:
            raise SetupError(f"Requires {name!r}: no test provided it; provided so far: "
                             f"{', '.join(self._provided) or 'none'} (Provides must run "
                             "earlier in this suite)")
        steps = self._provided[name]
        self._reset()
        for method, args, kwargs, failed in steps:
            try:
                getattr(self, method)(*args, **kwargs)
            except Exception as exc:
                if failed:
                    continue      # it failed the first time too (an expected error)
                raise MetersimError(f"Requires {name!r}: replaying {method}{args} failed: "
                                    f"{exc}") from exc
            else:
                if failed:
                    raise MetersimError(f"Requires {name!r}: {method}{args} failed when "
                                        "recorded but passed on replay; the state differs")

    # ------------------------------------------------------------------ UART
    @keyword
    @_recorded
    def create_terminal_tester(self, uart: str, timeout: str | None = None,
                               machine: str | None = None,
                               endLineOption: str | None = None,  # noqa: N803 - Renode's names
                               defaultPauseEmulation: bool = False,  # noqa: N803
                               defaultWaitForEcho: bool = True,  # noqa: N803
                               defaultMatchNextLine: bool = False,  # noqa: N803
                               binaryMode: bool = False) -> int:  # noqa: N803
        """Attaches a terminal tester to ``uart`` and returns its id.

        ``uart`` names the peripheral as in the platform (``sysbus.usart1`` or ``usart1``);
        ``machine`` picks the machine (default: the current one). ``timeout`` is the default
        for waits on this tester (default 8 virtual seconds, ``Set Default Uart Timeout``
        changes it). ``endLineOption=TreatCarriageReturnAsEndLine`` makes CR end a line
        (LF is dropped); the default ends lines at LF and drops CR. ``binaryMode=true``
        keeps every byte (no lines) for ``Wait For Bytes On Uart``. The tester sees what the
        UART sends from now on. Asked again for the same UART it returns the same id, as in
        Renode. With several testers, keywords need ``testerId`` (or ``Set Default Tester``).

        | Create Terminal Tester    sysbus.usart1    timeout=2
        """
        self._check_emulation()
        m = self._machine(machine)
        name = uart[len("sysbus."):] if uart.startswith("sysbus.") else uart
        for t in self._testers:
            if t.machine is m and t.uart_name == name and not t.closed:
                return t.tester_id
        t = RenodeUartTester(self.emulation, m, name,
                             timeout=self._default_timeout if timeout in (None, "") else timeout,
                             log_path=self._log_path(m.name, name), pause=defaultPauseEmulation,
                             wait_for_echo=defaultWaitForEcho, tester_id=len(self._testers),
                             binary=binaryMode, end_line=endLineOption)
        t.default_match_next_line = bool(defaultMatchNextLine)
        self._testers.append(t)
        if t.log_path is not None:
            logger.info(f"{t.label}: terminal tester {t.tester_id}, log in {t.log_path}")
        return t.tester_id

    @keyword
    @_errors
    def set_default_uart_timeout(self, timeout: str) -> None:
        """Sets the timeout of testers created afterwards and of the existing ones."""
        duration_ps(timeout)
        self._default_timeout = timeout
        for t in self._testers:
            t.timeout_ps = duration_ps(timeout)

    @keyword
    @_errors
    def set_default_tester(self, id: int | None = None) -> None:  # noqa: A002 - Renode's name
        """Makes tester ``id`` the one used when a keyword gets no ``testerId``; without an
        id, keywords need one again whenever there are several testers."""
        if id in (None, ""):
            self._default_tester = None
            return
        try:
            self._tester(id, binary=None)
        except SetupError:
            raise SetupError(f"Tester #{id} was not found. Create a tester before setting it "
                             "as default") from None
        self._default_tester = int(id)

    @keyword
    @_recorded
    def wait_for_line_on_uart(self, content: str, timeout: str | None = None,
                              testerId: int | None = None, treatAsRegex: bool = False,  # noqa: N803
                              includeUnfinishedLine: bool = False,  # noqa: N803
                              pauseEmulation: bool | None = None,  # noqa: N803
                              matchNextLine: bool | None = None) -> UartLine:  # noqa: N803
        """Waits for a line containing ``content`` (a regex with ``treatAsRegex=True``).

        Lines that arrived earlier and were not matched yet count; the matched line and the
        lines before it are consumed. ``pauseEmulation=True`` stops the emulation at the
        instant the line ended. ``matchNextLine=True`` fails unless the very next line
        matches. Returns the line, its ``timestamp`` (virtual ms) and the regex ``groups``.

        | ${r}=    Wait For Line On Uart    uptime (\\\\d+) s    treatAsRegex=true
        | Should Be Equal    ${r.groups}[0]    1
        """
        t = self._tester(testerId)
        nxt = t.default_match_next_line if matchNextLine is None else matchNextLine
        return t.wait_for_line(content, timeout, treatAsRegex, pauseEmulation,
                               includeUnfinishedLine, nxt)

    @keyword
    @_recorded
    def wait_for_lines_on_uart(self, content: list, timeout: str | None = None,
                               testerId: int | None = None, treatAsRegex: bool = False,  # noqa: N803
                               includeUnfinishedLine: bool = False,  # noqa: N803
                               pauseEmulation: bool | None = None,  # noqa: N803
                               matchFromNextLine: bool | None = None) -> UartLine:  # noqa: N803
        """Waits for consecutive lines matching the patterns in ``content`` (a list), in
        order. Returns the last of them (as Renode) with the regex groups of all.

        | @{lines}=    Create List    uptime 2 s    uptime 3 s
        | Wait For Lines On Uart    ${lines}
        """
        t = self._tester(testerId)
        nxt = t.default_match_next_line if matchFromNextLine is None else matchFromNextLine
        return t.wait_for_lines(content, timeout, treatAsRegex, includeUnfinishedLine,
                                pauseEmulation, nxt)

    @keyword
    @_recorded
    def wait_for_prompt_on_uart(self, prompt: str, testerId: int | None = None,  # noqa: N803
                                timeout: str | None = None, treatAsRegex: bool = False,  # noqa: N803
                                pauseEmulation: bool | None = None) -> UartLine:  # noqa: N803
        """Waits for ``prompt``, which may be the start of a line not yet ended by LF.
        Renode's argument order: ``prompt  testerId  timeout``."""
        return self._tester(testerId).wait_for_prompt(prompt, timeout, treatAsRegex,
                                                      pauseEmulation)

    @keyword
    @_recorded
    def wait_for_next_line_on_uart(self, timeout: str | None = None,
                                   testerId: int | None = None,  # noqa: N803
                                   pauseEmulation: bool | None = None) -> UartLine:  # noqa: N803
        """Waits for the next complete line, whatever it says, and returns it."""
        return self._tester(testerId).wait_for_next_line(timeout, pauseEmulation)

    @keyword
    @_recorded
    def wait_for_bytes_on_uart(self, content: str, timeout: str | None = None,
                               testerId: int | None = None, treatAsRegex: bool = False,  # noqa: N803
                               pauseEmulation: bool | None = None,  # noqa: N803
                               matchStart: bool = False) -> BinaryResult:  # noqa: N803
        """Waits for the bytes ``content``, written as hex (``59 52 20``), on a tester created
        with ``binaryMode=true``; with ``treatAsRegex`` ``content`` is a regex over the bytes
        as Latin-1 text. ``matchStart=true``: the bytes must come first among the unconsumed
        ones. Returns ``content`` (the bytes up to the match end, which are consumed),
        ``timestamp`` and ``groups``.

        | Create Terminal Tester    sysbus.usart2    binaryMode=true
        | Wait For Bytes On Uart    01 03 02
        """
        return self._tester(testerId, binary=True).wait_for_bytes(
            content, timeout, treatAsRegex, pauseEmulation, matchStart)

    @keyword
    @_recorded
    def test_if_uart_is_idle(self, timeout: str, testerId: int | None = None,  # noqa: N803
                             pauseEmulation: bool | None = None) -> None:  # noqa: N803
        """Runs ``timeout`` of virtual time and fails as soon as the UART sends a byte."""
        t = self._tester(testerId, binary=None)
        start = self.emulation.now_ps
        if not t.is_idle(timeout, pauseEmulation):
            raise TerminalTesterFailed(
                f"Terminal tester failed!\n\n{t.label} was not idle: it sent a byte at "
                f"{format_time(self.emulation.now_ps)} (idle check from {format_time(start)} "
                f"for {timeout} s)\nFull report:\n{t.report()}")

    @keyword
    @_recorded
    def should_not_be_on_uart(self, content: str, timeout: str | None = None,
                              testerId: int | None = None, treatAsRegex: bool = False,  # noqa: N803
                              includeUnfinishedLine: bool = False) -> None:  # noqa: N803
        """Runs for ``timeout`` and fails as soon as a line containing ``content`` appears
        (lines already received and not consumed count)."""
        self._tester(testerId).should_not_see(content, timeout, treatAsRegex,
                                              includeUnfinishedLine)

    @keyword
    @_recorded
    def write_line_to_uart(self, content: str = "", testerId: int | None = None,  # noqa: N803
                           waitForEcho: bool | None = None,  # noqa: N803
                           pauseEmulation: bool | None = None) -> None:  # noqa: N803
        """Sends ``content`` and a carriage return to the UART's receiver, at the UART's
        baud rate. With ``waitForEcho`` (the tester's default, true unless created with
        ``defaultWaitForEcho=false``) it then waits for the firmware to echo ``content``."""
        t = self._tester(testerId, binary=None)
        t.write(content + "\r")
        echo = t.default_wait_for_echo if waitForEcho is None else waitForEcho
        if echo:
            t.wait_for_line(content, None, False, pauseEmulation, include_unfinished_line=True)

    @keyword
    @_recorded
    def write_to_uart(self, content: str, testerId: int | None = None) -> None:  # noqa: N803
        """Sends ``content`` to the UART's receiver as it is (no line end, no echo wait)."""
        self._tester(testerId, binary=None).write(content)

    @keyword
    @_recorded
    def write_char_on_uart(self, c: str, testerId: int | None = None) -> None:  # noqa: N803
        """Sends one character to the UART's receiver and returns at once (no echo wait, as
        in Renode)."""
        if len(c) != 1:
            raise SetupError(f"Write Char On Uart: expected one character, got {c!r} (for a "
                             "code such as 0x0D use Send Key To Uart)")
        self._tester(testerId, binary=None).write(c.encode("latin-1"))

    @keyword
    @_recorded
    def send_key_to_uart(self, c: str, testerId: int | None = None) -> None:  # noqa: N803
        """Sends one byte given as a number (``0xD``, ``13``) to the UART's receiver.

        | Send Key To Uart    0x1B
        """
        try:
            value = int(str(c).strip(), 0)
        except ValueError:
            raise SetupError(f"Send Key To Uart: expected a byte value like 0xD or 13, "
                             f"got {c!r}") from None
        if not 0 <= value <= 0xFF:
            raise SetupError(f"Send Key To Uart: {c!r} is not a byte (0-255)")
        self._tester(testerId, binary=None).write(bytes([value]))

    @keyword
    @_errors
    def register_failing_uart_string(self, pattern: str, treatAsRegex: bool = False,  # noqa: N803
                                     testerId: int | None = None) -> None:  # noqa: N803
        """Makes every later wait on the tester fail when a line containing ``pattern``
        arrives (e.g. ``FAIL`` or ``HardFault``)."""
        self._tester(testerId).register_failing_string(pattern, treatAsRegex)

    @keyword
    @_errors
    def unregister_failing_uart_string(self, pattern: str, treatAsRegex: bool = False,  # noqa: N803
                                       testerId: int | None = None) -> None:  # noqa: N803
        """Removes a string registered with ``Register Failing Uart String``."""
        self._tester(testerId).unregister_failing_string(pattern, treatAsRegex)

    @keyword
    @_errors
    def get_terminal_tester_report(self, testerId: int | None = None) -> str:  # noqa: N803
        """Returns the last lines the tester saw and the path of its full log."""
        return self._tester(testerId, binary=None).report()

    @keyword
    @_errors
    def clear_terminal_tester_report(self, testerId: int | None = None) -> None:  # noqa: N803
        """Forgets the lines the tester has seen so far (matched or not), as Renode's does."""
        self._tester(testerId, binary=None).clear_report()

    @keyword
    @_errors
    def write_char_delay(self, delay: float, testerId: int | None = None) -> None:  # noqa: N803
        """Leaves ``delay`` virtual seconds between the characters the tester sends from
        now on (0: back to back at the baud rate)."""
        t = self._tester(testerId, binary=None)
        t.write_char_delay_ps = duration_ps(delay, "Write Char Delay delay")

    @keyword
    @_errors
    def log_terminal_tester_reports(self) -> None:
        """Logs, for every terminal tester, the last lines it saw and its log file."""
        for t in self._testers:
            if not t.closed:
                logger.info(f"terminal tester {t.tester_id}: {t.report()}")

    # ------------------------------------------------------------------ log
    @keyword
    @_recorded
    def create_log_tester(self, timeout: str, defaultPauseEmulation: bool = False,  # noqa: N803
                          maxLogEntries: int = 1_000_000, *, level: str = "Info") -> None:  # noqa: N803
        """Starts collecting metersim's log entries for ``Wait For Log Entry``; ``timeout``
        is the default wait. ``maxLogEntries`` is accepted for Renode's suites (metersim
        keeps every entry). metersim's ``level=`` (named only) sets the lowest level
        collected: Noisy, Debug, Info (default), Warning, Error."""
        self._check_emulation()
        if self._log_tester is not None:
            self._log_tester.close()
        self._log_tester = LogTester(self.emulation, timeout, defaultPauseEmulation, level)

    def _logs(self) -> LogTester:
        self._check_emulation()
        if self._log_tester is None:
            raise SetupError("Log tester is not available. Create it with the "
                             "`CreateLogTester` keyword")
        return self._log_tester

    @keyword
    @_recorded
    def wait_for_log_entry(self, pattern: str, timeout: str | None = None, keep: bool = False,
                           treatAsRegex: bool = False,  # noqa: N803
                           pauseEmulation: bool | None = None,  # noqa: N803
                           level: str | None = None,
                           startEmulation: bool = True) -> str:  # noqa: N803
        """Waits for a log entry containing ``pattern`` (at ``level`` or above when given)
        and returns it. Without ``keep`` the entry and those before it are consumed.
        ``startEmulation=false`` on an emulation not started (``Start Emulation``) only looks
        at the entries already collected, as Renode's paused emulation would.

        | Wait For Log Entry    reset (por)
        """
        logs = self._logs()
        if not startEmulation and not self.monitor.started:
            timeout = 0
        return str(logs.wait_for_entry(pattern, timeout, keep, treatAsRegex, pauseEmulation,
                                       level))

    @keyword
    @_recorded
    def should_not_be_in_log(self, pattern: str, timeout: str | None = None,
                             treatAsRegex: bool = False,  # noqa: N803
                             pauseEmulation: bool | None = None,  # noqa: N803
                             level: str | None = None) -> None:
        """Fails if a log entry containing ``pattern`` (at ``level`` or above) is there or
        appears within ``timeout`` of virtual time (default: the log tester's timeout)."""
        from metersim._orchestration.testers import LogTimeout, TesterFailure

        try:
            e = self._logs().wait_for_entry(pattern, timeout, True, treatAsRegex,
                                            True if pauseEmulation is None else pauseEmulation,
                                            level)
        except LogTimeout:
            return
        raise TesterFailure(f"Unexpected line detected in the log: {e}")

    @keyword
    @_errors
    def register_failing_log_string(self, pattern: str, treatAsRegex: bool = False) -> None:  # noqa: N803
        """Makes log waits fail when an entry containing ``pattern`` appears."""
        self._logs().failing.append((pattern, bool(treatAsRegex)))

    @keyword
    @_errors
    def clear_log_tester_history(self) -> None:
        """Forgets the log entries collected so far."""
        self._logs().clear()

    # ------------------------------------------------------------------ power
    @keyword
    @_recorded
    def power_cut(self, machine: str | None = None, holdup: str | None = None) -> None:
        """Cuts the supply of a machine (the current one by default): its core stops where
        it is and models that care (flash mid-program, EEPROM mid-write) suffer the cut;
        virtual time goes on for the rest of the emulation. With ``holdup=20ms`` VDD first
        falls below the PVD threshold (the power-fail interrupt) and the MCU runs that long
        on its capacitors before it stops.

        Not modelled yet: supply ramps, brown-out detection timing, RAM decay (SRAM keeps
        its contents).
        """
        m = self._machine(machine)
        if not m.powered:
            raise SetupError(f"Power Cut: {m.name} is already without power")
        if holdup is not None:
            from metersim._orchestration.power import supply_fail
            supply_fail(m, holdup)
        else:
            m.power_off()
        logger.info(f"{m.name}: power cut at {format_time(self.emulation.now_ps)}")

    @keyword
    @_recorded
    def power_restore(self, machine: str | None = None) -> None:
        """Restores the supply of a machine cut by ``Power Cut``: it goes through a
        power-on reset (reset cause ``por``) and boots its firmware again."""
        m = self._machine(machine)
        if m.powered:
            raise SetupError(f"Power Restore: {m.name} has power (use Power Cut first)")
        from metersim._orchestration.power import supply_restore
        supply_restore(m)
        logger.info(f"{m.name}: power restored at {format_time(self.emulation.now_ps)}")
