"""The newer families' RCC as far as firmware on the reset clock needs it (F0/L0/L5/WBA/H7):
reset values, ready flags following ON bits, stored clock enables, the reset clock published
and a warning when firmware tries to switch the clock."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from metersim.engine.clock import Clock
from metersim.peripherals.base import Context
from metersim.peripherals.clock_tree import ClockTree
from metersim.peripherals.stm32 import rcc_reset_clock as r


def make(cls):
    machine = SimpleNamespace(name="m", clocks=ClockTree())
    return cls(Context(Clock(), name="rcc", machine=machine, address=0x40021000)), machine.clocks


@pytest.mark.parametrize("cls, hz, cr", [
    (r.STM32F0_RCC, 8_000_000, 0x83), (r.STM32L0_RCC, 2_097_000, 0x300),
    (r.STM32L5_RCC, 4_000_000, 0x63), (r.STM32WBA_RCC, 16_000_000, 0x500),
    (r.STM32H7_RCC, 64_000_000, 0x25)])
def test_reset_clock_published_and_cr_reset_value(cls, hz, cr):
    rcc, clocks = make(cls)
    assert rcc.read(0x00, 4) == cr
    assert [clocks.rate_hz(n) for n in ("SYSCLK", "HCLK", "PCLK1", "PCLK2")] == [hz] * 4


def test_oscillator_ready_follows_its_on_bit_and_enables_are_stored():
    rcc, _ = make(r.STM32F0_RCC)
    rcc.write(0x00, 4, rcc.read(0x00, 4) | 1 << 16)          # HSEON
    assert rcc.read(0x00, 4) >> 17 & 1                       # HSERDY
    rcc.write(0x00, 4, rcc.read(0x00, 4) & ~(1 << 16))
    assert not rcc.read(0x00, 4) >> 17 & 1
    rcc.write(0x18, 4, 1 << 14)                              # APB2ENR.USART1EN
    assert rcc.read(0x18, 4) == 1 << 14
    assert rcc.read(0x1A, 2) == 0                            # upper half, halfword access


def test_clock_switch_is_stored_and_warned_not_followed(caplog):
    rcc, clocks = make(r.STM32L0_RCC)
    with caplog.at_level(logging.WARNING):
        rcc.write(0x0C, 4, 1)                                # CFGR.SW = HSI16
    assert rcc.read(0x0C, 4) == 1
    assert clocks.rate_hz("SYSCLK") == 2_097_000
    assert "clock switching is not modelled" in caplog.text
