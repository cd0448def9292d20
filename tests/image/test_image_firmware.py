"""The C reader (firmware/image: ms_flashfs, ms_image) on the emulated STM32F413 against a
flashfs packed by metersim's Python packer in the firmware build (program img_flashfs)."""

from tests.engine.test_firmware_on_engine import run_to_pass


def test_firmware_reads_the_packed_flashfs_and_refuses_each_damaged_file(firmware):
    _emu, _m, cap = run_to_pass(firmware, "f413rg", "img_flashfs")
    text = cap.line_texts()
    assert "crc32 and sha256 vectors ok" in text
    assert [t.split()[1] for t in text if t.startswith("file ")] == \
        ["start.par", "app_a", "app_b", "bad_magic", "bad_hdr", "bad_len", "bad_place", "bad_crc"]
    assert "file app_a at 08041000 size 4096 flags 1" in text
    checks = {t.split()[1].rstrip(":"): t.split()[2] for t in text if t.startswith("check ")}
    assert checks == {"app_a": "ok", "app_b": "ok", "bad_magic": "magic",
                      "bad_hdr": "hdr_crc32", "bad_len": "length", "bad_place": "load_addr",
                      "bad_crc": "crc32"}
    assert "app_a version 1.2.3 ram 20020000+2000 entry 08041061" in text
    assert ("start app_a prio 20 auto 1 threads 3 files 2 stack 2048 perms 2 eeprom 1000+400 0+0"
            in text)
    assert "damaged table: table_crc" in text and "damaged superblock: magic" in text
