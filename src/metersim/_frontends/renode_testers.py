"""What Renode's testers do beyond metersim's UartTester: binary mode, the carriage-return line
ending, the idle check (renode-infrastructure `src/Emulator/Main/Testing/TerminalTester.cs`),
and the LED tester (`.../Testing/LEDTester.cs`). Shared by the Robot library and the pyrenode3
compatibility wrappers; every wait counts virtual time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from metersim._errors import MetersimError, SetupError
from metersim._orchestration.testers import (TesterFailure, UartLine, UartTester, UartTimeout,
                                            _describe, _matcher, duration_ps)
from metersim._units import PS_PER_MS, PS_PER_S, format_time

#: Renode's EndLineOption values.
END_LINE_OPTIONS = ("TreatLineFeedAsEndLine", "TreatCarriageReturnAsEndLine")


class TerminalTesterFailed(TesterFailure):
    """Renode's `InvalidOperationException("Terminal tester failed! ...")`."""


class LedAssertionFailed(MetersimError):
    """An LED tester assertion did not hold (Renode's messages)."""

    ROBOT_SUPPRESS_NAME = True


@dataclass
class BinaryResult:
    """Renode's BinaryTerminalTesterResult: the bytes up to the match end, its time, groups."""

    content: bytes
    timestamp_ps: int
    groups: list[bytes] = field(default_factory=list)

    @property
    def timestamp(self) -> float:
        return self.timestamp_ps / PS_PER_MS

    Content = property(lambda self: self.content)
    Timestamp = property(lambda self: self.timestamp)
    Groups = property(lambda self: self.groups)

    def __getitem__(self, key: str):
        if key in ("content", "timestamp", "groups", "timestamp_ps"):
            return getattr(self, key)
        raise KeyError(key)


def hex_bytes(text: str) -> bytes:
    """Renode's `Misc.HexStringToByteArray(..., ignoreWhitespace: true)`: "59 52 20" -> b"YR "."""
    digits = re.sub(r"\s+", "", str(text))
    if digits.lower().startswith("0x"):
        digits = digits[2:]
    try:
        return bytes.fromhex(digits)
    except ValueError:
        raise SetupError(f"expected bytes as hex digits like \"59 52 20\", got {text!r}") from None


