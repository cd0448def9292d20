"""EEPROM and raw NOR round trips through the RTOS IO system (firmware/drivers, program
drv_storage) on the storage boards, checked against the chip models' memories."""

import re
import zlib

import pytest

from tests.firmware.storage_board import RAW_OFFSET, TARGETS, boot, run_to_end


def pattern(n, seed):
    return bytes((seed + i * 13 + (i >> 3)) & 0xFF for i in range(n))


@pytest.fixture(scope="module", params=TARGETS)
def storage_run(request, firmware):
    emu, m, cap = boot(request.param, firmware(request.param, "drv_storage"))
    run_to_end(emu, cap)
    return m, cap


def test_nor_is_probed_by_its_jedec_id(storage_run):
    _, cap = storage_run
    assert "nor jedec ef 40 18 size 16777216" in cap.line_texts()       # W25Q128


def test_eeprom_write_is_split_at_pages_and_lands_in_the_chip(storage_run):
    m, cap = storage_run
    eeprom = m["eeprom"]
    data = pattern(100, 0x41)
    assert eeprom.read_image(0x1F0, 100) == data
    assert eeprom.read_image(0x1EF, 1) == b"\xff" and eeprom.read_image(0x254, 1) == b"\xff"
    # 0x1f0..0x1ff, 0x200..0x23f, 0x240..0x253: three page writes, each a write cycle
    stats = re.search(r"eeprom write 100 at 0x1f0 pages (\d+) polls (\d+)", cap.text)
    assert int(stats.group(1)) == 3
    cycles = [(t, a, n) for t, a, n in eeprom.write_cycles if 0x1F0 <= a < 0x254]
    assert [(a, n) for _, a, n in cycles] == [(0x1F0, 16), (0x200, 64), (0x240, 20)]
    # each 5 ms cycle waited out off the bus, then ACK-polled once a millisecond: one or two
    # polls per page write, not a poll loop spinning through the cycle
    assert 3 <= int(stats.group(2)) <= 6
    starts = [t for t, _, _ in cycles]
    assert all(b - a >= 5_000_000_000 for a, b in zip(starts, starts[1:]))  # >= tWR apart
    assert f"eeprom readback ok crc {zlib.crc32(data):08x}" in cap.line_texts()


def test_eeprom_ranges_are_enforced_per_process(storage_run):
    m, cap = storage_run
    text = cap.line_texts()
    assert "proc app read 0x100 -> 16" in text
    assert "proc app write 0x180 -> 16" in text
    assert "proc app read 0x1f8 -> -1" in text          # crosses 0x200: MS_ERR_PERM
    assert "proc app write 0x300 -> -1" in text
    assert "proc guest read 0x100 -> -1" in text        # no EEPROM permission at all
    eeprom = m["eeprom"]
    assert eeprom.read_image(0x180, 16) == b"\x5a" * 16
    assert eeprom.read_image(0x300, 16) == b"\xff" * 16  # the refused write never reached the bus


def test_nor0_erase_program_read_back_in_the_raw_area(storage_run):
    m, cap = storage_run
    nor = m["nor"]
    data = pattern(600, 0x90)
    assert nor.read_image(RAW_OFFSET + 0x80, 600) == data
    assert nor.read_image(RAW_OFFSET, 0x80) == b"\xff" * 0x80
    assert "nor0 write 600 at 0x80 programs 3" in cap.line_texts()      # split at 256-byte pages
    erases = [(a, n) for _, k, a, n in nor.operations if k == "sector_erase"]
    assert erases == [(RAW_OFFSET, 4096)]               # /dev/nor0 starts after littlefs
    programs = [a for _, k, a, _ in nor.operations if k == "page_program"]
    assert programs[:3] == [RAW_OFFSET, RAW_OFFSET + 0x100, RAW_OFFSET + 0x200]
    assert f"nor0 readback ok crc {zlib.crc32(data):08x}" in cap.line_texts()
    # NOR programming only clears bits: 0xF0 then 0x3C without an erase reads 0x30
    assert "nor0 and 0x30" in cap.line_texts()
    assert nor.read_image(RAW_OFFSET + 0xFFF, 1) == b"\x30"
