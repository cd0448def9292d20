"""STM32 SPI master: bit rate from PCLK and BR, flags in virtual time, chip selects, errors."""

from types import SimpleNamespace

import pytest

from metersim.engine.clock import Clock
from metersim.peripherals.base import Context, SPIDevice
from metersim.peripherals.clock_tree import ClockTree
from metersim.peripherals.stm32 import spi as s
from metersim.units import PS_PER_US

SPI1 = 0x40013000   # APB2
SPI2 = 0x40003800   # APB1


class Loopback(SPIDevice):
    """Answers each byte with the previous one (a shift-register echo) and logs what it got."""

    def __init__(self):
        self.got, self.last, self.finished = [], 0x00, 0

    def transmit(self, byte):
        self.got.append(byte)
        reply, self.last = self.last, byte
        return reply

    def finish_transmission(self):
        self.finished += 1


def make(address=SPI1):
    machine = SimpleNamespace(name="m", clocks=ClockTree({"PCLK1": 36_000_000, "PCLK2": 72_000_000}))
    return s.STM32Spi(Context(Clock(), name="spi", machine=machine, address=address),
                      series="STM32Series.F1")


def master(dev, br, extra=0):
    dev.write(s.CR1, 4, s.MSTR | s.SSM | s.SSI | (br << 3) | extra)
    dev.write(s.CR1, 4, s.MSTR | s.SSM | s.SSI | (br << 3) | s.SPE | extra)


def transfer(dev, value):
    """Write DR, poll RXNE as firmware does; return (received, virtual time taken)."""
    t0 = dev.ctx.clock.now_ps
    dev.write(s.DR, 4, value)
    while not dev.read(s.SR, 4) & s.RXNE:
        dev.ctx.clock.advance_to(dev.ctx.clock.next_event_ps())
    return dev.read(s.DR, 4), dev.ctx.clock.now_ps - t0


@pytest.mark.parametrize("br, pclk_hz, address", [(0, 72_000_000, SPI1), (5, 36_000_000, SPI2)])
def test_frame_time_matches_the_bit_rate(br, pclk_hz, address):
    dev = make(address)
    loop = Loopback()
    dev.register_child(loop)
    loop.set_chip_select(True)
    master(dev, br)
    assert dev.bit_rate_hz == pclk_hz / 2 ** (br + 1)
    _, first_ps = transfer(dev, 0xA5)
    got, t_ps = transfer(dev, 0x3C)
    assert got == 0xA5 and loop.got == [0xA5, 0x3C]
    assert t_ps == first_ps == 8 * 2 ** (br + 1) * 10**12 // pclk_hz


def test_bsy_and_txe_during_back_to_back_frames():
    dev = make()
    loop = Loopback()
    loop.set_chip_select(True)
    dev.register_child(loop)
    master(dev, 3)                                # 72 MHz / 16 = 4.5 MHz: 8 bits = 1.78 us
    dev.write(s.DR, 4, 1)
    sr = dev.read(s.SR, 4)
    assert sr & s.TXE and sr & s.BSY              # went straight to the shift register
    dev.write(s.DR, 4, 2)
    assert not dev.read(s.SR, 4) & s.TXE
    dev.ctx.clock.run_for(2 * PS_PER_US)
    sr = dev.read(s.SR, 4)
    assert sr & s.TXE and sr & s.BSY and sr & s.RXNE
    dev.read(s.DR, 4)
    dev.ctx.clock.run_for(2 * PS_PER_US)
    sr = dev.read(s.SR, 4)
    assert not sr & s.BSY and sr & s.RXNE and dev.read(s.DR, 4) == 1


def test_sixteen_bit_frames_are_two_bytes_msb_first():
    dev = make()
    loop = Loopback()
    loop.set_chip_select(True)
    dev.register_child(loop)
    master(dev, 2, extra=s.DFF)
    _, t = transfer(dev, 0x1234)
    got, t = transfer(dev, 0xBEEF)
    assert loop.got == [0x12, 0x34, 0xBE, 0xEF]
    assert got == 0x34BE                          # the echo runs one byte behind
    assert t == 16 * 8 * 10**12 // 72_000_000


