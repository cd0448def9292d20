"""`build_controllers` gives the controllers their addresses over the bus, as an installer
would, and the installer leaves: a master left on the bus would hear, split and keep every
frame of the run (memory that grows with the run, an event per character). A master the
caller hands in stays the caller's."""

from metersim import Emulation
from metersim._cabinet.board import new_bus
from metersim._cabinet.modbus_master import ModbusMaster
from metersim._cabinet.query_manager import build_controllers


def test_the_installer_leaves_the_bus_and_the_controllers_answer_at_their_addresses(firmware):
    emu = Emulation(seed=1)
    bus = new_bus(emu)
    build_controllers(emu, bus, [(1, 4), (2, 4)], firmware("f103rb", "metering_controller"))
    assert sorted(getattr(n, "name", "?") for n in bus.nodes) == [
        "controller1/rs485", "controller2/rs485"]
    # a master that joins later finds each controller at its own address
    m = ModbusMaster(emu, bus)
    assert [m.device_info(address=a)["channels"] for a in (1, 2)] == [4, 4]


def test_a_master_handed_in_stays_on_the_bus(firmware):
    emu = Emulation(seed=1)
    bus = new_bus(emu)
    mine = ModbusMaster(emu, bus)
    build_controllers(emu, bus, [(2, 4)], firmware("f103rb", "metering_controller"), mine)
    assert "master" in [getattr(n, "name", "?") for n in bus.nodes]
    heard = len(mine.frames)
    assert mine.device_info(address=2)["channels"] == 4
    assert len(mine.frames) > heard            # still hearing the bus
