"""The engine's debug API on real firmware: breakpoints that patch nothing and stop at the exact
instant, watchpoints, steps that hold interrupts back (or not), a step into a WFI nothing
wakes, registers and memory, and the same session giving the same numbers twice."""

from __future__ import annotations

import pytest

from metersim._engine.debug import Debugger
from metersim._engine.emulation import Emulation
from metersim._engine.machine import Machine
from metersim._errors import SetupError
from metersim._units import PS_PER_MS, PS_PER_S

SYST_CSR, ICSR, PENDSTSET = 0xE000E010, 0xE000ED04, 1 << 26


def target(firmware, program="systick_rate"):
    emu = Emulation()
    m = Machine.bare(emu, "f413", "cortex-m4f", 16_000_000)
    m.load_elf(firmware("f413rg", program))
    return emu, m, Debugger.of(m)


def sym(m, name):
    return m.symbol(name) & ~1


def wfi_in(m, function):
    for addr, data in m.firmware.executable_bytes():
        for off in range(0, len(data) - 1, 2):
            if data[off:off + 2] == b"\x30\xbf" and \
                    (m.firmware.symbols.function_at(addr + off) or ("",))[0] == function:
                return addr + off
    raise AssertionError(f"no wfi in {function}")


def test_breakpoints_stop_before_the_instruction_and_patch_nothing(firmware):
    emu, m, dbg = target(firmware)
    flash = m.sysbus.read_memory(sym(m, "main"), 8)
    dbg.add_breakpoint(sym(m, "main"))
    dbg.add_breakpoint(sym(m, "SysTick_Handler"))
    assert dbg.breakpoints == sorted([sym(m, "main"), sym(m, "SysTick_Handler")])
    assert m.sysbus.read_memory(sym(m, "main"), 8) == flash       # hardware-like: no patching
    stop = dbg.run(emu.now_ps + PS_PER_S)
    assert (stop.kind, stop.pc) == ("breakpoint", sym(m, "main"))
    before = dbg.counters()
    stop = dbg.run(emu.now_ps + PS_PER_S)                         # resumes past main's first
    assert (stop.kind, stop.pc) == ("breakpoint", sym(m, "SysTick_Handler"))
    assert dbg.read_register("xpsr") & 0x1FF == 15
    first_tick = dbg.counters()
    stop = dbg.run(emu.now_ps + PS_PER_S)
    assert stop.kind == "breakpoint"
    # the next tick, 1 ms (16000 cycles at 16 MHz) later, to the cycle
    assert dbg.counters()["cycles"] - first_tick["cycles"] == 16_000
    assert first_tick["instructions"] > before["instructions"]
    assert dbg.remove_breakpoint(sym(m, "SysTick_Handler"))
    assert dbg.run(emu.now_ps + 5 * PS_PER_MS).kind == "time"     # nothing stops it now


def test_watchpoints_by_access_and_range(firmware):
    emu, m, dbg = target(firmware)
    ticks = m.symbol("g_ticks")
    dbg.add_watchpoint(ticks, 4, "write")
    stop = dbg.run(emu.now_ps + PS_PER_S)
    assert (stop.kind, stop.access, stop.address) == ("watchpoint", "write", ticks)
    assert m.sysbus.read_word(ticks) == 0                  # run_phase clears it first
    dbg.remove_watchpoint(ticks, 4, "write")
    dbg.add_watchpoint(m.symbol("g_mark_first"), 4, "read")
    stop = dbg.run(emu.now_ps + PS_PER_S)
    assert (stop.kind, stop.access) == ("watchpoint", "read")
    assert m.firmware.symbols.function_at(stop.pc)[0] in ("SysTick_Handler", "run_phase")
    with pytest.raises(SetupError, match="expected one of write, read, access"):
        dbg.add_watchpoint(ticks, 4, "execute")


