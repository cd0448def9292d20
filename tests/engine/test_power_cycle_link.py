"""A machine linked to another by a UART cable is powered off and on, or reset after a fault,
in the middle of a run (metersim._engine.emulation, time model): the run goes on, every
character still lands at or after the end of the quantum it was sent in (no late delivery),
and what the firmware prints and sends is the same whatever the quantum and the order the
machines run in."""

from __future__ import annotations

from pathlib import Path

import pytest

from metersim._engine.emulation import Emulation
from metersim._engine.platform_builder import create_machine
from metersim._errors import FirmwareFault
from metersim._orchestration.testers import capture_uart
from metersim.peripherals.uart_line import rx_complete_ps
from metersim._units import PS_PER_MS
from tests.engine.test_time_domains import finished, linked_boards

REPO = Path(__file__).resolve().parents[2]
F103 = REPO / "platforms/cpus/stm32f103rb.repl"


def power_cycled_link(firmware, who, source, off_ms, on_ms, quantum=None, b_first=False):
    """Two STM32F103s running soc_usart_link, USART2s crossed by a cable (A waits 20 ms after
    boot, then sends 16 bytes that B answers). `who` loses power from `off_ms` to `on_ms`
    (virtual time), switched by emulation events or by events on its own machine's clock
    (`source`). Returns what each board printed and sent, with their instants, and the
    emulation."""
    emu = Emulation(quantum=quantum)
    boards, caps = linked_boards(emu, firmware, b_first)
    a, b = boards["a"], boards["b"]
    target = boards[who]
    clock = emu.clock if source == "emulation" else target.clock
    # (+3 ps: not on a quantum's end, where the first quantum after power-on begins)
    clock.schedule_at(off_ms * PS_PER_MS + 3, target.power_off)
    clock.schedule_at(on_ms * PS_PER_MS + 3, target.power_on)
    emu.run_until(lambda: all(finished(c) for c in caps.values()), timeout="200ms",
                  what="both boards to finish")
    emu.run_for("2ms")
    trace = {n: ([(ln.text, ln.start_ps, ln.end_ps) for ln in caps[n].lines],
                 list(boards[n]["usart2"].sent)) for n in ("a", "b")}
    return emu, trace


def texts(trace, name):
    return [t for t, _, _ in trace[name][0]]


@pytest.mark.parametrize("source", ["emulation", "own-event"])
@pytest.mark.parametrize("who", ["a", "b"])
def test_power_cycle_before_the_exchange_keeps_the_link_exact(firmware, who, source):
    """Off at 3 ms, on at 6 ms: the board boots again and the exchange (from 20 ms after A's
    last boot) goes through whole, as without the cut."""
    emu, trace = power_cycled_link(firmware, who, source, 3, 6)
    assert emu.late_deliveries == 0
    assert emu.machine(who).reset_count >= 1 and emu.machine(who).last_reset_cause == "por"
    assert "A: baud 9600 sent 16 replies 16 wrong 0 fe 0 ore 0 ne 0" in texts(trace, "a")
    assert "B: baud 9600 received 16 wrong 0 fe 0 ore 0 ne 0" in texts(trace, "b")
    assert texts(trace, "a")[-1] == texts(trace, "b")[-1] == "PASS"
    _, lockstep = power_cycled_link(firmware, who, source, 3, 6, quantum="20us")
    _, reversed_order = power_cycled_link(firmware, who, source, 3, 6, b_first=True)
    assert trace == lockstep == reversed_order


@pytest.mark.parametrize("source", ["emulation", "own-event"])
@pytest.mark.parametrize("who", ["a", "b"])
def test_power_cycle_during_the_exchange_is_exact(firmware, who, source):
    """Off at 24 ms, in the middle of the exchange (characters on the wire both ways), on at
    27 ms: the bytes lost while it was off show as missing replies, and what each board
    prints and sends is the same whatever the quantum and the order of the machines. When
    it happens moves by less than a turn of the receive loop: the boards then wait for
    replies that never come, and the loop's skip (CortexM.poll_hint) ends a few turns before
    its DWT time-out, at a phase of its turns that depends on where the slice began. (It saw
    its time-out at a slice's end before, so up to a quantum late.)"""
    emu, trace = power_cycled_link(firmware, who, source, 24, 27)
    assert emu.late_deliveries == 0
    assert emu.machine(who).last_reset_cause == "por"
    if who == "b":
        # A carries on alone: the replies B could not give are missing
        line = [t for t in texts(trace, "a") if t.startswith("A: baud 9600 sent 16 replies")]
        assert line and "replies 16 " not in line[0]
        assert texts(trace, "a")[-1] == "FAIL link errors"
    else:
        # A boots again and waits 20 ms: B, still counting, has given up by then or finishes
        assert any(t.startswith("B: baud 9600 received") for t in texts(trace, "b"))
    _, lockstep = power_cycled_link(firmware, who, source, 24, 27, quantum="20us")
    _, reversed_order = power_cycled_link(firmware, who, source, 24, 27, b_first=True)
    assert what_went_through(trace) == what_went_through(lockstep) \
        == what_went_through(reversed_order)
    assert within_a_turn(trace, lockstep) and within_a_turn(trace, reversed_order)


