"""Pausing the run loop changes nothing a user can count: a stop asked between steps (a poller,
as the monitor or a tester does) pauses every machine, asleep, running or unpowered, and the
run resumed from there ends with the cycles, idle cycles, instructions, exceptions and console
lines of a run that was never paused (metersim._engine.machine, Machine.run_to). (A pause
inside a quantum leaves the machines after the one it stopped in where they were: they
catch up in the next step, so both runs are compared after one step more.)"""

from __future__ import annotations

from pathlib import Path

from metersim._engine.emulation import Emulation
from metersim._engine.platform_builder import create_machine
from metersim._orchestration.testers import capture_uart

REPO = Path(__file__).resolve().parents[2]
F103 = REPO / "platforms/cpus/stm32f103rb.repl"


def boards(firmware):
    """Three STM32F103s running wfi_idle (SysTick every 10 ms, WFI in between): `off` is
    unpowered and runs first in each quantum, `late` is powered on 3.3 ms after `early`."""
    emu = Emulation()
    ms = {name: create_machine(emu, F103, elf=firmware("f103rb", "wfi_idle"), name=name)
          for name in ("off", "early", "late")}
    caps = {name: capture_uart(m, "usart1") for name, m in ms.items()}
    ms["off"].power_off()
    ms["late"].power_off()
    emu.run_for("3300us")
    ms["late"].power_on()
    return emu, ms, caps


def observed(emu, ms, caps):
    return (emu.now_ps, {name: m.stats() for name, m in ms.items()},
            {name: [(ln.text, ln.start_ps, ln.end_ps) for ln in c.lines]
             for name, c in caps.items()})


def test_a_stop_between_steps_pauses_every_machine_and_the_resumed_run_ends_the_same(firmware):
    emu, ms, caps = boards(firmware)
    emu.run_for("120ms")
    emu.run_for("5ms")
    straight = observed(emu, ms, caps)

    emu, ms, caps = boards(firmware)
    polls = {"n": 0}

    def stop_now_and_then():
        polls["n"] += 1
        if polls["n"] % 3 == 0:
            emu.request_stop()
    emu.pollers.append(stop_now_and_then)
    end_ps = emu.now_ps + 120_000_000_000      # 120 ms
    pauses = []
    while emu.now_ps < end_ps:
        if emu.run_until_time(end_ps) and emu.now_ps < end_ps:
            pauses.append(emu.now_ps)
            for m in ms.values():
                # paused where it stopped: no machine's core is behind its own clock
                assert m.cpu.now_ps() >= m.clock.now_ps
    assert len(pauses) >= 3, pauses
    emu.pollers.clear()
    emu.run_for("5ms")
    assert observed(emu, ms, caps) == straight
    lines = straight[2]
    assert lines["off"] == [] and lines["early"] and lines["late"]
