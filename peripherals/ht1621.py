"""Holtek HT1621 segment LCD driver (32 segments x 4 commons, 3-wire serial), with the meter's
LCD glass as a segment map, rendered to text and PNG.

Followed (HT1621 data sheet, rev. 2.x, "Serial interface", "Command summary", "Display memory"):
- Pins: GPIO input 0 = /CS, 1 = /WR, 2 = DATA (all from the MCU). /CS low starts a transfer,
  /CS high ends it and resets the serial interface; DATA is latched on the rising edge of /WR.
- A transfer starts with a 3-bit mode ID, MSB first: 100 command, 101 write (and
  read-modify-write), 110 read.
- Command mode: 9-bit commands (C8..C0, MSB first; C0 is "don't care"), any number back to back
  under one /CS. SYS DIS / SYS EN (0000-0000x / 0000-0001x) stop / start the oscillator,
  LCD OFF / LCD ON (0000-0010x / 0000-0011x) the bias generator; BIAS (0010-abxcx: c = 0 1/2
  bias, 1 1/3 bias; ab = 00 two, 01 three, 10 four commons); clock source, timer, WDT, tone,
  IRQ, time-base and TEST/NORMAL commands are accepted and stored (no output modelled).
- Write mode: a 6-bit RAM address A5..A0 (MSB first), then 4-bit nibbles D0..D3 (LSB first,
  D0 = COM0); after every nibble the address increments (successive write), 31 wraps to 0.
- Display RAM: 32 x 4 bits, content undefined at power-on (here: seeded random), not cleared
  by SYS DIS; the glass shows it only with the oscillator on (SYS EN) and the bias on (LCD ON),
  and only the commons selected by BIAS (all four after the 4-common BIAS command).

The glass (`GLASS`, docs/meter_lcd.md): eight 7-segment digits with a decimal point after each,
two colons (after digits 3 and 5, for the time), and the annunciators of a single-phase meter.
The map (name -> (RAM address, COM)) is data: digit d uses addresses 2d (COM0..3 = a, b, c, d)
and 2d+1 (COM0..3 = e, f, g, DP after the digit); annunciator i sits at address 16 + i // 4,
COM i % 4 (addresses 16..21), the colons at address 22. `text()` gives e.g.
"  1234.56 kWh T1" or "  10:00:05 TIME NOW"; `png()` draws the glass with Pillow.

Not modelled: read mode and read-modify-write data out (the RD pin), the tone output, the
IRQ/WDT/time-base outputs, frame frequency and contrast, the voltage levels of the bias.
"""

from __future__ import annotations

import logging
from typing import Callable

from metersim._errors import SetupError
from metersim.peripherals.base import Context, History
from metersim.peripherals.registry import model

RAM_NIBBLES = 32

# The meter's glass: segment name -> (RAM address, COM).
SEGMENTS_PER_DIGIT = "abcdefg"
DIGITS = 8


