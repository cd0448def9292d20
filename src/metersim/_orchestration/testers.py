"""Terminal (UART) and log testers that wait in virtual time.

Shared by the Robot Framework library (metersim.robot) and the pytest plugin
(metersim.pytest_plugin). The semantics follow Renode's `TerminalTester`
(renode-infrastructure `src/Emulator/Main/Testing/TerminalTester.cs`) and log tester
(renode `src/Renode/RobotFrameworkEngine/LogTester.cs`):

- timeouts count virtual time; a wait runs the emulation until the match or the timeout;
- CR is ignored and LF ends a line; a line already received and not yet consumed matches at
  once; a match consumes that line and every line before it, so each match moves forward;
- a plain pattern matches when it is a substring of the line, a regex (`treat_as_regex`) when
  `re.search` finds it; the groups of the regex come back with the result;
- `pause=True` stops the emulation at the instant the matching line's LF arrived (the CPU
  stops after the instruction that completed it); without it the wait returns at the end of
  the engine step in which the line arrived (at most one quantum later), like a Renode
  emulation that keeps running after the match;
- a registered failing string fails the wait as soon as a line containing it arrives;
- the result carries the line, its virtual time (`timestamp` in milliseconds as Renode gives
  it, `timestamp_ps` exact) and the regex groups.

Failures raise UartTimeout / LogTimeout (EmulationTimeout subclasses) or TesterFailure with
what was expected, the time window, the last lines seen and the path of the full log.

Every complete line is appended to the tester's log file (if it has one) as it arrives,
prefixed with its virtual time, so the log named in a failure message is complete.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from metersim._errors import EmulationTimeout, MetersimError, SetupError
from metersim._units import PS_PER_MS, PS_PER_S, format_time, parse_time_ps

#: Lines shown in a failure message.
REPORT_LINES = 10


class TesterFailure(MetersimError):
    """A tester saw something it must not see (failing string, unwanted line)."""

    __test__ = False             # not a pytest test class despite its name

    ROBOT_SUPPRESS_NAME = True   # Robot shows the message without the class name


class UartTimeout(EmulationTimeout):
    """A UART wait ran out of virtual time; the message says what was seen."""

    ROBOT_SUPPRESS_NAME = True   # Robot shows the message without the class name


class LogTimeout(EmulationTimeout):
    """A log wait ran out of virtual time."""

    ROBOT_SUPPRESS_NAME = True   # Robot shows the message without the class name


def stamp(ps: int) -> str:
    """Fixed-width virtual time for log files: seconds with 9 decimals (1 ns)."""
    return f"{ps // PS_PER_S:6d}.{(ps % PS_PER_S) // 1000:09d} s"


def duration_ps(value: Any, what: str = "timeout") -> int:
    try:
        ps = parse_time_ps(value)
    except SetupError as exc:
        raise SetupError(f"{what}: {exc}") from None
    if ps < 0:
        raise SetupError(f"{what} must not be negative, got {value!r}")
    return ps


def _matcher(pattern: str, treat_as_regex: bool) -> Callable[[str], re.Match | bool | None]:
    if isinstance(pattern, re.Pattern):
        return pattern.search
    if treat_as_regex:
        try:
            rx = re.compile(pattern)
        except re.error as exc:
            raise SetupError(f"invalid regular expression {pattern!r}: {exc}") from None
        return rx.search
    text = str(pattern)
    return lambda line: text in line


def _describe(pattern: Any, treat_as_regex: bool) -> str:
    if isinstance(pattern, re.Pattern):
        return f"regex >>{pattern.pattern}<<"
    return f"{'regex ' if treat_as_regex else ''}>>{pattern}<<"


@dataclass
class UartLine:
    """One matched UART line, shaped like Renode's TerminalTesterResult (`line`, `timestamp`,
    `groups`; `${result.line}` and `${result}[line]` both work in Robot)."""

    line: str
    timestamp_ps: int
    groups: list[str] = field(default_factory=list)
    machine: str = ""
    uart: str = ""
    match: re.Match | None = None

    @property
    def timestamp(self) -> float:
        """Virtual time of the line's end in milliseconds (Renode's unit)."""
        return self.timestamp_ps / PS_PER_MS

    @property
    def time_ps(self) -> int:
        return self.timestamp_ps

    @property
    def time_s(self) -> float:
        return self.timestamp_ps / PS_PER_S

    @property
    def time(self) -> str:
        return format_time(self.timestamp_ps)

    # Renode's C# property names, for suites that use them.
    Line = property(lambda self: self.line)
    Timestamp = property(lambda self: self.timestamp)
    Groups = property(lambda self: self.groups)

    def __getitem__(self, key: str):
        if key in ("line", "timestamp", "groups", "timestamp_ps", "time", "machine", "uart"):
            return getattr(self, key)
        raise KeyError(key)

    def __str__(self) -> str:
        return self.line


@dataclass
class _RxLine:
    text: str
    start_ps: int
    end_ps: int
    match_from: int = 0     # characters at the front already consumed by a prompt match

    @property
    def unconsumed(self) -> str:
        return self.text[self.match_from:]


class _Waiter:
    """Runs the emulation until a tester's matcher produced a result (or time ran out)."""

    def __init__(self, emulation):
        self.emulation = emulation
        self.result: Any = None
        self.matcher: Callable[[], Any] | None = None
        self.pause = False

    def offer(self) -> None:
        """Called by a tester when new input arrived during a wait."""
        if self.matcher is None or self.result is not None:
            return
        r = self.matcher()
        if r is None:
            return
        self.result = r
        self.matcher = None
        if self.pause:
            # Only a core in the middle of a slice runs past this instant; an event at a step
            # end is already where the run loop checks for the result.
            emu = self.emulation
            if any(m.cpu.in_slice for m in emu.machines):
                emu.request_stop()

    def run(self, matcher: Callable[[], Any], timeout_ps: int, pause: bool) -> Any:
        r = matcher()
        if r is not None or timeout_ps == 0:
            return r
        self.result = None
        self.matcher = matcher
        self.pause = pause
        emu = self.emulation
        try:
            emu.run_until_time(emu.now_ps + timeout_ps, lambda: self.result is not None)
        finally:
            self.matcher = None
        return self.result