class RenodeUartTester(UartTester):
    """A UartTester with Renode's tester options.

    `binary=True`: bytes are not split into lines (CR, LF and NUL are data); waits look for
    byte sequences (`wait_for_bytes`). `end_line="TreatCarriageReturnAsEndLine"`: CR ends a
    line and LF is dropped. In text mode NUL bytes are dropped, as Renode does.
    """

    def __init__(self, *args, binary: bool = False,
                 end_line: str | None = None, **kwargs):
        if end_line not in (None, "", *END_LINE_OPTIONS):
            raise SetupError(f"endLineOption {end_line!r}: expected one of "
                             f"{', '.join(END_LINE_OPTIONS)}")
        self.binary = bool(binary)
        self.cr_ends_line = end_line == "TreatCarriageReturnAsEndLine"
        self.bytes_seen = 0            # every byte, whatever the mode: the idle check counts them
        self._watch_bytes = False
        self._bin_next = 0             # first byte not consumed by a binary match
        self.write_char_delay_ps = 0   # Renode's WriteCharDelay: a gap after every character
        self.default_match_next_line = False
        super().__init__(*args, **kwargs)

    def write(self, text: str | bytes) -> int:
        if not self.write_char_delay_ps:
            return super().write(text)
        data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
        try:
            return self.uart.write_bytes(data, gap_ps=self.write_char_delay_ps)
        except TypeError:
            raise SetupError(f"{self.label} ({type(self.uart).__name__}) cannot space the "
                             "characters it receives (Write Char Delay)") from None

    def clear_report(self) -> None:
        """Renode's ClearReport: forget the lines seen so far, matched or not."""
        self.lines.clear()
        self._next = 0

    def wait_for_lines(self, patterns: list, timeout: Any = None, treat_as_regex: bool = False,
                       include_unfinished: bool = False, pause: bool | None = None,
                       match_from_next_line: bool = False) -> UartLine:
        """Renode's multi-line WaitFor: consecutive lines matching `patterns` in order (the
        last one may be the unfinished line with `include_unfinished`); with
        `match_from_next_line` the first must be the next unconsumed line. Returns the last
        line and its time, as Renode does, with the regex groups of all the lines."""
        patterns = list(patterns)
        if not patterns:
            return UartLine("", self.emulation.now_ps)
        matchers = [_matcher(p, treat_as_regex) for p in patterns]
        n = len(matchers)

        def texts_from(start: int):
            for k in range(n):
                i = start + k
                if i < len(self.lines):
                    ln = self.lines[i]
                    yield (ln.unconsumed if k == 0 else ln.text), ln.end_ps
                elif i == len(self.lines) and k == n - 1 and include_unfinished and self._partial:
                    yield self.unfinished_line, self.emulation.now_ps
                else:
                    return

        def scan():
            for i in range(self._next, len(self.lines)):
                bad = self._failing_hit(self.lines[i].text)
                if bad is not None:
                    self._next = i + 1
                    return ("failing", bad, self.lines[i])
            last_start = self._next if match_from_next_line else len(self.lines)
            for start in range(self._next, last_start + 1):
                got = []
                for (text, t), match in zip(texts_from(start), matchers):
                    m = match(text)
                    if not m:
                        break
                    got.append((text, t, m))
                if len(got) == n:
                    self._next = min(start + n, len(self.lines))
                    if start + n > len(self.lines):
                        self._partial_consumed = len(self._partial)
                    groups = [g or "" for _, _, m in got if isinstance(m, re.Match)
                              for g in m.groups()]
                    return UartLine(got[-1][0], got[-1][1], groups, self.machine.name,
                                    self.uart_name)
            return None

        t_ps = self.timeout_ps if timeout is None else duration_ps(timeout)
        start_ps = self.emulation.now_ps
        self._check_unfinished = include_unfinished
        try:
            r = self._waiter.run(scan, t_ps, self.default_pause if pause is None else bool(pause))
        finally:
            self._check_unfinished = False
        what = "lines matching " + ", ".join(_describe(p, treat_as_regex) for p in patterns)
        if isinstance(r, tuple):
            raise TesterFailure(f"failing string >>{r[1]}<< seen on {self.label} while waiting "
                                f"for {what}: {r[2].text!r}\n{self.report()}")
        if r is None:
            raise UartTimeout(f"{what} did not appear on {self.label} within {format_time(t_ps)}"
                              f" of virtual time (waited from {format_time(start_ps)} to "
                              f"{format_time(self.emulation.now_ps)})\n{self.report()}")
        return r

    def _feed(self, byte: int) -> None:
        self.bytes_seen += 1
        if self.binary:
            self.data.append(byte)
            self.times_ps.append(self.emulation.now_ps)
        elif byte != 0 and not (self.cr_ends_line and byte == 0x0A):
            super()._feed(0x0A if self.cr_ends_line and byte == 0x0D else byte)
        if self._watch_bytes or self.binary:
            self._waiter.offer()

    def _wait_bytes(self, matcher, timeout: Any, pause: bool | None):
        t_ps = self.timeout_ps if timeout is None else duration_ps(timeout)
        pause = self.default_pause if pause is None else bool(pause)
        self._watch_bytes = True
        try:
            return self._waiter.run(matcher, t_ps, pause), t_ps
        finally:
            self._watch_bytes = False

    def wait_for_bytes(self, content: str, timeout: Any = None, treat_as_regex: bool = False,
                       pause: bool | None = None, match_start: bool = False) -> BinaryResult:
        """Wait for the bytes `content` ("59 52 20", or a regex over Latin-1 text with
        `treat_as_regex`); the bytes up to the match end are consumed."""
        if not self.binary:
            raise SetupError("Attempt to wait for bytes on a tester configured in text mode. "
                             "Please set binaryMode=True when creating the tester.")
        if treat_as_regex:
            try:
                rx = re.compile(content, re.DOTALL)
            except re.error as exc:
                raise SetupError(f"invalid regular expression {content!r}: {exc}") from None
        else:
            rx = re.compile(re.escape(hex_bytes(content).decode("latin-1")))

        def scan():
            text = bytes(self.data[self._bin_next:]).decode("latin-1")
            m = rx.match(text) if match_start else rx.search(text)
            if m is None:
                return None
            end = self._bin_next + m.end()
            got = bytes(self.data[self._bin_next:end])
            self._bin_next = end
            t = self.times_ps[end - 1] if end > 0 else self.emulation.now_ps
            return BinaryResult(got, t, [(g or "").encode("latin-1") for g in m.groups()])

        start = self.emulation.now_ps
        r, t_ps = self._wait_bytes(scan, timeout, pause)
        if r is not None:
            return r
        pending = " ".join(f"{b:02x}" for b in self.data[self._bin_next:][-64:])
        raise UartTimeout(f"bytes >>{content}<< did not appear on {self.label} within "
                          f"{format_time(t_ps)} of virtual time (waited from {format_time(start)} "
                          f"to {format_time(self.emulation.now_ps)}); unconsumed bytes: "
                          f"{pending or 'none'}")

    def is_idle(self, timeout: Any = None, pause: bool | None = None) -> bool:
        """Run for `timeout`; True when the UART sent nothing meanwhile (stops at the first
        byte otherwise)."""
        seen = self.bytes_seen
        r, _ = self._wait_bytes(lambda: True if self.bytes_seen > seen else None, timeout, pause)
        return r is None

    def report(self, n: int = 10) -> str:
        if not self.binary:
            return super().report(n)
        tail = " ".join(f"{b:02x}" for b in self.data[-64:])
        return (f"{len(self.data)} bytes seen on {self.label}; last ones: {tail or 'none'}"
                + (f"\nfull log: {self.log_path}" if self.log_path is not None else ""))


