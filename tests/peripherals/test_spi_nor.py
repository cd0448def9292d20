import pytest

from metersim._errors import SetupError
from metersim._units import PS_PER_MS, PS_PER_US, PS_PER_S
from metersim.peripherals.base import Context
from metersim.peripherals.registry import lookup
from metersim.peripherals.spi_nor import SpiNorFlash, W25Q64, W25Q128


def make(part="W25Q64", seed=0, **kw):
    ctx = Context.standalone("flash", seed=seed)
    return ctx, SpiNorFlash(ctx, part=part, **kw)


def xfer(dev, *data):
    """One CS-framed transaction; returns what came back on DO."""
    dev.on_gpio(0, False)
    out = [dev.transmit(b) for b in data]
    dev.on_gpio(0, True)
    return out


def addr3(a):
    return [(a >> 16) & 0xFF, (a >> 8) & 0xFF, a & 0xFF]


def read(dev, a, n):
    return bytes(xfer(dev, 0x03, *addr3(a), *([0] * n))[4:])


def program(dev, a, data):
    xfer(dev, 0x06)
    xfer(dev, 0x02, *addr3(a), *data)


def erase(dev, op, a):
    xfer(dev, 0x06)
    xfer(dev, op, *addr3(a))


def wait_ready(ctx, dev, step_ps=100 * PS_PER_US, limit_ps=200 * PS_PER_S):
    waited = 0
    while xfer(dev, 0x05, 0)[1] & 1:
        ctx.clock.run_for(step_ps)
        waited += step_ps
        assert waited < limit_ps
    return waited


def test_jedec_and_device_ids_per_part():
    for part, jedec, dev_id in (("W25Q64", [0xEF, 0x40, 0x17], 0x16), ("W25Q128", [0xEF, 0x40, 0x18], 0x17)):
        _, f = make(part)
        assert xfer(f, 0x9F, 0, 0, 0)[1:] == jedec
        assert xfer(f, 0x90, 0, 0, 0, 0, 0)[4:] == [0xEF, dev_id]
        assert xfer(f, 0xAB, 0, 0, 0, 0)[4] == dev_id
    assert lookup("metersim.W25Q64") is W25Q64 and lookup("metersim.W25Q128") is W25Q128


def test_unknown_part_is_a_clear_error():
    with pytest.raises(SetupError, match="W25Q64"):
        make("W25Q99")


def test_erased_reads_ff_and_fast_read_needs_dummy_byte():
    _, f = make()
    assert read(f, 0x1234, 4) == b"\xff" * 4
    program(f, 0x100, [0x11, 0x22, 0x33])
    f.ctx.clock.run_for(PS_PER_MS)
    assert bytes(xfer(f, 0x0B, *addr3(0x100), 0x00, 0, 0, 0)[5:]) == b"\x11\x22\x33"
    assert read(f, 0x100, 3) == b"\x11\x22\x33"


def test_program_needs_wel_and_wel_clears_after():
    ctx, f = make()
    xfer(f, 0x02, *addr3(0), 0x00)  # no WREN: ignored
    ctx.clock.run_for(PS_PER_MS)
    assert read(f, 0, 1) == b"\xff"
    xfer(f, 0x06)
    assert xfer(f, 0x05, 0)[1] & 0x02            # WEL set
    xfer(f, 0x04)
    assert not xfer(f, 0x05, 0)[1] & 0x02        # WRDI clears it
    program(f, 0, [0x00])
    ctx.clock.run_for(PS_PER_MS)
    assert read(f, 0, 1) == b"\x00"
    assert xfer(f, 0x05, 0)[1] == 0x00           # WEL cleared on completion


def test_program_can_only_clear_bits():
    ctx, f = make()
    program(f, 0x2000, [0xF0])
    ctx.clock.run_for(PS_PER_MS)
    program(f, 0x2000, [0x3C])
    ctx.clock.run_for(PS_PER_MS)
    assert read(f, 0x2000, 1) == bytes([0xF0 & 0x3C])
    program(f, 0x2000, [0xFF])  # "writing" ones restores nothing
    ctx.clock.run_for(PS_PER_MS)
    assert read(f, 0x2000, 1) == b"\x30"


def test_page_program_wraps_within_page():
    ctx, f = make()
    data = list(range(1, 11))
    program(f, 0x10FC, data)  # 4 bytes fit before the page end, 6 wrap to 0x1000
    ctx.clock.run_for(PS_PER_MS)
    assert read(f, 0x10FC, 4) == bytes([1, 2, 3, 4])
    assert read(f, 0x1000, 6) == bytes([5, 6, 7, 8, 9, 10])
    assert read(f, 0x1100, 2) == b"\xff\xff"     # next page untouched


