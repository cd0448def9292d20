"""HT1621 segment LCD driver: the 3-wire protocol, commands, RAM writes and the meter glass."""

import pytest

from metersim._errors import SetupError
from metersim.peripherals.base import Context
from metersim.peripherals.ht1621 import GLASS, HT1621
from metersim.peripherals.registry import lookup

CS, WR, DATA = 0, 1, 2
FONT = {"0": 0x3F, "1": 0x06, "2": 0x5B, "3": 0x4F, "4": 0x66, "5": 0x6D, "6": 0x7D,
        "7": 0x07, "8": 0x7F, "9": 0x6F, " ": 0x00}


def make():
    lcd = HT1621(Context.standalone("lcd"))
    lcd.on_gpio(CS, True)
    lcd.on_gpio(WR, True)
    return lcd


def send(lcd, bits, raise_cs=True):
    lcd.on_gpio(CS, False)
    for b in bits:
        lcd.on_gpio(WR, False)
        lcd.on_gpio(DATA, b == "1")
        lcd.on_gpio(WR, True)          # latched on the rising edge
    if raise_cs:
        lcd.on_gpio(CS, True)


def cmd(code8):
    return format(code8, "08b") + "0"


def write_bits(addr, nibbles):
    bits = "101" + format(addr, "06b")
    for n in nibbles:
        bits += "".join(str(n >> i & 1) for i in range(4))     # D0 first
    return bits


def digit_nibbles(ch, dp=False):
    p = FONT[ch]
    return [p & 0xF, (p >> 4 & 0x7) | (8 if dp else 0)]


def show(lcd, text, annunciators=()):
    nib = []
    for ch in text:
        nib += digit_nibbles(ch)
    send(lcd, write_bits(0, nib))
    ann = [0] * 7                                     # addresses 16..22
    for a in annunciators:
        addr, com = GLASS[a]
        ann[addr - 16] |= 1 << com
    send(lcd, write_bits(16, ann))


def test_blank_until_sys_en_and_lcd_on():
    lcd = make()
    show(lcd, "12345678")
    assert lcd.text() == ""
    send(lcd, "100" + cmd(0x01))                      # SYS EN only
    assert lcd.text() == "" and not lcd.displaying
    send(lcd, "100" + cmd(0x29) + cmd(0x03))          # BIAS 1/3 4 COM, LCD ON: chained
    assert lcd.displaying and lcd.commons == 4 and lcd.bias == "1/3"
    assert lcd.text() == "12345678"
    assert [n for _, n in lcd.commands] == ["SYS EN", "BIAS", "LCD ON"]


def test_successive_write_with_decimal_point_and_annunciators():
    lcd = make()
    send(lcd, "100" + cmd(0x01) + cmd(0x29) + cmd(0x03))
    nib = []
    for i, ch in enumerate("  123456"):
        nib += digit_nibbles(ch, dp=(i == 5))
    send(lcd, write_bits(0, nib))
    send(lcd, write_bits(16, [1, 0, 1, 0, 0, 0, 0]))  # kWh, RELAY-OPEN
    assert lcd.text() == "  1234.56 kWh RELAY-OPEN"
    assert lcd.segment_on("5dp") and not lcd.segment_on("4dp")


def test_colons_sit_in_the_digit_row_and_the_upper_annunciators():
    lcd = make()
    send(lcd, "100" + cmd(0x01) + cmd(0x29) + cmd(0x03))
    show(lcd, "  100005", ["TIME", "NOW", "ALARM"])
    assert lcd.text() == "  100005 ALARM TIME NOW"
    send(lcd, write_bits(22, [0b11]))                 # both colons (address 22, COM0 and 1)
    assert lcd.text() == "  10:00:05 ALARM TIME NOW"
    assert GLASS["TIME"] == (21, 0) and GLASS["col3"] == (22, 0) and GLASS["col5"] == (22, 1)


def test_single_nibble_write_and_address_wrap():
    lcd = make()
    send(lcd, "100" + cmd(0x01) + cmd(0x03))
    show(lcd, "00000000")
    send(lcd, write_bits(31, [0xF, 0x6, 0x0]))        # address 31 then wraps to 0, 1
    assert lcd.ram[31] == 0xF and lcd.ram[0] == 0x6
    assert lcd.digits_text()[0] == "1"


def test_two_common_bias_hides_com2_and_com3():
    lcd = make()
    send(lcd, "100" + cmd(0x01) + cmd(0x20) + cmd(0x03))   # BIAS 1/2, 2 commons
    show(lcd, "88888888")
    assert lcd.commons == 2
    assert lcd.segment_on("0a") and lcd.segment_on("0b") and not lcd.segment_on("0c")


def test_cs_high_aborts_a_transfer_and_sys_dis_blanks():
    lcd = make()
    send(lcd, "100" + cmd(0x01) + cmd(0x03))
    show(lcd, "11111111")
    send(lcd, write_bits(0, [0xF])[:-2])              # cut short by /CS: nothing written
    assert lcd.digits_text() == "11111111"
    send(lcd, "100" + cmd(0x00))                      # SYS DIS
    assert lcd.text() == "" and not lcd.lcd_on


def test_unknown_pattern_reads_as_question_mark_and_bad_segment_name():
    lcd = make()
    send(lcd, "100" + cmd(0x01) + cmd(0x03))
    show(lcd, "        ")
    send(lcd, write_bits(0, [0x9, 0x0]))              # a + d only
    assert lcd.digits_text()[0] == "?"
    with pytest.raises(SetupError, match="no segment"):
        lcd.segment_on("9z")


def test_png_shows_lit_segments_darker(tmp_path):
    from PIL import Image
    lcd = make()
    send(lcd, "100" + cmd(0x01) + cmd(0x03))
    show(lcd, "8       ")
    path = tmp_path / "lcd.png"
    lcd.png(path, scale=1)
    img = Image.open(path)
    assert img.size == (16 + 8 * 22, 74)
    assert img.getpixel((8 + 5, 6 + 1)) == (20, 24, 20)          # digit 0 segment a: lit
    assert img.getpixel((8 + 22 + 5, 6 + 1)) != (20, 24, 20)     # digit 1 segment a: dark off


def test_registered_and_ram_is_seeded():
    assert lookup("metersim.HT1621") is HT1621
    a = HT1621(Context.standalone("lcd", seed=3)).ram
    b = HT1621(Context.standalone("lcd", seed=3)).ram
    assert a == b
