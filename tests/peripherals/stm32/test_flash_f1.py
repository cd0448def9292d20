"""F1 flash controller: unlock, half-word programming with PGERR, page erase, BSY timing."""

from metersim._engine.clock import Clock
from metersim.peripherals.base import Context
from metersim.peripherals.clock_tree import ClockTree
from metersim.peripherals.stm32.flash_f1 import STM32F1_Flash
from metersim._units import PS_PER_MS, PS_PER_US

ACR, KEYR, SR, CR, AR, OBR, WRPR = 0, 4, 0xC, 0x10, 0x14, 0x1C, 0x20
BASE = 0x08000000


class Bus:
    def __init__(self, size):
        self.mem = bytearray(b"\xff" * size)

    def read_memory(self, address, n):
        return bytes(self.mem[address - BASE:address - BASE + n])

    def write_memory(self, address, data):
        self.mem[address - BASE:address - BASE + len(data)] = data


class Machine:
    def __init__(self, size):
        self.clocks = ClockTree()
        self.sysbus = Bus(size)


def make(**kw):
    m = Machine(kw.get("flash_size", 0x20000))
    ctx = Context(Clock(), name="flash", machine=m, address=0x40022000)
    return STM32F1_Flash(ctx, **kw), m.sysbus, ctx.clock


def unlock(f):
    f.write(KEYR, 4, 0x45670123)
    f.write(KEYR, 4, 0xCDEF89AB)


def test_locked_after_reset_and_unlock_sequence():
    f, _, _ = make()
    assert f.read(CR, 4) & 0x80
    f.write(CR, 4, 1)                          # ignored while locked
    assert f.read(CR, 4) == 0x80
    unlock(f)
    assert f.read(CR, 4) == 0
    f.write(CR, 4, 0x80)
    assert f.read(CR, 4) & 0x80


def test_wrong_key_locks_until_reset():
    f, _, _ = make()
    f.write(KEYR, 4, 0x45670123)
    f.write(KEYR, 4, 0x12345678)
    unlock(f)
    assert f.read(CR, 4) & 0x80
    f.reset()
    unlock(f)
    assert not f.read(CR, 4) & 0x80


def test_halfword_program_busy_time_and_pgerr():
    f, bus, clock = make()
    unlock(f)
    f.write(CR, 4, 1)                          # PG
    assert f.on_flash_write(BASE + 0x100, 2, 0x1234)
    assert f.read(SR, 4) & 1                   # BSY
    clock.run_for(52 * PS_PER_US)
    assert f.read(SR, 4) & 1 and bus.mem[0x100:0x102] == b"\xff\xff"
    clock.run_for(1 * PS_PER_US)
    assert not f.read(SR, 4) & 1
    assert bus.mem[0x100:0x102] == b"\x34\x12" and f.read(SR, 4) & 0x20   # EOP
    f.write(SR, 4, 0x20)
    f.on_flash_write(BASE + 0x100, 2, 0x0034)  # not erased: refused
    clock.run_for(PS_PER_MS)
    assert f.read(SR, 4) & 0x4 and bus.mem[0x100:0x102] == b"\x34\x12"
    f.write(SR, 4, 0x4)
    f.on_flash_write(BASE + 0x100, 2, 0x0000)  # 0x0000 is always allowed
    clock.run_for(PS_PER_MS)
    assert not f.read(SR, 4) & 0x4 and bus.mem[0x100:0x102] == b"\x00\x00"


def test_word_store_is_a_bus_error_and_store_without_pg_is_ignored():
    f, bus, _ = make()
    unlock(f)
    assert f.on_flash_write(BASE, 2, 0x55AA)   # PG not set: ignored
    assert bus.mem[0:2] == b"\xff\xff"
    f.write(CR, 4, 1)
    assert f.on_flash_write(BASE, 4, 0x11223344) is False


def test_page_erase_1k_pages_and_timing():
    f, bus, clock = make(page_size=1024)
    bus.mem[0x000:0x800] = b"\x00" * 0x800
    unlock(f)
    f.write(CR, 4, 2)                          # PER
    f.write(AR, 4, BASE + 0x410)               # inside page 1
    f.write(CR, 4, 2 | 0x40)                   # STRT
    clock.run_for(29 * PS_PER_MS)
    assert f.read(SR, 4) & 1
    clock.run_for(1 * PS_PER_MS)
    assert not f.read(SR, 4) & 1
    assert bus.mem[0x400:0x800] == b"\xff" * 0x400
    assert bus.mem[0x000:0x400] == b"\x00" * 0x400


def test_2k_pages_mass_erase_and_write_protection():
    f, bus, clock = make(page_size=2048, flash_size=0x40000, wrpr=0xFFFFFFFE)
    bus.mem[:] = b"\x00" * len(bus.mem)
    unlock(f)
    f.write(CR, 4, 2)
    f.write(AR, 4, BASE + 0x800)               # page 1 lies in protected 4 KiB
    f.write(CR, 4, 2 | 0x40)
    clock.run_for(40 * PS_PER_MS)
    assert f.read(SR, 4) & 0x10 and bus.mem[0x800] == 0   # WRPRTERR
    f.write(SR, 4, 0x10)
    f.write(AR, 4, BASE + 0x1000)              # page 2: not protected, 2 KiB erased
    f.write(CR, 4, 2 | 0x40)
    clock.run_for(40 * PS_PER_MS)
    assert bus.mem[0x1000:0x1800] == b"\xff" * 0x800 and bus.mem[0x1800] == 0
    assert f.read(WRPR, 4) == 0xFFFFFFFE and f.read(OBR, 4) == 0x03FFFFFC


def test_eop_interrupt_and_image_roundtrip(tmp_path):
    f, bus, clock = make()
    unlock(f)
    f.write(CR, 4, 1 | 1 << 12)                # PG, EOPIE
    f.on_flash_write(BASE + 2, 2, 0xBEEF)
    clock.run_for(PS_PER_MS)
    assert f.IRQ.level
    f.write(SR, 4, 0x20)
    assert not f.IRQ.level
    f.save_image(tmp_path / "f.bin")
    bus.mem[:] = b"\xff" * len(bus.mem)
    f.load_image(tmp_path / "f.bin")
    assert bus.mem[2:4] == b"\xef\xbe"
