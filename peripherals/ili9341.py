"""ILI9341 240x320 TFT controller on 4-wire SPI (D/CX on a GPIO), rendered to PNG and to text.

Followed (ILITEK ILI9341 data sheet V1.11, §7.6.1 "4-line serial interface", §8 command list):
- GPIO inputs: 0 = CSX (active low), 1 = D/CX (low: command byte, high: parameter / pixel data),
  2 = RESX (active low: hardware reset). A command byte ends the previous command.
- Commands: 01 SWRESET, 04 RDDID (dummy + 3 ID bytes), 09 RDDST, 0A RDDPM, 0C RDDCOLMOD,
  D3 RDID4 (dummy, 00 93 41), 10 SLPIN / 11 SLPOUT, 13 NORON, 20 INVOFF / 21 INVON, 28 DISPOFF /
  29 DISPON, 2A CASET (SC, EC), 2B PASET (SP, EP), 2C RAMWR, 3C RAMWRC (write memory continue),
  36 MADCTL (MY MX MV ML BGR MH), 3A COLMOD (DBI 101 = 16 bit/pixel, 110 = 18 bit/pixel). The
  power, gamma and frame-rate commands (B1..FF, C0..C7, E0/E1, ...) are taken and their
  parameters kept in `params` (they change nothing visible here).
- RAMWR: the write pointer starts at (SC, SP), moves along the column to EC, then to SC of the
  next page, and wraps from (EC, EP) to (SC, SP). 16-bit pixels come MSB first (RGB565); 18-bit
  pixels are three bytes with 6 significant bits each, kept as RGB565 (the 6th bit of red and
  blue dropped). Addresses past 239 / 319 (portrait) are not written.
- MADCTL: MX mirrors the column address, MY the page address, then MV exchanges them (so with
  MV the MCU sees a 320x240 landscape frame). BGR: the panel has a BGR filter, so RGB565 data
  shows as sent when BGR = 1 and with red and blue swapped when BGR = 0. ML / MH (refresh order)
  change nothing in a still picture.
- After reset the display is off and in sleep: `render()` shows the frame memory only when
  DISPON and SLPOUT are in effect; otherwise a blank (white, as a normally-white panel) frame.
  SLPOUT takes 5 ms before the next command may be sent and 120 ms before SLPIN: commands sent
  earlier are logged as a firmware timing bug (the real part may ignore them; here they act).
  INVON inverts the rendered colours.

Frame memory is kept in panel order (240 columns x 320 rows) as RGB565 in a numpy array.
`render()` gives an RGB888 array, `save_png(path)` a PNG (Pillow), `text_lines()` the text on the
6x8 character grid: every cell with two colours whose ink pattern is a glyph of the shared font
(`metersim.peripherals.font5x7`, also compiled into the firmware) reads as that character, a
one-colour cell as a space and anything else as '?'; scale 2 reads 12x16 cells drawn with
doubled pixels. Not modelled: vertical scrolling (33/37), partial mode, tearing effect, the
3-wire 9-bit interface, the RGB / MCU parallel interfaces, RAMRD (2E) pixel read-back, gamma.
"""

from __future__ import annotations

import logging
import os

import numpy as np

from metersim.peripherals.base import Context, History, SPIDevice
from metersim.peripherals.font5x7 import BITMAP_TO_CHAR, CELL_H, CELL_W
from metersim.peripherals.registry import model
from metersim.peripherals.reset_pin import ActiveLowReset
from metersim._units import PS_PER_MS

WIDTH, HEIGHT = 240, 320
ID4 = (0x00, 0x93, 0x41)
MAD_MY, MAD_MX, MAD_MV, MAD_ML, MAD_BGR, MAD_MH = 0x80, 0x40, 0x20, 0x10, 0x08, 0x04
_SLPOUT_READY_PS = 5 * PS_PER_MS
_SLPOUT_TO_SLPIN_PS = 120 * PS_PER_MS


