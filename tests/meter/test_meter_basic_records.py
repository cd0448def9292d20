"""The basic app's records kept twice in EEPROM (tou's energy, control's money, freeze's index,
display's lists: bapp.h bapp_rec_load / bapp_rec_save), pinned byte for byte from outside with
the display lists (EEPROM 0x1600, copies 0x80 apart): the layout and the copy each save goes to,
so that images written by earlier firmware load and the other way round; and which copy a start
takes: the later sequence number (modulo 2^32) of those whose magic and CRC hold."""

import binascii
import struct

COPY_A, COPY_B = 0x1600, 0x1680
MAGIC = 0x50534944                                   # "DISP"
LIST_MAX = 12
BODY = struct.Struct(f"<IIBBBB{LIST_MAX}I{LIST_MAX}I")   # magic, seq, lists: 108 bytes
SIZE = 112                                           # + CRC-16 + the struct's tail padding
DEFAULT_AUTO = [0x00010000, 0x00010100, 0x00010200, 0x00010300, 0x00010400, 0x00900200,
                0x04000101, 0x04000102, 0x02010100, 0x02020100, 0x02030000]
DEFAULT_KEY = [0x00010000, 0x00010100, 0x00010200, 0x00010300, 0x00010400, 0x00900200,
               0x02010100, 0x02020100, 0x02030000, 0x04000101, 0x04000102]


def crc16(data: bytes) -> int:
    return binascii.crc_hqx(data, 0xFFFF)            # CRC-16/CCITT-FALSE, as firmware crc16.c


def record(seq: int, auto: list[int], auto_s: int, key: list[int] = DEFAULT_KEY,
           auto_n: int | None = None) -> bytes:
    """auto_n: screens in use when fewer than the list holds (the rest stays stored)."""
    n = len(auto) if auto_n is None else auto_n
    body = BODY.pack(MAGIC, seq, n, auto_s, len(key), 0,
                     *(auto + [0] * (LIST_MAX - len(auto))), *(key + [0] * (LIST_MAX - len(key))))
    return body + struct.pack("<H", crc16(body)) + b"\0\0"


def parse(raw: bytes) -> dict:
    body, (crc,) = raw[:BODY.size], struct.unpack_from("<H", raw, BODY.size)
    magic, seq, auto_n, auto_s, key_n, _, *lists = BODY.unpack(body)
    return dict(crc_ok=crc == crc16(body), magic=magic, seq=seq, auto=lists[:auto_n],
                auto_s=auto_s, key=lists[LIST_MAX:LIST_MAX + key_n])


def test_each_save_goes_to_the_copy_its_sequence_number_names(meter):
    m = meter()
    ee = m.board["eeprom"]
    m.master.write(0x04000301, bytes([0x01]))        # one screen: save 1, copy B
    m.con.expect("display: parameter 04000301 written", timeout="1s")
    b = parse(ee.read_image(COPY_B, SIZE))
    assert b == dict(crc_ok=True, magic=MAGIC, seq=1, auto=[0x00010000], auto_s=5,
                     key=DEFAULT_KEY)
    m.master.write(0x04000302, bytes([0x07]))        # 7 s each: save 2, copy A; B is kept
    m.con.expect("display: parameter 04000302 written", timeout="1s")
    a = parse(ee.read_image(COPY_A, SIZE))
    assert a == dict(b, seq=2, auto_s=7)
    assert parse(ee.read_image(COPY_B, SIZE)) == b
    assert ee.read_image(COPY_A, BODY.size + 2) == record(2, DEFAULT_AUTO, 7, auto_n=1)[:-2]


def restart_with(m, a: bytes, b: bytes) -> None:
    ee = m.board["eeprom"]
    ee.mem[COPY_A:COPY_A + SIZE] = list(a)
    ee.mem[COPY_B:COPY_B + SIZE] = list(b)
    m.board.reset()


def test_a_start_takes_the_later_whole_copy(meter):
    m = meter()
    older = record(7, [0x02030000], 7)
    newer = record(8, [0x02010100, 0x02020100], 3)
    restart_with(m, older, newer)
    m.con.expect("display: 2 screens rotating, 3 s each, 11 on the page key", timeout="3s")
    torn = bytearray(newer)
    torn[20] ^= 0x5A                                 # a cut in the middle of writing copy B
    restart_with(m, older, bytes(torn))
    m.con.expect("display: 1 screens rotating, 7 s each, 11 on the page key", timeout="3s")
    wrapped = record(0, [0x02010100], 9)             # seq 0 follows 0xFFFFFFFF
    restart_with(m, record(0xFFFFFFFF, [0x02030000], 4), wrapped)
    m.con.expect("display: 1 screens rotating, 9 s each, 11 on the page key", timeout="3s")
    restart_with(m, bytes([0xFF]) * SIZE, bytes([0xFF]) * SIZE)   # neither: the factory lists
    m.con.expect("display: 11 screens rotating, 5 s each, 11 on the page key", timeout="3s")
