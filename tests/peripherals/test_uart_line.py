import pytest

from metersim._errors import SetupError
from metersim._units import PS_PER_S
from metersim.peripherals.base import UartFrame
from metersim.peripherals.uart_line import (LineFrame, encode_frame_bits, frame_duration_ps,
                                            rx_complete_ps, sample_frame)


def test_encode_bits_start_data_lsb_first_parity_stop():
    f = UartFrame(value=0x31, data_bits=8, parity="E", stop_half_bits=2)
    assert encode_frame_bits(f) == [0, 1, 0, 0, 0, 1, 1, 0, 0, 1, 1]   # 0x31 has 3 ones: even parity 1
    f = UartFrame(value=0x31, data_bits=8, parity="O", stop_half_bits=4)
    assert encode_frame_bits(f) == [0, 1, 0, 0, 0, 1, 1, 0, 0, 0, 1, 1]


@pytest.mark.parametrize("parity", ["N", "E", "O"])
def test_same_settings_decode_every_byte_cleanly(parity):
    for value in range(256):
        f = UartFrame(value=value, parity=parity, baud=9600)
        assert sample_frame(f, 9600, 8, parity) == (value, False, False, False)


def test_small_clock_error_is_tolerated_large_is_not():
    # a 2 % slow sender still decodes (16x oversampling tolerates a few percent)...
    assert all(sample_frame(UartFrame(value=v, baud=9600 * 0.98), 9600) == (v, False, False, False)
               for v in range(256))
    # ...a 10 % slow one shifts the last bits into their neighbours
    bad = [v for v in range(256)
           if sample_frame(UartFrame(value=v, baud=9600 * 0.9), 9600)[:2] != (v, False)]
    assert len(bad) > 50


def test_baud_mismatch_9600_vs_19200_garbles_and_gives_framing_errors():
    wrong = 0
    framing = 0
    for value in range(256):
        # sender at 19200, receiver at 9600: every rx bit spans two tx bits
        v, fe, pe, nf = sample_frame(UartFrame(value=value, baud=19200), 9600)
        wrong += v != value
        # sender at 9600, receiver at 19200: stop bit sampled in the middle of data
        v2, fe2, _, _ = sample_frame(UartFrame(value=value, baud=9600), 19200)
        framing += fe2
        wrong += v2 != value
    assert wrong >= 500          # nearly every byte comes out wrong in both directions
    assert framing >= 100        # and the 19200 receiver flags framing errors


def test_fast_sender_each_rx_bit_sees_every_second_tx_bit():
    # rx bit k is sampled around tx bit 2k+1, so rx data bit i reads tx line bit 2i+3:
    # tx line for 0x01 is [0, 1,0,0,0,0,0,0,0, 1] then idle 1 -> rx reads 0,0,0,1,1,1,1,1
    v, fe, _, noise = sample_frame(UartFrame(value=0b0000_0001, baud=19200), 9600)
    assert v == 0b1111_1000 and not fe
    assert noise        # samples straddle tx bit edges


def test_break_gives_framing_error_with_zero_data():
    f = UartFrame(value=0x00, is_break=True, baud=115200)
    assert sample_frame(f, 115200) == (0, True, False, False)


def test_parity_error_when_parity_settings_differ():
    # sender uses odd parity; receiver expects even: each byte flagged
    bad = sum(sample_frame(UartFrame(value=v, parity="O"), 9600, 8, "E")[2] for v in range(256))
    assert bad == 256
    # 8N1 sent, 8E1 expected: the stop bit is taken as parity, the idle line as stop bit
    v, fe, pe, nf = sample_frame(UartFrame(value=0x01, parity="N"), 9600, 8, "E")
    assert (v, fe, pe) == (0x01, False, False)  # parity slot reads 1 = correct for one 1 bit
    v, fe, pe, nf = sample_frame(UartFrame(value=0x03, parity="N"), 9600, 8, "E")
    assert pe


def test_line_frame_with_garbled_stop_bit_gives_framing_error():
    bits = tuple([0, 1, 0, 1, 0, 1, 0, 1, 0, 0])
    f = LineFrame(value=0x55, line_bits=bits, baud=9600, corrupted=True)
    assert sample_frame(f, 9600) == (0x55, True, False, False)


def test_durations():
    assert frame_duration_ps(9600) == round(10 * PS_PER_S / 9600)
    assert frame_duration_ps(9600, 8, "E", 2) == UartFrame(0, parity="E").duration_ps
    assert rx_complete_ps(9600) == round(9.5 * PS_PER_S / 9600)


def test_bad_settings_are_clear_errors():
    with pytest.raises(SetupError, match="parity"):
        sample_frame(UartFrame(0), 9600, 8, "X")
    with pytest.raises(SetupError, match="positive"):
        sample_frame(UartFrame(0), 0)
