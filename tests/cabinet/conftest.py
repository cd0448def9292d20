import pytest

from metersim.cabinet.board import build_controller
from metersim.cabinet.modbus_master import ModbusMaster
from metersim.engine.emulation import Emulation


@pytest.fixture
def controller(firmware):
    """A booted 4-room controller and a Modbus master on its bus."""
    def make(channels=4, seed=1, **kw):
        emu = Emulation(seed=seed)
        board = build_controller(emu, channels=channels, elf=firmware("f103rb", "metering_controller"), **kw)
        return board, ModbusMaster(emu, board.bus)
    return make
