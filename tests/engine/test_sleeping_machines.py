"""Linked machines that both sleep in WFI: the emulation jumps to the first instant one of them
can act instead of stepping one lookahead at a time (metersim._engine.emulation, time model:
sleeping machines), and what they send each other still arrives exactly where a lockstep run
(no jumps, a quantum far below the lookahead) puts it."""

from __future__ import annotations

from pathlib import Path

from metersim._engine.emulation import Emulation
from metersim._engine.platform_builder import create_machine
from metersim._orchestration.testers import capture_uart
from metersim.peripherals.uart_cable import (UNKNOWN_SPEED_PS, UartCable, arrival_ps, lookahead_ps,
                                             uart_lookahead_ps)
from metersim.peripherals.uart_line import rx_complete_ps
from metersim._units import PS_PER_MS, PS_PER_US

REPO = Path(__file__).resolve().parents[2]
F103 = REPO / "platforms/cpus/stm32f103rb.repl"


def sleepers(firmware, quantum=None, lockstep=False, b_first=False):
    """Two STM32F103s running wfi_idle (SysTick every 10 ms, WFI in between; "woke 100"
    printed on USART1 right after its 100th wake-up), B powered on 3.3 ms after A so that their
    ticks differ, their USART1s crossed by a cable: each console reaches the other's receiver
    while that one sleeps. Returns what a user can observe, the steps and the jumps' ends."""
    emu = Emulation(quantum=quantum)
    boards = {}
    for name in ("b", "a") if b_first else ("a", "b"):      # the order they run in a quantum
        boards[name] = create_machine(emu, F103, elf=firmware("f103rb", "wfi_idle"), name=name)
    a, b = boards["a"], boards["b"]
    caps = {n: capture_uart(m, "usart1") for n, m in boards.items()}
    UartCable(a["usart1"], b["usart1"])
    received = {"a": [], "b": []}
    for name, m in boards.items():
        usart = m["usart1"]

        def receive(frame, name=name, m=m, inner=usart.receive_frame):
            # (value, when it arrives, where it was due, the receiver's own time then: None
            # while unpowered, when it may be anywhere in the quantum and ignores the line)
            received[name].append((frame.value, emu.clock.now_ps, arrival_ps(frame),
                                   m.clock.now_ps if m.powered else None))
            inner(frame)
        usart.receive_frame = receive
    if lockstep:
        emu._first_activity_ps = lambda now, stop: now       # never jump: quantum after quantum
    steps, wakes = [], []
    step, sleep_to = emu._step, emu._sleep_to

    def counted(limit_ps):
        t0 = emu.clock.now_ps
        step(limit_ps)
        steps.append((t0, emu.clock.now_ps))

    def woken(t_ps):
        wakes.append(t_ps)
        sleep_to(t_ps)
    emu._step, emu._sleep_to = counted, woken
    b.power_off()
    emu.run_for("3300us")
    b.power_on()
    emu.run_until(lambda: all(any(ln.text == "PASS" for ln in c.lines) for c in caps.values()),
                  timeout="2s", what="both boards to pass")
    emu.run_for("1ms")
    trace = {n: ([(ln.text, ln.start_ps, ln.end_ps) for ln in caps[n].lines],
                 list(boards[n]["usart1"].sent), received[n]) for n in ("a", "b")}
    return emu, trace, steps, wakes


def test_sleepers_jump_and_their_characters_arrive_as_in_lockstep(firmware):
    emu, fast, steps, wakes = sleepers(firmware)
    _, lockstep, lock_steps, _ = sleepers(firmware, quantum="20us", lockstep=True)
    _, reversed_order, _, _ = sleepers(firmware, b_first=True)
    assert fast == lockstep == reversed_order
    assert emu.late_deliveries == 0
    for name, other in (("a", "b"), ("b", "a")):
        lines, _, received = fast[name]
        assert {"woke 100", "ticks 100", "PASS"} <= {t for t, _, _ in lines}
        # every character the other board sent arrived at the middle of its stop bit, with
        # the receiver there, not past it
        assert [v for v, _, _, _ in received] == [v for _, v in fast[other][1]]
        assert all(at == due for _, at, due, _ in received)
        powered = [(at, local) for _, at, _, local in received if local is not None]
        assert len(powered) > 50 and all(at == local for at, local in powered)
    # "woke 100" leaves A right after a wake-up the emulation jumped to (its SysTick, 91 µs
    # before), while B sleeps, 3.3 ms from its own tick
    lookahead = uart_lookahead_ps(emu.machine("a")["usart1"])     # 115200 8N1: 82.5 µs
    assert emu.sync_quantum_ps() == lookahead
    woke = next(start for text, start, _ in fast["a"][0] if text == "woke 100")
    assert any(0 <= woke - w < 2 * lookahead for w in wakes)
    b_woke = next(start for text, start, _ in fast["b"][0] if text == "woke 100")
    assert b_woke - woke > 3 * PS_PER_MS
    # while both sleep a step crosses to the next tick at once (up to 10 ms), where lockstep
    # goes one 20 µs quantum at a time; a quantum itself never exceeds the lookahead
    assert max(t1 - t0 for t0, t1 in steps) >= 5 * PS_PER_MS > 50 * lookahead
    assert max(t1 - t0 for t0, t1 in lock_steps) <= 20 * PS_PER_US
    assert len(steps) * 50 < len(lock_steps)


