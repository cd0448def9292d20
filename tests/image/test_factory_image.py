"""`metersim image pack` / `image show` on the meter's factory image, and the packed image
booting on the emulated STM32F413: bootloader -> RTOS image -> start.par -> demo apps from
flashfs. A damaged image is refused by `show` (what and where) and by the bootloader."""

import hashlib
import zlib

import pytest

from metersim._cli import EXIT_CHECK, EXIT_OK, EXIT_SETUP, main
from metersim._image import ImageError
from metersim._image.pack import read_factory_image, show

from tests.conftest import REPO
from tests.image.meter_board import boot_image, factory_image

# The pack/show checks and the boot chain's image checks on the demo image (RTOS stand-in
# firmware/targets/meter_rtos_demo, apps demo/demo2); the real RTOS: tests/image/test_upgrade.py
MANIFEST = REPO / "platforms/images/meter_demo.yaml"


@pytest.fixture(scope="module")
def packed(tmp_path_factory, firmware):
    firmware("f413rg", "meter_boot")          # fails clearly when the firmware is not built
    return factory_image(tmp_path_factory.mktemp("factory"), MANIFEST)


def damaged(packed, tmp_path, offset, xor=0x01, name="bad.bin"):
    data = bytearray(packed.read_bytes())
    data[offset] ^= xor
    out = tmp_path / name
    out.write_bytes(bytes(data))
    return out


def test_pack_and_show_round_trip(packed, tmp_path, capsys):
    out = tmp_path / "cli.bin"
    assert main(["image", "pack", str(MANIFEST), "-o", str(out)]) == EXIT_OK
    assert out.read_bytes() == packed.read_bytes()          # packing is deterministic
    capsys.readouterr()
    assert main(["image", "show", str(out)]) == EXIT_OK
    text = capsys.readouterr().out
    data = out.read_bytes()
    assert len(data) == 1 << 20
    rows = {ln.split()[0]: ln.split() for ln in text.splitlines()[2:]}
    assert list(rows) == ["bootloader", "rtos", "start.par", "demo", "demo2"]
    # offsets, versions and checksums are those of the bytes at those offsets
    for name, off, version in [("rtos", 0x8000, "0.9.0"), ("demo", 0x60000, "1.0.0"),
                               ("demo2", 0x80000, "1.1.0"), ("start.par", 0x40400, "1.0.0")]:
        row = rows[name]
        if name == "rtos":
            row = row[1:]                   # "rtos (rtos)"
        size = int(row[3])
        assert row[1] == f"0x{off:06x}" and version in row
        payload = data[off + 96:off + size]
        assert f"{zlib.crc32(payload):08x}" in row
        assert hashlib.sha256(payload).hexdigest()[:16] in " ".join(row)
    assert rows["demo"][-1] == "upgradable" and "131072" in rows["demo"]
    boot = rows["bootloader"]
    assert f"{zlib.crc32(data[:int(boot[3])]):08x}" in boot and "1.0.0" in boot


@pytest.mark.parametrize("offset, message", [
    (0x8000 + 0x300, r"RTOS image: crc32 at offset 0x8018: expected .* \(payload at 0x8060"),
    (0x8000 + 8, r"RTOS image: hdr_crc32 at offset 0x805c"),
    (0x100, r"bootloader \(descriptor at 0x7f00, code from 0x0\): crc32 at offset 0x7f18"),
    (0x40000 + 20, r"flashfs at 0x08040000: table_crc: .* \(file offset 0x40008\)"),
    (0x60000 + 0x70, r"flashfs file 'demo': crc32 at offset 0x60018"),
    (0x80000 + 4, r"flashfs file 'demo2': hdr_crc32 at offset 0x8005c"),
])
def test_show_refuses_a_damaged_image_saying_what_and_where(packed, tmp_path, offset, message,
                                                            capsys):
    bad = damaged(packed, tmp_path, offset)
    with pytest.raises(ImageError, match=message):
        read_factory_image(bad.read_bytes())
    assert main(["image", "show", str(bad)]) == EXIT_CHECK
    assert "offset 0x" in capsys.readouterr().err


