"""ILI9341 model over its 4-wire SPI interface: addressing, pixel formats, MADCTL, rendering,
and reading firmware-style text back through the shared 5x7 font."""

from pathlib import Path

import numpy as np
import pytest

from metersim.peripherals.base import Context
from metersim.peripherals.font5x7 import c_header, glyph_columns
from metersim.peripherals.ili9341 import ILI9341
from metersim.peripherals.registry import lookup
from metersim._units import PS_PER_MS

REPO = Path(__file__).resolve().parents[2]
RED, GREEN, BLUE, WHITE, BLACK = 0xF800, 0x07E0, 0x001F, 0xFFFF, 0x0000


class Bus:
    """The firmware side: CS low, D/CX low for the command byte, high for its parameters."""

    def __init__(self, lcd):
        self.lcd = lcd

    def cmd(self, c, *params):
        self.lcd.on_gpio(0, False)
        self.lcd.on_gpio(1, False)
        self.lcd.transmit(c)
        self.lcd.on_gpio(1, True)
        out = [self.lcd.transmit(p) for p in params]
        self.lcd.on_gpio(0, True)
        return out

    def window(self, x0, y0, x1, y1):
        self.cmd(0x2A, x0 >> 8, x0 & 0xFF, x1 >> 8, x1 & 0xFF)
        self.cmd(0x2B, y0 >> 8, y0 & 0xFF, y1 >> 8, y1 & 0xFF)

    def fill(self, x0, y0, x1, y1, colour):
        self.window(x0, y0, x1, y1)
        n = (x1 - x0 + 1) * (y1 - y0 + 1)
        self.cmd(0x2C, *([colour >> 8, colour & 0xFF] * n))

    def text(self, x, y, s, fg=WHITE, bg=BLACK, scale=1):
        """Draw as the firmware's driver does: one 6x8 cell per character, background included."""
        for i, ch in enumerate(s):
            cols = glyph_columns(ch)
            px = []
            for row in range(8 * scale):
                for col in range(6 * scale):
                    c, r = col // scale, row // scale
                    on = c < 5 and cols[c] >> r & 1
                    px += [(fg if on else bg) >> 8, (fg if on else bg) & 0xFF]
            x0 = x + i * 6 * scale
            self.window(x0, y, x0 + 6 * scale - 1, y + 8 * scale - 1)
            self.cmd(0x2C, *px)


@pytest.fixture
def lcd():
    ctx = Context.standalone("tft")
    dev = ILI9341(ctx)
    bus = Bus(dev)
    bus.cmd(0x01)
    bus.cmd(0x11)
    ctx.clock.run_for(120 * PS_PER_MS)
    bus.cmd(0x3A, 0x55)
    bus.cmd(0x36, 0x08)                       # BGR panel, portrait
    bus.cmd(0x29)
    return ctx, dev, bus


def test_registered_and_identifies_itself():
    assert lookup("metersim.ILI9341") is ILI9341
    bus = Bus(ILI9341(Context.standalone()))
    assert bus.cmd(0xD3, 0, 0, 0, 0)[1:] == [0x00, 0x93, 0x41]
    assert bus.cmd(0x0C, 0, 0)[1] == 0x66          # 18 bit/pixel after reset


def test_blank_until_sleep_out_and_display_on():
    ctx = Context.standalone()
    dev = ILI9341(ctx)
    bus = Bus(dev)
    bus.cmd(0x3A, 0x55)
    bus.fill(0, 0, 9, 9, RED)
    assert (dev.render() == 255).all()               # asleep, display off: blank white
    bus.cmd(0x11)
    ctx.clock.run_for(5 * PS_PER_MS)
    bus.cmd(0x29)
    assert tuple(dev.render()[0, 0]) == (0, 0, 255)  # BGR = 0: red and blue swap on this panel
    bus.cmd(0x36, 0x08)
    assert tuple(dev.render()[0, 0]) == (255, 0, 0)
    bus.cmd(0x28)
    assert (dev.render() == 255).all()


def test_window_addressing_wraps_inside_the_window(lcd):
    _, dev, bus = lcd
    bus.window(10, 20, 12, 21)                       # 3 x 2 window
    colours = [RED, GREEN, BLUE, WHITE, RED, GREEN, BLUE]   # 7 pixels: the 7th wraps to (10, 20)
    bus.cmd(0x2C, *[b for c in colours for b in (c >> 8, c & 0xFF)])
    assert dev.frame[20, 10:13].tolist() == [BLUE, GREEN, BLUE]
    assert dev.frame[21, 10:13].tolist() == [WHITE, RED, GREEN]
    assert dev.frame[20, 13] == 0 and dev.frame[22, 10] == 0


