"""BSP USART driver (firmware/bsp/stm32/uart.c) through the bsp_test firmware: the interrupt
receive path keeps up with back-to-back characters at 115200 baud, and the RS-485 driver
enable is raised before the first start bit and released only after the last stop bit."""

import random
import zlib

import pytest

from tests.firmware.msh_session import HCLK_HZ, TEST_BOARD, Msh

TARGETS = ["f413rg", "f103rb"]
BIT_PS = 10**12 // 115200
FRAME_PS = 10 * BIT_PS                     # 8N1


@pytest.fixture(params=TARGETS)
def msh(request, firmware):
    s = Msh(TEST_BOARD[request.param], firmware(request.param, "bsp_test"), request.param)
    assert s.m.cpu.freq_hz == HCLK_HZ[request.param]
    return s


def test_back_to_back_rx_at_115200_loses_no_byte(msh):
    data = bytes(random.Random(7).randrange(256) for _ in range(600))   # > both RX rings
    start = msh.type("rx 600\r")
    msh.emu.run_for("5ms")                 # the shell thread is now blocked in the read
    usart2 = msh.m["usart2"]
    end_ps = usart2.write_bytes(data)      # no gap between characters
    assert end_ps - msh.now_ps <= len(data) * FRAME_PS + FRAME_PS
    out = msh.wait_prompt(start, timeout="2s")
    assert f"rx 600 crc {zlib.crc32(data):08x} overruns 0 dropped 0 errors 0" in out


def test_rs485_de_covers_the_frame_and_drops_after_the_last_stop_bit(msh):
    port = msh.m["gpioPortA"]
    edges = []
    port.watch(lambda pin, level: pin == 1 and edges.append((msh.now_ps, level)))
    usart2 = msh.m["usart2"]
    msh.run("tx hello-rs485 second-word")
    sent = usart2.sent
    assert bytes(v for _, v in sent) == b"hello-rs485second-word"
    assert [lvl for _, lvl in edges] == [True, False]          # one burst, one DE pulse
    (rise_ps, _), (fall_ps, _) = edges
    first_start_ps = sent[0][0] - FRAME_PS
    last_end_ps = sent[-1][0]
    assert rise_ps <= first_start_ps                           # DE up before the start bit
    assert fall_ps >= last_end_ps                              # not before the stop bit ends
    assert fall_ps - last_end_ps < BIT_PS                      # released from TC promptly
    assert not port.pin_level(1)
