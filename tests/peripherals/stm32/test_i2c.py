"""STM32 I2C master: the register-level procedures of the reference manual against devices."""

from types import SimpleNamespace

import pytest

from metersim._engine.clock import Clock
from metersim._errors import EmulationTimeout
from metersim.peripherals.at24c import At24cEeprom
from metersim.peripherals.base import Context, I2CDevice
from metersim.peripherals.clock_tree import ClockTree
from metersim.peripherals.stm32 import i2c as i
from metersim._units import PS_PER_MS, PS_PER_US

I2C1 = 0x40005400
PCLK1 = 36_000_000


class FakeEeprom(I2CDevice):
    """256-byte memory: first written byte sets the pointer, later ones are stored."""

    def __init__(self):
        self.mem = bytearray(range(256))
        self.ptr = None
        self.log = []

    def start(self, read):
        self.log.append(("start", read))
        if not read:
            self.ptr = None
        return True

    def write(self, data):
        for b in data:
            if self.ptr is None:
                self.ptr = b
            else:
                self.mem[self.ptr] = b
                self.ptr = (self.ptr + 1) & 0xFF
        self.log.append(("write", bytes(data)))
        return True

    def read(self, count):
        out = bytes(self.mem[(self.ptr + k) & 0xFF] for k in range(count))
        self.ptr = (self.ptr + count) & 0xFF
        self.log.append(("read", count))
        return out

    def finish_transmission(self):
        self.log.append(("stop",))