def test_lsb_first_reverses_bits_on_the_wire():
    dev = make()
    loop = Loopback()
    loop.set_chip_select(True)
    dev.register_child(loop)
    master(dev, 0, extra=s.LSBFIRST)
    transfer(dev, 0x01)
    assert loop.got == [0x80]


def test_no_chip_select_reads_ff_and_device_sees_nothing():
    dev = make()
    loop = Loopback()
    dev.register_child(loop)                      # CS never asserted
    master(dev, 1)
    got, _ = transfer(dev, 0x9F)
    assert got == 0xFF and loop.got == []
    loop.on_gpio(0, False)                        # CS low: selected
    transfer(dev, 0x9F)
    loop.on_gpio(0, True)
    assert loop.got == [0x9F] and loop.finished == 1


def test_overrun_when_rxne_not_read_and_clearing_sequence():
    dev = make()
    dev.register_child(Loopback())
    master(dev, 0, extra=0)
    dev.write(s.CR2, 4, s.ERRIE)
    irq = []
    dev.IRQ.connect(SimpleNamespace(on_gpio=lambda p, lv: irq.append(lv)))
    dev.write(s.DR, 4, 0x11)
    dev.ctx.clock.run_for(1 * PS_PER_US)
    dev.write(s.DR, 4, 0x22)
    dev.ctx.clock.run_for(1 * PS_PER_US)
    assert dev.read(s.SR, 4) & s.OVR and irq == [True]
    assert dev.read(s.DR, 4) == 0xFF              # first frame kept (no CS: 0xFF)
    assert dev.read(s.SR, 4) & s.OVR              # DR read then SR read clears it ...
    assert not dev.read(s.SR, 4) & s.OVR          # ... as seen from the next read
    assert irq == [True, False]


def test_mode_fault_when_ssi_low_in_master_mode():
    dev = make()
    dev.write(s.CR1, 4, s.MSTR | s.SSM | s.SPE)   # SSI = 0: NSS internally low
    sr = dev.read(s.SR, 4)
    assert sr & s.MODF
    assert not dev.read(s.CR1, 4) & (s.SPE | s.MSTR)
    dev.write(s.CR1, 4, s.MSTR | s.SSM | s.SSI)   # SR read then CR1 write clears MODF
    assert not dev.read(s.SR, 4) & s.MODF


def test_nss_pin_low_causes_mode_fault_unless_ssoe():
    dev = make()
    dev.write(s.CR2, 4, s.SSOE)
    dev.write(s.CR1, 4, s.MSTR | s.SPE)
    dev.on_gpio(0, False)
    assert not dev.read(s.SR, 4) & s.MODF
    dev.write(s.CR2, 4, 0)
    assert dev.read(s.SR, 4) & s.MODF


def test_crc_next_sends_the_crc_and_a_matching_peer_gives_no_crc_error():
    dev = make()

    class Mirror(SPIDevice):                      # MISO = MOSI: RX CRC equals TX CRC
        cs_active = True

        def transmit(self, byte):
            return byte

    dev.register_child(Mirror())
    master(dev, 0, extra=s.CRCEN)
    for b in (0x31, 0x32, 0x33):
        transfer(dev, b)
    expected = 0
    for b in (0x31, 0x32, 0x33):
        expected = s.crc_update(expected, b, 8, 7)
    assert dev.read(s.TXCRCR, 4) == expected == dev.read(s.RXCRCR, 4)
    dev.write(s.CR1, 4, dev.read(s.CR1, 4) | s.CRCNEXT)
    dev.ctx.clock.run_for(1 * PS_PER_US)
    assert dev.read(s.DR, 4) == expected and not dev.read(s.SR, 4) & s.CRCERR
    assert not dev.read(s.CR1, 4) & s.CRCNEXT
