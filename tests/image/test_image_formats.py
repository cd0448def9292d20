"""The image header, flashfs and start-parameter formats on the host (src/metersim/image):
what the packer writes reads back, and every damaged field is refused with its offset."""

import hashlib
import zlib

import pytest

from metersim._image import (FLASHFS_BASE, FlashFile, ImageError, ImageHeader, Kind, Perm,
                            StartRecord, build_flashfs, check_image, decode_start_par,
                            encode_start_par, make_image, read_flashfs)


def app(off=0x1000, n=500, version="1.2.3"):
    return make_image(Kind.APP, "demo", bytes(range(256)) * (n // 256) + bytes(n % 256),
                      version=version, load_addr=FLASHFS_BASE + off,
                      entry=FLASHFS_BASE + off + 0x61, ram_base=0x20020000, ram_size=0x1000)


def test_header_fields_read_back_with_digests_of_the_payload():
    img = app()
    h = check_image(img, run_addr=FLASHFS_BASE + 0x1000, kind=Kind.APP)
    assert (h.kind, h.name, h.version_str, h.length) == (3, "demo", "1.2.3", 500)
    assert h.crc32 == zlib.crc32(img[96:]) and h.sha256 == hashlib.sha256(img[96:]).digest()
    assert h.hdr_crc32 == zlib.crc32(img[:92])
    assert ImageHeader.unpack(img).pack() == img[:96]


@pytest.mark.parametrize("at, field", [(0, "magic"), (5, "hdr_version"), (30, "hdr_crc32"),
                                       (200, "crc32")])
def test_each_damaged_field_is_named_with_its_offset(at, field):
    img = bytearray(app())
    img[at] ^= 0x40
    with pytest.raises(ImageError, match=rf"{field} at offset 0x{(0 if at == 0 else {5: 5, 30: 92, 200: 24}[at]) + 0x100:x}"):
        check_image(bytes(img), at=0x100)


def test_truncated_image_is_refused_for_its_length():
    img = app()
    with pytest.raises(ImageError, match=r"length at offset 0x14: expected at most 400.*500 "
                                         r"\(truncated image\)"):
        check_image(img[:496])
    with pytest.raises(ImageError, match="header.*truncated"):
        check_image(img[:50])


def test_payload_changed_with_crc_forged_is_caught_by_sha256():
    img = bytearray(app())
    img[100] ^= 1
    h = ImageHeader.unpack(img)
    h.crc32, h.hdr_crc32 = zlib.crc32(bytes(img[96:])), None
    with pytest.raises(ImageError, match="sha256 at offset 0x34"):
        check_image(h.pack() + bytes(img[96:]))


def test_wrong_place_and_kind_are_refused():
    with pytest.raises(ImageError, match="load_addr.*expected 0x08042000.*found 0x08041000"):
        check_image(app(), run_addr=FLASHFS_BASE + 0x2000)
    with pytest.raises(ImageError, match=r"kind.*expected 1 \(rtos\), found 3"):
        check_image(app(), kind=Kind.RTOS)


def test_bad_inputs_to_the_writer_are_refused():
    with pytest.raises(ImageError, match="power of two"):
        make_image(Kind.APP, "x", b"", ram_base=0x20020000, ram_size=0x3000)
    with pytest.raises(ImageError, match="at most 15"):
        make_image(Kind.APP, "a_name_far_too_long", b"")
    with pytest.raises(ImageError, match="MAJOR.MINOR.PATCH"):
        make_image(Kind.APP, "x", b"", version="one")


def test_start_par_round_trip():
    recs = [StartRecord("basic_app", prio=10, max_threads=6, max_kobjs=12, max_files=3,
                        stack_size=4096, perms=Perm.EEPROM_RD | Perm.EEPROM_WR,
                        eeprom=[(0x0, 0x1000), (0x4000, 0x800)]),
            StartRecord("vbus", prio=5, autostart=False, perms=Perm.PRIV)]
    img = encode_start_par(recs, load_addr=FLASHFS_BASE + 0x400)
    assert len(img) == 96 + 2 * 64
    assert decode_start_par(img) == recs
    with pytest.raises(ImageError, match="prio 64"):
        StartRecord("x", prio=64).pack()
    with pytest.raises(ImageError, match="at most 2 EEPROM windows"):
        StartRecord("x", eeprom=[(0, 1)] * 3).pack()


def test_flashfs_round_trip_and_damage():
    files = [FlashFile("start.par", encode_start_par([StartRecord("demo")],
                                                     load_addr=FLASHFS_BASE + 0x400), 0x400),
             FlashFile("demo", app(), 0x1000, 0x1000, 1)]
    region = build_flashfs(files, 0x4000)
    back = read_flashfs(region)
    assert [(f.name, f.offset, f.size, f.flags) for f in back] == \
        [("start.par", 0x400, 96 + 64, 0), ("demo", 0x1000, 0x1000, 1)]
    assert back[1].data == app()
    bad = bytearray(region)
    bad[16 + 3] ^= 1                        # a name byte in the table
    with pytest.raises(ImageError, match=r"table_crc.*file offset 0x108"):
        read_flashfs(bytes(bad), at=0x100)
    bad = bytearray(region)
    bad[0x1000 + 300] ^= 1                  # a payload byte of demo
    with pytest.raises(ImageError, match=r"flashfs file 'demo': crc32 at offset 0x1018"):
        read_flashfs(bytes(bad))


def test_flashfs_writer_refuses_bad_layouts():
    a = app()
    with pytest.raises(ImageError, match="overlaps demo"):
        build_flashfs([FlashFile("demo", a, 0x1000, 0x1000),
                       FlashFile("other", b"x" * 10, 0x1800)], 0x4000)
    with pytest.raises(ImageError, match="outside the region"):
        build_flashfs([FlashFile("demo", a, 0x1000, 0x4000)], 0x4000)
    with pytest.raises(ImageError, match="linked for 0x08041000 but placed at 0x08042000"):
        build_flashfs([FlashFile("demo", a, 0x2000)], 0x4000)
    with pytest.raises(ImageError, match="two files named"):
        build_flashfs([FlashFile("demo", a, 0x1000), FlashFile("demo", b"x", 0x3000)], 0x4000)