def test_more_than_256_bytes_keeps_the_last_256():
    ctx, f = make()
    data = [0xAA] * 10 + [i & 0xFF for i in range(256)]
    program(f, 0x300, data)
    ctx.clock.run_for(PS_PER_MS)
    # after 266 bytes the last 256 bytes start at page offset 10
    expect = bytes((off - 10) & 0xFF for off in range(256))
    assert read(f, 0x300, 256) == expect


def test_sector_erase_busy_for_typical_time_and_ignores_commands():
    ctx, f = make()
    program(f, 0x5000, [0x00] * 16)
    ctx.clock.run_for(PS_PER_MS)
    erase(f, 0x20, 0x5010)
    assert xfer(f, 0x05, 0)[1] & 0x03 == 0x03     # BUSY and WEL while erasing
    # while busy: reads, ID and WREN are ignored (DO stays high), status still answers
    assert xfer(f, 0x9F, 0, 0, 0)[1:] == [0xFF] * 3
    assert read(f, 0x5000, 2) == b"\xff\xff"
    ctx.clock.run_for(44 * PS_PER_MS)
    assert xfer(f, 0x05, 0)[1] & 1
    ctx.clock.run_for(1 * PS_PER_MS)
    assert xfer(f, 0x05, 0)[1] == 0
    assert read(f, 0x5000, 16) == b"\xff" * 16
    assert f.operations[-1][1:] == ("sector_erase", 0x5000, 4096)


def test_program_issued_while_busy_is_lost():
    ctx, f = make()
    erase(f, 0x20, 0)
    xfer(f, 0x06)
    xfer(f, 0x02, *addr3(0x100), 0x12)
    wait_ready(ctx, f)
    assert read(f, 0x100, 1) == b"\xff"


