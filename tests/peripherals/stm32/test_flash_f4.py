"""F4 flash interface: sector layout and erase timing, PSIZE programming, PGSERR/PGPERR/PGAERR."""

from metersim._engine.clock import Clock
from metersim.peripherals.base import Context
from metersim.peripherals.clock_tree import ClockTree
from metersim.peripherals.registry import lookup
from metersim.peripherals.stm32.flash_f4 import STM32F4_Flash, sector_layout
from metersim._units import PS_PER_MS, PS_PER_US

ACR, KEYR, OPTKEYR, SR, CR, OPTCR = 0, 4, 8, 0xC, 0x10, 0x14
BASE = 0x08000000
PSIZE32 = 2 << 8


class Bus:
    def __init__(self, size):
        self.mem = bytearray(b"\x00" * size)

    def read_memory(self, address, n):
        return bytes(self.mem[address - BASE:address - BASE + n])

    def write_memory(self, address, data):
        self.mem[address - BASE:address - BASE + len(data)] = data


class Machine:
    def __init__(self, size):
        self.clocks = ClockTree()
        self.sysbus = Bus(size)


class Mem:
    size = 0x100000


def make(**kw):
    m = Machine(0x100000)
    ctx = Context(Clock(), name="flash", machine=m, address=0x40023C00)
    return STM32F4_Flash(ctx, flash=Mem(), **kw), m.sysbus, ctx.clock


def unlock(f):
    f.write(KEYR, 4, 0x45670123)
    f.write(KEYR, 4, 0xCDEF89AB)


def test_f413_sector_layout():
    assert lookup("MTD.STM32F4_FlashController") is STM32F4_Flash
    sizes = [s for _, s in sector_layout(0x100000)]
    assert sizes == [16384] * 4 + [65536] + [131072] * 7
    assert sector_layout(0x100000)[5] == (0x20000, 0x20000)


def test_sector_erase_takes_datasheet_time():
    f, bus, clock = make()
    unlock(f)
    f.write(CR, 4, PSIZE32 | 1 << 1 | 4 << 3)          # SER, SNB = 4 (64 KiB at 0x10000)
    f.write(CR, 4, PSIZE32 | 1 << 1 | 4 << 3 | 1 << 16)  # STRT
    assert f.read(SR, 4) & 1 << 16
    clock.run_for(549 * PS_PER_MS)
    assert f.read(SR, 4) & 1 << 16 and bus.mem[0x10000] == 0
    clock.run_for(1 * PS_PER_MS)
    assert not f.read(SR, 4) & 1 << 16
    assert bus.mem[0x10000:0x20000] == b"\xff" * 0x10000
    assert bus.mem[0xFFFF] == 0 and bus.mem[0x20000] == 0
    assert f.read(SR, 4) & 1 == 0                       # EOP needs EOPIE on F4


def test_power_cut_during_a_sector_erase_leaves_it_part_erased():
    f, bus, clock = make()
    unlock(f)
    f.write(CR, 4, PSIZE32 | 1 << 1 | 4 << 3)          # SER, SNB = 4 (64 KiB at 0x10000)
    f.write(CR, 4, PSIZE32 | 1 << 1 | 4 << 3 | 1 << 16)  # STRT: 550 ms
    clock.run_for(275 * PS_PER_MS)                      # half way
    f.power_off()
    assert bus.mem[0x10000:0x18000] == b"\xff" * 0x8000  # the first half erased ...
    assert bus.mem[0x18000:0x20000] == b"\0" * 0x8000    # ... the rest as it was
    assert not f.read(SR, 4) & 1 << 16
    clock.run_for(500 * PS_PER_MS)                      # nothing finishes after the cut
    assert bus.mem[0x18000] == 0


def test_program_word_and_eop_with_eopie():
    f, bus, clock = make()
    bus.mem[0:8] = b"\xff" * 8
    unlock(f)
    f.write(CR, 4, PSIZE32 | 1 | 1 << 24)               # PG, EOPIE
    f.on_flash_write(BASE + 4, 4, 0xCAFEF00D)
    clock.run_for(16 * PS_PER_US)
    assert bus.mem[4:8] == (0xCAFEF00D).to_bytes(4, "little")
    assert f.read(SR, 4) & 1 and f.IRQ.level
    f.on_flash_write(BASE + 4, 4, 0xFFFF0000)           # bits only go 1 -> 0
    clock.run_for(16 * PS_PER_US)
    assert bus.mem[4:8] == (0xCAFE0000).to_bytes(4, "little")


def test_store_without_pg_sets_pgserr_and_blocks_programming():
    f, bus, clock = make()
    bus.mem[0:4] = b"\xff" * 4
    unlock(f)
    f.on_flash_write(BASE, 4, 0)
    assert f.read(SR, 4) & 1 << 7
    f.write(CR, 4, PSIZE32 | 1)
    f.on_flash_write(BASE, 4, 0)                        # refused until PGSERR is cleared
    clock.run_for(PS_PER_MS)
    assert bus.mem[0:4] == b"\xff" * 4
    f.write(SR, 4, 1 << 7)
    f.on_flash_write(BASE, 4, 0)
    clock.run_for(PS_PER_MS)
    assert bus.mem[0:4] == b"\x00" * 4


def test_parallelism_and_alignment_errors():
    f, _, _ = make()
    unlock(f)
    f.write(CR, 4, PSIZE32 | 1)
    f.on_flash_write(BASE, 2, 0)
    assert f.read(SR, 4) & 1 << 6                       # PGPERR
    f.write(SR, 4, 1 << 6)
    f.on_flash_write(BASE + 2, 4, 0)
    assert f.read(SR, 4) & 1 << 5                       # PGAERR


def test_strt_without_ser_or_mer_is_pgserr():
    f, _, _ = make()
    unlock(f)
    f.write(CR, 4, 1 << 16)
    assert f.read(SR, 4) & 1 << 7


def test_write_protected_sector_and_option_unlock():
    f, bus, clock = make(optcr=0x0FFEAAED)              # nWRP0 = 0: sector 0 protected
    unlock(f)
    f.write(CR, 4, PSIZE32 | 1 << 1 | 1 << 16)          # erase sector 0
    clock.run_for(300 * PS_PER_MS)
    assert f.read(SR, 4) & 1 << 4 and bus.mem[0] == 0   # WRPERR
    assert f.read(OPTCR, 4) & 1
    f.write(OPTKEYR, 4, 0x08192A3B)
    f.write(OPTKEYR, 4, 0x4C5D6E7F)
    assert not f.read(OPTCR, 4) & 1
    f.write(OPTCR, 4, 0x0FFFAAEC | 2)                   # remove protection, OPTSTRT
    clock.run_for(PS_PER_MS)
    f.write(SR, 4, 1 << 4)
    f.write(CR, 4, PSIZE32 | 1 << 1 | 1 << 16)
    clock.run_for(300 * PS_PER_MS)
    assert bus.mem[0:0x4000] == b"\xff" * 0x4000


def test_latency_warning(caplog):
    f, _, _ = make()
    f.ctx.machine.clocks.set_rate("HCLK", 100_000_000)
    assert "wait states" in caplog.text


def test_enough_wait_states_no_warning(caplog):
    f, _, _ = make()
    f.write(ACR, 4, 3)
    f.ctx.machine.clocks.set_rate("HCLK", 100_000_000)
    assert "wait states" not in caplog.text
    assert f.read(ACR, 4) == 3
