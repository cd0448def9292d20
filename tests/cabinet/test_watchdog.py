"""The controller's watchdog: a thread that hangs is reset by the IWDG within the configured
time, the reset is logged and counted, metering resumes and nothing stored is lost.

The hang is injected the way a debug probe would: the first instruction of a function one
thread runs is overwritten in flash with `b .` (a branch to itself), so that thread spins
there with interrupts on and everything else scheduled as usual. The patch is taken back as
soon as the watchdog has reset the MCU, as a glitch that does not come again."""

import pytest

from metersim._cabinet.checks import read_records, reference_energy_Wh
from metersim._cabinet.scenario import RoomLoad, attach_rooms, prepare_rooms, standard_rooms
from metersim._orchestration.appliances import ResistiveHeater
from metersim._engine.debug import Debugger
from metersim._protocols.modbus.framer import encode_adu as adu
from metersim._units import PS_PER_S

WD_TIMEOUT_S = 4.0          # firmware/targets/metering_controller/main.c, WD_TIMEOUT_MS
BRANCH_TO_SELF = bytes([0xFE, 0xE7])


def heaters(n: int = 4) -> list[RoomLoad]:
    """A 2 kW heater per room, on from the start: energy every second."""
    return [RoomLoad(f"heater{r}", [ResistiveHeater(2000.0, schedule=[(0, 3600)])]) for r in range(n)]


def hang(board, function: str) -> bytes:
    """Make `function` spin at its entry; returns the bytes it overwrote."""
    dbg = Debugger.of(board.machine)
    entry = board.machine.symbol(function) & ~1
    original = dbg.read_memory(entry, 2)
    dbg.write_memory(entry, BRANCH_TO_SELF)
    return original


def unhang(board, function: str, original: bytes) -> None:
    Debugger.of(board.machine).write_memory(board.machine.symbol(function) & ~1, original)


@pytest.mark.parametrize("function, how", [
    ("mc_app_cycle", "the metering thread spins in its cycle (holding the application lock)"),
    ("mb_process", "the Modbus thread spins on a request"),
])
def test_a_hung_thread_is_reset_by_the_watchdog_and_metering_resumes(controller, function, how):
    board, master = controller(seed=11)
    attach_rooms(board, heaters())
    board.emu.run_for("1.5s")
    prepare_rooms(master, 4)
    board.emu.run_for("10s")
    before = read_records(board)
    energy_before = [master.room_energy_Wh(r) for r in range(4)]
    credit_before = [master.room_balance_cents(r) for r in range(4)]
    assert master.device_info()["watchdog_resets"] == 0

    original = hang(board, function)
    hung_at = board.now_ps
    if function == "mb_process":
        master.raw(adu(1, bytes([4, 0, 0, 0, 1])), window="5ms")   # the request it hangs on
    # the boot after the reset logs it (the event line), then prints its banner
    line = board.console.expect("event watchdog-reset device value 1",
                                timeout=f"{WD_TIMEOUT_S + 4}s")
    unhang(board, function, original)
    board.console.expect("reset cause: watchdog", timeout="1s")
    # the reset comes after the last refresh plus the IWDG period: never later than the
    # thread's lateness allowance (3 s) plus a supervisor check (1 s) plus the period
    assert (line.time_ps - hung_at) / PS_PER_S <= WD_TIMEOUT_S + 4.0, how

    board.emu.run_for("5s")
    info = master.device_info()
    assert info["watchdog_resets"] == 1
    after = read_records(board)
    assert after.header_ok
    assert [e for e in after.events if e.type == "watchdog-reset"][-1].value == 1
    assert after.events[:len(before.events)] == before.events        # no event lost
    assert after.freezes[:len(before.freezes)] == before.freezes     # no daily record lost
    for r in range(4):
        energy = master.room_energy_Wh(r)
        assert energy > energy_before[r], (r, "metering resumed")
        # what the reset may cost is the energy since the last periodic save, which the
        # reference bounds from above; nothing is counted twice
        assert reference_energy_Wh(board, r) - 10.0 <= energy <= reference_energy_Wh(board, r) + 1.0
        assert master.room_balance_cents(r) <= credit_before[r]       # credit kept, then spent


def test_a_healthy_controller_is_never_reset_by_its_watchdog(controller):
    """Idle Modbus thread, power thread waiting, a minute of metering: the supervisor keeps
    refreshing, so no reset and no event."""
    board, master = controller(seed=12)
    attach_rooms(board, standard_rooms(4, hours=1.0))
    board.emu.run_for("1.5s")
    prepare_rooms(master, 4)
    board.emu.run_for("60s")
    assert "reset cause: watchdog" not in board.console.text
    assert master.device_info()["watchdog_resets"] == 0
