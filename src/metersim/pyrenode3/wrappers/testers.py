"""pyrenode3's TerminalTester, LEDTester and Analyzer wrappers, with Renode's tester methods
(renode-infrastructure `src/Emulator/Main/Testing/{TerminalTester,LEDTester}.cs`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from metersim._frontends.renode_testers import LedTester, RenodeUartTester
from metersim._orchestration.testers import TesterFailure, UartTimeout
from metersim.pyrenode3.session import Session
from metersim.pyrenode3.timeinterval import TimeInterval, to_ps
from metersim.pyrenode3.wrappers.base import RenodeCallError, Wrapper, locked, run_command
from metersim._units import PS_PER_MS, PS_PER_S


@dataclass
class TerminalTesterResult:
    """Renode's TerminalTesterResult."""

    Line: str
    Timestamp: float                      # virtual milliseconds
    Groups: list[str] = field(default_factory=list)
    IsFailingString: bool = False


def _seconds(value: Any) -> float | None:
    return None if value is None else to_ps(value) / PS_PER_S


class TerminalTester(Wrapper):
    """`TerminalTester(peripheral, timeout_s, endLineOption=..., binaryMode=...)` on a UART.
    Waits return a TerminalTesterResult, or None when the timeout passed (as Renode's do);
    `GetReport()` then says what was seen."""

    @locked
    def __init__(self, peripheral, timeout: Any, endLineOption: str | None = None,  # noqa: N803
                 removeColors: bool = True, binaryMode: bool = False):  # noqa: N803
        mach = peripheral.mach
        tester = RenodeUartTester(mach.internal.emulation, mach.internal, peripheral.name,
                                  timeout=f"{to_ps(timeout)}ps", binary=binaryMode,
                                  end_line=endLineOption)
        super().__init__(tester)
        object.__setattr__(self, "_report", [])

    @property
    def BinaryMode(self) -> bool:  # noqa: N802
        return self.internal.binary

    def _timeout(self, timeout: Any) -> str | None:
        return None if timeout is None else f"{to_ps(timeout)}ps"

    @locked
    def _result(self, fn, *args) -> TerminalTesterResult | None:
        try:
            r = fn(*args)
        except UartTimeout as exc:
            self._report.append(str(exc))
            return None
        except TesterFailure as exc:
            self._report.append(str(exc))
            text = str(exc).split(": ", 1)[-1].splitlines()[0]
            return TerminalTesterResult(text, self.internal.emulation.now_ps / PS_PER_MS, [], True)
        return TerminalTesterResult(r.line, r.timestamp, list(r.groups))

    def WaitFor(self, pattern, timeout: Any = None, treatAsRegex: bool = False,  # noqa: N802,N803
                includeUnfinishedLine: bool = False, pauseEmulation: bool = False,  # noqa: N803
                matchNextLine: bool = False) -> TerminalTesterResult | None:  # noqa: N803
        """A line containing `pattern` (a regex with treatAsRegex); a list of patterns must
        match consecutive lines."""
        t = self.internal
        if isinstance(pattern, str):
            return self._result(t.wait_for_line, pattern, self._timeout(timeout), treatAsRegex,
                                pauseEmulation, includeUnfinishedLine, matchNextLine)
        return self._result(t.wait_for_lines, list(pattern), self._timeout(timeout),
                            treatAsRegex, includeUnfinishedLine, pauseEmulation, matchNextLine)

    @locked
    def NextLine(self, timeout: Any = None, pauseEmulation: bool = False):  # noqa: N802,N803
        return self._result(self.internal.wait_for_next_line, self._timeout(timeout),
                            pauseEmulation)

    @locked
    def IsIdle(self, timeout: Any = None, pauseEmulation: bool = True) -> bool:  # noqa: N802,N803
        return self.internal.is_idle(self._timeout(timeout), pauseEmulation)

    @locked
    def Write(self, text: str) -> None:  # noqa: N802
        self.internal.write(text)

    @locked
    def WriteLine(self, line: str = "") -> None:  # noqa: N802
        self.internal.write(line + "\r")

    def RegisterFailingString(self, pattern: str, treatAsRegex: bool = False) -> None:  # noqa: N802,N803
        self.internal.register_failing_string(pattern, treatAsRegex)

    def UnregisterFailingString(self, pattern: str, treatAsRegex: bool = False) -> None:  # noqa: N802,N803
        self.internal.unregister_failing_string(pattern, treatAsRegex)

    def GetReport(self) -> str:  # noqa: N802
        return "\n".join([*self._report, self.internal.report()])

    def ClearReport(self) -> None:  # noqa: N802
        self._report.clear()
        self.internal.clear_report()

    @property
    def WriteCharDelay(self) -> float:  # noqa: N802 - seconds (Renode: a TimeSpan)
        return self.internal.write_char_delay_ps / PS_PER_S

    @WriteCharDelay.setter
    def WriteCharDelay(self, delay: Any) -> None:  # noqa: N802
        self.internal.write_char_delay_ps = to_ps(delay, "WriteCharDelay")