def within_a_turn(trace, other, turn_ps=16 * 125_000):
    """Every line and every byte at the same instant within one turn of receive() (about
    ten instructions; 16 cycles at the F103's 8 MHz)."""
    def instants(t):
        return [(n, s) for n in ("a", "b") for _, s, _ in t[n][0]] + \
               [(n, s) for n in ("a", "b") for s, _ in t[n][1]]
    a, b = instants(trace), instants(other)
    return len(a) == len(b) and all(n == m and abs(s - u) < turn_ps
                                    for (n, s), (m, u) in zip(a, b))


def what_went_through(trace):
    return {n: (texts(trace, n), [v for _, v in trace[n][1]]) for n in ("a", "b")}


def test_reset_after_a_fault_restarts_the_core_at_its_machine_time(firmware):
    """B stops on a fault (bad_access) while A runs on; some milliseconds later B is reset:
    it boots again at the emulation's time and the run goes on."""
    emu = Emulation()
    a = create_machine(emu, F103, elf=firmware("f103rb", "soc_usart_link"), name="a")
    b = create_machine(emu, F103, elf=firmware("f103rb", "bad_access"), name="b")
    a["usart2"].connect(b["usart2"])
    with pytest.raises(FirmwareFault):
        emu.run_for("20ms")
    emu.run_for("5ms")                   # B stays stopped on its fault, its machine's time runs
    assert b.cpu.fault is not None and b.clock.now_ps == emu.now_ps
    cap = capture_uart(b, "usart1")
    b.reset()
    t_reset = emu.now_ps
    with pytest.raises(FirmwareFault):
        emu.run_for("20ms")              # boots again from the reset, and faults again
    assert b.reset_count == 1
    banner = [ln for ln in cap.lines if ln.text.startswith("test bad_access")]
    assert banner and banner[0].start_ps >= t_reset
    assert b.cpu.now_ps() >= t_reset


@pytest.mark.parametrize("before_us", [1, 5, 10])
def test_a_machine_powered_on_without_a_speed_yet_gets_the_others_characters_in_time(
        firmware, before_us):
    """A prints its banner across a 115200-baud cable (a character every 86.8 µs); B, first
    in the run order, is powered on a few µs before one of them starts. B's USART has no
    baud rate yet: the quantum stays at A's lookahead (82.5 µs to the middle of the stop
    bit), not the default 100 µs for a link of unknown speed, so the character does not
    reach B after B has run past it."""
    def run(on_ps):
        emu = Emulation()
        b = create_machine(emu, F103, elf=firmware("f103rb", "wfi_idle"), name="b")
        a = create_machine(emu, F103, elf=firmware("f103rb", "wfi_idle"), name="a")
        a["usart1"].connect(b["usart1"])
        emu.clock.schedule_at(1, b.power_off)
        emu.clock.schedule_at(on_ps, b.power_on)
        quanta = []
        run_quantum = emu._run_quantum
        emu._run_quantum = lambda now, bound: (quanta.append((now, bound)),
                                               run_quantum(now, bound))
        emu.run_for("3ms")
        return emu, a, quanta
    _, a, _ = run(PS_PER_MS)
    start_ps = [s for s, _ in a["usart1"].sent][15]      # a banner character after 1 ms
    on_ps = start_ps - before_us * 1_000_000
    emu, a, quanta = run(on_ps)
    assert [s for s, _ in a["usart1"].sent][15] == start_ps
    assert emu.late_deliveries == 0
    lookahead = rx_complete_ps(115_200, 8, "N")
    assert max(b - n for n, b in quanta if n >= on_ps) <= lookahead
