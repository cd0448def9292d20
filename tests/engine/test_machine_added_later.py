"""A machine created after the emulation has run starts at that instant: its core's cycle 0 is
the emulation's time then (a second board plugged in mid-test, a machine built from the
monitor), and it runs exactly as the same board started at time 0, shifted."""

from __future__ import annotations

from pathlib import Path

from metersim._engine.emulation import Emulation
from metersim._engine.platform_builder import create_machine
from metersim._orchestration.testers import capture_uart
from metersim._units import PS_PER_MS

F103 = Path(__file__).resolve().parents[2] / "platforms/cpus/stm32f103rb.repl"


def test_a_machine_added_after_50_ms_runs_as_one_started_at_zero_shifted(firmware):
    elf = firmware("f103rb", "wfi_idle")
    emu = Emulation()
    a = create_machine(emu, F103, elf=elf, name="a")
    cap_a = capture_uart(a, "usart1")
    emu.run_for("50ms")
    b = create_machine(emu, F103, elf=elf, name="b")
    cap_b = capture_uart(b, "usart1")
    emu.run_for("1200ms")                     # wfi_idle: 100 SysTick wake-ups of 10 ms, then PASS
    assert cap_b.texts() == cap_a.texts() and "PASS" in cap_b.texts()
    shifted = [(ln.start_ps - 50 * PS_PER_MS, ln.end_ps - 50 * PS_PER_MS) for ln in cap_b.lines]
    assert shifted == [(ln.start_ps, ln.end_ps) for ln in cap_a.lines]
    assert b.cpu.instructions == a.cpu.instructions