def test_a_link_keeps_its_lookahead_until_a_usart_its_clock_or_power_changes():
    """The emulation asks every link at each step; the answer is kept, and follows BRR, the
    frame format, the APB clock, a reset and the machines' power."""
    emu = Emulation()
    a = create_machine(emu, F103, name="a")
    b = create_machine(emu, F103, name="b")
    cable = UartCable(a["usart2"], b["usart2"])

    def fresh():
        return lookahead_ps(cable.ends)
    assert cable.lookahead_ps() == 0                      # BRR 0: no speed yet
    for m in (a, b):
        m["usart2"].write(0x08, 4, 833)                   # BRR: 8 MHz / 833, 9604 baud
    nine_six = cable.lookahead_ps()
    assert nine_six == fresh() == rx_complete_ps(a["usart2"].baud, 8, "N")
    a["usart2"].write(0x0C, 4, (1 << 12) | (1 << 10))     # CR1: M and PCE, 8 data bits + parity
    assert cable.lookahead_ps() == fresh() == nine_six    # the shorter side's (B's) counts
    b["usart2"].write(0x0C, 4, (1 << 12) | (1 << 10))
    assert cable.lookahead_ps() == fresh() > nine_six
    b["usart2"].write(0x08, 4, 416)                       # B twice as fast: B's time counts
    assert cable.lookahead_ps() == fresh() < nine_six
    b.clocks.set_rate("PCLK1", 16_000_000)                # B's APB1 doubled
    assert cable.lookahead_ps() == fresh() < rx_complete_ps(19_200, 8, "N")
    b.power_off()                                          # one powered machine: nothing to keep
    assert cable.lookahead_ps() is None
    b.power_on()                                           # B's USART reset: BRR 0
    # B's speed is unknown: it counts as the quantum for an unknown speed (100 µs), shorter
    # than A's characters at 9600 baud
    assert cable.lookahead_ps() == fresh() == UNKNOWN_SPEED_PS < nine_six
    a["usart2"].write(0x08, 4, 69)                         # A at 8 MHz / 69: 115942 baud
    # ... and does not hide A's, shorter than that (82 µs to the middle of a stop bit)
    assert cable.lookahead_ps() == fresh() == uart_lookahead_ps(a["usart2"]) < UNKNOWN_SPEED_PS
    a.reset()                                              # no speed on either side
    assert cable.lookahead_ps() == fresh() == 0


def test_a_long_sleep_is_one_jump_and_ends_as_steps_of_10_ms_do(firmware):
    """Both boards asleep for good (SysTick stopped after PASS): with nothing looking between
    steps, the emulation jumps to the run's end at once; a poller, which runs between steps,
    gets a step every 10 ms of sleep instead. Cycles, idle cycles, instructions and time end
    the same either way."""
    ends = []
    for poller in (None, lambda: None):
        emu, _, steps, _ = sleepers(firmware)
        if poller is not None:
            emu.pollers.append(poller)
        before = len(steps)
        emu.run_for("200ms")
        ends.append(([m.stats() for m in emu.machines], emu.clock.now_ps, len(steps) - before))
    (jumped, t_jumped, n_jumped), (polled, t_polled, n_polled) = ends
    assert jumped == polled and t_jumped == t_polled
    assert all(s["idle_cycles"] > 0 for s in jumped)
    assert n_jumped == 1 and n_polled == 20