def _meter_glass() -> dict[str, tuple[int, int]]:
    seg: dict[str, tuple[int, int]] = {}
    for d in range(DIGITS):
        for i, s in enumerate("abcd"):
            seg[f"{d}{s}"] = (2 * d, i)
        for i, s in enumerate("efg"):
            seg[f"{d}{s}"] = (2 * d + 1, i)
        seg[f"{d}dp"] = (2 * d + 1, 3)
    for i, name in enumerate(ANNUNCIATORS):
        seg[name] = (16 + i // 4, i % 4)
    for i, d in enumerate(COLON_AFTER):
        seg[f"col{d}"] = (22, i)
    return seg


# Annunciator i at (16 + i // 4, COM i % 4); the firmware's enum meter_lcd_icon in this order.
# T1..T4 name the rate of the energy shown, NOW marks present values, BUY asks for a top-up.
ANNUNCIATORS = ["kWh", "kW", "V", "A", "T1", "T2", "T3", "T4",
                "RELAY-OPEN", "ALARM", "COVER", "BATTERY-LOW", "IR", "RS485", "CARD", "PRICE",
                "TOTAL", "REMAIN", "YUAN", "DATE", "TIME", "NOW", "BUY", "OVERDRAFT"]
COLON_AFTER = (3, 5)            # colons between digits 3|4 and 5|6: hh:mm:ss on digits 2..7
GLASS = _meter_glass()

# Seven-segment patterns (bits a..g = 0..6) of the characters the text rendering recognises.
_FONT = {
    "0": "abcdef", "1": "bc", "2": "abdeg", "3": "abcdg", "4": "bcfg", "5": "acdfg",
    "6": "acdefg", "7": "abc", "8": "abcdefg", "9": "abcdfg", "A": "abcefg", "b": "cdefg",
    "C": "adef", "d": "bcdeg", "E": "adefg", "F": "aefg", "-": "g", " ": "", "H": "bcefg",
    "L": "def", "P": "abefg", "o": "cdeg", "n": "ceg", "r": "eg", "t": "defg", "U": "bcdef",
}
_PATTERN_TO_CHAR = {sum(1 << "abcdefg".index(s) for s in segs): ch for ch, segs in _FONT.items()}

# Commands (C8..C1, C0 dropped): exact codes and masked families.
_COMMANDS = {
    0x00: "SYS DIS", 0x01: "SYS EN", 0x02: "LCD OFF", 0x03: "LCD ON", 0x04: "TIMER DIS",
    0x05: "WDT DIS", 0x06: "TIMER EN", 0x07: "WDT EN", 0x08: "TONE OFF", 0x09: "TONE ON",
    0xE0: "TEST", 0xE3: "NORMAL",
}


def _command_name(c: int) -> str:
    """Name of the 8-bit command C8..C1 (data sheet command summary)."""
    if c in _COMMANDS:
        return _COMMANDS[c]
    if c & 0xFC == 0x0C:
        return "CLR WDT" if c & 0x02 else "CLR TIMER"
    if c & 0xF0 == 0x10:
        return {1: "XTAL 32K", 2: "RC 256K", 3: "EXT 256K"}.get((c >> 2) & 3, "?")
    if c & 0xF0 == 0x20:
        return "BIAS"
    if c & 0xE0 == 0x40:
        return "TONE 2K" if c & 0x20 else "TONE 4K"
    if c & 0xE0 == 0x80:
        return "IRQ EN" if c & 0x08 else "IRQ DIS"
    if c & 0xE0 == 0xA0:
        return "TIME BASE"
    return "?"


@model("metersim.HT1621")
class HT1621:
    """The driver chip plus its glass. GPIO inputs: 0 = /CS, 1 = /WR, 2 = DATA."""

    def __init__(self, ctx: Context, glass: str = "meter"):
        if glass != "meter":
            raise SetupError(f"{ctx.name}: unknown LCD glass {glass!r} (known: 'meter')")
        self.ctx = ctx
        self.segments = dict(GLASS)
        rng = ctx.rng("ram")
        self.ram = [rng.getrandbits(4) for _ in range(RAM_NIBBLES)]   # undefined at power-on
        self.commands: History = History()     # (time_ps, name) of every command
        self._fns: list[Callable[[], None]] = []
        self._cs_n = self._wr_n = True
        self._data = False
        self.power_on()

    # -- state -----------------------------------------------------------------------------
    def power_on(self) -> None:
        """Power-on state (data sheet: SYS DIS, LCD OFF, 1/3 bias 4 commons after RESET)."""
        self.sys_en = False
        self.lcd_on = False
        self.bias = "1/3"
        self.commons = 4
        self.other: dict[str, str] = {}
        self._reset_serial()

    def power_off(self) -> None:
        """The glass goes blank; the RAM content is lost."""
        self.sys_en = self.lcd_on = False
        rng = self.ctx.rng(f"ram@{self.ctx.clock.now_ps}")
        self.ram = [rng.getrandbits(4) for _ in range(RAM_NIBBLES)]
        self._changed()

    def reset(self) -> None:
        """An MCU reset does not reach the LCD driver (it has no reset pin)."""

    def _reset_serial(self) -> None:
        self._bits = 0
        self._nbits = 0
        self._mode: str | None = None
        self._addr: int | None = None
        self._written = False

    def on_change(self, fn: Callable[[], None]) -> None:
        """`fn()` after every change of what the glass shows: a RAM write transfer once /CS
        ended it (the glass shows each nibble as it arrives, the callback sees whole
        transfers), a command (LCD ON/OFF ...)."""
        self._fns.append(fn)

    def _changed(self) -> None:
        for fn in list(self._fns):
            fn()

    # -- pins ------------------------------------------------------------------------------
    def on_gpio(self, pin: int, level: bool) -> None:
        level = bool(level)
        if pin == 0:
            if level and not self._cs_n and self._nbits and self._mode is None:
                self.ctx.log(logging.WARNING, "/CS raised after %d bits, before a mode ID",
                             self._nbits)
            self._cs_n = level
            if level and self._written:
                self._changed()             # once per write transfer, when /CS ends it
            self._reset_serial()
        elif pin == 1:
            rising = level and not self._wr_n
            self._wr_n = level
            if rising and not self._cs_n:
                self._clock_in(int(self._data))
        elif pin == 2:
            self._data = level
        else:
            self.ctx.log_once(("pin", pin), logging.WARNING,
                              "no GPIO input %d (0 = /CS, 1 = /WR, 2 = DATA)", pin)

    def _clock_in(self, bit: int) -> None:
        self._bits = (self._bits << 1) | bit
        self._nbits += 1
        if self._mode is None:
            if self._nbits == 3:
                self._mode = {0b100: "command", 0b101: "write", 0b110: "read"}.get(self._bits, "?")
                if self._mode in ("read", "?"):
                    self.ctx.log_once(("mode", self._bits), logging.WARNING,
                                      "mode ID %s not modelled (only 100 command, 101 write): "
                                      "bits ignored until /CS rises", format(self._bits, "03b"))
                self._bits = self._nbits = 0
            return
        if self._mode == "command" and self._nbits == 9:
            self._command(self._bits >> 1)
            self._bits = self._nbits = 0
        elif self._mode == "write":
            if self._addr is None and self._nbits == 6:
                self._addr = self._bits & 0x1F
                if self._bits & 0x20:
                    self.ctx.log_once("a5", logging.WARNING, "address bit A5 set: the RAM has 32 "
                                      "nibbles, A5 ignored")
                self._bits = self._nbits = 0
            elif self._addr is not None and self._nbits == 4:
                b = self._bits     # D0 was sent first: it is the MSB of what was shifted in
                nibble = ((b >> 3) & 1) | ((b >> 1) & 2) | ((b << 1) & 4) | ((b << 3) & 8)
                self.ram[self._addr] = nibble
                self._addr = (self._addr + 1) % RAM_NIBBLES
                self._bits = self._nbits = 0
                self._written = True

    def _command(self, c: int) -> None:
        name = _command_name(c)
        self.commands.append((self.ctx.clock.now_ps, name))
        if name == "SYS DIS":
            self.sys_en = self.lcd_on = False   # data sheet: SYS DIS also turns the bias off
        elif name == "SYS EN":
            self.sys_en = True
        elif name == "LCD OFF":
            self.lcd_on = False
        elif name == "LCD ON":
            self.lcd_on = True
        elif name == "BIAS":
            ab = (c >> 2) & 3
            if ab == 3:
                self.ctx.log(logging.WARNING, "BIAS command with ab = 11: reserved, ignored")
                return
            self.commons = (2, 3, 4)[ab]
            self.bias = "1/3" if c & 1 else "1/2"
        elif name == "?":
            self.ctx.log_once(("cmd", c), logging.WARNING, "unknown command %s",
                              format(c << 1, "09b"))
            return
        else:
            self.other[name.split()[0]] = name
        self._changed()

    # -- what the glass shows --------------------------------------------------------------
    @property
    def displaying(self) -> bool:
        return self.sys_en and self.lcd_on

    def segment_on(self, name: str) -> bool:
        """Whether segment `name` (e.g. '3a', '5dp', 'kWh') is dark on the glass now."""
        try:
            addr, com = self.segments[name]
        except KeyError:
            raise SetupError(f"{self.ctx.name}: no segment {name!r} on the glass") from None
        return self.displaying and com < self.commons and bool(self.ram[addr] >> com & 1)

    def lit_segments(self) -> list[str]:
        return [n for n in self.segments if self.segment_on(n)]

    def digit_pattern(self, d: int) -> int:
        return sum(1 << i for i, s in enumerate(SEGMENTS_PER_DIGIT) if self.segment_on(f"{d}{s}"))

    def digits_text(self) -> str:
        """The digit row as characters ('?' for a pattern that is no character), with '.' and
        ':' where a decimal point or colon is lit."""
        out = []
        for d in range(DIGITS):
            out.append(_PATTERN_TO_CHAR.get(self.digit_pattern(d), "?"))
            if self.segment_on(f"{d}dp"):
                out.append(".")
            if d in COLON_AFTER and self.segment_on(f"col{d}"):
                out.append(":")
        return "".join(out)

    def text(self) -> str:
        """One line: the digits, then the lit annunciators; '' while the display is off."""
        if not self.displaying:
            return ""
        lit = [a for a in ANNUNCIATORS if self.segment_on(a)]
        return " ".join([self.digits_text()] + lit)

    def png(self, path=None, scale: int = 4) -> bytes:
        """The glass as a PNG image: dark segments on a light background, the unlit ones faint,
        the annunciators as their labels; written to `path` when given. Needs Pillow."""
        import io

        from PIL import Image, ImageDraw, ImageFont

        w, h = 16 + DIGITS * 22, 74
        img = Image.new("RGB", (w * scale, h * scale), (200, 212, 190))
        draw = ImageDraw.Draw(img)
        on, off = (20, 24, 20), (186, 198, 176)

        def box(x0, y0, x1, y1, lit):
            draw.rectangle([x0 * scale, y0 * scale, x1 * scale - 1, y1 * scale - 1],
                           fill=on if lit else off)

        for d in range(DIGITS):
            x, y = 8 + d * 22, 6
            seg = {s: self.segment_on(f"{d}{s}") for s in SEGMENTS_PER_DIGIT}
            box(x + 2, y, x + 12, y + 2, seg["a"])
            box(x + 12, y + 2, x + 14, y + 14, seg["b"])
            box(x + 12, y + 16, x + 14, y + 28, seg["c"])
            box(x + 2, y + 28, x + 12, y + 30, seg["d"])
            box(x, y + 16, x + 2, y + 28, seg["e"])
            box(x, y + 2, x + 2, y + 14, seg["f"])
            box(x + 2, y + 14, x + 12, y + 16, seg["g"])
            box(x + 16, y + 28, x + 18, y + 30, self.segment_on(f"{d}dp"))
            if d in COLON_AFTER:
                lit = self.segment_on(f"col{d}")
                box(x + 16, y + 8, x + 18, y + 10, lit)
                box(x + 16, y + 20, x + 18, y + 22, lit)
        font = ImageFont.load_default(size=4.5 * scale)
        per_row = 6
        for i, a in enumerate(ANNUNCIATORS):
            x, y = 8 + (i % per_row) * (w - 16) / per_row, 40 + (i // per_row) * 8.5
            draw.text((x * scale, y * scale), a, font=font,
                      fill=on if self.segment_on(a) else off)
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        data = buf.getvalue()
        if path is not None:
            with open(path, "wb") as f:
                f.write(data)
        return data
