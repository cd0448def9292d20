"""The newer families' RCC as far as firmware on the reset clock needs it (F0/L0/L5/WBA/H7):
reset values, ready flags following ON bits, stored clock enables, the reset clock published
and a warning when firmware tries to switch the clock."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from metersim._engine.clock import Clock
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


@pytest.mark.parametrize("cls, cfgr, sw, sws_shift, hz", [
    (r.STM32L0_RCC, 0x0C, 1, 2, 16_000_000),                 # HSI16
    (r.STM32F0_RCC, 0x04, 1, 2, 8_000_000),                  # HSE (hse_hz default 8 MHz)
    (r.STM32L5_RCC, 0x08, 1, 2, 16_000_000),
    (r.STM32WBA_RCC, 0x1C, 2, 2, 32_000_000),                # HSE32
    (r.STM32H7_RCC, 0x10, 1, 3, 4_000_000)])                 # CSI
def test_sysclk_switch_reports_sws_and_moves_the_clocks(cls, cfgr, sw, sws_shift, hz):
    rcc, clocks = make(cls)
    rcc.write(cfgr, 4, sw)
    assert rcc.read(cfgr, 4) == sw | sw << sws_shift
    assert [clocks.rate_hz(n) for n in ("SYSCLK", "HCLK", "PCLK1", "PCLK2")] == [hz] * 4
    rcc.reset()                                              # a system reset: reset clock again
    assert clocks.rate_hz("SYSCLK") == cls.SYSCLK_HZ


def test_l0_msi_range_and_pll_switch_warned_not_followed(caplog):
    rcc, clocks = make(r.STM32L0_RCC)
    rcc.write(0x04, 4, 6 << 13)                              # ICSCR.MSIRANGE = 6
    rcc.write(0x0C, 4, 1)                                    # HSI16
    rcc.write(0x0C, 4, 0)                                    # back to MSI, now range 6
    assert clocks.rate_hz("SYSCLK") == 4_194_304
    with caplog.at_level(logging.WARNING):
        rcc.write(0x0C, 4, 3)                                # PLL
    assert rcc.read(0x0C, 4) == 3                            # SWS still MSI (0)
    assert clocks.rate_hz("SYSCLK") == 4_194_304
    assert "(PLL) is not modelled" in caplog.text
