"""Same firmware, inputs and seed give the same run: every byte on the RS-485 line with its
timing, the console, the EEPROM image, the relays and the energies, through a noise burst and a
power cut at a seeded random instant."""

import random

from metersim._cabinet.board import build_controller, new_bus
from metersim._cabinet.checks import power_cut
from metersim._cabinet.modbus_master import ModbusMaster
from metersim._cabinet.scenario import attach_rooms, prepare_rooms, standard_rooms
from metersim._engine.emulation import Emulation
from metersim._units import PS_PER_MS, PS_PER_S


def observed_run(elf, seed: int) -> dict:
    emu = Emulation(seed=seed)
    bus = new_bus(emu)
    line = []
    bus.on_tap(lambda rec: line.append((rec.start_ps, rec.end_ps, rec.driver, rec.value,
                                        rec.corrupted, rec.reasons)))
    board = build_controller(emu, channels=4, elf=elf, bus=bus)
    attach_rooms(board, standard_rooms(4, hours=1.0), origin_ps=-600 * PS_PER_S)
    emu.run_for("1.5s")
    master = ModbusMaster(emu, bus)
    prepare_rooms(master, 4)
    bus.noise_burst(2 * PS_PER_MS)                      # hits nothing: the line is idle now
    master.raw(bytes(random.Random(seed).randbytes(9)))  # line noise the slave must ignore
    cut_at = emu.now_ps + round(random.Random(seed + 1).uniform(2.0, 4.0) * PS_PER_S)
    power_cut(board, at_ps=cut_at, holdup_ms=20, off_ms=700)
    emu.run_for("3s")
    return {"line": line,
            "console": board.console.text,
            "eeprom": board.eeprom.read_image(0, 0x8000),
            "relays": [list(r.history) for r in board.relays],
            "energy_Wh": [master.room_energy_Wh(r) for r in range(4)],
            "instructions": board.machine.cpu.instructions}


def test_same_seed_same_run(firmware):
    elf = firmware("f103rb", "metering_controller")
    a, b = observed_run(elf, seed=7), observed_run(elf, seed=7)
    # the run really did things: Modbus set-up, a power-fail save and a reboot, metering
    assert len(a["line"]) > 200 and "power failing: totals saved" in a["console"]
    assert a["console"].count("reset cause") == 2 and sum(a["energy_Wh"]) > 0
    for key in a:
        assert a[key] == b[key], key
