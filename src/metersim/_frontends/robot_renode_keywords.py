"""Renode's CPU, LED and temporary-file keywords (renode `src/Renode/RobotFrameworkEngine/
{CpuKeywords,LedKeywords,RenodeKeywords}.cs`), mixed into metersim's Robot library.

Names, argument names and order, defaults and error messages are Renode's. Machine choice is
Renode's too: without `machine=` there must be exactly one machine.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from robot.api.deco import keyword

from metersim._errors import SetupError
from metersim._frontends.renode_testers import LedTester
from metersim._frontends.robot_support import KeywordError, _errors, _recorded


def _int(value: Any, what: str) -> int:
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip(), 0)
    except ValueError:
        raise KeywordError(f"{what}: expected a number (42, 0x2A), got {value!r}") from None


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("false", "0", "no", "off", "none", "")
    return bool(value)


class RenodeExtraKeywords:
    """Mixed into MetersimLibrary, which provides `emulation`, `_errors`-style wrapping and
    `_led_testers` / `_tmp_dir` state."""

    # ------------------------------------------------------------------ helpers
    def _machine_or_single(self, machine: str | None):
        """Renode's GetMachineByNameOrSingle."""
        emu = self.emulation
        names = ", ".join(m.name for m in emu.machines)
        if machine in (None, ""):
            if not emu.machines:
                raise KeywordError("There are no machines in the emulation.")
            if len(emu.machines) > 1:
                raise KeywordError("There is more than 1 machine and no machine name was "
                                   f"specified. Available machines: [{names}]")
            return emu.machines[0]
        try:
            return emu.machine(machine)
        except SetupError:
            raise KeywordError(f"Machine with name {machine} not found. Available machines: "
                               f"[{names}]") from None

    @staticmethod
    def _cpu_debugger(m, cpu_name: str | None):
        from metersim._engine.debug import Debugger

        # metersim machines have one core, named `cpu` as in Renode's .repl files.
        if cpu_name not in (None, "", "cpu", "sysbus.cpu"):
            raise KeywordError(f"This machine has no CPU named: {cpu_name}, available are: cpu")
        return Debugger.of(m)

    # ------------------------------------------------------------------ CPU
    @keyword("Pc Should Be Equal")
    @_errors
    def pc_should_be_equal(self, value: str, machine: str | None = None,
                           cpuName: str | None = None) -> None:  # noqa: N803 - Renode's name
        """Fails unless the core's PC is ``value``.

        | Pc Should Be Equal    0x08000100
        """
        expected = _int(value, "value")
        actual = self._cpu_debugger(self._machine_or_single(machine), cpuName).pc
        if actual != expected:
            raise KeywordError(f"PC value assertion failed, actual: 0x{actual:x}, "
                               f"expected: 0x{expected:x}")

    @keyword("Register Should Be Equal")
    @_errors
    def register_should_be_equal(self, register: str, value: str, machine: str | None = None,
                                 cpuName: str | None = None,  # noqa: N803 - Renode's name
                                 message: str | None = None) -> None:
        """Fails unless the core register ``register`` holds ``value``. ``register`` is a
        number (0-15: R0-R15) or a name (R0, SP, LR, PC, XPSR, MSP, PSP, CONTROL, PRIMASK,
        BASEPRI, FAULTMASK). ``message`` prefixes the failure.

        | Register Should Be Equal    0    0x2A
        | Register Should Be Equal    SP    0x20001000    message=stack after boot
        """
        dbg = self._cpu_debugger(self._machine_or_single(machine), cpuName)
        text = str(register).strip()
        if text.isdigit():
            n = int(text)
            if not 0 <= n <= 15:
                raise KeywordError(f"register number {n}: metersim numbers R0-R15 (0-15)")
            name = f"r{n}"
        else:
            name = text
        try:
            actual = dbg.read_register(name)
        except SetupError as exc:
            raise KeywordError(str(exc)) from None
        expected = _int(value, "value")
        if actual != expected:
            prefix = f"{message}: " if message else ""
            raise KeywordError(f"{prefix}Register {register} value assertion failed, "
                               f"actual: 0x{actual:x}, expected: 0x{expected:x}")

    # ------------------------------------------------------------------ LEDs
    @keyword("Set Default Led Timeout")
    @_errors
    def set_default_led_timeout(self, timeout: float) -> None:
        """Default ``timeout`` (virtual seconds) of LED testers created afterwards."""
        self._led_default_timeout = float(timeout)

    @keyword("Create Led Tester")
    @_recorded
    def create_led_tester(self, led: str, defaultTimeout: float | None = None,  # noqa: N803
                          machine: str | None = None) -> int:
        """Attaches an LED tester to ``led`` (``sysbus.gpioPortC.ledRun`` or ``ledRun``) and
        returns its id; a second call for the same LED returns the same id.

        | Create LED Tester    sysbus.gpioPortC.ledRun    defaultTimeout=1
        """
        self._check_emulation()
        emu = self.emulation
        if machine in (None, ""):
            if not emu.machines:
                raise KeywordError("There is no machine in the emulation. Could not create "
                                   f"tester for peripheral: {led}")
            if len(emu.machines) > 1:
                raise KeywordError("No machine name provided. Don't know which one to "
                                   "choose. Available machines: ["
                                   f"{', '.join(m.name for m in emu.machines)}]")
            m = emu.machines[0]
        else:
            m = self._machine_or_single(machine)
        parts = str(led).split(".")
        if parts[0] == "sysbus":
            parts = parts[1:]
        model = m.peripherals.get(".".join(parts)) or (m.peripherals.get(parts[-1]) if parts else None)
        if model is None or not hasattr(model, "on_state_change"):
            raise KeywordError(f"Peripheral for machine '{machine}' not found or of wrong "
                               f"type: '{led}'. Available peripherals: "
                               f"[{', '.join(sorted(m.peripherals))}]")
        for i, t in enumerate(self._led_testers):
            if t.led is model:
                return i
        timeout = self._led_default_timeout if defaultTimeout in (None, "") else defaultTimeout
        self._led_testers.append(LedTester(emu, model, f"{m.name}:{parts[-1]}", timeout))
        return len(self._led_testers) - 1

    def _led(self, testerId: Any) -> LedTester:  # noqa: N803
        self._check_emulation()
        testers = self._led_testers
        if testerId in (None, ""):
            if len(testers) != 1:
                raise KeywordError("There are no testers available." if not testers else
                                   "There is more than one tester available - please "
                                   "specify ID of the desired tester.")
            return testers[0]
        i = _int(testerId, "testerId")
        if not 0 <= i < len(testers):
            raise KeywordError(f"Tester for given ID={i} was not found. Did you forget to "
                               "create the tester?")
        return testers[i]

    @keyword("Assert Led State")
    @_recorded
    def assert_led_state(self, state: bool, timeout: float | None = None,
                         testerId: int | None = None,  # noqa: N803
                         pauseEmulation: bool = False) -> None:  # noqa: N803
        """Fails unless the LED is (or becomes, within ``timeout`` virtual seconds) lit
        (``state=true``) or dark."""
        self._led(testerId).assert_state(_bool(state), timeout, _bool(pauseEmulation))

    @keyword("Assert And Hold Led State")
    @_recorded
    def assert_and_hold_led_state(self, initialState: bool, timeoutAssert: float,  # noqa: N803
                                  timeoutHold: float, testerId: int | None = None,  # noqa: N803
                                  pauseEmulation: bool = False) -> None:  # noqa: N803
        """The LED must reach ``initialState`` within ``timeoutAssert`` and then keep it for
        ``timeoutHold`` virtual seconds."""
        self._led(testerId).assert_and_hold_state(_bool(initialState), timeoutAssert,
                                                  timeoutHold, _bool(pauseEmulation))

    @keyword("Assert Led Duty Cycle")
    @_recorded
    def assert_led_duty_cycle(self, testDuration: float, expectedDutyCycle: float,  # noqa: N803
                              tolerance: float = 0.05, testerId: int | None = None,  # noqa: N803
                              pauseEmulation: bool = False) -> None:  # noqa: N803
        """Runs ``testDuration`` virtual seconds; the LED must be lit for
        ``expectedDutyCycle`` (0..1) of it, within ``tolerance``. metersim measures the whole
        window (Renode only the time between the first and the last change)."""
        self._led(testerId).assert_duty_cycle(testDuration, expectedDutyCycle, tolerance,
                                              _bool(pauseEmulation))

    @keyword("Assert Led Is Blinking")
    @_recorded
    def assert_led_is_blinking(self, testDuration: float, onDuration: float,  # noqa: N803
                               offDuration: float, tolerance: float = 0.05,  # noqa: N803
                               testerId: int | None = None,  # noqa: N803
                               pauseEmulation: bool = False) -> None:  # noqa: N803
        """Runs ``testDuration`` virtual seconds; every complete on and off period must last
        ``onDuration`` / ``offDuration`` seconds within the relative ``tolerance``."""
        self._led(testerId).assert_is_blinking(testDuration, onDuration, offDuration,
                                               tolerance, _bool(pauseEmulation))

    # ------------------------------------------------------------------ temporary files
    def _temp_root(self) -> Path:
        if self._tmp_dir is None:
            self._tmp_dir = Path(tempfile.mkdtemp(prefix="metersim-robot-"))
        return self._tmp_dir

    @keyword("Allocate Temporary File")
    @_errors
    def allocate_temporary_file(self) -> str:
        """Returns the path of a new empty file, removed when the suite ends.

        | ${f}=    Allocate Temporary File
        | Execute Command    sysbus.usart1 CreateFileBackend @${f}
        """
        fd, path = tempfile.mkstemp(dir=self._temp_root(), suffix=".tmp")
        os.close(fd)
        return path

    @keyword("Allocate Temporary Directory")
    @_errors
    def allocate_temporary_directory(self, dirName: str) -> str:  # noqa: N803
        """Creates ``dirName`` under the suite's temporary folder and returns its path."""
        path = self._temp_root() / dirName
        try:
            path.mkdir(parents=True, exist_ok=False)
        except OSError:
            raise KeywordError(f"Can't create temporary directory: {path}") from None
        return str(path)

    def _close_extra(self) -> None:
        for t in self._led_testers:
            t.close()
        self._led_testers.clear()

    def _remove_temp(self) -> None:
        if self._tmp_dir is not None:
            shutil.rmtree(self._tmp_dir, ignore_errors=True)
            self._tmp_dir = None