def test_step_holds_a_pending_interrupt_back_unless_asked(firmware):
    emu, m, dbg = target(firmware)
    dbg.add_breakpoint(sym(m, "main"))
    dbg.run(emu.now_ps + PS_PER_S)
    m.write_u32(ICSR, PENDSTSET)
    c0 = dbg.counters()
    stop = dbg.step()
    c1 = dbg.counters()
    assert stop.kind == "step" and dbg.read_register("xpsr") & 0x1FF == 0
    assert (c1["cycles"] - c0["cycles"], c1["instructions"] - c0["instructions"]) == (1, 1)
    assert c1["time_ps"] - c0["time_ps"] == 62_500       # one cycle of the 16 MHz core
    dbg.step(irqs=True)
    assert dbg.pc == sym(m, "SysTick_Handler")


def test_a_step_into_a_wfi_nothing_wakes_returns_asleep(firmware):
    emu, m, dbg = target(firmware)
    wfi = wfi_in(m, "run_phase")
    dbg.add_breakpoint(wfi)
    dbg.run(emu.now_ps + PS_PER_S)
    dbg.remove_breakpoint(wfi)
    m.write_u32(SYST_CSR, 0)                               # SysTick off
    assert dbg.step().kind == "step" and dbg.asleep        # the wfi: the core sleeps
    t = emu.now_ps
    stop = dbg.step()
    assert (stop.kind, stop.pc) == ("asleep", wfi + 2)
    assert emu.now_ps - t <= dbg.max_sleep_ps
    m.write_u32(SYST_CSR, 7)                               # on again: a tick wakes it
    stop = dbg.step()
    assert (stop.kind, stop.pc) == ("step", sym(m, "SysTick_Handler"))


def test_registers_and_memory(firmware):
    emu, m, dbg = target(firmware, "hello")
    assert dbg.read_register("msp") == m.read_u32(0x08000000)
    dbg.write_register("r7", 0x1234)
    dbg.write_register("control", 1)                       # unprivileged thread mode
    assert dbg.read_register("msp") == m.read_u32(0x08000000)   # still readable
    dbg.write_register("control", 0)
    assert dbg.read_registers()["r7"] == 0x1234
    dbg.write_memory(0x20001000, b"\x01\x02\x03")
    assert dbg.read_memory(0x20001000, 3) == b"\x01\x02\x03"
    assert dbg.read_memory(0xE000E010, 4) == m.read_u32(0xE000E010).to_bytes(4, "little")
    with pytest.raises(SetupError, match="unknown register 'r99'"):
        dbg.read_register("r99")


def test_the_same_session_gives_the_same_numbers(firmware):
    def session():
        emu, m, dbg = target(firmware)
        dbg.add_breakpoint(sym(m, "SysTick_Handler"))
        seen = []
        for _ in range(3):
            dbg.run(emu.now_ps + PS_PER_S)
            dbg.step()
            seen.append(tuple(dbg.counters().values()) + (dbg.pc,))
        return seen

    assert session() == session()


def test_halt_from_an_event_stops_the_run_at_that_instant(firmware):
    emu, m, dbg = target(firmware)
    t_halt = 3 * PS_PER_MS + 1234 * 62_500              # an instant on a cycle boundary
    emu.clock.schedule(t_halt, dbg.halt)
    stop = dbg.run(emu.now_ps + PS_PER_S)
    assert stop.kind == "stopped" and emu.now_ps == t_halt
    assert dbg.run(emu.now_ps + PS_PER_MS).kind == "time"   # a halt is spent once taken


def test_a_bkpt_in_the_firmware_stops_the_run(firmware):
    emu, m, dbg = target(firmware, "hello")
    dbg.write_memory(0x20001000, bytes.fromhex("00bf" "00be" "fee7"))   # nop; bkpt #0; b .
    dbg.write_register("pc", 0x20001000)
    stop = dbg.run(emu.now_ps + PS_PER_S)
    assert stop.kind == "stopped" and emu.now_ps < PS_PER_MS
    assert 0x20001002 <= stop.pc <= 0x20001004
