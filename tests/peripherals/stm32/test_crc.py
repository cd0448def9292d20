"""CRC unit: STM32 CRC-32 (0x04C11DB7, word-wise, MSB first, init 0xFFFFFFFF)."""

from metersim.peripherals.base import Context
from metersim.peripherals.stm32.crc import STM32_CRC

DR, IDR, CR = 0, 4, 8


def reference_crc(words):
    """Bit-by-bit long division, written independently of the model's table."""
    crc = 0xFFFFFFFF
    for w in words:
        for i in range(31, -1, -1):
            bit = ((crc >> 31) ^ (w >> i)) & 1
            crc = ((crc << 1) & 0xFFFFFFFF) ^ (0x04C11DB7 if bit else 0)
    return crc


def test_single_word_known_value():
    crc = STM32_CRC(Context.standalone("crc"), series="STM32Series.F4")
    crc.write(DR, 4, 0x12345678)
    assert crc.read(DR, 4) == reference_crc([0x12345678])
    assert crc.read(DR, 4) == 0xDF8A8A2B       # value STM32 application notes quote


def test_block_and_reset():
    crc = STM32_CRC(Context.standalone("crc"))
    words = [0x00000000, 0xFFFFFFFF, 0xDEADBEEF, 0x01020304]
    for w in words:
        crc.write(DR, 4, w)
    assert crc.read(DR, 4) == reference_crc(words)
    crc.write(CR, 4, 1)
    assert crc.read(DR, 4) == 0xFFFFFFFF
    crc.write(IDR, 4, 0x1A5)
    assert crc.read(IDR, 4) == 0xA5