def test_show_refuses_a_truncated_image(packed):
    data = packed.read_bytes()
    with pytest.raises(ImageError, match=r"655360 bytes, expected 1048576.*truncated at offset "
                                         r"0xa0000, inside the flashfs"):
        show(data[:0xA0000])
    with pytest.raises(ImageError, match="inside the RTOS image"):
        show(data[:0x9000])


def test_pack_refuses_a_bad_manifest(tmp_path, capsys):
    m = tmp_path / "m.yaml"
    m.write_text("bootloader: {elf: nowhere.elf}\nrtos: {elf: nowhere.elf}\n")
    assert main(["image", "pack", str(m), "-o", str(tmp_path / "x.bin")]) == EXIT_SETUP
    assert "nowhere.elf not found" in capsys.readouterr().err
    m.write_text(MANIFEST.read_text().replace("../../", str(MANIFEST.parents[2]) + "/")
                 .replace("file: demo2", "file: nothing"))
    assert main(["image", "pack", str(m), "-o", str(tmp_path / "x.bin")]) == EXIT_SETUP
    assert "start[1]: file 'nothing' is not one of the apps (demo, demo2)" in capsys.readouterr().err


def test_packed_image_boots_bootloader_rtos_and_both_apps(packed):
    emu, m, cap = boot_image(packed)
    cap.wait_for_line("rtos: ready", timeout="2s")
    assert cap.line_texts() == [
        "boot: metersim bootloader 1.0.0, reset power-on",
        "boot: starting RTOS rtos 0.9.0 at 0x%08x" % m.read_u32(0x08008204),
        "rtos: rtos 0.9.0 (stand-in) running",
        "rtos: starting demo 1.0.0 (prio 20, stack 1024)",
        "app demo 1.0.0 running",
        "rtos: starting demo2 1.1.0 (prio 30, stack 512)",
        "app demo2 1.1.0 running",
        "rtos: ready"]
    assert m.read_u32(0xE000ED08) == 0x08008200          # VTOR: the RTOS's vector table


@pytest.mark.parametrize("offset, field, detail", [
    (0x8000 + 0x300, "crc32", r" \(header says [0-9a-f]{8}, payload has [0-9a-f]{8}\)"),
    (0x8000, "magic", r" \(found 4d49534c\)"),
    (0x8000 + 20, "hdr_crc32", ""),
])
def test_bootloader_refuses_a_damaged_rtos_and_stays_safe(packed, tmp_path, offset, field,
                                                          detail):
    emu, m, cap = boot_image(damaged(packed, tmp_path, offset))
    cap.wait_for_line("boot: waiting for an RTOS image over YMODEM on the console", timeout="1s")
    emu.run_for("300ms")
    text = cap.line_texts()
    assert any(__import__("re").fullmatch(
        rf"boot: RTOS image at 0x08008000 refused: {field} check failed{detail}", t)
        for t in text), text
    assert not any(t.startswith(("rtos:", "app ")) for t in text)
    # it keeps asking for an image (YMODEM 'C') instead of running anything
    assert cap.data.count(b"C") >= 1 and m.cpu.pc < 0x08008000


def test_rtos_refuses_a_damaged_app_and_starts_the_other(packed, tmp_path):
    emu, m, cap = boot_image(damaged(packed, tmp_path, 0x60000 + 0x80))
    cap.wait_for_line("rtos: ready", timeout="2s")
    text = cap.line_texts()
    assert "rtos: event: demo refused: crc32 check failed" in text
    assert "app demo 1.0.0 running" not in text and "app demo2 1.1.0 running" in text


def test_metersim_run_boots_a_packed_image_on_a_platform(packed, capsys):
    from tests.image.meter_board import BOARD
    assert main(["run", str(packed), "--platform", str(BOARD), "--until", "rtos: ready"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "app demo 1.0.0 running" in out and "app demo2 1.1.0 running" in out
    assert main(["run", str(packed)]) == EXIT_SETUP
    assert "raw binary without a recorded board" in capsys.readouterr().err
