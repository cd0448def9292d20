"""The query manager's watchdog (docs/firmware_query_manager.md, "Watchdog"): the IWDG is
refreshed only while every thread is healthy, so a hung thread is reset within the documented
time; the boot after it logs the cause and counts the resets (shown on the TFT's home screen);
polling resumes; a power cut is no watchdog reset.

The hang is injected the way a debug probe would: the first instruction of a function the poll
thread runs is overwritten in flash with `b .` (a branch to itself), so that thread spins there
with interrupts on and everything else scheduled as usual; the patch is taken back once the
watchdog has reset the MCU (a glitch that does not come again)."""

from metersim._cabinet.board import new_bus
from metersim._cabinet.query_manager import build_query_manager
from metersim._engine.debug import Debugger
from metersim._engine.emulation import Emulation
from metersim._units import PS_PER_S

# firmware/targets/query_manager/main.c: WD_LATE_MS + WD_CHECK_MS + WD_TIMEOUT_MS
WORST_RESET_S = 3.0 + 1.0 + 4.0
BRANCH_TO_SELF = bytes([0xFE, 0xE7])


def test_a_hung_poll_thread_is_reset_by_the_watchdog_and_polling_resumes(firmware):
    emu = Emulation(seed=17)
    qm = build_query_manager(emu, new_bus(emu), elf=firmware("f103rc", "query_manager"))
    qm.console.expect("reset cause: power-on", timeout="2s")   # the first poll 0.5 s later
    dbg = Debugger.of(qm.machine)
    entry = qm.machine.symbol("qm_build_read") & ~1
    original = dbg.read_memory(entry, 2)
    dbg.write_memory(entry, BRANCH_TO_SELF)     # the poll thread hangs at its first request
    hung_at = emu.clock.now_ps
    banner = qm.console.expect("query manager v1.1, reset cause: watchdog", timeout="10s")
    dbg.write_memory(entry, original)
    assert (banner.time_ps - hung_at) / PS_PER_S <= WORST_RESET_S + 0.2 + 0.1  # + first poll, LSI
    qm.console.expect("watchdog: the IWDG reset the query manager (1 so far)", timeout="1s")
    # polling resumes (no controller answers on this bus: a round of absent addresses)
    qm.console.expect("poll: first round done", timeout="3s")
    qm.console.expect_no("reset cause", timeout="10s")    # and no second reset
    # on the home screen too: one reset counted (the backup domain started at 0)
    assert qm.tft.text_lines()[4 * 2] == "Watchdog resets 1"
    # a power cut: a power-on reset, not counted; the count is kept (backup domain, battery)
    qm.machine.power_off()
    emu.run_for("100ms")
    qm.machine.power_on()
    qm.console.expect("query manager v1.1, reset cause: power-on", timeout="1s")
    qm.console.expect("poll: first round done", timeout="3s")
    emu.run_for("1s")                                       # the home screen's next refresh
    assert qm.tft.text_lines()[4 * 2] == "Watchdog resets 1"
    assert qm.console.text.count("the IWDG reset") == 1