class UartTester:
    """Watches the bytes one UART sends and waits for lines in virtual time."""

    def __init__(self, emulation, machine, uart_name: str, timeout: Any = "8s",
                 log_path: str | Path | None = None, pause: bool = False,
                 wait_for_echo: bool = True, tester_id: int = 0,
                 echo: Callable[[str, str], None] | None = None):
        self.emulation = emulation
        self.echo = echo                        # echo(machine name, line) for every line
        self.data = bytearray()                 # every byte the UART sent ...
        self.times_ps: list[int] = []           # ... and when
        self.machine = machine
        self.uart_name = uart_name
        try:
            self.uart = machine.peripherals[uart_name]
        except KeyError:
            uarts = [n for n, p in machine.peripherals.items() if hasattr(p, "on_byte")]
            raise SetupError(f"{machine.name} has no UART {uart_name!r}; its UARTs: "
                             f"{', '.join(sorted(uarts)) or 'none'}") from None
        if not hasattr(self.uart, "on_byte"):
            raise SetupError(f"{machine.name}:{uart_name} is not a UART (a {type(self.uart).__name__})")
        self.timeout_ps = duration_ps(timeout)
        self.default_pause = bool(pause)
        self.default_wait_for_echo = bool(wait_for_echo)
        self.tester_id = tester_id
        self.label = f"{machine.name}:{uart_name}"
        self.lines: list[_RxLine] = []          # every complete line, for reports
        self._next = 0                          # first line not consumed by a match
        self._partial = bytearray()
        self._partial_start_ps: int | None = None
        self._partial_consumed = 0              # bytes of the partial line a prompt consumed
        self.failing: list[tuple[str, bool]] = []
        self._waiter = _Waiter(emulation)
        self._check_unfinished = False
        self.log_path = Path(log_path) if log_path is not None else None
        self._log = None
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = open(self.log_path, "w", encoding="utf-8", buffering=1)
            self._log.write(f"# {self.label}: lines with the virtual time of their end\n")
        self.uart.on_byte.append(self._feed)
        self.closed = False

    # -- input ------------------------------------------------------------------------------
    def _feed(self, byte: int) -> None:
        now = self.emulation.now_ps
        self.data.append(byte)
        self.times_ps.append(now)
        if byte == 0x0D:
            return
        if byte == 0x0A:
            text = self._partial.decode("utf-8", "replace")
            start = self._partial_start_ps if self._partial_start_ps is not None else now
            consumed = len(self._partial[:self._partial_consumed].decode("utf-8", "replace"))
            self.lines.append(_RxLine(text, start, now, consumed))
            self._partial.clear()
            self._partial_start_ps = None
            if self._log is not None:
                self._log.write(f"[{stamp(now)}] {text}\n")
            if self.echo is not None:
                self.echo(self.machine.name, text)
            self._partial_consumed = 0
            self._waiter.offer()
            return
        if self._partial_start_ps is None:
            self._partial_start_ps = now
        self._partial.append(byte)
        if self._check_unfinished:
            self._waiter.offer()

    # -- matching ---------------------------------------------------------------------------
    def _failing_hit(self, text: str) -> str | None:
        for pattern, rx in self.failing:
            if _matcher(pattern, rx)(text):
                return pattern
        return None

    def _result(self, text: str, t_ps: int, m) -> UartLine:
        groups = [g if g is not None else "" for g in m.groups()] if isinstance(m, re.Match) else []
        return UartLine(text, t_ps, groups, self.machine.name, self.uart_name,
                        m if isinstance(m, re.Match) else None)

    def _scan(self, match: Callable, include_unfinished: bool, next_line_only: bool):
        """The first unconsumed line that matches (consuming it), a failure marker, or None."""
        i = self._next
        while i < len(self.lines):
            ln = self.lines[i]
            bad = self._failing_hit(ln.text)
            if bad is not None:
                self._next = i + 1
                return ("failing", bad, ln)
            m = match(ln.unconsumed)
            if m:
                self._next = i + 1
                return self._result(ln.unconsumed, ln.end_ps, m)
            if next_line_only:
                self._next = i + 1
                return ("not-next", None, ln)
            i += 1
        if include_unfinished and self._partial:
            text = self._partial[self._partial_consumed:].decode("utf-8", "replace")
            m = match(text)
            if m:
                self._next = len(self.lines)
                self._partial_consumed = len(self._partial)
                return self._result(text, self.emulation.now_ps, m)
        return None

    def _wait(self, match: Callable, what: str, timeout: Any, pause: bool | None,
              include_unfinished: bool = False, next_line_only: bool = False) -> UartLine:
        __tracebackhide__ = True
        t_ps = self.timeout_ps if timeout is None else duration_ps(timeout)
        pause = self.default_pause if pause is None else bool(pause)
        start = self.emulation.now_ps
        self._check_unfinished = include_unfinished
        try:
            r = self._waiter.run(lambda: self._scan(match, include_unfinished, next_line_only),
                                 t_ps, pause)
        finally:
            self._check_unfinished = False
        if isinstance(r, UartLine):
            return r
        if isinstance(r, tuple):
            kind, bad, ln = r
            if kind == "failing":
                raise TesterFailure(f"failing string >>{bad}<< seen on {self.label} at "
                                    f"{format_time(ln.end_ps)} while waiting for {what}: "
                                    f"{ln.text!r}\n{self.report()}")
            raise TesterFailure(f"the next line on {self.label} did not match {what}: "
                                f"{ln.text!r} at {format_time(ln.end_ps)}\n{self.report()}")
        raise UartTimeout(f"{what} did not appear on {self.label} within {format_time(t_ps)} of "
                          f"virtual time (waited from {format_time(start)} to "
                          f"{format_time(self.emulation.now_ps)})\n{self.report()}")

    # -- public API -------------------------------------------------------------------------
    def wait_for_line(self, pattern: Any, timeout: Any = None, treat_as_regex: bool = False,
                      pause: bool | None = None, include_unfinished_line: bool = False,
                      match_next_line: bool = False) -> UartLine:
        __tracebackhide__ = True
        what = f"a line containing {_describe(pattern, treat_as_regex)}"
        return self._wait(_matcher(pattern, treat_as_regex), what, timeout, pause,
                          include_unfinished_line, match_next_line)

    def expect(self, pattern: Any, timeout: Any = "1s", regex: bool = False,
               pause: bool = True) -> UartLine:
        """Wait for a line containing `pattern` (a regex when `regex` is true or `pattern` is
        a compiled `re.Pattern`) within `timeout` of virtual time; returns the line with its
        virtual time (`time_ps`) and regex `groups`. Raises UartTimeout (what was expected,
        the last lines seen, the log path) or TesterFailure (a failing string)."""
        __tracebackhide__ = True
        return self.wait_for_line(pattern, timeout, regex, pause)

    def expect_no(self, pattern: Any, timeout: Any = "1s", regex: bool = False) -> None:
        """Run for `timeout` and raise TesterFailure if a matching line appears."""
        __tracebackhide__ = True
        self.should_not_see(pattern, timeout, regex)

    def wait_for_next_line(self, timeout: Any = None, pause: bool | None = None) -> UartLine:
        return self._wait(lambda text: True, "a next line", timeout, pause)

    def wait_for_prompt(self, prompt: Any, timeout: Any = None, treat_as_regex: bool = False,
                        pause: bool | None = None) -> UartLine:
        what = f"the prompt {_describe(prompt, treat_as_regex)}"
        return self._wait(_matcher(prompt, treat_as_regex), what, timeout, pause,
                          include_unfinished=True)

    def should_not_see(self, pattern: Any, timeout: Any = None, treat_as_regex: bool = False,
                       include_unfinished_line: bool = False) -> None:
        """Run for `timeout` (or check what is there when it is 0); fail at the first line that
        matches, consuming it."""
        what = _describe(pattern, treat_as_regex)
        try:
            r = self.wait_for_line(pattern, timeout, treat_as_regex, pause=True,
                                   include_unfinished_line=include_unfinished_line)
        except UartTimeout:
            return
        raise TesterFailure(f"{what} appeared on {self.label} at {r.time}: {r.line!r}\n"
                            f"{self.report()}")

    def write(self, text: str | bytes) -> int:
        """Send bytes to the UART's receiver (at its baud rate when the model has timing).
        Returns the virtual time the last byte has arrived by."""
        data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
        writer = getattr(self.uart, "write_bytes", None)
        if writer is None:
            raise SetupError(f"{self.label} cannot receive bytes from the host")
        end = writer(data)
        return end if isinstance(end, int) else self.emulation.now_ps

    def write_line(self, text: str = "", wait_for_echo: bool | None = None,
                   timeout: Any = None) -> UartLine | None:
        """Send `text` and a carriage return (what a terminal's Enter sends, as Renode's
        WriteLine does); with `wait_for_echo`, wait until the firmware echoed `text`."""
        self.write(text + "\r")
        echo = self.default_wait_for_echo if wait_for_echo is None else bool(wait_for_echo)
        if echo:
            return self.wait_for_line(text, timeout, include_unfinished_line=True)
        return None

    def register_failing_string(self, pattern: str, treat_as_regex: bool = False) -> None:
        _matcher(pattern, treat_as_regex)  # validate now
        self.failing.append((pattern, bool(treat_as_regex)))

    def unregister_failing_string(self, pattern: str, treat_as_regex: bool = False) -> None:
        try:
            self.failing.remove((pattern, bool(treat_as_regex)))
        except ValueError:
            raise SetupError(f"{pattern!r} is not a registered failing string of {self.label}; "
                             f"registered: {[p for p, _ in self.failing]}") from None

    # -- reading what was sent (no waiting) --------------------------------------------------
    @property
    def machine_name(self) -> str:
        return self.machine.name

    @property
    def text(self) -> str:
        """Everything the UART sent so far, as text."""
        return self.data.decode("utf-8", "replace")

    def line_texts(self) -> list[str]:
        """Every complete line so far (whether or not a wait consumed it)."""
        return [ln.text for ln in self.lines]

    def find_line(self, prefix: str):
        """The first complete line that starts with `prefix` (with its start/end times)."""
        for ln in self.lines:
            if ln.text.startswith(prefix):
                return ln
        return None

    def texts(self) -> list[str]:
        return [ln.text for ln in self.lines]

    @property
    def unfinished_line(self) -> str:
        return self._partial.decode("utf-8", "replace")

    def report(self, n: int = REPORT_LINES) -> str:
        """The last lines seen, the unfinished line and where the full log is."""
        shown = self.lines[-n:]
        out = [f"last {len(shown)} of {len(self.lines)} lines seen on {self.label}:"
               if self.lines else f"no complete line seen on {self.label}"]
        out += [f"  [{format_time(ln.end_ps)}] {ln.text}" for ln in shown]
        if self._partial:
            out.append(f"  unfinished line: {self.unfinished_line!r}")
        if self.log_path is not None:
            out.append(f"full log: {self.log_path}")
        return "\n".join(out)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.uart.on_byte.remove(self._feed)
        except ValueError:
            pass
        if self._log is not None:
            if self._partial:
                self._log.write(f"[{stamp(self.emulation.now_ps)}] (unfinished) "
                                f"{self.unfinished_line}\n")
            self._log.close()
            self._log = None