def test_18_bit_pixels_are_kept_as_rgb565(lcd):
    _, dev, bus = lcd
    bus.cmd(0x3A, 0x66)
    bus.window(0, 0, 1, 0)
    bus.cmd(0x2C, 0xFC, 0x00, 0x00, 0x00, 0xFC, 0x84)
    assert dev.frame[0, 0:2].tolist() == [RED, (0x3F << 5) | 0x10]


def test_madctl_mirrors_and_exchanges(lcd):
    _, dev, bus = lcd
    bus.cmd(0x36, 0x08 | 0x40)                       # MX
    bus.fill(0, 0, 0, 0, RED)
    assert dev.frame[0, 239] == RED
    bus.cmd(0x36, 0x08 | 0x80)                       # MY
    bus.fill(0, 0, 0, 0, GREEN)
    assert dev.frame[319, 0] == GREEN
    bus.cmd(0x36, 0x08 | 0x20)                       # MV: landscape 320 x 240
    bus.fill(300, 5, 300, 5, BLUE)
    assert dev.frame[300, 5] == BLUE


def test_text_drawn_like_the_firmware_reads_back(lcd, tmp_path):
    _, dev, bus = lcd
    bus.fill(0, 0, 239, 319, BLACK)
    bus.text(0, 0, "Room 07  12.34 kWh")
    bus.text(6 * 2, 8 * 3, "Balance: -0.50 Yuan", fg=BLACK, bg=GREEN)   # inverted colours
    bus.text(0, 16 * 4, "PAY", fg=RED, scale=2)
    lines = dev.text_lines()
    assert lines[0] == "Room 07  12.34 kWh"
    assert lines[3] == "  Balance: -0.50 Yuan"
    assert dev.text_lines(scale=2)[4] == "PAY"
    assert "PAY" not in dev.text()                   # big text is not read as small glyphs
    assert dev.find_text("12.34 kWh")
    bus.fill(0, 300, 5, 307, RED)                    # a graphic in a cell: no character
    bus.fill(2, 302, 3, 303, BLUE)
    assert dev.text_lines()[300 // 8] == "?"
    png = tmp_path / "screen.png"
    dev.save_png(png)
    from PIL import Image
    img = Image.open(png)
    assert img.size == (480, 640)
    assert img.getpixel((0, 0)) == (255, 255, 255)   # top-left pixel of the 'R' stroke
    assert img.getpixel((10, 0)) == (0, 0, 0)


def test_every_printable_character_round_trips():
    ctx = Context.standalone()
    dev = ILI9341(ctx)
    bus = Bus(dev)
    bus.cmd(0x3A, 0x55)
    chars = "".join(chr(c) for c in range(0x20, 0x7F))
    for i in range(0, len(chars), 40):
        bus.text(0, (i // 40) * 8, chars[i:i + 40])
    assert "".join(line.ljust(40) for line in dev.text_lines()[:3]).rstrip() == chars.rstrip()


def test_firmware_font_header_is_generated_from_the_same_table():
    header = (REPO / "firmware" / "drivers" / "font5x7.h").read_text()
    assert header == c_header(), "regenerate: python -m metersim.peripherals.font5x7 > firmware/drivers/font5x7.h"


@pytest.mark.parametrize("madctl", [0x08, 0x48, 0x88, 0x28, 0xE8])
def test_pixel_block_from_a_dma_stream_draws_what_byte_by_byte_writes_draw(madctl):
    lcds = []
    for block in (False, True):
        rng = np.random.default_rng(madctl)
        lcd = ILI9341(Context.standalone())
        bus = Bus(lcd)
        bus.cmd(0x11)
        bus.cmd(0x3A, 0x55)
        bus.cmd(0x36, madctl)
        for x0, y0, x1, y1, n in [(10, 20, 29, 35, 700), (230, 300, 250, 330, 333), (0, 0, 3, 2, 51)]:
            data = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
            bus.window(x0, y0, x1, y1)
            lcd.on_gpio(0, False)
            lcd.on_gpio(1, False)
            lcd.transmit(0x2C)
            lcd.on_gpio(1, True)
            if block:                              # odd splits: a pixel's bytes across calls
                lcd.transmit_block(data[:101])
                lcd.transmit_block(data[101:])
            else:
                for b in data:
                    lcd.transmit(b)
            lcd.on_gpio(0, True)
        lcds.append(lcd)
    assert np.array_equal(lcds[0].frame, lcds[1].frame)
    assert lcds[0].frame.any()
