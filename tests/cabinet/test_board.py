"""The metering-controller board wiring, driven at register level from Python (no firmware):
the pins and buses of platforms/boards/metering_controller.repl reach the right chips."""

import pytest

from metersim._cabinet.board import CabinetError, build_controller
from metersim._engine.emulation import Emulation
from metersim._orchestration.load_profile import HarmonicProfile
from metersim._units import PS_PER_MS, PS_PER_US

CRL, CRH, IDR, ODR, BSRR = 0x00, 0x04, 0x08, 0x0C, 0x10
SPI_CR1, SPI_DR = 0x00, 0x0C
MSTR, SPE, BR_DIV64 = 0x04, 0x40, 5 << 3


class Pins:
    """Push-pull outputs on a port, set with BSRR as firmware would."""

    def __init__(self, port, pins):
        for p in pins:
            reg = CRL if p < 8 else CRH
            old = port.read(reg, 4)
            sh = 4 * (p % 8)
            port.write(reg, 4, (old & ~(0xF << sh)) | (0x3 << sh))   # output 50 MHz push-pull
        self.port = port

    def set(self, pin, level):
        self.port.write(BSRR, 4, 1 << pin if level else 1 << (pin + 16))


def run_ps(board, ps):
    board.emu.run_until_time(board.emu.now_ps + ps)


def spi_xfer(board, spi_name, data):
    spi = board[spi_name]
    spi.write(SPI_CR1, 2, MSTR | SPE | BR_DIV64)
    out = []
    for b in data:
        spi.write(SPI_DR, 2, b)
        run_ps(board, 200 * PS_PER_US)
        out.append(spi.read(SPI_DR, 2))
    return out


def park_cpu(board):
    """No firmware: a reset vector pointing at `wfi; b .-2`, so Python drives the registers."""
    m = board.machine
    m.sysbus.write_memory(0x08000000, (0x20005000).to_bytes(4, "little") + (0x08000009).to_bytes(4, "little")
                          + bytes([0x30, 0xBF, 0xFD, 0xE7]))
    m.finalize()
    m.reset_cpu_only()
    return board


@pytest.fixture(params=[4, 32])
def board(request):
    return park_cpu(build_controller(Emulation(seed=3), channels=request.param))


def select(board, pb, channel):
    for bit in range(4):
        pb.set(bit, channel >> bit & 1)
    pb.set(4 + (channel >> 4), False)


def deselect(pb):
    pb.set(4, True)
    pb.set(5, True)


def test_decoders_select_each_ade7753_alone(board):
    pb = Pins(board["gpioPortB"], [0, 1, 2, 3, 4, 5, 9])
    pb.set(9, True)                                   # ADE7753 RESET released
    deselect(pb)
    for ch in range(board.channels):
        board.ades[ch].regs["CFNUM"] = 0x100 + ch     # a per-chip marker
    for ch in range(board.channels):
        select(board, pb, ch)
        assert [a.cs_active for a in board.ades].count(True) == 1 and board.ades[ch].cs_active
        assert spi_xfer(board, "spi1", [0x14, 0, 0])[1:] == [(0x100 + ch) >> 8, (0x100 + ch) & 0xFF]
        deselect(pb)
    assert not any(a.cs_active for a in board.ades)


def test_reset_pin_resets_every_ade7753(board):
    pb = Pins(board["gpioPortB"], [9])
    pb.set(9, True)
    for a in board.ades:
        a.regs["CFNUM"] = 0x123
    pb.set(9, False)
    run_ps(board, 50 * PS_PER_US)
    pb.set(9, True)
    run_ps(board, 50 * PS_PER_US)
    assert all(a.peek("CFNUM") == 0x3F for a in board.ades)


