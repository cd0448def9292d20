"""The basic app's display (firmware/apps/basic/display.c, docs/meter_lcd.md) on the meter's
segment LCD, read back as text from the HT1621 model's RAM: the rotating list over a full
cycle, each screen the value a DL/T645 read of the same item gives; the page key stepping the
key list; the tracking display of a value read from outside; and the display parameters."""

from decimal import Decimal
from pathlib import Path

import pytest

from metersim._units import PS_PER_S
from metersim.dlt645 import Dlt645Abnormal, bcd_decode, bcd_encode
from metersim.peripherals.ht1621 import DIGITS
from tests.conftest import REPO

DEFAULT_AUTO = [0x00010000, 0x00010100, 0x00010200, 0x00010300, 0x00010400, 0x00900200,
                0x04000101, 0x04000102, 0x02010100, 0x02020100, 0x02030000]
DEFAULT_KEY = [0x00010000, 0x00010100, 0x00010200, 0x00010300, 0x00010400, 0x00900200,
               0x02010100, 0x02020100, 0x02030000, 0x04000101, 0x04000102]
# The annunciator that tells each screen apart, and the item it stands for
MARK = {"TOTAL": 0x00010000, "T1": 0x00010100, "T2": 0x00010200, "T3": 0x00010300,
        "T4": 0x00010400, "REMAIN": 0x00900200, "DATE": 0x04000101, "TIME": 0x04000102,
        "V": 0x02010100, "A": 0x02020100, "kW": 0x02030000}
STATUS_FLAGS = {4: "RELAY-OPEN", 7: "ALARM"}       # status word 3 bits the glass shows


def item_of(text: str) -> int | None:
    marks = [MARK[w] for w in text.split()[1:] if w in MARK]
    return marks[0] if len(marks) == 1 else None


def fixed(value: Decimal, decimals: int) -> str:
    """8 digits with the point, leading zeros blank, a '-' on the first digit when negative."""
    body = f"{abs(value):{DIGITS + 1}.{decimals}f}"
    return ("-" + body[1:]) if value < 0 else body


def expected_text(m, di: int) -> str:
    """The screen of item `di` from DL/T645 reads of it and of status word 3."""
    raw = m.master.read(di)
    if di == 0x04000101:                             # WW DD MM YY
        digits, icons = f"20{raw[3]:02x}.{raw[2]:02x}.{raw[1]:02x}", ["DATE"]
    elif di == 0x04000102:                           # ss mm hh
        digits, icons = f"  {raw[2]:02x}:{raw[1]:02x}:{raw[0]:02x}", ["TIME"]
    elif di == 0x00900200:
        digits, icons = fixed(bcd_decode(raw, 2), 2), ["REMAIN", "YUAN"]
    else:
        rr = di >> 8 & 0xFF
        unit_icon, decimals = {0x02010100: ("V", 1), 0x02020100: ("A", 3),
                               0x02030000: ("kW", 4)}.get(di, ("kWh", 2))
        signed = di in (0x02020100, 0x02030000)
        digits = fixed(bcd_decode(raw, decimals, signed), decimals)
        icons = [unit_icon] if unit_icon != "kWh" else ["kWh", f"T{rr}" if rr else "TOTAL"]
    w = int.from_bytes(m.master.read(0x04000503), "little")
    icons += [name for bit, name in STATUS_FLAGS.items() if w >> bit & 1] + ["NOW"]
    order = ["kWh", "kW", "V", "A", "T1", "T2", "T3", "T4", "RELAY-OPEN", "ALARM", "TOTAL",
             "REMAIN", "YUAN", "DATE", "TIME", "NOW"]
    return " ".join([digits] + sorted(icons, key=order.index))


def watch(lcd, emu):
    """Every text the glass shows, with the virtual time it appeared."""
    seen = [(emu.now_ps, lcd.text())]

    def changed():
        t = lcd.text()
        if t != seen[-1][1]:
            seen.append((emu.now_ps, t))
    lcd.on_change(changed)
    return seen


def screens(seen, since_ps):
    """(start_ps, item, [texts]) per screen shown from since_ps on."""
    out = []
    for t, text in seen:
        if t < since_ps:
            continue
        item = item_of(text)
        if out and out[-1][1] == item:
            out[-1][2].append(text)
        else:
            out.append((t, item, [text]))
    return out


