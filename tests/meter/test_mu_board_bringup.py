"""The management-unit board with its bring-up firmware: what a developer bringing up the
board sees on the console, the LCD, the relay, the ESAM, across supply dips and power cuts."""

import re

import pytest

import metersim
from metersim._orchestration.power import power_cut, power_dip
from metersim.peripherals.stm32.pwr import PVD_F4

BOARD = "meter_management_unit"


@pytest.fixture
def boot(firmware):
    """A booted board: (emulation, machine, console tester, RS-485 reader), after 'bringup: done'."""
    def make(seed=1, before=None):
        emu = metersim.Emulation(seed=seed)
        m = metersim.create_machine(emu, metersim.find_platform(BOARD),
                                    elf=firmware("f413rg", "meter_mu_bringup"))
        reader = m["rs485Bus"].attach_host("reader", baud=2400, parity="E")
        if before is not None:
            before(m)
        con = metersim.capture_uart(m)
        con.expect("bringup: done", timeout="3s")
        return emu, m, con, reader
    return make


def test_every_device_reports_ok_and_the_chips_hold_what_was_written(boot):
    emu, m, con, reader = boot()
    text = con.text
    assert "eeprom: wrote and read back 16 bytes at 0x7f00: ok" in text
    assert "nor: jedec ef 40 17, 8388608 bytes" in text
    assert "nor: page program at 0x7ff000: ok" in text
    assert "rs485: sent 16 bytes at 2400 8E1 with DE: ok" in text
    assert "esam: atr 3b 68 00 00 4d 53 45 53 41 4d 30 31 (clock 5000000 Hz)" in text
    assert "relay: open, feedback open: ok" in text and "relay: close, feedback closed: ok" in text
    # the chips themselves, not just the firmware's word
    assert m["eeprom"].read_image(0x7F00, 16) == bytes(range(0xA0, 0xB0))
    assert m["nor"].read_image(0x7FF000, 4) == bytes([1, 8, 15, 22])
    # a DL/T645 reader on the RS-485 line got the frame at 2400 8E1, no errors, nothing dropped
    assert reader.read() == bytes.fromhex("FEFEFEFE68999999999999680800DF16")
    assert reader.errors == [] and m["rs485"].dropped_frames == 0


def test_esam_challenge_on_the_console_is_the_cards_and_depends_on_the_seed(boot):
    _, m, con, _ = boot(seed=5)
    line = con.find_line("esam: challenge").text
    card = m["esam"].challenges[0]
    assert line == "esam: challenge " + card.hex(" ") + " sw 9000"
    assert m["esam"].apdus[0][0] == bytes.fromhex("0084000008")
    _, m2, con2, _ = boot(seed=5)
    assert con2.text == con.text                                  # deterministic
    _, m3, _, _ = boot(seed=6)
    assert m3["esam"].challenges[0] != card


def test_esam_line_errors_are_repeated_by_both_sides(boot):
    def faulty_card(m):
        m["esam"].corrupt_next_tx(2)      # TS and T0 of the ATR go out with bad parity
        m["esam"].nack_next_rx(1)         # and the card rejects the first header byte
    _, m, con, _ = boot(before=faulty_card)
    assert "esam: atr 3b 68 00 00 4d 53 45 53 41 4d 30 31" in con.text
    card = m["esam"]
    assert f"esam: challenge {card.challenges[0].hex(' ')} sw 9000" in con.text
    assert "esam: characters repeated 1, parity errors 2" in con.text
    assert card.nacks_received == 2 and card.nacks_sent == 1


def test_a_dead_esam_is_reported_and_the_bringup_goes_on(boot):
    _, m, con, _ = boot(before=lambda m: m["esam"].power_off())
    assert "esam: FAIL no ATR (-110)" in con.text
    assert "relay: close, feedback closed: ok" in con.text


