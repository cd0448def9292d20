"""What the run loop refuses or stops: a machine without firmware, a fault that would repeat
forever, and durations without a unit."""

import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from metersim._engine.emulation import Emulation
from metersim._engine.machine import Machine
from metersim._errors import FirmwareFault, SetupError

REPO = Path(__file__).resolve().parents[2]


def run_child(code: str) -> str:
    """Run `code` in a child Python: a regression that loops forever fails the test (timeout)
    instead of hanging it."""
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


NO_FIRMWARE = """
    from metersim._cabinet.board import build_controller
    from metersim._engine.emulation import Emulation
    from metersim._engine.machine import Machine
    from metersim._engine.platform_builder import create_machine
    from metersim._errors import SetupError

    makers = [lambda emu: Machine.bare(emu, "bare"),
              lambda emu: create_machine(emu, "platforms/cpus/stm32f413.repl", name="from_repl"),
              lambda emu: build_controller(emu, channels=4).machine]
    for make in makers:
        for how in ("run_for", "run_until"):
            emu = Emulation()
            make(emu)
            try:
                if how == "run_for":
                    emu.run_for("10ms")
                else:
                    emu.run_until(lambda: False, timeout="10ms")
                print("RAN", how)
            except SetupError as e:
                print("REFUSED", how, emu.now_ps, e)
"""


def test_running_a_machine_without_firmware_is_a_setup_error_naming_it():
    out = run_child(NO_FIRMWARE).splitlines()
    assert len(out) == 6 and not any(line.startswith("RAN") for line in out), out
    for name, lines in zip(("bare", "from_repl", "controller1"), (out[0:2], out[2:4], out[4:6])):
        for line in lines:
            assert line.startswith("REFUSED") and " 0 " in line        # nothing ran
            assert f"machine '{name}' has no firmware loaded" in line
            assert f'{name}.load_elf("path/to/firmware.elf")' in line and "sysbus LoadELF" in line


def test_a_vector_table_written_by_hand_counts_as_firmware():
    emu = Emulation()
    m = Machine.bare(emu, "raw", console_address=None)
    m.sysbus.write_memory(0x08000000, struct.pack("<II", 0x20001000, 0x08000009) + b"\xfe\xe7")
    m.finalize()
    m.reset_cpu_only()
    emu.run_for("1ms")
    assert m.cpu.instructions > 0 and emu.now_ps == 10**9


# A core that was never reset (PC 0, SP 0) faults at its first fetch, and stacking the fault
# onto SP 0 fails inside the same slice: without a stop, the report came back ~1000 times a
# second forever. Run in a child process so a regression fails the test instead of hanging it.
FAULT_ONCE = """
    import logging, struct, sys
    from metersim._engine.emulation import Emulation
    from metersim._engine.machine import Machine
    from metersim._errors import FirmwareFault
    logging.basicConfig(level=logging.ERROR, stream=sys.stdout, format="%(message)s")
    emu = Emulation()
    m = Machine.bare(emu, "unreset", console_address=None)
    m.sysbus.write_memory(0x08000000, struct.pack("<II", 0x20001000, 0x08000009))
    try:
        emu.run_for("10ms")
    except FirmwareFault as e:
        print("RAISED", str(e).splitlines()[0])
        print(e.report)
    emu.run_for("10ms")      # a faulted machine stays stopped, the run goes on
    print("AFTER", emu.now_ps, m.cpu.instructions)
"""


def test_a_fault_report_is_printed_once_and_the_faulted_core_stays_stopped():
    out = run_child(FAULT_ONCE)
    # the report travels with the exception (printed by the script once); nothing is logged
    # at ERROR, so the log does not repeat it
    assert out.count("=== firmware fault on unreset") == 1
    assert "RAISED unreset: firmware fault: stacking for HardFault failed" in out
    assert "AFTER 10000000000 0" in out   # faulted at 0, then 10 ms without running


def test_a_firmware_fault_is_raised_once(firmware, caplog):
    caplog.set_level("INFO", logger="metersim")
    emu = Emulation()
    m = Machine.bare(emu, "f413")
    m.load_elf(firmware("f413rg", "bad_access"))
    with pytest.raises(FirmwareFault, match="unhandled HardFault"):
        emu.run_for("100ms")
    emu.run_for("100ms")                   # no second FirmwareFault: the core stays stopped
    notes = [r.message for r in caplog.records if "firmware fault" in r.message]
    assert len(notes) == 1 and "===" not in notes[0]   # one line noting the stop, not the report
    assert m.cpu.fault is not None and 100 * 10**9 < emu.now_ps < 101 * 10**9


@pytest.mark.parametrize("bare", [1, 0.5, "2", " 3 "])
def test_durations_without_a_unit_are_refused(firmware, bare):
    emu = Emulation()
    m = Machine.bare(emu, "f413")
    m.load_elf(firmware("f413rg", "hello"))
    with pytest.raises(SetupError, match="has no unit"):
        emu.run_for(bare)
    with pytest.raises(SetupError, match="has no unit"):
        emu.run_until(lambda: False, timeout=bare)
    assert emu.now_ps == 0


def test_durations_with_a_unit_run_that_long(firmware):
    emu = Emulation()
    m = Machine.bare(emu, "f413")
    m.load_elf(firmware("f413rg", "hello"))
    emu.run_for("1.5ms")
    emu.run_for("250us")
    emu.run_for("00:00:00.25")
    assert emu.now_ps == 1_500_000_000 + 250_000_000 + 250_000_000_000