# ------------------------------------------------------------------------------------- logs
#: Renode log level names to Python levels (Noisy is below DEBUG).
LEVELS = {"noisy": 5, "debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
          "error": logging.ERROR}


def parse_level(level: Any) -> int:
    if isinstance(level, int):
        return level
    key = str(level).strip().lower()
    if key in LEVELS:
        return LEVELS[key]
    raise SetupError(f"unknown log level {level!r}; expected one of "
                     f"{', '.join(k.capitalize() for k in LEVELS)}")


@dataclass
class LogEntry:
    time_ps: int
    level: int
    logger: str
    message: str

    def __str__(self) -> str:
        return f"[{format_time(self.time_ps)}] {logging.getLevelName(self.level)} {self.message}"


class LogTester(logging.Handler):
    """Collects the records of the `metersim` logger with their virtual time and waits for
    entries in virtual time. While it exists the logger passes records from `level` up."""

    def __init__(self, emulation, timeout: Any = "8s", pause: bool = False,
                 level: Any = "info", logger_name: str = "metersim"):
        self.capture_level = parse_level(level)
        super().__init__(self.capture_level)
        self.emulation = emulation
        self.timeout_ps = duration_ps(timeout)
        self.default_pause = bool(pause)
        self.entries: list[LogEntry] = []
        self._next = 0
        self.failing: list[tuple[str, bool]] = []
        self._waiter = _Waiter(emulation)
        self._logger = logging.getLogger(logger_name)
        self._saved_level = self._logger.level
        if self._logger.getEffectiveLevel() > self.capture_level:
            self._logger.setLevel(self.capture_level)
        self._logger.addHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            msg = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken log call must not stop the emulation
            msg = str(record.msg)
        self.entries.append(LogEntry(self.emulation.now_ps, record.levelno, record.name, msg))
        self._waiter.offer()

    def _scan(self, match: Callable, level: int | None, keep: bool):
        for i in range(self._next, len(self.entries)):
            e = self.entries[i]
            for pattern, rx in self.failing:
                if _matcher(pattern, rx)(e.message):
                    self._next = i + 1
                    return ("failing", pattern, e)
            if level is not None and e.level < level:
                continue
            if match(e.message):
                if not keep:
                    self._next = i + 1
                return e
        return None

    def wait_for_entry(self, pattern: Any, timeout: Any = None, keep: bool = False,
                       treat_as_regex: bool = False, pause: bool | None = None,
                       level: Any = None) -> LogEntry:
        t_ps = self.timeout_ps if timeout is None else duration_ps(timeout)
        pause = self.default_pause if pause is None else bool(pause)
        lvl = None if level in (None, "") else parse_level(level)
        match = _matcher(pattern, treat_as_regex)
        start = self.emulation.now_ps
        r = self._waiter.run(lambda: self._scan(match, lvl, keep), t_ps, pause)
        what = f"a log entry containing {_describe(pattern, treat_as_regex)}"
        if lvl is not None:
            what += f" at level {logging.getLevelName(lvl)} or above"
        if isinstance(r, LogEntry):
            return r
        if isinstance(r, tuple):
            raise TesterFailure(f"failing string >>{r[1]}<< in the log while waiting for "
                                f"{what}: {r[2]}\n{self.report()}")
        raise LogTimeout(f"{what} did not appear within {format_time(t_ps)} of virtual time "
                         f"(waited from {format_time(start)} to "
                         f"{format_time(self.emulation.now_ps)})\n{self.report()}")

    def should_not_be_in_log(self, pattern: Any, timeout: Any = 0,
                             treat_as_regex: bool = False) -> None:
        try:
            e = self.wait_for_entry(pattern, timeout, keep=True, treat_as_regex=treat_as_regex,
                                    pause=True)
        except LogTimeout:
            return
        raise TesterFailure(f"{_describe(pattern, treat_as_regex)} is in the log: {e}")

    def clear(self) -> None:
        self.entries.clear()
        self._next = 0

    def report(self, n: int = REPORT_LINES) -> str:
        shown = self.entries[-n:]
        if not shown:
            return "no log entries seen (captured from level " \
                   f"{logging.getLevelName(self.capture_level)})"
        return "\n".join([f"last {len(shown)} of {len(self.entries)} log entries:"]
                         + [f"  {e}" for e in shown])

    def close(self) -> None:
        self._logger.removeHandler(self)
        self._logger.setLevel(self._saved_level)


def console_uart_of(machine, name: str | None = None):
    """(name, model) of `machine`'s UART `name`, or of its console: usart1/uart1/usart2, or
    the first UART model."""
    if name is not None:
        return name, machine[name]
    for candidate in ("usart1", "uart1", "usart2"):
        if candidate in machine.peripherals:
            return candidate, machine.peripherals[candidate]
    for pname, p in machine.peripherals.items():
        if hasattr(p, "on_byte") and hasattr(p, "sent"):
            return pname, p
    raise SetupError(f"{machine.name} has no UART to capture")


def capture_uart(machine, name: str | None = None,
                 echo: Callable[[str, str], None] | None = None, **kw) -> UartTester:
    """A UartTester on `machine`'s UART `name` (default: its console), from now on. Read it
    (`text`, `lines`, `find_line`) or wait on it (`expect`, `wait_for_line`)."""
    uart_name, _ = console_uart_of(machine, name)
    return UartTester(machine.emulation, machine, uart_name, echo=echo, **kw)
