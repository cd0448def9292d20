"""App upgrade over the console (YMODEM) on the emulated STM32F413 with the meter's boot chain:
the image lands in the NOR download slot, is verified, swapped in by the bootloader with the
old one kept in the backup slot, confirmed by the RTOS when it passes its start check, or
rolled back when it does not (the RTOS's loader refuses it). A damaged or misplaced upload is refused before anything is
swapped; a refused RTOS image is replaced over YMODEM in the bootloader's safe state. All on the
management unit with its RTOS (firmware/targets/meter_rtos) and apps counter and probe."""

import pytest

from metersim._image import HEADER_SIZE, Kind, check_image, make_image
from metersim._image.elfimage import image_from_elf
from metersim._image.pack import read_factory_image
from metersim._image.upgrade import BACKUP, DOWNLOAD, UpgradeState, read_journal, slot_image
from metersim._image.ymodem import (UartPort, YmodemError, block, crc16_xmodem, header_block,
                                   send_file)

from tests.image.meter_board import PROMPT, boot_image, factory_image

APP_ADDR = 0x08060000


@pytest.fixture(scope="module")
def packed(tmp_path_factory, firmware):
    for program in ("meter_boot", "meter_rtos", "app_counter", "app_probe"):
        firmware("f413rg", program)
    return factory_image(tmp_path_factory.mktemp("factory"))


@pytest.fixture
def meter(packed, tmp_path):
    nor = tmp_path / "nor.bin"
    emu, m, cap = boot_image(packed, nor)
    cap.wait_for_prompt(PROMPT, timeout="2s")
    return emu, m, cap, nor


def app_image(firmware, version, program="app_counter"):
    return image_from_elf(firmware("f413rg", program), Kind.APP, "counter", version)


def started(name, version):
    """The loader's line for a process it started."""
    return f"loader: started {name} {version} "


def has_started(text, name, version):
    return any(t.startswith(started(name, version)) for t in text)


def upload(cap, data, file="counter", name="counter.img"):
    cap.write_line(f"upgrade {file}", wait_for_echo=False)
    cap.wait_for_line(f"upgrade: send the image of {file} with YMODEM", timeout="1s")
    return send_file(UartPort(cap), name, data)


def lines_from(cap, mark):
    return [ln.text for ln in cap.lines[mark:]]


def test_ymodem_framing():
    assert crc16_xmodem(b"123456789") == 0x31C3           # CRC-16/XMODEM check value
    b = block(1, b"abc", 1024)
    assert b[:3] == b"\x02\x01\xfe" and len(b) == 1029 and b[3:6] == b"abc" and b[6] == 0x1A
    h = header_block("demo.img", 165)
    assert h[:3] == b"\x01\x00\xff" and h[3:16] == b"demo.img\x00165 " and len(h) == 133


def test_upgrade_swaps_in_the_new_app_and_keeps_the_old_as_backup(meter, firmware):
    emu, m, cap, nor = meter
    new = app_image(firmware, "2.0.0")
    mark = len(cap.lines)
    stats = upload(cap, new)
    assert stats.bytes == len(new) and stats.retries == 0
    cap.wait_for_prompt(PROMPT, timeout="3s")
    text = lines_from(cap, mark)
    for expected in ["upgrade: received counter.img, %d bytes" % len(new),
                     "upgrade: counter staged, restarting",
                     "boot: upgrade counter: backing up the old image",
                     "boot: upgrade counter: programming the new image",
                     "boot: upgrade counter: new image on trial",
                     "rtos: upgrade of counter to 2.0.0 confirmed"]:
        assert expected in text, (expected, text)
    assert has_started(text, "counter", "2.0.0") and has_started(text, "probe", "1.2.0"), text
    assert not has_started(text, "counter", "1.0.0")
    flash = m.sysbus.read_memory(APP_ADDR, 0x20000)
    assert check_image(flash, run_addr=APP_ADDR).version_str == "2.0.0"
    # the whole flash read back is still a valid factory image, now listing the new version
    # (the flashfs table holds extents, not checksums, so an upgrade leaves it valid)
    parts = {p.name: p for p in read_factory_image(m.sysbus.read_memory(0x08000000, 1 << 20))}
    assert parts["counter"].version == "2.0.0" and parts["probe"].version == "1.2.0"
    # NOR: the new image in the download slot, the old one in the backup slot, the journal's
    # steps in order
    data = nor.read_bytes()
    assert slot_image(data, DOWNLOAD, "download slot").version_str == "2.0.0"
    assert slot_image(data, BACKUP, "backup slot").version_str == "1.0.0"
    assert [r.state for r in read_journal(data)] == [
        UpgradeState.PENDING, UpgradeState.BACKED_UP, UpgradeState.TRIAL, UpgradeState.TRYING,
        UpgradeState.CONFIRMED]
    # a confirmed upgrade stays after a power cycle
    m.power_off()
    emu.run_for("10ms")
    mark = len(cap.lines)
    m.power_on()
    emu.run_until(lambda: has_started(lines_from(cap, mark), "probe", "1.2.0"), timeout="1s",
                  what="restart")
    assert has_started(lines_from(cap, mark), "counter", "2.0.0")
    assert not any(t.startswith("boot: upgrade") for t in lines_from(cap, mark))


