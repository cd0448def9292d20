"""Packs the flashfs that the firmware test program img_flashfs links at 0x08040000, with
metersim's packer (src/metersim/image): good images, start parameters, and files damaged in
one field each, so the C reader is checked against the Python writer.
Usage: mk_test_flashfs.py OUT.bin"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "src"))

from metersim._image import (FLASHFS_BASE, FlashFile, Kind, Perm, StartRecord,  # noqa: E402
                            build_flashfs, encode_start_par, make_image)

REGION = 0x10000            # 64 KiB are enough for the test files


def pattern(n: int, seed: int) -> bytes:
    x, out = seed, bytearray()
    for _ in range(n):
        x = (x * 1103515245 + 12345) & 0xFFFFFFFF
        out.append(x >> 24)
    return bytes(out)


def app(name: str, off: int, version: str, n: int, **kw) -> bytes:
    return make_image(Kind.APP, name, pattern(n, off), version=version,
                      load_addr=FLASHFS_BASE + off, entry=FLASHFS_BASE + off + 0x61, **kw)


def flip(data: bytes, at: int) -> bytes:
    b = bytearray(data)
    b[at] ^= 0x01
    return bytes(b)


files = [
    FlashFile("start.par", encode_start_par([
        StartRecord("app_a", prio=20, max_threads=3, max_files=2, stack_size=2048,
                    perms=Perm.EEPROM_RD, eeprom=[(0x1000, 0x400)]),
        StartRecord("app_b", prio=30, autostart=False, perms=Perm.EEPROM_RD | Perm.EEPROM_WR,
                    eeprom=[(0x2000, 0x200), (0x3000, 0x100)])],
        version="1.0.0", load_addr=FLASHFS_BASE + 0x400), 0x400, 0x400),
    FlashFile("app_a", app("app_a", 0x1000, "1.2.3", 1000, ram_base=0x20020000, ram_size=0x2000),
              0x1000, 0x1000, 1),
    FlashFile("app_b", app("app_b", 0x2000, "2.0.0", 3000), 0x2000, 0x1000, 1),
    FlashFile("bad_magic", flip(app("bad_magic", 0x3000, "1.0.0", 100), 0), 0x3000, 0x800),
    FlashFile("bad_hdr", flip(app("bad_hdr", 0x3800, "1.0.0", 100), 8), 0x3800, 0x800),
    FlashFile("bad_len", app("bad_len", 0x4000, "1.0.0", 0x900), 0x4000, 0x800),
    FlashFile("bad_place", app("bad_place", 0x5000, "1.0.0", 100), 0x4800, 0x800),
    FlashFile("bad_crc", flip(app("bad_crc", 0x5000, "1.0.0", 200), 96 + 150), 0x5000, 0x800),
]
# bad_len: truncated to the extent the table gives it; bad_place: linked elsewhere
files[5].data = files[5].data[:0x800]
blob = build_flashfs(files, REGION, check_placement=False)
Path(sys.argv[1]).write_bytes(blob)
