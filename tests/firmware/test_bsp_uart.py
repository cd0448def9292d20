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


# ---- Modbus RTU framing (bsp_uart_set_framing / bsp_uart_read_frame): the bsp_test "frames"
# command sets t1.5 = 750 us and t3.5 = 1750 us on ttyS2 and prints each frame it reads.

def _send_frames(msh, parts):
    """Send [(silence_us before it, bytes), ...] on USART2's RX, each part starting its
    silence after the previous one's last stop bit."""
    usart2, clock = msh.m["usart2"], msh.m.clock

    def send(i):
        end_ps = usart2.write_bytes(parts[i][1])
        if i + 1 < len(parts):
            clock.schedule_at(end_ps + parts[i + 1][0] * 10**6, send, i + 1)

    clock.schedule(parts[0][0] * 10**6, send, 0)


def _frame_line(data: bytes, flags: int) -> str:
    return f"frame {len(data)} flags {flags:x} crc {zlib.crc32(data):08x}"


def test_frames_split_at_their_silences_when_the_reader_comes_late(msh):
    rng = random.Random(11)
    a, b1, b2, c = (bytes(rng.randrange(256) for _ in range(k)) for k in (10, 5, 7, 70))
    start = msh.type("frames 3 64 60\r")   # the reader sleeps 60 ms: all of it waits in the ring
    msh.emu.run_for("5ms")
    _send_frames(msh, [(0, a), (2000, b1), (1000, b2), (2000, c)])
    out = msh.wait_prompt(start, timeout="2s")
    assert _frame_line(a, 0) in out                     # ended by the 2 ms (> t3.5) silence
    assert _frame_line(b1 + b2, 1) in out               # 1 ms inside it: > t1.5, broken
    assert _frame_line(c[:64], 2) in out                # 70 bytes into 64: overflow
    assert "overruns 0 dropped 0 errors 0" in out


def test_a_frame_longer_than_the_rx_ring_arrives_whole_and_wakes_the_reader_rarely(msh):
    data = bytes(random.Random(12).randrange(256) for _ in range(600))   # > both RX rings
    start = msh.type("frames 1\r")
    msh.emu.run_for("5ms")                 # the shell thread waits for a first byte
    cpu = msh.m.cpu
    before = cpu.instructions
    end_ps = msh.m["usart2"].write_bytes(data)
    msh.emu.run_until(lambda: msh.now_ps >= end_ps, timeout="1s", what="the frame's last byte")
    per_char = (cpu.instructions - before) / len(data)
    out = msh.wait_prompt(start, timeout="2s")
    assert _frame_line(data[:64], 2) in out             # its first 64 bytes, overflow
    assert "overruns 0 dropped 0 errors 0" in out       # the half-full wake-up emptied the ring
    # the reader is woken at half a ring, not at every byte: the receive interrupt alone
    # (about 180 instructions a byte); a wake-up and two context switches a byte cost far more
    assert per_char < 400, f"{per_char:.0f} instructions per received character"


def test_a_write_longer_than_the_tx_ring_goes_out_whole_in_one_de_pulse(msh):
    port = msh.m["gpioPortA"]
    levels = []
    port.watch(lambda pin, level: pin == 1 and levels.append(level))
    assert msh.run("txn 600", timeout="2s") == ["sent 600 drain 0"]
    assert msh.m["usart2"].sent_bytes() == bytes(i % 251 for i in range(600))
    assert levels == [True, False]