def make(ccr=180, clock=None):
    machine = SimpleNamespace(name="m", clocks=ClockTree({"PCLK1": PCLK1}))
    dev = i.STM32I2c(Context(clock or Clock(), name="i2c1", machine=machine, address=I2C1))
    dev.write(i.CR2, 4, PCLK1 // 1_000_000)
    dev.write(i.CCR, 4, ccr)                        # 36 MHz / (2 x 180) = 100 kHz
    dev.write(i.TRISE, 4, 37)
    dev.write(i.CR1, 4, i.PE)
    return dev


def wait_sr1(dev, mask, limit_ps=100 * PS_PER_MS):
    end = dev.ctx.clock.now_ps + limit_ps
    while True:
        sr1 = dev.read(i.SR1, 4)
        if sr1 & mask:
            return sr1
        nxt = dev.ctx.clock.next_event_ps()
        if nxt is None or nxt > end:
            raise EmulationTimeout(f"SR1 flag 0x{mask:x} never set (SR1 = 0x{sr1:x})")
        dev.ctx.clock.advance_to(nxt)


def start_addr(dev, a7, read):
    dev.write(i.CR1, 4, dev.read(i.CR1, 4) | i.START)
    wait_sr1(dev, i.SB)
    dev.write(i.DR, 4, (a7 << 1) | int(read))
    return wait_sr1(dev, i.ADDR | i.AF)


def stop(dev):
    dev.write(i.CR1, 4, dev.read(i.CR1, 4) | i.STOP)
    while dev.read(i.SR2, 4) & i.BUSY:
        dev.ctx.clock.advance_to(dev.ctx.clock.next_event_ps())


def write_bytes(dev, a7, data):
    sr1 = start_addr(dev, a7, False)
    if sr1 & i.AF:
        return False
    dev.read(i.SR2, 4)                               # clears ADDR
    for b in data:
        sr1 = wait_sr1(dev, i.TXE | i.AF)
        if sr1 & i.AF:
            return False
        dev.write(i.DR, 4, b)
    sr1 = wait_sr1(dev, i.BTF | i.AF)
    return not sr1 & i.AF


def read_bytes(dev, a7, n):
    """RM0008 §26.3.3 reception procedures for N = 1, 2 and > 2 bytes."""
    if n == 2:
        dev.write(i.CR1, 4, dev.read(i.CR1, 4) | i.POS | i.ACK)
    else:
        dev.write(i.CR1, 4, dev.read(i.CR1, 4) | i.ACK)
    sr1 = start_addr(dev, a7, True)
    assert not sr1 & i.AF
    out = []
    if n == 1:
        dev.write(i.CR1, 4, dev.read(i.CR1, 4) & ~i.ACK)
        dev.read(i.SR2, 4)
        dev.write(i.CR1, 4, dev.read(i.CR1, 4) | i.STOP)
        wait_sr1(dev, i.RXNE)
        out.append(dev.read(i.DR, 4))
    elif n == 2:
        dev.read(i.SR2, 4)
        dev.write(i.CR1, 4, dev.read(i.CR1, 4) & ~i.ACK)
        wait_sr1(dev, i.BTF)
        dev.write(i.CR1, 4, dev.read(i.CR1, 4) | i.STOP)
        out += [dev.read(i.DR, 4), dev.read(i.DR, 4)]
        dev.write(i.CR1, 4, dev.read(i.CR1, 4) & ~i.POS)
    else:
        dev.read(i.SR2, 4)
        while len(out) < n - 3:
            wait_sr1(dev, i.RXNE)
            out.append(dev.read(i.DR, 4))
        wait_sr1(dev, i.BTF)                        # N-2 in DR, N-1 in the shift register
        dev.write(i.CR1, 4, dev.read(i.CR1, 4) & ~i.ACK)
        out.append(dev.read(i.DR, 4))
        wait_sr1(dev, i.BTF)
        dev.write(i.CR1, 4, dev.read(i.CR1, 4) | i.STOP)
        out += [dev.read(i.DR, 4), dev.read(i.DR, 4)]
    while dev.read(i.SR2, 4) & i.BUSY:
        dev.ctx.clock.advance_to(dev.ctx.clock.next_event_ps())
    return bytes(out)


def test_write_then_read_back_through_a_device():
    dev = make()
    ee = FakeEeprom()
    dev.register_child(ee, 0x50)
    assert write_bytes(dev, 0x50, [0x10, 0xA1, 0xB2, 0xC3])
    stop(dev)
    assert ee.mem[0x10:0x13] == b"\xA1\xB2\xC3" and ("stop",) in ee.log
    for n in (1, 2, 5):
        assert write_bytes(dev, 0x50, [0x10])         # dummy write sets the pointer
        dev.write(i.CR1, 4, dev.read(i.CR1, 4) | i.START)   # repeated START
        got = read_bytes(dev, 0x50, n)
        assert got == bytes(ee.mem[0x10:0x10 + n]), n
    assert not dev.read(i.SR2, 4) & (i.MSL | i.BUSY)


def test_byte_time_is_nine_scl_periods_from_ccr_and_pclk1():
    dev = make(ccr=180)                              # 100 kHz standard mode
    dev.register_child(FakeEeprom(), 0x50)
    assert dev.scl_period_ps() == 10 * PS_PER_US
    dev.write(i.CR1, 4, i.PE | i.START)
    wait_sr1(dev, i.SB)
    t0 = dev.ctx.clock.now_ps
    dev.write(i.DR, 4, 0xA0)
    wait_sr1(dev, i.ADDR)
    assert dev.ctx.clock.now_ps - t0 == 90 * PS_PER_US
    dev.write(i.CCR, 4, 0x8000 | 30)                 # fast mode, DUTY=0: 3 x 30 cycles = 400 kHz
    assert dev.scl_period_ps() == 2_500_000
    dev.write(i.CCR, 4, 0xC000 | 4)                  # fast mode, DUTY=1: 25 x 4 cycles = 360 kHz
    assert dev.scl_period_ps() == 100 * 10**12 // PCLK1


def test_nacked_address_gives_af_and_error_interrupt():
    dev = make()
    err = []
    dev.ErrorInterrupt.connect(SimpleNamespace(on_gpio=lambda p, lv: err.append(lv)))
    dev.write(i.CR2, 4, 36 | i.ITERREN)
    sr1 = start_addr(dev, 0x51, False)               # nobody at 0x51
    assert sr1 & i.AF and not sr1 & i.ADDR
    assert err == [True]
    dev.write(i.SR1, 4, ~i.AF & 0xFFFF)              # rc_w0
    stop(dev)
    assert err == [True, False] and not dev.read(i.SR1, 4) & i.AF


def test_event_interrupt_for_sb_and_txe_with_itbufen():
    dev = make()
    dev.register_child(FakeEeprom(), 0x50)
    ev = SimpleNamespace(level=False)
    dev.EventInterrupt.connect(SimpleNamespace(on_gpio=lambda p, lv: setattr(ev, "level", lv)))
    dev.write(i.CR2, 4, 36 | i.ITEVTEN)
    dev.write(i.CR1, 4, i.PE | i.START)
    dev.ctx.clock.run_for(20 * PS_PER_US)
    assert ev.level                                  # SB
    dev.read(i.SR1, 4)
    dev.write(i.DR, 4, 0xA0)
    assert not ev.level
    dev.ctx.clock.run_for(100 * PS_PER_US)
    assert ev.level                                  # ADDR
    dev.read(i.SR1, 4); dev.read(i.SR2, 4)
    assert not ev.level                              # TxE alone needs ITBUFEN
    dev.write(i.CR2, 4, 36 | i.ITEVTEN | i.ITBUFEN)
    assert ev.level


def test_device_nack_of_a_data_byte_gives_af():
    dev = make()

    class Picky(FakeEeprom):
        def write(self, data):
            return data[0] != 0xEE

    dev.register_child(Picky(), 0x20)
    assert not write_bytes(dev, 0x20, [0x01, 0xEE, 0x02])
    assert dev.read(i.SR1, 4) & i.AF


def test_at24c256_page_write_ack_polling_and_random_read():
    clock = Clock()
    dev = make(clock=clock)
    ee = At24cEeprom(Context(clock, name="eeprom"), part="AT24C256")
    dev.register_child(ee, ee.address)
    assert write_bytes(dev, 0x50, [0x01, 0x00, 0xDE, 0xAD, 0xBE, 0xEF])
    stop(dev)
    t_stop = clock.now_ps
    polls = 0
    while start_addr(dev, 0x50, False) & i.AF:       # busy writing: address NACKed
        polls += 1
        dev.write(i.SR1, 4, ~i.AF & 0xFFFF)
        stop(dev)
    dev.read(i.SR2, 4)
    assert polls > 0 and clock.now_ps - t_stop >= 5 * PS_PER_MS
    for b in (0x01, 0x00):
        wait_sr1(dev, i.TXE)
        dev.write(i.DR, 4, b)
    wait_sr1(dev, i.BTF)
    dev.write(i.CR1, 4, dev.read(i.CR1, 4) | i.START)
    assert read_bytes(dev, 0x50, 4) == b"\xDE\xAD\xBE\xEF"


def test_two_devices_at_one_address_are_refused():
    dev = make()
    dev.register_child(FakeEeprom(), 0x50)
    with pytest.raises(Exception, match="0x50"):
        dev.register_child(FakeEeprom(), 0x50)


def polled_eeprom_session(fast, itevten_at=None):
    """Firmware polling SR1 (a read every 2 us, as the BSP's wait loop does) through an
    AT24C256 page write, ACK polling over its write cycle and a random read, run in CPU slices
    the way the engine runs them (test_spi.Core). Returns what the firmware read (time,
    register, value), the EEPROM's write cycles, the event line's changes and the slices."""
    from tests.peripherals.stm32.test_spi import Core

    clock = Clock()
    dev = make(clock=clock)
    dev.polled_fast_path = fast
    ee = At24cEeprom(Context(clock, name="eeprom"), part="AT24C256")
    dev.register_child(ee, ee.address)
    irq = []
    dev.EventInterrupt.connect(SimpleNamespace(on_gpio=lambda p, lv: irq.append((lv, clock.now_ps))))
    seen = []

    def rd(reg):
        seen.append((clock.now_ps, reg, dev.read(reg, 4)))
        return seen[-1][2]

    def wait(mask):
        while True:
            yield lambda: rd(i.SR1)
            if seen[-1][2] & mask:
                return
            for _ in range(20):                      # 2 us of other instructions
                yield lambda: None

    def start(a7, read):
        yield lambda: dev.write(i.CR1, 4, dev.read(i.CR1, 4) | i.START)
        yield from wait(i.SB)
        yield lambda: dev.write(i.DR, 4, (a7 << 1) | int(read))
        if itevten_at is not None:
            for _ in range(itevten_at):
                yield lambda: None
            yield lambda: dev.write(i.CR2, 4, 36 | i.ITEVTEN)
        yield from wait(i.ADDR | i.AF)

    def program():
        yield from start(0x50, False)
        yield lambda: rd(i.SR2)
        for b in (0x01, 0x00, 0xDE, 0xAD, 0xBE, 0xEF):
            yield from wait(i.TXE)
            yield lambda b=b: dev.write(i.DR, 4, b)
        yield from wait(i.BTF)
        yield lambda: dev.write(i.CR1, 4, dev.read(i.CR1, 4) | i.STOP)
        while True:                                   # ACK polling
            yield from start(0x50, False)
            if not seen[-1][2] & i.AF:
                break
            yield lambda: dev.write(i.SR1, 4, ~i.AF & 0xFFFF)
            yield lambda: dev.write(i.CR1, 4, dev.read(i.CR1, 4) | i.STOP)
            for _ in range(500):                      # 50 us between polls
                yield lambda: None
        yield lambda: rd(i.SR2)
        for b in (0x01, 0x00):
            yield from wait(i.TXE)
            yield lambda b=b: dev.write(i.DR, 4, b)
        yield from wait(i.BTF)
        yield lambda: dev.write(i.CR1, 4, dev.read(i.CR1, 4) | i.START | i.ACK)
        yield from wait(i.SB)
        yield lambda: dev.write(i.DR, 4, 0xA1)
        yield from wait(i.ADDR)
        yield lambda: rd(i.SR2)
        yield from wait(i.RXNE)
        yield lambda: rd(i.DR)
        yield from wait(i.BTF)                       # byte 2 in DR, byte 3 in the shift register
        yield lambda: dev.write(i.CR1, 4, dev.read(i.CR1, 4) & ~i.ACK)
        yield lambda: rd(i.DR)
        yield from wait(i.BTF)
        yield lambda: dev.write(i.CR1, 4, dev.read(i.CR1, 4) | i.STOP)
        yield lambda: rd(i.DR)
        yield lambda: rd(i.DR)
        for _ in range(1000):
            yield lambda: None
        yield lambda: rd(i.SR2)

    core = Core(clock, step_ps=100_000)               # one "instruction" every 100 ns
    core.run(program())
    return seen, list(ee.write_cycles), irq, core.slices


def test_polled_transfers_read_the_same_flags_at_the_same_times_without_an_event_per_step():
    """With no I2C interrupt enabled a step's end does not cut the CPU slice: the firmware
    reads the same SR1/SR2/DR values at the same instants, the EEPROM's write cycle starts at
    the same STOP and the data read back is the same, in a fraction of the slices."""
    fast_seen, fast_ee, fast_irq, fast_slices = polled_eeprom_session(True)
    ev_seen, ev_ee, ev_irq, ev_slices = polled_eeprom_session(False)
    assert fast_seen == ev_seen and fast_ee == ev_ee and fast_irq == ev_irq == []
    assert [v for _, reg, v in fast_seen if reg == i.DR] == [0xDE, 0xAD, 0xBE, 0xEF]
    assert any(v & i.AF for _, reg, v in fast_seen if reg == i.SR1)    # ACK polls NACKed
    assert fast_ee and not fast_seen[-1][2] & i.BUSY
    assert ev_slices > 30 and fast_slices < ev_slices // 4


def test_enabling_itevten_while_the_address_is_sent_interrupts_at_its_end():
    fast_seen, _, fast_irq, _ = polled_eeprom_session(True, itevten_at=100)
    ev_seen, _, ev_irq, _ = polled_eeprom_session(False, itevten_at=100)
    assert fast_seen == ev_seen and fast_irq == ev_irq
    assert fast_irq and fast_irq[0][0] is True


@pytest.mark.parametrize("wp_after_stop_us", [5, 15])
def test_write_protect_raised_around_the_stop_sees_the_stop_where_it_ended(wp_after_stop_us):
    """Firmware requests STOP, then raises the EEPROM's WP pin without looking at I2C again:
    the write cycle starts if the STOP (one SCL period, 10 us) ended before WP rose, as with
    an event per step."""
    from tests.peripherals.stm32.test_spi import Core

    def run(fast):
        clock = Clock()
        dev = make(clock=clock)
        dev.polled_fast_path = fast
        ee = At24cEeprom(Context(clock, name="eeprom"), part="AT24C256")
        dev.register_child(ee, ee.address)
        seen = []

        def wait(mask):
            while True:
                yield lambda: seen.append(dev.read(i.SR1, 4))
                if seen[-1] & mask:
                    return

        def program():
            yield lambda: dev.write(i.CR1, 4, dev.read(i.CR1, 4) | i.START)
            yield from wait(i.SB)
            yield lambda: dev.write(i.DR, 4, 0xA0)
            yield from wait(i.ADDR)
            yield lambda: dev.read(i.SR2, 4)
            for b in (0x00, 0x40, 0x5A):
                yield from wait(i.TXE)
                yield lambda b=b: dev.write(i.DR, 4, b)
            yield from wait(i.BTF)
            yield lambda: dev.write(i.CR1, 4, dev.read(i.CR1, 4) | i.STOP)
            for _ in range(wp_after_stop_us * 10):
                yield lambda: None
            yield lambda: ee.on_gpio(0, True)
            for _ in range(100):
                yield lambda: None

        Core(clock, step_ps=100_000).run(program())
        clock.run_for(10 * PS_PER_MS)
        return list(ee.write_cycles), ee.read_image(0x40, 1)

    fast, slow = run(True), run(False)
    assert fast == slow
    assert fast[1] == (b"\x5A" if wp_after_stop_us > 10 else b"\xFF")
