"""A polling loop with a time-out on DWT CYCCNT times out on the right cycle (CortexM.poll_hint,
time_register_read, poll_probe).

The core skips a loop spinning on a status register ahead to the instant the register can
change. A loop that also reads DWT CYCCNT (`while (!(SR & RXNE)) if (CYCCNT - t0 >= n)
break;`) may leave before then, when its own limit is reached: its skip ends a few turns
before that cycle (found by running turns of the loop on a scratch core), so the firmware
sees its time-out on the cycle it would on the part, not at the end of a slice, and the wait
still costs a handful of turns, not millions.

soc_usart_link alone on a board, in role A: it sends a byte on USART2, waits up to 5 ms for a
reply (receive(): USART2 SR polled, DWT CYCCNT compared with 5 ms of HCLK cycles), and with
no board to answer it times out and sends the next byte, 16 times."""

from __future__ import annotations

from pathlib import Path

import pytest

from metersim._engine.emulation import Emulation
from metersim._engine.poll_probe import LoopProbe
from metersim._engine.platform_builder import create_machine
from metersim._orchestration.testers import capture_uart
from metersim._units import PS_PER_MS, PS_PER_S

REPO = Path(__file__).resolve().parents[2]
REPLS = {"f103rb": "stm32f103rb.repl", "f413rg": "stm32f413.repl"}
TIMEOUT_PS = 5 * PS_PER_MS
# One turn of receive()'s loop is about ten instructions; the firmware's own steps between
# a time-out and the next byte's DR write (return, loop, send(): TXE is set by then) and
# between that write and the next time-out's start (t0) are a few dozen more.
SLACK_CYCLES = 64


@pytest.mark.parametrize("target", sorted(REPLS))
@pytest.mark.parametrize("quantum", [None, "20us"])
def test_a_dwt_time_out_in_a_polling_loop_is_seen_on_its_cycle(firmware, target, quantum):
    emu = Emulation(quantum=quantum)
    m = create_machine(emu, REPO / "platforms/cpus" / REPLS[target],
                       elf=firmware(target, "soc_usart_link"), name="a")
    cap = capture_uart(m, "usart1")
    emu.run_until(lambda: any(ln.text.startswith(("PASS", "FAIL")) for ln in cap.lines),
                  timeout="500ms", what="A to give up on its replies")
    assert [ln.text for ln in cap.lines][1:] == [
        "A: baud 9600 sent 16 replies 0 wrong 0 fe 0 ore 0 ne 0", "FAIL link errors"]
    starts = [t for t, _ in m["usart2"].sent]
    assert len(starts) == 16
    cycle_ps = PS_PER_S // m.cpu.freq_hz
    gaps = {b - a for a, b in zip(starts, starts[1:])}
    # the same gap between every two bytes: 5 ms and the few cycles around the loop (before,
    # the time-out was seen when the slice ended: 11 ms on the F103, alone on its clock)
    assert len(gaps) == 1
    gap = gaps.pop()
    assert TIMEOUT_PS <= gap < TIMEOUT_PS + SLACK_CYCLES * cycle_ps
    # the 15 waits of 5 ms were skipped (up to their last turns), not spun
    wait_cycles = TIMEOUT_PS // cycle_ps
    assert m.cpu.stall_cycles > 15 * (wait_cycles - 4 * SLACK_CYCLES)


def test_a_timed_loop_the_probe_cannot_run_is_not_skipped(firmware, monkeypatch):
    """When the probe cannot tell where the loop leaves (here: it never sees the loop come
    back), the loop is not skipped: its turns run on the core and it times out on its cycle
    all the same, only slower."""
    monkeypatch.setattr(LoopProbe, "spins", lambda self, *a: False)
    emu = Emulation()
    m = create_machine(emu, REPO / "platforms/cpus/stm32f103rb.repl",
                       elf=firmware("f103rb", "soc_usart_link"), name="a")
    emu.run_for("120ms")
    starts = [t for t, _ in m["usart2"].sent]
    cycle_ps = PS_PER_S // m.cpu.freq_hz
    assert len(starts) == 16
    for a, b in zip(starts, starts[1:]):
        assert TIMEOUT_PS <= b - a < TIMEOUT_PS + SLACK_CYCLES * cycle_ps
    # 15 waits of 40 000 cycles, spun
    assert m.cpu.instructions > 15 * (TIMEOUT_PS // cycle_ps)


def test_a_polling_loop_without_a_time_register_is_still_skipped(firmware):
    """The same image's waits that read only a status register (send(): TXE, the final TC,
    the console's TXE) are still skipped ahead: their cycles pass without being executed."""
    emu = Emulation()
    m = create_machine(emu, REPO / "platforms/cpus/stm32f103rb.repl",
                       elf=firmware("f103rb", "soc_usart_link"), name="a")
    emu.run_for("150ms")
    # the final TC wait alone is a 9600-baud character: 8333 cycles at 8 MHz
    assert m.cpu.stall_cycles > 8333