def test_an_app_the_loader_refuses_is_rolled_back(meter, firmware):
    emu, m, cap, nor = meter
    good = check_image(app_image(firmware, "3.0.0"))
    # every image check passes, but its RAM window is the kernel's: the loader refuses it
    bad = make_image(Kind.APP, "counter", app_image(firmware, "3.0.0")[HEADER_SIZE:],
                     version="3.0.0", load_addr=good.load_addr, entry=good.entry,
                     ram_base=0x20000000, ram_size=good.ram_size, flags=1)
    mark = len(cap.lines)
    upload(cap, bad)
    emu.run_until(lambda: has_started(lines_from(cap, mark), "counter", "1.0.0"), timeout="5s",
                  what="the rollback")
    text = lines_from(cap, mark)
    seq = ["boot: upgrade counter: new image on trial",
           "loader: counter refused: ram window check failed",
           "rtos: upgrade of counter rejected: restarting to roll back",
           "boot: upgrade counter: new image rejected: rolling back"]
    assert all(s in text for s in seq), "\n".join(text)
    assert not has_started(text, "counter", "3.0.0")
    pos = [text.index(s) for s in seq]
    assert pos == sorted(pos), text
    flash = m.sysbus.read_memory(APP_ADDR, 0x20000)
    assert check_image(flash, run_addr=APP_ADDR).version_str == "1.0.0"
    assert read_journal(nor.read_bytes())[-1].state == UpgradeState.ROLLED_BACK


@pytest.mark.parametrize("damage, reason", [("crc", "crc32"), ("slot", "load_addr"),
                                            ("hdr", "hdr_crc32")])
def test_a_damaged_or_misplaced_upload_is_refused_and_nothing_changes(meter, firmware, damage,
                                                                     reason):
    emu, m, cap, nor = meter
    if damage == "slot":
        data = app_image(firmware, "2.0.0", "app_probe")        # linked for sector 8
    else:
        data = bytearray(app_image(firmware, "2.0.0"))
        data[120 if damage == "crc" else 10] ^= 0x10
        data = bytes(data)
    mark = len(cap.lines)
    upload(cap, data)
    cap.wait_for_line(f"upgrade: image refused: {reason}", timeout="1s")
    emu.run_for("200ms")
    text = lines_from(cap, mark)
    assert not any(t.startswith("boot:") for t in text), text        # no restart
    assert check_image(m.sysbus.read_memory(APP_ADDR, 0x20000)).version_str == "1.0.0"
    assert read_journal(nor.read_bytes()) == []


def test_too_large_an_upload_is_cancelled_by_the_receiver(meter):
    emu, m, cap, nor = meter
    with pytest.raises(YmodemError, match="receiver cancelled"):
        upload(cap, bytes(0x20001))
    cap.wait_for_line("upgrade: YMODEM refused", timeout="2s")


def test_bootloader_takes_a_new_rtos_over_ymodem_when_its_rtos_is_refused(packed, tmp_path,
                                                                         firmware):
    data = bytearray(packed.read_bytes())
    data[0x8000 + 0x400] ^= 0xFF                             # RTOS payload damaged
    bad = tmp_path / "bad.bin"
    bad.write_bytes(bytes(data))
    emu, m, cap = boot_image(bad)
    cap.wait_for_line("boot: waiting for an RTOS image over YMODEM on the console", timeout="1s")
    rtos = image_from_elf(firmware("f413rg", "meter_rtos"), Kind.RTOS, "rtos", "1.0.1")
    send_file(UartPort(cap), "rtos.img", rtos)
    cap.wait_for_line(f"boot: received rtos.img ({len(rtos)} bytes): ok, restarting",
                      timeout="2s")
    cap.wait_for_line("rtos: rtos 1.0.1, process isolation on (MPU)", timeout="6s")
    cap.wait_for_line(started("counter", "1.0.0"), timeout="1s")


def test_a_block_damaged_on_the_line_is_nakked_and_sent_again(meter, firmware):
    emu, m, cap, nor = meter

    class NoisyLine(UartPort):
        """Flips one bit of data block 1 the first time it goes out."""
        hit = False

        def write(self, data):
            if not self.hit and data[:2] in (b"\x01\x01", b"\x02\x01"):
                self.hit = True
                data = data[:40] + bytes([data[40] ^ 0x08]) + data[41:]
            super().write(data)

    cap.write_line("upgrade counter", wait_for_echo=False)
    cap.wait_for_line("upgrade: send the image of counter with YMODEM", timeout="1s")
    port = NoisyLine(cap)
    stats = send_file(port, "counter.img", app_image(firmware, "2.1.0"))
    assert port.hit and stats.retries == 1
    cap.wait_for_line(started("counter", "2.1.0"), timeout="3s")