def test_lcd_shows_energy_then_pages_through_date_and_time_on_the_page_key(boot, tmp_path):
    emu, m, con, _ = boot()
    lcd = m["lcd"]
    assert lcd.text() == "   123.45 kWh"
    m["keyPage"].press_and_release()
    con.expect("key: page", timeout="1s")
    emu.run_for("150ms")                  # released again (held 100 ms)
    assert lcd.text() == "  26.12.06"
    m["keyPage"].press_and_release()
    con.expect("key: page", timeout="1s")
    emu.run_for("150ms")                  # released again (held 100 ms)
    assert re.fullmatch(r"10-00-0\d", lcd.text())
    m["keyProg"].press_and_release()
    con.expect("key: prog", timeout="1s")
    png = lcd.png(tmp_path / "lcd.png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and (tmp_path / "lcd.png").stat().st_size == len(png)


def test_relay_commands_follow_the_feedback_and_a_welded_contact_is_reported(boot):
    emu, m, con, _ = boot()
    relay = m["relay"]
    assert relay.closed
    con.write("o")
    con.expect("relay: open, feedback open: ok", timeout="1s")
    assert not relay.closed and m["lcd"].segment_on("RELAY-OPEN")
    con.write("c")
    con.expect("relay: close, feedback closed: ok", timeout="1s")
    relay.weld()
    con.write("o")
    con.expect("relay: open, feedback closed: FAULT", timeout="1s")
    assert relay.closed and relay.refused


def test_cover_switch_is_reported_and_shown(boot):
    emu, m, con, _ = boot()
    m["cover"].open_cover()
    con.expect("cover: opened", timeout="1s")
    emu.run_for("50ms")
    assert m["lcd"].segment_on("COVER")
    m["cover"].close_cover()
    con.expect("cover: closed", timeout="1s")
    emu.run_for("50ms")
    assert not m["lcd"].segment_on("COVER")


def test_ir_port_echoes_what_a_reader_sends_at_1200_8e1(boot):
    emu, m, con, _ = boot()
    ir = m["ir"]
    ir.send(bytes.fromhex("68AAAAAAAAAAAA681300DF16"))
    con.expect("ir: echoed 12 bytes", timeout="1s")
    emu.run_for("300ms")
    assert ir.read() == bytes.fromhex("68AAAAAAAAAAAA681300DF16") and ir.errors == []
    ir.in_view = False                    # the reader taken away: nothing reaches the port
    ir.send(b"\x68")
    con.expect_no("ir: echoed", timeout="200ms")


def test_metrology_link_answer_is_shown(boot):
    def responder(m):
        link = m["metrology"]
        got = bytearray()

        def on_byte(b):
            got.append(b)
            if got.endswith(b"PING\n"):
                link.send(b"PONG v1.0\n")
        link.on_receive(on_byte)

    _, _, con, _ = boot(before=responder)
    assert "metrology: reply PONG v1.0" in con.text
    _, _, con2, _ = boot()
    assert "metrology: no answer" in con2.text


def test_pvd_interrupt_on_a_supply_dip_below_the_threshold_only(boot):
    emu, m, con, _ = boot()
    rising, falling = PVD_F4[7]
    power_dip(m, low_V=falling + 0.05, duration="20ms")          # above the threshold
    con.expect_no("pvd:", timeout="100ms")
    power_dip(m, low_V=falling - 0.1, duration="20ms")
    con.expect("pvd: supply below threshold, power failures 1", timeout="100ms")


def test_rtc_keeps_time_across_a_power_cut_on_its_battery(boot):
    emu, m, con, _ = boot()
    assert "rtc: calendar lost, set to 2026-12-06 10:00:00, power failures 0" in con.text
    emu.run_for("2s")
    power_cut(m, holdup="20ms", off="30s")
    assert "pvd: supply below threshold, power failures 1" in con.text   # before it died
    line = con.expect("rtc: running on the battery", timeout="3s").line
    t = re.search(r"10:00:(\d\d), power failures 1", line)
    assert t and 32 <= int(t.group(1)) <= 36, line


def test_without_a_battery_the_calendar_is_lost_in_a_power_cut(boot):
    emu, m, con, _ = boot()
    m["rcc"].vbat = False
    emu.run_for("1s")
    power_cut(m, holdup="20ms", off="5s")
    con.expect("rtc: calendar lost, set to 2026-12-06 10:00:00, power failures 0", timeout="3s")


def test_platform_show_lists_the_boards_devices():
    from metersim._platform_show import show_platform
    report = show_platform(str(metersim.find_platform(BOARD)), [])
    for name, where in [("eeprom", "@ i2c1 0x50"), ("nor", "@ spi1"), ("rs485", "@ usart2"),
                        ("ir", "@ usart3"), ("metrology", "@ uart5"), ("esam", "@ usart6")]:
        assert re.search(rf"^{name} +metersim\.\w+ +{re.escape(where)}", report, re.M), name
    for name in ("lcd", "relay", "keyPage", "keyProg", "cover", "rs485Bus"):
        assert re.search(rf"^{name} +metersim\.", report, re.M), name


def test_scene_runs_the_bringup_from_the_cli(firmware):
    import subprocess
    import sys
    elf = firmware("f413rg", "meter_mu_bringup")
    out = subprocess.run([sys.executable, "-m", "metersim", "run",
                          str(metersim.find_platform("platforms/scenes/meter_management_unit.resc")),
                          "-e", f"$bin=@{elf}", "--for", "1.5s"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "[mu:usart1] bringup: done" in out.stdout


def test_power_cut_errors_are_clear(boot):
    emu, m, _, _ = boot()
    with pytest.raises(metersim.SetupError, match="in the past"):
        metersim.power_cut(m, at=0)
    m.power_off()
    with pytest.raises(metersim.SetupError, match="already without power"):
        metersim.power_cut(m)