@pytest.mark.parametrize("op,size,typ_ms,max_ms", [(0x52, 32768, 120, 1600), (0xD8, 65536, 150, 2000)])
def test_block_erase_sizes_and_times(op, size, typ_ms, max_ms):
    for timing, t_ms in (("typ", typ_ms), ("max", max_ms)):
        ctx, f = make(timing=timing)
        program(f, size, [0])
        program_wait = wait_ready(ctx, f)
        assert program_wait <= (3 if timing == "max" else 0.5) * PS_PER_MS
        program(f, size - 1, [0])
        wait_ready(ctx, f)
        erase(f, op, size + size // 2)
        t0 = ctx.clock.now_ps
        waited = wait_ready(ctx, f, step_ps=PS_PER_MS)
        assert t_ms * PS_PER_MS <= waited <= (t_ms + 1) * PS_PER_MS
        assert read(f, size, 1) == b"\xff"
        assert read(f, size - 1, 1) == b"\x00"     # block below untouched


def test_chip_erase_takes_seconds():
    ctx, f = make("W25Q128")
    program(f, 0xFFFF00, [0x00])
    wait_ready(ctx, f)
    erase(f, 0xC7, 0)  # /CS not raised right after the opcode: not executed
    assert not xfer(f, 0x05, 0)[1] & 1
    xfer(f, 0x06)
    xfer(f, 0xC7)
    ctx.clock.run_for(39 * PS_PER_S)
    assert xfer(f, 0x05, 0)[1] & 1
    ctx.clock.run_for(1 * PS_PER_S)
    assert not xfer(f, 0x05, 0)[1] & 1
    assert read(f, 0xFFFF00, 1) == b"\xff"


def test_power_down_ignores_everything_until_release():
    ctx, f = make()
    xfer(f, 0xB9)
    assert xfer(f, 0x9F, 0, 0, 0)[1:] == [0xFF] * 3
    assert xfer(f, 0x05, 0)[1] == 0xFF
    assert xfer(f, 0xAB, 0, 0, 0, 0)[4] == 0x16
    assert xfer(f, 0x9F, 0, 0, 0)[1:] == [0xEF, 0x40, 0x17]


def test_unique_id_is_deterministic_from_seed():
    _, a = make(seed=5)
    _, b = make(seed=5)
    _, c = make(seed=6)
    uid = xfer(a, 0x4B, 0, 0, 0, 0, *[0] * 8)[5:]
    assert uid == xfer(b, 0x4B, 0, 0, 0, 0, *[0] * 8)[5:]
    assert uid != xfer(c, 0x4B, 0, 0, 0, 0, *[0] * 8)[5:]
    _, d = make(unique_id=0x0102030405060708)
    assert xfer(d, 0x4B, 0, 0, 0, 0, *[0] * 8)[5:] == [1, 2, 3, 4, 5, 6, 7, 8]


def test_sfdp_header_and_density():
    _, f = make("W25Q128")
    head = bytes(xfer(f, 0x5A, 0, 0, 0, 0, *[0] * 8)[5:])
    assert head[:4] == b"SFDP"
    table = bytes(xfer(f, 0x5A, 0, 0, 0x10, 0, *[0] * 8)[5:])
    density_bits = int.from_bytes(table[4:8], "little") + 1
    assert density_bits == 128 * 1024 * 1024


def test_block_protection_blocks_program_and_erase():
    ctx, f = make()
    # BP0=1, TB=0: upper 1/64 (128 KiB) of W25Q64 protected
    xfer(f, 0x06)
    xfer(f, 0x01, 0x04)
    assert xfer(f, 0x05, 0)[1] & 1                  # non-volatile status write takes tW
    ctx.clock.run_for(10 * PS_PER_MS)
    assert xfer(f, 0x05, 0)[1] == 0x04
    top = f.size - 0x20000
    program(f, top, [0x00])
    program_wait = wait_ready(ctx, f)
    assert program_wait == 0
    assert read(f, top, 1) == b"\xff"
    program(f, top - 256, [0x00])
    wait_ready(ctx, f)
    assert read(f, top - 256, 1) == b"\x00"
    xfer(f, 0x06)
    xfer(f, 0xC7)                                   # chip erase refused: a block is protected
    assert not xfer(f, 0x05, 0)[1] & 1
    assert read(f, top - 256, 1) == b"\x00"


def test_srp_with_wp_low_locks_status_register():
    ctx, f = make()
    xfer(f, 0x50)                                    # volatile write: immediate
    xfer(f, 0x01, 0x80)
    assert xfer(f, 0x05, 0)[1] == 0x80
    f.on_gpio(1, False)                               # /WP low
    xfer(f, 0x06)
    xfer(f, 0x01, 0x9C)
    ctx.clock.run_for(20 * PS_PER_MS)
    assert xfer(f, 0x05, 0)[1] & 0xFC == 0x80


def test_image_file_persists_across_instances(tmp_path):
    path = tmp_path / "flash.bin"
    ctx, f = make(image_path=path)
    assert path.stat().st_size == 8 << 20
    program(f, 0x1000, b"metersim")
    wait_ready(ctx, f)
    assert path.read_bytes()[0x1000:0x1008] == b"metersim"   # host sees it immediately
    f.close()
    _, g = make(image_path=path)
    assert read(g, 0x1000, 8) == b"metersim"
    with pytest.raises(SetupError, match="expected 16777216"):
        make("W25Q128", image_path=path)


def power_cut_sector(seed, cut_ps, tmp_path=None):
    ctx, f = make(seed=seed)
    for page in range(0x8000, 0x9000, 256):
        program(f, page, [0x00] * 256)
        wait_ready(ctx, f)
    program(f, 0x9000, [0x5A] * 4)                    # neighbour sector
    wait_ready(ctx, f)
    erase(f, 0x20, 0x8000)
    ctx.clock.run_for(cut_ps)
    f.power_off()
    f.power_on()
    return f


def test_power_cut_during_sector_erase_is_mixed_and_deterministic():
    f = power_cut_sector(7, 20 * PS_PER_MS)
    sector = f.read_image(0x8000, 4096)
    assert sector[:1024] == b"\xff" * 1024            # ~44% of the sector got erased first
    rest = sector[2048:]
    assert rest != b"\xff" * len(rest) and rest != b"\x00" * len(rest)   # partially erased bits
    ones = sum(bin(b).count("1") for b in rest) / (8 * len(rest))
    assert 0.3 < ones < 0.6                           # roughly the elapsed fraction
    assert f.read_image(0x9000, 5) == b"\x5a" * 4 + b"\xff"
    assert f.read_image(0x7000, 4096) == b"\xff" * 4096
    assert xfer(f, 0x9F, 0, 0, 0)[1:] == [0xEF, 0x40, 0x17]   # works again after power-on
    assert not xfer(f, 0x05, 0)[1] & 0x03
    again = power_cut_sector(7, 20 * PS_PER_MS)
    assert again.read_image(0x8000, 4096) == sector
    other = power_cut_sector(8, 20 * PS_PER_MS)
    assert other.read_image(0x8000, 4096) != sector


def test_power_cut_during_program_leaves_some_bytes_programmed():
    ctx, f = make(seed=3)
    program(f, 0x4000, [0x00] * 256)
    ctx.clock.run_for(200 * PS_PER_US)                # half of tPP
    f.power_off()
    page = f.read_image(0x4000, 256)
    done = len(page) - len(page.lstrip(b"\x00"))
    assert 100 <= done <= 156                         # about half the bytes made it
    assert page[done + 4:] == b"\xff" * (252 - done)  # the rest never started
    assert page[done] != 0x00
    assert f.read_image(0x4100, 1) == b"\xff"
    # unpowered chip answers nothing
    assert xfer(f, 0x9F, 0, 0, 0)[1:] == [0xFF] * 3
    f.power_on()
    assert read(f, 0x4000, 1) == b"\x00"


def test_software_reset_needs_enable_first():
    _, f = make()
    xfer(f, 0x06)
    xfer(f, 0x99)
    assert xfer(f, 0x05, 0)[1] & 0x02
    xfer(f, 0x66)
    xfer(f, 0x99)
    assert not xfer(f, 0x05, 0)[1] & 0x02
