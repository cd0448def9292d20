"""The v2 STM32 USART (Renode's UART.STM32F7_USART) through its registers: ISR/ICR/RDR/TDR,
TEACK/REACK, word length M1:M0, OVER8, PRESC and the LPUART divisor, with the v1 model's line
timing (RM0091 §27.8, RM0385 §31.8, RM0444 §33.8)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from metersim._engine.clock import Clock
from metersim.peripherals.base import Context
from metersim.peripherals.clock_tree import ClockTree
from metersim.peripherals.stm32 import usart_v2 as v2
from metersim._units import PS_PER_S

PCLK = 16_000_000


def make(**kw):
    clock = Clock()
    machine = SimpleNamespace(name="m", clocks=ClockTree({"PCLK1": PCLK, "PCLK2": PCLK}))
    u = v2.STM32Usart2(Context(clock, name="usart2", machine=machine, address=0x40004400), **kw)
    return clock, u


def run_until_sent(clock, u, n, limit_s=0.1):
    end = clock.now_ps + int(limit_s * PS_PER_S)
    while len(u.sent) < n and clock.now_ps < end:
        clock.run_for(PS_PER_S // 100_000)
    return u.sent


def test_reset_values_and_enable_acknowledge():
    _, u = make()
    assert u.read(v2.ISR, 4) == 0xC0                        # TXE | TC
    u.write(v2.CR1, 4, v2.UE | v2.TE | v2.RE)
    assert u.read(v2.ISR, 4) & (v2.TEACK | v2.REACK) == v2.TEACK | v2.REACK
    u.write(v2.CR1, 4, v2.TE)                                # UE off: no acknowledge
    assert u.read(v2.ISR, 4) & (v2.TEACK | v2.REACK) == 0


def test_tdr_write_sends_a_byte_at_the_programmed_baud():
    clock, u = make()
    u.write(v2.BRR, 4, 139)                                  # 16 MHz / 139 = 115108 baud
    u.write(v2.CR1, 4, v2.UE | v2.TE)
    clock.run_for(PS_PER_S // 1000)                          # idle preamble done
    start = clock.now_ps
    u.write(v2.TDR, 4, ord("A"))
    assert u.read(v2.ISR, 4) & 0xC0 == 0x80                  # TXE back at once, TC cleared
    sent = run_until_sent(clock, u, 1)
    assert sent[0][1] == ord("A")
    assert sent[0][0] - start == 10 * 139 * PS_PER_S // PCLK  # start + 8 data + stop bits
    assert u.read(v2.ISR, 4) & v2.TC
    u.write(v2.ICR, 4, 1 << 6)                               # TCCF
    assert not u.read(v2.ISR, 4) & v2.TC


@pytest.mark.parametrize("cr1, brr, presc, low_power, baud", [
    (0, 139, 0, False, PCLK / 139),                          # OVER16
    (v2.OVER8, 0x0113, 0, False, 2 * PCLK / 0x116),          # OVER8: USARTDIV = 0x110 | 3 << 1
    (0, 139, 2, False, PCLK / 4 / 139),                      # PRESC /4 (G0/H7/L5/WBA)
    (0, 0x8AE3, 0, True, 256 * PCLK / 0x8AE3),               # LPUART: 256 x fCK / BRR
])
def test_baud_rate_from_brr_over8_presc_and_lpuart(cr1, brr, presc, low_power, baud):
    _, u = make(low_power_mode=low_power)
    u.write(v2.PRESC, 4, presc)
    u.write(v2.CR1, 4, cr1 | v2.UE | v2.TE)
    u.write(v2.BRR, 4, brr)
    assert u.baud == pytest.approx(baud, rel=1e-6)


@pytest.mark.parametrize("m_bits, data_bits", [(0, 8), (v2.M0, 9), (v2.M1, 7)])
def test_word_length_m1_m0(m_bits, data_bits):
    _, u = make()
    u.write(v2.CR1, 4, m_bits | v2.UE)
    assert u.frame_format()[:2] == (data_bits, "N")


def test_received_byte_in_rdr_then_overrun_cleared_through_icr():
    clock, u = make()
    u.write(v2.BRR, 4, 139)
    u.write(v2.CR1, 4, v2.UE | v2.RE | (1 << 5))             # RXNEIE
    u.write_bytes(b"xy")
    clock.run_for(PS_PER_S // 1000)
    isr = u.read(v2.ISR, 4)
    assert isr & v2.RXNE and isr & (1 << 3)                  # RXNE, ORE: y was lost
    assert u.IRQ.level
    assert u.read(v2.RDR, 4) == ord("x")
    assert not u.read(v2.ISR, 4) & v2.RXNE
    assert u.read(v2.ISR, 4) & (1 << 3)                      # ORE stays until ORECF
    u.write(v2.ICR, 4, 1 << 3)
    assert not u.read(v2.ISR, 4) & (1 << 3)
    assert not u.IRQ.level