# ----------------------------------------------------------------------------------- LEDs
def _seconds(value: Any, name: str, allow_zero: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise SetupError(f"{name}: expected a number of seconds, got {value!r}") from None
    if v < 0 or (not allow_zero and v == 0):
        raise SetupError(f"{name}: Value must {'not be negative' if allow_zero else 'be positive'}"
                         f", but was {v:g}")
    return v


def _fraction(value: Any, name: str) -> float:
    v = float(value)
    if not 0 <= v <= 1:
        raise SetupError(f"{name}: Value must be in range [0; 1], but was {v:g}")
    return v


class LedTester:
    """Renode's LEDTester on a `Miscellaneous.LED` model: state assertions, hold, duty cycle
    and blinking, all in virtual time. Assertions raise LedAssertionFailed with Renode's
    messages (plus the virtual times involved)."""

    def __init__(self, emulation, led, name: str = "led", default_timeout: Any = 0):
        if not (hasattr(led, "on_state_change") and hasattr(led, "state")):
            raise SetupError(f"{name} is not an LED (a {type(led).__name__})")
        self.emulation = emulation
        self.led = led
        self.name = name
        self.default_timeout_s = _seconds(default_timeout, "defaultTimeout", allow_zero=True)
        self._changes: list[tuple[int, bool]] = []
        self._pause = False
        led.on_state_change(self._on_change)

    def _on_change(self, on: bool) -> None:
        self._changes.append((self.emulation.now_ps, on))
        if self._pause:
            emu = self.emulation
            if any(m.cpu.in_slice for m in emu.machines):
                emu.request_stop()

    def _run(self, span_s: float, until=None, pause: bool = False) -> None:
        self._pause = pause
        try:
            emu = self.emulation
            emu.run_until_time(emu.now_ps + round(span_s * PS_PER_S), until)
        finally:
            self._pause = False

    def _fail(self, message: str, since_ps: int) -> None:
        raise LedAssertionFailed(f"{message} ({self.name}: {'on' if self.led.state else 'off'} "
                                 f"at {format_time(self.emulation.now_ps)}, watched from "
                                 f"{format_time(since_ps)})")

    def assert_state(self, state: bool, timeout: Any = None, pause: bool = False) -> None:
        t = self.default_timeout_s if timeout in (None, "") else _seconds(timeout, "timeout", True)
        start = self.emulation.now_ps
        if self.led.state != state and t > 0:
            self._changes.clear()
            # A change to the wanted state ends the wait; pausing stops the core right there.
            self._run(t, lambda: self.led.state == state, pause)
        if self.led.state != state:
            self._fail("LED assertion not met.", start)

    def assert_and_hold_state(self, initial: bool, timeout_assert: Any, timeout_hold: Any,
                              pause: bool = False) -> None:
        t_assert = _seconds(timeout_assert, "timeoutAssert", allow_zero=True)
        t_hold = _seconds(timeout_hold, "timeoutHold")
        start = self.emulation.now_ps
        self._changes.clear()
        if self.led.state != initial:
            self._run(t_assert, lambda: bool(self._changes))
            if not self._changes:
                self._fail("Initial LED assertion not met.", start)
            if len(self._changes) > 1:
                self._fail("LED changed state.", start)
            # The hold counts from the instant the LED reached the state.
            hold_end = self._changes[0][0] + round(t_hold * PS_PER_S)
            self._changes.clear()
        else:
            hold_end = start + round(t_hold * PS_PER_S)
        span = max(0, hold_end - self.emulation.now_ps)
        self._run(span / PS_PER_S, lambda: bool(self._changes), pause)
        if self._changes:
            self._fail("LED changed state.", start)

    def assert_duty_cycle(self, test_duration: Any, expected: Any, tolerance: Any = 0.05,
                          pause: bool = False) -> float:
        """Runs `test_duration` seconds; the share of it the LED was lit must be within
        `tolerance` of `expected` (both fractions). Returns the measured share."""
        span = _seconds(test_duration, "testDuration")
        expected = _fraction(expected, "expectedDutyCycle")
        tolerance = _fraction(tolerance, "tolerance")
        start = self.emulation.now_ps
        on_ps = self._lit_ps(start, span, pause)
        share = on_ps / (self.emulation.now_ps - start)
        if not (expected - tolerance) <= share <= (expected + tolerance):
            self._fail(f"Fill assertion not met: expected {expected * 100:g} with tolerance "
                       f"{tolerance * 100:g}%, but got {share * 100:g}", start)
        return share

    def _lit_ps(self, start: int, span_s: float, pause: bool) -> int:
        lit_since = start if self.led.state else None
        self._changes.clear()
        self._run(span_s, None, pause)
        total = 0
        for t, on in self._changes:
            if on and lit_since is None:
                lit_since = t
            elif not on and lit_since is not None:
                total += t - lit_since
                lit_since = None
        if lit_since is not None:
            total += self.emulation.now_ps - lit_since
        return total

    def assert_is_blinking(self, test_duration: Any, on_duration: Any, off_duration: Any,
                           tolerance: Any = 0.05, pause: bool = False) -> None:
        """Runs up to `test_duration` seconds; every complete on and off period seen must last
        `on_duration` / `off_duration` seconds within a relative `tolerance`."""
        span = _seconds(test_duration, "testDuration")
        on_s = _seconds(on_duration, "onDuration")
        off_s = _seconds(off_duration, "offDuration")
        tolerance = float(tolerance)
        start = self.emulation.now_ps
        self._changes.clear()
        bad: list[str] = []

        def check() -> bool:
            c = self._changes
            if len(c) >= 2 and not bad:
                (t0, was_on), (t1, _) = c[-2], c[-1]
                want = on_s if was_on else off_s
                dt = (t1 - t0) / PS_PER_S
                if not want * (1 - tolerance) <= dt <= want * (1 + tolerance):
                    bad.append(f"{'on' if was_on else 'off'} for {dt:g} s at "
                               f"{format_time(t0)}, expected {want:g} s")
            return bool(bad)

        self._run(span, check, pause)
        check()
        if not self._changes:
            self._fail("Expected blinking pattern not detected (LED state never changed)", start)
        if bad:
            self._fail("Expected blinking pattern not detected (State duration was out of "
                       f"specified range): {bad[0]}", start)

    def close(self) -> None:
        fns = getattr(self.led, "_fns", None)
        if fns is not None and self._on_change in fns:
            fns.remove(self._on_change)