class LEDTester(Wrapper):
    """`LEDTester(emulation, peripheral, name, defaultTimeout)`: Renode's LED assertions in
    virtual seconds; a failed one raises (Renode throws InvalidOperationException)."""

    def __init__(self, emulation, peripheral, name: str, defaultTimeout: float = 0):  # noqa: N803
        mach = peripheral.mach
        tester = LedTester(mach.internal.emulation, peripheral.internal,
                           f"{mach.name}:{peripheral.name}", defaultTimeout)
        super().__init__(tester)
        emulation.ExternalsManager.AddExternal(self, name)

    @locked
    def AssertState(self, state: bool, timeout: float | None = None,  # noqa: N802
                    pauseEmulation: bool = False) -> "LEDTester":  # noqa: N803
        self.internal.assert_state(bool(state), _seconds(timeout), pauseEmulation)
        return self

    @locked
    def AssertAndHoldState(self, initialState: bool, timeoutAssert: float,  # noqa: N802,N803
                           timeoutHold: float, pauseEmulation: bool = False) -> "LEDTester":  # noqa: N803
        self.internal.assert_and_hold_state(bool(initialState), _seconds(timeoutAssert),
                                            _seconds(timeoutHold), pauseEmulation)
        return self

    @locked
    def AssertDutyCycle(self, testDuration: float, expectedDutyCycle: float,  # noqa: N802,N803
                        tolerance: float = 0.05, pauseEmulation: bool = False) -> "LEDTester":  # noqa: N803
        self.internal.assert_duty_cycle(_seconds(testDuration), expectedDutyCycle, tolerance,
                                        pauseEmulation)
        return self

    @locked
    def AssertIsBlinking(self, testDuration: float, onDuration: float, offDuration: float,  # noqa: N802,N803
                         tolerance: float = 0.05, pauseEmulation: bool = False) -> "LEDTester":  # noqa: N803
        self.internal.assert_is_blinking(_seconds(testDuration), _seconds(onDuration),
                                         _seconds(offDuration), tolerance, pauseEmulation)
        return self


class Analyzer(Wrapper):
    """`Analyzer(uart).Show()`: Renode opens a terminal window; metersim prints the UART's
    lines on stdout as `[machine:uart] line` while the emulation runs (the monitor's
    `showAnalyzer`)."""

    def __init__(self, peripheral):
        super().__init__(peripheral)

    def Show(self) -> None:  # noqa: N802
        p = self.internal
        run_command(f"showAnalyzer {p.path}", p.mach.name)

    def Hide(self) -> None:  # noqa: N802
        p = self.internal
        cap = Session.monitor().analyzers.pop((p.mach.name, p.name), None)
        if cap is not None:
            cap.close()


__all__ = ["TerminalTester", "TerminalTesterResult", "LEDTester", "Analyzer", "TimeInterval",
           "RenodeCallError"]
