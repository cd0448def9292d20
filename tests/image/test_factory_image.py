"""`metersim image pack` / `image show` on the meter's factory image, and the packed image
booting on the emulated STM32F413: bootloader -> RTOS image -> start.par -> apps from flashfs
(platforms/images/meter_rtos.yaml: the RTOS firmware/targets/meter_rtos, apps counter and probe).
A damaged image is refused by `show` (what and where), by the bootloader and by the loader."""

import hashlib
import zlib

import pytest

from metersim._cli import EXIT_CHECK, EXIT_OK, EXIT_SETUP, main
from metersim._image import ImageError
from metersim._image.pack import read_factory_image, show

from tests.conftest import REPO
from tests.image.meter_board import MANIFEST, boot_image, factory_image


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
    assert list(rows) == ["bootloader", "rtos", "start.par", "counter", "probe"]
    # offsets, versions and checksums are those of the bytes at those offsets
    for name, off, version in [("rtos", 0x8000, "1.0.0"), ("counter", 0x60000, "1.0.0"),
                               ("probe", 0x80000, "1.2.0"), ("start.par", 0x40400, "1.0.0")]:
        row = rows[name]
        if name == "rtos":
            row = row[1:]                   # "rtos (rtos)"
        size = int(row[3])
        assert row[1] == f"0x{off:06x}" and version in row
        payload = data[off + 96:off + size]
        assert f"{zlib.crc32(payload):08x}" in row
        assert hashlib.sha256(payload).hexdigest()[:16] in " ".join(row)
    assert rows["counter"][-1] == "upgradable" and "131072" in rows["counter"]
    boot = rows["bootloader"]
    assert f"{zlib.crc32(data[:int(boot[3])]):08x}" in boot and "1.0.0" in boot


@pytest.mark.parametrize("offset, message", [
    (0x8000 + 0x300, r"RTOS image: crc32 at offset 0x8018: expected .* \(payload at 0x8060"),
    (0x8000 + 8, r"RTOS image: hdr_crc32 at offset 0x805c"),
    (0x100, r"bootloader \(descriptor at 0x7f00, code from 0x0\): crc32 at offset 0x7f18"),
    (0x40000 + 20, r"flashfs at 0x08040000: table_crc: .* \(file offset 0x40008\)"),
    (0x60000 + 0x70, r"flashfs file 'counter': crc32 at offset 0x60018"),
    (0x80000 + 4, r"flashfs file 'probe': hdr_crc32 at offset 0x8005c"),
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
                 .replace("file: probe", "file: nothing"))
    assert main(["image", "pack", str(m), "-o", str(tmp_path / "x.bin")]) == EXIT_SETUP
    assert "start[1]: file 'nothing' is not one of the apps (counter, probe)" in \
        capsys.readouterr().err


def test_packed_image_boots_bootloader_rtos_and_both_apps(packed):
    emu, m, cap = boot_image(packed)
    cap.wait_for_line("rtos: 2 processes started", timeout="2s")
    assert [t for t in cap.line_texts() if t] == [
        "boot: metersim bootloader 1.0.0, reset power-on",
        "boot: starting RTOS rtos 1.0.0 at 0x%08x" % m.read_u32(0x08008204),
        "rtos: rtos 1.0.0, process isolation on (MPU)",
        "loader: started counter 1.0.0 (window 0x20020000 16 KiB, prio 20)",
        "loader: started probe 1.2.0 (window 0x20024000 16 KiB, prio 25)",
        "rtos: 2 processes started"]
    cap.wait_for_line("counter: running", timeout="100ms")
    cap.wait_for_line("probe: thread 2 -> 0", timeout="100ms")
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
    assert not any(t.startswith(("rtos:", "loader:")) for t in text)
    # it keeps asking for an image (YMODEM 'C') instead of running anything
    assert cap.data.count(b"C") >= 1 and m.cpu.pc < 0x08008000


def test_rtos_refuses_a_damaged_app_and_starts_the_other(packed, tmp_path):
    emu, m, cap = boot_image(damaged(packed, tmp_path, 0x60000 + 0x80))
    cap.wait_for_line("rtos: 1 process started", timeout="2s")
    cap.wait_for_line("probe: thread 2 -> 0", timeout="100ms")
    text = cap.line_texts()
    assert "loader: counter refused: crc32 check failed" in text
    assert not any("counter" in t for t in text if t.startswith(("loader: started", "counter:")))


def test_metersim_run_boots_a_packed_image_on_a_platform(packed, capsys):
    from tests.image.meter_board import BOARD
    assert main(["run", str(packed), "--platform", str(BOARD), "--until", "probe: thread 2"]) == \
        EXIT_OK
    out = capsys.readouterr().out
    assert "loader: started counter 1.0.0" in out and "loader: started probe 1.2.0" in out
    assert main(["run", str(packed)]) == EXIT_SETUP
    assert "raw binary without a recorded board" in capsys.readouterr().err