def test_relays_switch_through_the_595_chain_and_read_back_through_the_165(board):
    pb = Pins(board["gpioPortB"], [11, 12])
    pb.set(11, True)
    nbytes = board.channels // 4
    room = board.channels - 1

    def coils(bits):
        spi_xfer(board, "spi2", [(bits >> (8 * i)) & 0xFF for i in reversed(range(nbytes))])
        pb.set(12, True)
        pb.set(12, False)

    coils(1 << (2 * room) | 1)                      # set coils of room 0 and the last room
    run_ps(board, 25 * PS_PER_MS)
    coils(0)
    assert [board.relay_closed(r) for r in range(board.channels)] == \
        [r in (0, room) for r in range(board.channels)]
    pb.set(11, False)                               # parallel load
    pb.set(11, True)
    fb = spi_xfer(board, "spi2", [0] * (board.channels // 8 or 1))
    closed = [bool(fb[r // 8] >> (r % 8) & 1) for r in range(board.channels)]
    assert closed == [r in (0, room) for r in range(board.channels)]
    coils(1 << (2 * room + 1))                      # reset coil of the last room
    run_ps(board, 25 * PS_PER_MS)
    coils(0)
    assert not board.relay_closed(room) and board.relay_closed(0)


def test_ade_irq_lines_are_wired_and_onto_pa8(board):
    pa = board["gpioPortA"]
    run_ps(board, PS_PER_US)
    assert pa.read(IDR, 4) >> 8 & 1                 # pulled up
    last = board.ades[-1]
    last._write_reg(last.regmap["IRQEN"], 1 << 5)                   # TEMPC
    last._write_reg(last.regmap["MODE"], last.regs["MODE"] | 1 << 5)  # start a conversion
    run_ps(board, 100 * PS_PER_US)
    assert not pa.read(IDR, 4) >> 8 & 1             # one chip pulls the shared line low


def test_rs485_de_on_pa1_drives_usart2_onto_the_bus(board):
    host = board.bus.attach_host("probe")
    usart2 = board["usart2"]
    usart2.write(0x0C, 4, 0x200C)                   # CR1: UE TE RE
    usart2.write(0x08, 4, 833)                      # ~9600 baud at 8 MHz
    usart2.write(0x04, 4, 0x55)                     # DE low: not on the bus
    run_ps(board, 2 * PS_PER_MS)
    assert host.read() == b""
    pa = Pins(board["gpioPortA"], [1])
    pa.set(1, True)
    usart2.write(0x04, 4, 0xA5)
    run_ps(board, 2 * PS_PER_MS)
    assert host.read() == b"\xa5"
    pa.set(1, False)
    host.send(b"\x42")
    run_ps(board, 2 * PS_PER_MS)
    assert usart2.read(0x04, 4) == 0x42


def test_loads_attach_per_room_and_unknown_rooms_are_errors():
    board = park_cpu(build_controller(Emulation(), channels=4))
    board.attach_load(2, HarmonicProfile.constant(230.0, 10.0))
    assert board.profiles[2] is not None and board.ades[2]._profile is board.profiles[2]
    with pytest.raises(CabinetError, match="room 4"):
        board.attach_load(4, HarmonicProfile.constant())
    with pytest.raises(CabinetError, match="4 or 32"):
        build_controller(Emulation(), channels=8)


def test_eeprom_image_file_is_used(tmp_path):
    img = tmp_path / "ee.bin"
    board = build_controller(Emulation(), eeprom_image=img)
    board.eeprom.mem[0:4] = list(b"ABCD")
    board.eeprom.image.flush()
    assert img.read_bytes()[:4] == b"ABCD" and img.stat().st_size == 32 * 1024


def test_attaching_new_room_loads_replaces_the_old_ones_behind_the_relay():
    from metersim._cabinet.scenario import RoomLoad, attach_rooms
    from metersim._orchestration.appliances import ResistiveHeater, SwitchModeSupply

    board = park_cpu(build_controller(Emulation(), channels=4))
    attach_rooms(board, [RoomLoad("heater", [ResistiveHeater(2000.0)])])
    attach_rooms(board, [RoomLoad("computer", [SwitchModeSupply(300.0)])])
    attached = []
    ade = board.ades[0]
    real_attach = ade.attach_load
    ade.attach_load = lambda prof, **kw: (attached.append(prof), real_attach(prof, **kw))
    relay = board.relays[0]
    relay.on_gpio(0, True)                                  # set coil: the contact closes
    run_ps(board, 50 * PS_PER_MS)
    relay.on_gpio(0, False)
    assert relay.closed
    assert attached == [board.feeds[0].full]                # only the computer, once
