"""littlefs on the W25Q128 through /nor (firmware/drivers/lfs_port.c, program drv_lfs_reboot):
format on a blank chip, write, reboot by SYSRESETREQ, mount and read back; then the same NOR
image file mounted on the host with littlefs-python shows the same files and contents."""

import re
import zlib

import pytest

from tests.firmware.storage_board import (LFS_BLOCK_COUNT, LFS_BLOCK_SIZE, TARGETS, W25Q128_BYTES,
                                          boot, host_files, host_lfs, run_to_end)

PART = {"f413rg": "STM32F413RG", "f103rb": "STM32F103RB"}


def data_bin():
    return bytes((i * 7 + i // 256) & 0xFF for i in range(3000))


def a_txt(target):
    return f"hello littlefs {PART[target]}\n".encode() * 3


@pytest.fixture(scope="module", params=TARGETS)
def reboot_run(request, firmware, tmp_path_factory):
    target = request.param
    image = tmp_path_factory.mktemp(f"nor_{target}") / "w25q128.bin"
    emu, m, cap = boot(target, firmware(target, "drv_lfs_reboot"), image)
    run_to_end(emu, cap, timeout="10s")
    return target, image, m, cap


def test_first_boot_formats_writes_and_reboots_by_software_reset(reboot_run):
    target, _, m, cap = reboot_run
    text = cap.line_texts()
    banners = [t for t in text if t.startswith("test drv_lfs_reboot")]
    assert banners == [f"test drv_lfs_reboot on {PART[target]}: reset power-on",
                       f"test drv_lfs_reboot on {PART[target]}: reset software"]
    mounts = [t for t in text if t.startswith("lfs mount: ")]
    assert mounts == ["lfs mount: formatted", "lfs mount: ok"]
    assert text.index("rebooting") < text.index(banners[1])
    # the blank chip was formatted: the two superblock sectors were erased first
    erases = [a for _, k, a, _ in m["nor"].operations if k == "sector_erase"]
    assert erases[:2] == [0, LFS_BLOCK_SIZE]
    assert all(a < LFS_BLOCK_SIZE * LFS_BLOCK_COUNT for a in erases)   # littlefs stays in its area


def test_second_boot_reads_back_what_the_first_wrote(reboot_run):
    target, _, _, cap = reboot_run
    text = cap.line_texts()
    for name, content in (("/nor/logs/a.txt", a_txt(target)), ("/nor/data.bin", data_bin())):
        line = f"{name} {len(content)} {zlib.crc32(content):08x}"
        assert f"wrote {line}" in text
        assert f"read {line} ok" in text
    assert [t for t in text if t.startswith("dir ")] == ["dir f boot.txt 1", "dir f data.bin 3000",
                                                         "dir d logs 0"]
    assert "seek and stat ok" in text


def test_host_littlefs_python_mounts_the_same_image_file(reboot_run):
    target, image, m, _ = reboot_run
    assert image.stat().st_size == W25Q128_BYTES
    fs = host_lfs(image)
    assert host_files(fs) == {"/boot.txt": b"1", "/data.bin": data_bin(),
                              "/logs/a.txt": a_txt(target)}       # tmp.txt was unlinked
    assert fs.stat("logs").type == 2                               # a directory
    # the firmware formatted with the disk version littlefs-python reads and writes
    assert fs.fs_stat().disk_version == 0x00020001
    # the host writes, the firmware's file system is still consistent for the host
    with fs.open("host.txt", "w") as fh:
        fh.write("from the host")
    assert host_files(fs)["/host.txt"] == b"from the host"


def test_littlefs_sources_come_from_the_pinned_sdist():
    from tests.conftest import REPO
    import importlib.metadata

    stamp = (REPO / "build/deps/littlefs/VERSION").read_text()
    pin = re.search(r'"littlefs-python==([^"]+)"', (REPO / "pyproject.toml").read_text()).group(1)
    assert stamp.splitlines()[0] == f"littlefs-python {pin}"
    assert importlib.metadata.version("littlefs-python") == pin    # the host side uses the same
    assert "LFS_DISK_VERSION 0x00020001" in stamp
    assert not list((REPO / "firmware").rglob("lfs.c"))            # not vendored
