"""The same ELF on metersim and on QEMU 7.2 (qemu-system-arm from Debian, installed by `make
test`): the architecture programs must print the same lines, so metersim's MPU and traps follow
the reference emulator, not just our reading of the manual."""

import importlib.util
import shutil
from pathlib import Path

import pytest

from metersim._engine.emulation import Emulation
from metersim._engine.machine import Machine
from metersim._orchestration.testers import capture_uart

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("qemu_run", REPO / "firmware/tests/qemu_run.py")
qemu_run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(qemu_run)

# QEMU board -> (metersim build target, how to build the same part on metersim)
BOARDS = {
    "netduinoplus2": ("qemu405", dict(core="cortex-m4f", freq_hz=16_000_000,
                                      sram=(0x20000000, 0x20000))),
    "stm32vldiscovery": ("qemu100", dict(core="cortex-m3", freq_hz=8_000_000,
                                         flash=(0x08000000, 0x20000), sram=(0x20000000, 0x2000),
                                         console_address=0x40013800)),
}


def on_metersim(elf: Path, machine: str) -> list[str]:
    emu = Emulation()
    m = Machine.bare(emu, machine, **BOARDS[machine][1])
    m.load_elf(elf)
    cap = capture_uart(m)
    emu.run_until(lambda: "PASS" in cap.text or "FAIL" in cap.text, timeout="5s",
                  what=f"{elf.name} to finish")
    return cap.line_texts()


def on_qemu(elf: Path, machine: str) -> list[str]:
    if shutil.which("qemu-system-arm") is None:
        pytest.fail("qemu-system-arm is missing: `make test` installs it (Debian qemu-system-arm)")
    lines, outcome, _wall = qemu_run.run(str(elf), None, 30.0, False, machine)
    assert outcome in ("ok", "fail"), f"QEMU: {outcome} after {lines}"
    return lines


@pytest.mark.parametrize("program, machine", [
    ("mpu_regions", "netduinoplus2"),
    ("traps", "netduinoplus2"),
    ("traps", "stm32vldiscovery"),
])
def test_metersim_and_qemu_print_the_same_lines(firmware, program, machine):
    elf = firmware(BOARDS[machine][0], program)
    ours = on_metersim(elf, machine)
    assert ours[-1] == "PASS", ours
    assert ours == on_qemu(elf, machine)