@model("metersim.ILI9341", "Video.ILI9341")
class ILI9341(ActiveLowReset, SPIDevice):
    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.frame = np.zeros((HEIGHT, WIDTH), dtype=np.uint16)   # RGB565, [row, column]
        self.commands: History = History()            # every command byte, in order
        self.params: dict[int, bytes] = {}       # last parameters of each command
        self._dc = False
        self.reset()

    def reset(self) -> None:
        """Power-on / hardware reset state (data sheet §8 reset table); frame memory is kept
        (its content after power-on is random on the real part)."""
        self.sleeping = True
        self.display_on = False
        self.inverted = False
        self.madctl = 0x00
        self.colmod = 0x66                      # 18 bit/pixel after reset
        self.sc, self.ec, self.sp, self.ep = 0, WIDTH - 1, 0, HEIGHT - 1
        self._cmd: int | None = None
        self._args = bytearray()
        self._col = self._page = 0
        self._pix = bytearray()
        self._out: list[int] = []
        self._slpout_ps: int | None = None

    # -- pins --------------------------------------------------------------------------------
    def on_gpio(self, pin: int, level: bool) -> None:
        if pin == 0:
            self.set_chip_select(not level)
        elif pin == 1:
            self._dc = bool(level)
        elif pin == 2:
            self.reset_pin(level)

    # -- SPI ---------------------------------------------------------------------------------
    def transmit(self, byte: int) -> int:
        if self.in_reset:
            return 0
        byte &= 0xFF
        if not self._dc:
            self._command(byte)
            return 0
        out = self._out.pop(0) if self._out else 0
        self._data(byte)
        return out

    def transmit_block(self, data: bytes) -> bytes:
        """Several bytes in a row (an SPI DMA stream): the same as `transmit` per byte, with
        16-bit pixel runs written to the frame memory in one numpy step."""
        if (self.in_reset or not self._dc or self._cmd not in (0x2C, 0x3C) or self._out
                or self.colmod & 0x07 != 0x05 or self.sc > self.ec or self.sp > self.ep
                or not (self.sc <= self._col <= self.ec and self.sp <= self._page <= self.ep)):
            return bytes(self.transmit(b) for b in data)
        buf = bytes(self._pix) + bytes(data)
        n = len(buf) // 2
        self._pix = bytearray(buf[2 * n:])
        if n:
            px = np.frombuffer(buf[:2 * n], dtype=">u2").astype(np.uint16)
            w, h = self.ec - self.sc + 1, self.ep - self.sp + 1
            first = (self._page - self.sp) * w + (self._col - self.sc)
            idx = (first + np.arange(n)) % (w * h)
            if n > w * h:                        # wrapped onto itself: the last writes win
                idx, px = idx[-(w * h):], px[-(w * h):]
            cols, pages = self.sc + idx % w, self.sp + idx // w
            mad = self.madctl
            ncols, npages = (HEIGHT, WIDTH) if mad & MAD_MV else (WIDTH, HEIGHT)
            keep = (cols < ncols) & (pages < npages)
            cols, pages, px = cols[keep], pages[keep], px[keep]
            if mad & MAD_MX:
                cols = ncols - 1 - cols
            if mad & MAD_MY:
                pages = npages - 1 - pages
            if mad & MAD_MV:
                cols, pages = pages, cols
            self.frame[pages, cols] = px
            last = (first + n) % (w * h)
            self._col, self._page = self.sc + last % w, self.sp + last // w
        return bytes(len(data))

    def _command(self, cmd: int) -> None:
        now = self.ctx.clock.now_ps
        if self._slpout_ps is not None and now - self._slpout_ps < _SLPOUT_READY_PS:
            self.ctx.log_once(("slpout-wait", cmd), logging.WARNING,
                              "command 0x%02x sent %.1f ms after SLPOUT (the part needs 5 ms)",
                              cmd, (now - self._slpout_ps) / PS_PER_MS)
        self.commands.append(cmd)
        self._cmd = cmd
        self._args = bytearray()
        self._pix = bytearray()
        self._out = []
        if cmd == 0x01:                            # SWRESET
            self.reset()
        elif cmd == 0x04:                          # RDDID: dummy, manufacturer, version, ID
            self._out = [0x00, 0x00, 0x93, 0x41]
        elif cmd == 0x09:                          # RDDST
            st = (self.madctl & 0xF4) << 24 | (0 if self.sleeping else 1) << 19 | \
                (1 << 18) | (self.display_on << 10) | (self.inverted << 13)
            self._out = [0x00] + list(st.to_bytes(4, "big"))
        elif cmd == 0x0A:                          # RDDPM
            self._out = [0x00, 0x08 | (0 if self.sleeping else 0x10) | (0x04 * self.display_on)]
        elif cmd == 0x0C:
            self._out = [0x00, self.colmod]
        elif cmd == 0xD3:                          # RDID4
            self._out = [0x00, *ID4]
        elif cmd == 0x10:
            if self._slpout_ps is not None and now - self._slpout_ps < _SLPOUT_TO_SLPIN_PS:
                self.ctx.log_once("slpin-early", logging.WARNING,
                                  "SLPIN less than 120 ms after SLPOUT")
            self.sleeping = True
        elif cmd == 0x11:
            self.sleeping = False
            self._slpout_ps = now
        elif cmd == 0x13:
            pass                                   # NORON: normal display mode (no partial)
        elif cmd in (0x20, 0x21):
            self.inverted = cmd == 0x21
        elif cmd in (0x28, 0x29):
            self.display_on = cmd == 0x29
        elif cmd == 0x2C:                          # RAMWR: pointer back to (SC, SP)
            self._col, self._page = self.sc, self.sp
        elif cmd in (0x2A, 0x2B, 0x36, 0x3A, 0x3C, 0x00):
            pass
        elif cmd < 0xB0 and cmd not in (0x26, 0x30, 0x33, 0x34, 0x35, 0x37, 0x38, 0x39, 0x44,
                                        0x45, 0x51, 0x53, 0x55, 0x5E):
            self.ctx.log_once(("cmd", cmd), logging.WARNING, "command 0x%02x is not modelled", cmd)

    def _data(self, byte: int) -> None:
        cmd = self._cmd
        if cmd in (0x2C, 0x3C):
            self._pixel_byte(byte)
            return
        self._args.append(byte)
        self.params[cmd] = bytes(self._args)
        a = self._args
        if cmd == 0x2A and len(a) == 4:
            self.sc, self.ec = a[0] << 8 | a[1], a[2] << 8 | a[3]
        elif cmd == 0x2B and len(a) == 4:
            self.sp, self.ep = a[0] << 8 | a[1], a[2] << 8 | a[3]
        elif cmd == 0x36 and len(a) == 1:
            self.madctl = byte
        elif cmd == 0x3A and len(a) == 1:
            if byte & 0x07 not in (0x05, 0x06):
                self.ctx.log(logging.WARNING, "COLMOD 0x%02x: only 16 and 18 bit/pixel exist "
                             "on the serial interface; kept 0x%02x", byte, self.colmod)
            else:
                self.colmod = byte

    def _pixel_byte(self, byte: int) -> None:
        self._pix.append(byte)
        per = 2 if self.colmod & 0x07 == 0x05 else 3
        if len(self._pix) < per:
            return
        p = self._pix
        if per == 2:
            rgb565 = p[0] << 8 | p[1]
        else:
            rgb565 = (p[0] >> 3) << 11 | (p[1] >> 2) << 5 | (p[2] >> 3)
        self._pix = bytearray()
        self._put(self._col, self._page, rgb565)
        if self._col == self.ec:
            self._col = self.sc
            self._page = self.sp if self._page == self.ep else (self._page + 1) & 0xFFFF
        else:
            self._col = (self._col + 1) & 0xFFFF

    def _put(self, col: int, page: int, rgb565: int) -> None:
        mad = self.madctl
        cols, pages = (HEIGHT, WIDTH) if mad & MAD_MV else (WIDTH, HEIGHT)
        if col >= cols or page >= pages:
            return
        if mad & MAD_MX:
            col = cols - 1 - col
        if mad & MAD_MY:
            page = pages - 1 - page
        if mad & MAD_MV:
            col, page = page, col
        self.frame[page, col] = rgb565

    # -- output ------------------------------------------------------------------------------
    def render(self) -> np.ndarray:
        """What the panel shows: an array (320, 240, 3) of uint8 RGB."""
        if self.sleeping or not self.display_on:
            return np.full((HEIGHT, WIDTH, 3), 255, dtype=np.uint8)
        f = self.frame.astype(np.uint32)
        r = (f >> 11) & 0x1F
        g = (f >> 5) & 0x3F
        b = f & 0x1F
        if not self.madctl & MAD_BGR:
            r, b = b, r
        rgb = np.stack([(r << 3) | (r >> 2), (g << 2) | (g >> 4), (b << 3) | (b >> 2)], axis=-1)
        rgb = rgb.astype(np.uint8)
        return 255 - rgb if self.inverted else rgb

    def save_png(self, path: str | os.PathLike, scale: int = 2) -> None:
        """Write what the panel shows as a PNG, each pixel `scale` x `scale`."""
        from PIL import Image

        img = Image.fromarray(self.render(), "RGB")
        if scale != 1:
            img = img.resize((WIDTH * scale, HEIGHT * scale), Image.NEAREST)
        img.save(path)

    def text_lines(self, scale: int = 1) -> list[str]:
        """The frame memory read as text on the (6*scale)x(8*scale) character grid, one string
        per text row, trailing spaces removed."""
        if scale not in (1, 2, 3):
            raise ValueError(f"scale must be 1, 2 or 3, got {scale!r}")
        f = self.frame if scale == 1 else self._doubled_only(scale)
        cw, ch = CELL_W, CELL_H
        rows = []
        for cy in range(f.shape[0] // ch):
            line = []
            for cx in range(f.shape[1] // cw):
                line.append(_read_cell(f[cy * ch:(cy + 1) * ch, cx * cw:(cx + 1) * cw]))
            rows.append("".join(line).rstrip())
        return rows

    def _doubled_only(self, scale: int) -> np.ndarray:
        """Downsampled frame where pixels not part of a uniform scale x scale block read as an
        impossible colour (so cells drawn at scale 1 do not read as big text)."""
        h, w = HEIGHT // scale, WIDTH // scale
        blocks = self.frame[:h * scale, :w * scale].reshape(h, scale, w, scale).astype(np.int64)
        first = blocks[:, 0, :, 0]
        uniform = np.all(blocks == first[:, None, :, None], axis=(1, 3))
        return np.where(uniform, first, -1 - np.arange(h * w).reshape(h, w))

    def text(self, scale: int = 1) -> str:
        return "\n".join(self.text_lines(scale)).rstrip("\n")

    def find_text(self, needle: str) -> bool:
        return any(needle in line for line in self.text_lines())


def _read_cell(cell: np.ndarray) -> str:
    colours = np.unique(cell)
    if len(colours) == 1:
        return " "
    if len(colours) != 2:
        return "?"
    for ink in colours:
        mask = cell == ink
        bitmap = tuple(int(sum(1 << x for x in range(CELL_W) if row[x])) for row in mask)
        ch = BITMAP_TO_CHAR.get(bitmap)
        if ch is not None:
            return ch
    return "?"
