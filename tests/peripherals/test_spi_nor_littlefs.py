"""littlefs on the W25Q64 model through the SPI command set, as a firmware port would drive it."""

from littlefs import LittleFS
from littlefs.context import UserContext

from metersim.units import PS_PER_US
from metersim.peripherals.base import Context
from metersim.peripherals.spi_nor import SpiNorFlash

BLOCKS = 64


class PowerCut(Exception):
    pass


class SpiPort(UserContext):
    """The littlefs block device of a firmware port: READ, WREN+PP per page, WREN+SE, poll BUSY."""

    def __init__(self, ctx, flash, cut_at_ps=None):
        self.ctx, self.flash, self.cut_at_ps = ctx, flash, cut_at_ps

    def _xfer(self, *data):
        f = self.flash
        f.on_gpio(0, False)
        out = [f.transmit(b) for b in data]
        f.on_gpio(0, True)
        return out

    def _wait(self):
        while self._xfer(0x05, 0)[1] & 1:
            self.ctx.clock.run_for(50 * PS_PER_US)
            if self.cut_at_ps is not None and self.ctx.clock.now_ps >= self.cut_at_ps:
                self.flash.power_off()
                raise PowerCut()

    def read(self, cfg, block, off, size):
        a = block * cfg.block_size + off
        return bytearray(self._xfer(0x03, a >> 16 & 255, a >> 8 & 255, a & 255, *[0] * size)[4:])

    def prog(self, cfg, block, off, data):
        a = block * cfg.block_size + off
        data = bytes(data)
        while data:
            n = min(len(data), 256 - a % 256)           # never cross a page
            self._xfer(0x06)
            self._xfer(0x02, a >> 16 & 255, a >> 8 & 255, a & 255, *data[:n])
            self._wait()
            a, data = a + n, data[n:]
        return 0

    def erase(self, cfg, block):
        a = block * cfg.block_size
        self._xfer(0x06)
        self._xfer(0x20, a >> 16 & 255, a >> 8 & 255, a & 255)
        self._wait()
        return 0


def mount_image(path):
    data = bytearray(path.read_bytes()[:BLOCKS * 4096])
    return LittleFS(context=UserContext(buffer=data), block_size=4096, block_count=BLOCKS, prog_size=256)


def test_firmware_style_littlefs_is_readable_from_the_host_image(tmp_path):
    path = tmp_path / "w25q64.bin"
    ctx = Context.standalone("flash")
    flash = SpiNorFlash(ctx, image_path=path)
    fs = LittleFS(context=SpiPort(ctx, flash), block_size=4096, block_count=BLOCKS, prog_size=256)
    with fs.open("day.bin", "wb") as fh:
        fh.write(b"energy=1234.5Wh\n" * 40)
    fs.unmount()
    assert ctx.clock.now_ps > 45_000_000_000            # erases and programs took virtual time
    host = mount_image(path)
    with host.open("day.bin", "rb") as fh:
        assert fh.read() == b"energy=1234.5Wh\n" * 40


def test_littlefs_survives_a_power_cut_during_an_update(tmp_path):
    outcomes = set()
    for cut_ms in (1, 3, 47, 52, 95, 140, 200):
        path = tmp_path / f"cut{cut_ms}.bin"
        ctx = Context.standalone("flash", seed=cut_ms)
        flash = SpiNorFlash(ctx, image_path=path)
        fs = LittleFS(context=SpiPort(ctx, flash), block_size=4096, block_count=BLOCKS, prog_size=256)
        with fs.open("balance", "wb") as fh:
            fh.write(b"old" * 300)
        fs.unmount()
        port = SpiPort(ctx, flash, cut_at_ps=ctx.clock.now_ps + cut_ms * 1_000_000_000)
        fs = LittleFS(context=port, block_size=4096, block_count=BLOCKS, prog_size=256, mount=True)
        try:
            with fs.open("balance", "wb") as fh:
                fh.write(b"new" * 300)
            fs.unmount()
        except Exception:
            pass
        flash.power_on()
        host = mount_image(path)
        with host.open("balance", "rb") as fh:
            content = fh.read()
        assert content in (b"old" * 300, b"new" * 300)
        outcomes.add(content[:3])
    assert outcomes == {b"old", b"new"}                   # both sides of the commit were hit
