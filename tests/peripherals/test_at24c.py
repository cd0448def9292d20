import pytest

from metersim._errors import SetupError
from metersim._units import PS_PER_MS, PS_PER_US
from metersim.peripherals.base import Context
from metersim.peripherals.registry import lookup
from metersim.peripherals.at24c import At24cEeprom, AT24C256


def make(part="AT24C256", seed=0, **kw):
    ctx = Context.standalone("eeprom", seed=seed)
    return ctx, At24cEeprom(ctx, part=part, **kw)


def write(dev, addr, data, nbytes=2):
    """START+addr(W), word address, data, STOP. Returns the address ACK."""
    if not dev.start(False):
        return False
    wa = addr.to_bytes(nbytes, "big")
    assert dev.write(wa + bytes(data))
    dev.finish_transmission()
    return True


def random_read(dev, addr, n, nbytes=2):
    assert dev.start(False)
    assert dev.write(addr.to_bytes(nbytes, "big"))
    assert dev.start(True)          # repeated START
    out = dev.read(n)
    dev.finish_transmission()
    return out


def test_address_from_pins_and_registration():
    _, e = make(address_pins=5)
    assert e.address == 0x55
    assert lookup("metersim.AT24C256") is AT24C256
    assert lookup("metersim.AT24C02")(Context.standalone()).size == 256
    with pytest.raises(SetupError, match="0..7"):
        make(address_pins=8)
    with pytest.raises(SetupError, match="known"):
        make("AT24C999")


def test_erased_reads_ff_then_byte_write_after_cycle():
    ctx, e = make()
    assert random_read(e, 0x1234, 2) == b"\xff\xff"
    assert write(e, 0x1234, [0xA5])
    ctx.clock.run_for(5 * PS_PER_MS)
    assert random_read(e, 0x1234, 1) == b"\xa5"


def test_nack_during_write_cycle_then_ack_after_5ms():
    ctx, e = make()
    write(e, 0x0040, [1, 2, 3])
    assert e.start(False) is False                   # ACK polling: NACK while writing
    assert e.write(b"\x00\x40") is False            # also for controllers without start()
    ctx.clock.run_for(4900 * PS_PER_US)
    assert e.start(True) is False
    ctx.clock.run_for(100 * PS_PER_US)
    assert e.start(True) is True
    e.finish_transmission()
    assert random_read(e, 0x0040, 3) == bytes([1, 2, 3])


def test_current_address_read_follows_last_write_wrapped_in_page():
    ctx, e = make()
    write(e, 0x0000, list(range(64)))
    ctx.clock.run_for(5 * PS_PER_MS)
    assert random_read(e, 0x003E, 1) == b"\x3e"
    # current-address read continues at 0x3F
    assert e.start(True)
    assert e.read(2) == b"\x3f\xff"                  # sequential read crosses the page boundary
    e.finish_transmission()


def test_page_write_wraps_inside_the_page():
    ctx, e = make()
    write(e, 0x007C, list(range(10)))                # page 0x40..0x7F: 4 bytes then wrap to 0x40
    ctx.clock.run_for(5 * PS_PER_MS)
    assert random_read(e, 0x007C, 4) == bytes([0, 1, 2, 3])
    assert random_read(e, 0x0040, 6) == bytes([4, 5, 6, 7, 8, 9])
    assert random_read(e, 0x0080, 1) == b"\xff"      # next page untouched
    assert random_read(e, 0x0046, 1) == b"\xff"      # unloaded bytes of the page keep their value


def test_more_than_a_page_overwrites_its_start():
    ctx, e = make("AT24C02")
    write(e, 0x10, list(range(12)), nbytes=1)        # 8-byte pages
    ctx.clock.run_for(5 * PS_PER_MS)
    assert random_read(e, 0x10, 8, nbytes=1) == bytes([8, 9, 10, 11, 4, 5, 6, 7])


def test_sequential_read_wraps_from_the_end_to_zero():
    ctx, e = make("AT24C64")
    write(e, 0x0000, [0x11])
    ctx.clock.run_for(5 * PS_PER_MS)
    write(e, 0x1FFF, [0x22])
    ctx.clock.run_for(5 * PS_PER_MS)
    assert random_read(e, 0x1FFF, 2) == b"\x22\x11"


def test_dummy_write_starts_no_cycle():
    ctx, e = make()
    assert random_read(e, 0x10, 1) == b"\xff"
    assert e.start(False)                             # not busy: no write cycle was started
    e.finish_transmission()
    assert e.write_cycles == []


def test_write_protect_pin_blocks_writes():
    ctx, e = make()
    e.on_gpio(0, True)
    assert write(e, 0x0100, [0x00])                   # accepted on the bus...
    assert e.start(False)                             # ...but no write cycle
    e.finish_transmission()
    ctx.clock.run_for(5 * PS_PER_MS)
    assert random_read(e, 0x0100, 1) == b"\xff"
    e.on_gpio(0, False)
    write(e, 0x0100, [0x00])
    ctx.clock.run_for(5 * PS_PER_MS)
    assert random_read(e, 0x0100, 1) == b"\x00"


def test_image_persists(tmp_path):
    path = tmp_path / "ee.bin"
    ctx, e = make(image_path=path)
    write(e, 0x7FF0, b"abc")
    ctx.clock.run_for(5 * PS_PER_MS)
    e.close()
    assert path.read_bytes()[0x7FF0:0x7FF3] == b"abc"
    _, e2 = make(image_path=path)
    assert random_read(e2, 0x7FF0, 3) == b"abc"


def cut_write(seed, after_ps):
    ctx, e = make(seed=seed)
    write(e, 0x0200, [0x00] * 64)
    ctx.clock.run_for(5 * PS_PER_MS)
    write(e, 0x0240, [0x00] * 64)                    # neighbour page
    ctx.clock.run_for(5 * PS_PER_MS)
    write(e, 0x0200, [0xAA] * 64)
    ctx.clock.run_for(after_ps)
    e.power_off()
    e.power_on()
    return e


def test_power_loss_corrupts_only_the_page_being_written_deterministically():
    e = cut_write(1, 1 * PS_PER_MS)                  # 20 % into the cycle: erase phase
    page = e.read_image(0x0200, 64)
    assert page != b"\x00" * 64 and page != b"\xaa" * 64
    assert len(set(page)) > 4                        # bytes half erased, each differently
    assert e.read_image(0x0240, 64) == b"\x00" * 64
    assert e.read_image(0x01C0, 64) == b"\xff" * 64
    assert cut_write(1, 1 * PS_PER_MS).read_image(0x0200, 64) == page
    assert cut_write(2, 1 * PS_PER_MS).read_image(0x0200, 64) != page
    # late in the cycle most bits have their new value
    late = cut_write(1, 4900 * PS_PER_US).read_image(0x0200, 64)
    assert sum(b == 0xAA for b in late) > 40
    # after power-on the device answers again, address counter back at 0
    assert e.start(True) and e.read(1) == b"\xff"
    e.finish_transmission()
    assert write(e, 0x0000, [0x42])


def test_unpowered_device_nacks():
    ctx, e = make()
    e.power_off()
    assert e.start(False) is False
    assert e.read(2) == b"\xff\xff"
