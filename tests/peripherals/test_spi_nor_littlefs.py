"""littlefs on the W25Q64 model through the SPI command set, as a firmware port would drive it."""

from littlefs import LittleFS
from littlefs.context import UserContext

from metersim._units import PS_PER_US
from metersim.peripherals.base import Context
from metersim.peripherals.spi_nor import SpiNorFlash

BLOCKS = 64


LFS_ERR_IO = -5


class SpiPort(UserContext):
    """The littlefs block device of a firmware port: READ, WREN+PP per page, WREN+SE, poll BUSY."""

    def __init__(self, ctx, flash, cut_at_ps=None):
        self.ctx, self.flash, self.cut_at_ps = ctx, flash, cut_at_ps
        self.cut = False

    def _xfer(self, *data):
        f = self.flash
        f.on_gpio(0, False)
        out = [f.transmit(b) for b in data]
        f.on_gpio(0, True)
        return out

    def _wait(self):
        """Poll BUSY; False once the supply has been cut (the port then reports an I/O error)."""
        while not self.cut and self._xfer(0x05, 0)[1] & 1:
            self.ctx.clock.run_for(50 * PS_PER_US)
            if self.cut_at_ps is not None and self.ctx.clock.now_ps >= self.cut_at_ps:
                self.flash.power_off()
                self.cut = True
        return not self.cut

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
            if not self._wait():
                return LFS_ERR_IO
            a, data = a + n, data[n:]
        return 0

    def erase(self, cfg, block):
        a = block * cfg.block_size
        self._xfer(0x06)
        self._xfer(0x20, a >> 16 & 255, a >> 8 & 255, a & 255)
        return 0 if self._wait() else LFS_ERR_IO


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


def update_with_power_cut(tmp_path, seed, cut_after_ps):
    """Write "old", then rewrite it as "new" with the supply cut `cut_after_ps` into the update.
    Returns what the host then reads, and whether the cut happened before the update ended."""
    path = tmp_path / f"cut{seed}_{cut_after_ps}.bin"
    ctx = Context.standalone("flash", seed=seed)
    flash = SpiNorFlash(ctx, image_path=path)
    fs = LittleFS(context=SpiPort(ctx, flash), block_size=4096, block_count=BLOCKS, prog_size=256)
    with fs.open("balance", "wb") as fh:
        fh.write(b"old" * 300)
    fs.unmount()
    t0 = ctx.clock.now_ps
    port = SpiPort(ctx, flash, cut_at_ps=t0 + cut_after_ps)
    fs = LittleFS(context=port, block_size=4096, block_count=BLOCKS, prog_size=256, mount=True)
    fh = fs.open("balance", "wb", buffering=0)          # the raw handle, see below
    try:
        fh.write(b"new" * 300)
        fh.close()
        fs.unmount()
    except Exception:
        assert port.cut, "littlefs failed without a power cut"
        # littlefs-python retries a failed close() from __del__, which asserts in C: the
        # file died with the supply, so mark the handle closed.
        setattr(fh, "__IOBase_closed", True)
    flash.power_on()
    host = mount_image(path)
    fh = host.open("balance", "rb")
    content = fh.read()
    fh.close()
    return content, port.cut, ctx.clock.now_ps - t0


def test_littlefs_survives_a_power_cut_during_an_update(tmp_path):
    content, cut, update_ps = update_with_power_cut(tmp_path, 0, 10**15)
    assert content == b"new" * 300 and not cut
    # cuts spread over the update (erases, data programs, the metadata commit at the very end)
    outcomes = []
    for i, cut_after_ps in enumerate([update_ps * k // 12 for k in range(1, 12)] + [update_ps - 1]):
        content, cut, _ = update_with_power_cut(tmp_path, i + 1, cut_after_ps)
        assert cut
        assert content in (b"old" * 300, b"new" * 300)  # never a torn or missing file
        outcomes.append(content[:3].decode())
    assert outcomes[0] == "old"                         # cut early: the old version survives
    assert set(outcomes) == {"old", "new"}              # cuts on both sides of the commit