def test_rotating_list_over_a_full_cycle_shows_what_dlt645_reads(meter):
    m = meter(voltage_V=230.0, current_A=40.0, power_W=9000.0)
    lcd = m.board["lcd"]
    m.emu.run_for("20s")                             # the rate in force gets 0.05 kWh
    m.master.write(0x04A20030, bcd_encode("100.00", 4, 2) + bcd_encode("1", 4, 0))  # top-up
    m.unit.set_load(230.0, 0.5, 100.0)               # 0.01 kWh per 6 min: steady values
    m.master.write(0x04000302, bytes([0x02]))        # 2 s per screen
    seen = watch(lcd, m.emu)
    m.emu.run_for("500ms")
    assert lcd.text().split()[0] == "04000302"        # tracking: the identifier written
    m.emu.run_for("10s")                              # 10 s of tracking
    start = m.emu.now_ps
    m.emu.run_for("26s")                              # 11 screens of 2 s, and more
    shown = screens(seen, start)[1:-1]                # the first and last may be cut short
    items = [item for _, item, _ in shown]
    first = DEFAULT_AUTO.index(items[0])
    assert items == (DEFAULT_AUTO * 2)[first:first + len(items)] and len(set(items)) == 11
    steps = [b - a for (a, _, _), (b, _, _) in zip(shown, shown[1:])]
    assert all(abs(s - 2 * PS_PER_S) < PS_PER_S * 3 // 10 for s in steps), steps  # 2 s each

    clock = m.master.read(0x04000102)                 # ss mm hh, now
    clock_s = int(f"{clock[2]:x}") * 3600 + int(f"{clock[1]:x}") * 60 + int(f"{clock[0]:x}")
    clock_ps = m.emu.now_ps
    for t, item, texts in shown:
        if item == 0x04000102:                        # the clock ticks: one text a second
            assert len(texts) == 2
            assert expected_text(m, item)[10:] == texts[-1][10:]
            secs = [int(x[2:4]) * 3600 + int(x[5:7]) * 60 + int(x[8:10]) for x in texts]
            assert secs[1] - secs[0] == 1
            ago_s = (clock_ps - t) // PS_PER_S        # the meter's clock when it was shown
            assert clock_s - ago_s - 1 <= secs[0] <= clock_s - ago_s, (texts, clock, ago_s)
        else:
            assert len(set(texts)) == 1, texts
            assert texts[0] == expected_text(m, item)
    money = [t for _, item, t in shown if item == 0x00900200][0][0]
    assert "RELAY-OPEN" not in money and Decimal(money.split()[0]) > Decimal("99.90")
    energy = {item: Decimal(t[0].split()[0]) for _, item, t in shown if item >> 16 == 1}
    assert energy[0x00010000] >= Decimal("1234.61")   # 1234.56 and 20 s at 9 kW
    assert sum(energy[0x00010000 | r << 8] for r in range(1, 5)) >= Decimal("0.05")


def test_page_key_steps_the_key_list_and_a_read_is_tracked(meter):
    m = meter()
    lcd = m.board["lcd"]
    page = m.board["keyPage"]
    for n in range(1, len(DEFAULT_KEY) + 1):          # the key list as configured
        assert m.master.read(0x04040200 + n) == DEFAULT_KEY[n - 1].to_bytes(4, "little") + b"\0"
    assert m.master.read(0x04000305) == bytes([0x11]) and m.master.read(0x04000301) == bytes([0x11])
    m.emu.run_for("300ms")
    assert lcd.text().split()[0] == "04000301"        # tracking: the identifier last read
    for n in range(4):
        page.press_and_release()
        m.emu.run_for("400ms")                        # a key scan every 250 ms
        assert item_of(lcd.text()) == DEFAULT_KEY[n], (n, lcd.text())
    m.emu.run_for("5s")                               # no rotation while the key list shows
    assert item_of(lcd.text()) == DEFAULT_KEY[3]

    value = bcd_decode(m.master.read(0x00010200), 2)  # read from outside: tracked
    m.emu.run_for("300ms")
    assert lcd.text().startswith(f"{value:9.2f} kWh T2")
    m.emu.run_for("9s")
    assert item_of(lcd.text()) == 0x00010200
    m.emu.run_for("1s")                               # 10 s on: back to the rotating list
    assert item_of(lcd.text()) in DEFAULT_AUTO

    page.press_and_release()
    m.emu.run_for("400ms")
    assert item_of(lcd.text()) == DEFAULT_KEY[0]      # a new press starts the list again
    m.emu.run_for("29s")
    assert item_of(lcd.text()) == DEFAULT_KEY[0]
    m.emu.run_for("1s")                               # 30 s without a press
    rotating = item_of(lcd.text())
    m.emu.run_for("5s")
    assert rotating in DEFAULT_AUTO and item_of(lcd.text()) != rotating


def test_display_lists_are_written_kept_and_checked(meter):
    m = meter()
    m.master.write(0x04040101, (0x02030000).to_bytes(4, "little") + b"\0")   # power first
    m.master.write(0x04000301, bytes([0x01]))         # and only it
    m.con.expect("display: parameter 04000301 written", timeout="1s")
    assert m.master.read(0x04040101) == (0x02030000).to_bytes(4, "little") + b"\0"
    for bad in [(0x04040102, (0x04000106).to_bytes(4, "little") + b"\0"),   # no screen for it
                (0x04040102, (0x00010000).to_bytes(4, "little") + b"\1"),   # screen 1: none
                (0x04000301, bytes([0x13])),                                 # 13 > 12 screens
                (0x04000302, bytes([0x00]))]:                                # 0 s
        with pytest.raises(Dlt645Abnormal):
            m.master.write(*bad)
    assert m.master.read(0x04040102) == (0x00010100).to_bytes(4, "little") + b"\0"
    m.emu.run_for("11s")                              # past the tracking of the last write
    for _ in range(3):
        m.emu.run_for("5s")
        assert item_of(m.board["lcd"].text()) == 0x02030000   # a list of one screen
    m.board.reset()                                   # kept in EEPROM across a reset
    m.con.expect("display: 1 screens rotating, 5 s each, 11 on the page key", timeout="3s")


def test_docs_picture_of_the_lcd_is_a_png_of_the_glass():
    """docs/img/meter_lcd_demo.png is written by `make demo` (metersim demo, the meter part)."""
    from PIL import Image

    path = Path(REPO) / "docs/img/meter_lcd_demo.png"
    img = Image.open(path)
    assert img.format == "PNG" and img.size == ((16 + DIGITS * 22) * 4, 74 * 4)
    assert (20, 24, 20) in {c for _, c in img.getcolors(1 << 16)}   # lit segments in it
