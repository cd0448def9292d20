"""Machines run ahead of each other within a quantum bounded by their links' lookahead
(metersim._engine.emulation, time model): results are exact, whatever the quantum below the
lookahead and whatever order the machines run in, and one machine's own events no longer end
another machine's CPU slices."""

from __future__ import annotations

from pathlib import Path

import pytest

from metersim._engine.emulation import Emulation
from metersim._engine.platform_builder import create_machine
from metersim._orchestration.testers import capture_uart
from metersim.peripherals.uart_line import rx_complete_ps
from metersim._units import PS_PER_MS

REPO = Path(__file__).resolve().parents[2]
F103 = REPO / "platforms/cpus/stm32f103rb.repl"


def finished(cap) -> bool:
    return any(ln.text == "PASS" or ln.text.startswith("FAIL") for ln in cap.lines)


def linked_boards(emu, firmware, b_first=False):
    """Two STM32F103s "a" and "b" running soc_usart_link with their USART2s crossed (a
    UartCable between two machines), B answering: (boards, their USART1 consoles)."""
    boards = {}
    for name in ("b", "a") if b_first else ("a", "b"):
        boards[name] = create_machine(emu, F103, elf=firmware("f103rb", "soc_usart_link"),
                                      name=name)
    caps = {n: capture_uart(m, "usart1") for n, m in boards.items()}
    boards["b"]["gpioPortC"].drive(0, True)      # PC0 high: role B (answers)
    boards["a"]["usart2"].connect(boards["b"]["usart2"])
    return boards, caps


def usart_link(firmware, quantum=None, b_first=False, b_19200=False):
    """Two STM32F103s running soc_usart_link with their USART2s crossed (a UartCable between
    two machines): A sends 16 bytes, B answers each. Returns what a user can observe."""
    emu = Emulation(quantum=quantum)
    boards, caps = linked_boards(emu, firmware, b_first)
    a, b = boards["a"], boards["b"]
    if b_19200:
        b["gpioPortC"].drive(1, True)            # PC1 high: 19200 baud
    quanta = []
    run_quantum = emu._run_quantum
    emu._run_quantum = lambda now, bound: (quanta.append(bound - now), run_quantum(now, bound))
    emu.run_until(lambda: all(finished(c) for c in caps.values()), timeout="1s",
                  what="both boards to finish")
    emu.run_for("2ms")
    # (the instruction counts may differ: a polling loop skips ahead to a slice's end, and
    # slices end with the quanta; the instants it sees the flags change do not)
    trace = {n: ([(ln.text, ln.start_ps, ln.end_ps) for ln in caps[n].lines],
                 list(boards[n]["usart2"].sent)) for n in ("a", "b")}
    return emu, trace, quanta


@pytest.mark.parametrize("b_19200", [False, True], ids=["same-baud", "baud-mismatch"])
def test_uart_exchange_is_exact_with_the_lookahead_as_quantum(firmware, b_19200):
    emu, fast, quanta = usart_link(firmware, b_19200=b_19200)
    baud = max(m["usart2"].baud for m in emu.machines)     # 8 MHz / BRR: 9604 (or 19208)
    _, lockstep, tiny = usart_link(firmware, quantum="20us", b_19200=b_19200)
    _, reversed_order, _ = usart_link(firmware, b_first=True, b_19200=b_19200)
    assert fast == lockstep == reversed_order
    assert emu.late_deliveries == 0
    texts = [t for t, _, _ in fast["a"][0]]
    if not b_19200:
        assert "A: baud 9600 sent 16 replies 16 wrong 0 fe 0 ore 0 ne 0" in texts
        assert len(fast["a"][1]) == 16 and len(fast["b"][1]) == 16
    else:
        assert any(t.startswith("A: baud 9600 sent 16") for t in texts)
    # once both USARTs run, the quantum is the link's lookahead: the faster side's time to
    # the middle of a stop bit (8N1: 9.5 bit times)
    lookahead = rx_complete_ps(baud, 8, "N")
    assert emu.sync_quantum_ps() == lookahead
    assert max(quanta) == lookahead
    assert len(tiny) > 4 * len(quanta)


def test_own_timer_events_do_not_end_the_other_machines_slices(firmware):
    """A wakes on its SysTick every millisecond; B computes without an event of its own.
    Nothing links them, so B runs whole quanta: its slices do not follow A's ticks."""
    emu = Emulation()
    a = create_machine(emu, F103, elf=firmware("f103rb", "systick_rate"), name="a")
    b = create_machine(emu, F103, elf=firmware("f103rb", "bench_cpu"), name="b")
    slices = {"a": 0, "b": 0}
    for name, m in (("a", a), ("b", b)):
        run = m.cpu._run_slice

        def counted(n, end_ps, run=run, name=name):
            slices[name] += 1
            return run(n, end_ps)
        m.cpu._run_slice = counted
    taken0 = a.cpu.exceptions_taken
    emu.run_for("100ms")
    ticks = a.cpu.exceptions_taken - taken0
    assert ticks >= 90                               # A: a SysTick exception per ms (after boot)
    assert emu.sync_quantum_ps() == 10 * PS_PER_MS   # unlinked machines: 10 ms quanta
    assert b.cpu.instructions > 0.95 * b.cpu.cycles  # B computed all along
    assert slices["b"] * 3 < ticks                   # its own few events and the quanta only
    assert slices["a"] >= ticks
