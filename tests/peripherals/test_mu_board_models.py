"""Model pieces added for the meter management unit: UART endpoints and the IR port, relay
faults, the cover switch, the RTC's backup domain following the battery and BDRST."""

import datetime as dt
from types import SimpleNamespace

import pytest

from metersim._engine.clock import Clock
from metersim._errors import SetupError
from metersim.peripherals.base import Context, UartFrame
from metersim.peripherals.clock_tree import ClockTree
from metersim.peripherals.inputs import CoverSwitch
from metersim.peripherals.relay import LatchingRelay
from metersim.peripherals.stm32 import usart as u
from metersim.peripherals.stm32.rcc_f4 import STM32F4_RCC
from metersim.peripherals.stm32.rtc_f4 import STM32F4Rtc
from metersim.peripherals.uart_endpoint import IrTransceiver, UartEndpoint
from metersim._units import PS_PER_MS, PS_PER_S


def usart_with(endpoint_cls, **kw):
    clock = Clock()
    machine = SimpleNamespace(name="m", clocks=ClockTree({"PCLK1": 50_000_000}))
    dev = u.STM32Usart(Context(clock, name="usart3", machine=machine, address=0x40004800))
    ep = endpoint_cls(Context(clock, name="ep"), **kw)
    dev.register_child(ep)
    return clock, dev, ep


def open_8e1(dev, baud):
    dev.write(u.BRR, 4, round(dev.pclk_hz / baud))
    dev.write(u.CR1, 4, u.UE | u.TE | u.RE | u.M | u.PCE)
    dev.ctx.clock.run_for(20 * PS_PER_MS)


def mcu_send(dev, data):
    for b in data:
        while not dev.read(u.SR, 4) & u.TXE:
            dev.ctx.clock.run_for(PS_PER_MS)
        dev.write(u.DR, 4, b)


def test_ir_port_receives_at_1200_8e1_and_sends_into_the_usart():
    clock, dev, ir = usart_with(IrTransceiver)
    open_8e1(dev, 1200)
    mcu_send(dev, b"\x68\x11")
    clock.run_for(30 * PS_PER_MS)
    assert ir.read() == b"\x68\x11" and ir.errors == []
    end = ir.send(b"\x16")
    assert end - clock.now_ps == round(11 * PS_PER_S / 1200)      # 1 + 8 + parity + 1 bits
    clock.run_for(20 * PS_PER_MS)
    assert dev.read(u.SR, 4) & u.RXNE and not dev.read(u.SR, 4) & u.PE
    assert dev.read(u.DR, 4) & 0xFF == 0x16


def test_endpoint_at_another_baud_sees_errors_and_unplugged_passes_nothing():
    clock, dev, ep = usart_with(UartEndpoint, baud=9600, parity="E")
    open_8e1(dev, 2400)                                            # firmware at the wrong baud
    mcu_send(dev, b"\x55\xAA")
    clock.run_for(30 * PS_PER_MS)
    assert ep.read() != b"\x55\xAA" and ep.errors
    ep.connected = False
    mcu_send(dev, b"\x55")
    ep.send(b"\x01")
    clock.run_for(30 * PS_PER_MS)
    assert ep.read() == b"" and not dev.read(u.SR, 4) & u.RXNE


def test_ir_self_echo_option_and_bad_settings():
    clock, dev, ir = usart_with(IrTransceiver, self_echo=True)
    open_8e1(dev, 1200)
    mcu_send(dev, b"\x42")
    clock.run_for(20 * PS_PER_MS)
    assert dev.read(u.SR, 4) & u.RXNE and dev.read(u.DR, 4) & 0xFF == 0x42
    with pytest.raises(SetupError, match="stop_bits"):
        UartEndpoint(Context.standalone("x"), stop_bits=3)
    with pytest.raises(SetupError, match="parity"):
        UartEndpoint(Context.standalone("x"), parity="X")


def test_register_child_refuses_something_without_a_uart_side():
    clock, dev, _ = usart_with(UartEndpoint)
    with pytest.raises(SetupError, match="no UART side"):
        dev.register_child(object())


def pulse(ctx, relay, pin, ms=20):
    relay.on_gpio(pin, True)
    ctx.clock.run_for(ms * PS_PER_MS)
    relay.on_gpio(pin, False)


def test_welded_relay_closes_and_will_not_open_until_repaired():
    ctx = Context.standalone("relay")
    r = LatchingRelay(ctx)
    r.weld()
    assert r.closed and r.feedback.level
    pulse(ctx, r, 1)
    assert r.closed and r.feedback.level and r.refused == [(10 * PS_PER_MS, False)]
    r.repair()
    pulse(ctx, r, 1)
    assert not r.closed and not r.feedback.level


def test_stuck_relay_moves_neither_way():
    ctx = Context.standalone("relay")
    r = LatchingRelay(ctx)
    r.stick()
    pulse(ctx, r, 0)
    assert not r.closed and r.operations == 0 and len(r.refused) == 1


def test_cover_switch_levels():
    sw = CoverSwitch(Context.standalone("cover"))
    assert not sw.IRQ.level and not sw.cover_open
    sw.open_cover()
    assert sw.IRQ.level and sw.cover_open
    sw.close_cover()
    assert not sw.IRQ.level
    inv = CoverSwitch(Context.standalone("cover"), invert=True)
    inv.open_cover()
    assert not inv.IRQ.level


def rcc_and_rtc(vbat=True):
    clock = Clock()
    machine = SimpleNamespace(name="m", clocks=ClockTree())
    rtc = STM32F4Rtc(Context(clock, name="rtc", machine=machine, address=0x40002800))
    rcc = STM32F4_RCC(Context(clock, name="rcc", machine=machine, address=0x40023800),
                      rtc_peripheral=rtc, vbat=vbat)
    rcc.write(0x70, 4, 1)                                  # LSEON
    clock.run_for(600 * PS_PER_MS)
    rcc.write(0x70, 4, 1 | 1 << 8 | 1 << 15)               # RTCSEL = LSE, RTCEN
    rtc.set_datetime(dt.datetime(2026, 12, 6, 10, 0, 0))
    rtc.write(0x50, 4, 0x1234)                             # BKP0R
    return clock, rcc, rtc


def power_cycle(clock, rcc, rtc, off_s):
    rcc.reset()
    rtc.reset()
    clock.run_for(off_s * PS_PER_S)
    rtc.reset()
    rcc.reset()
    rcc.on_machine_reset("por")


def test_with_the_battery_the_calendar_runs_through_a_power_cut():
    clock, rcc, rtc = rcc_and_rtc(vbat=True)
    power_cycle(clock, rcc, rtc, 10)
    assert rtc.datetime() == dt.datetime(2026, 12, 6, 10, 0, 10)
    assert rtc.read(0x50, 4) == 0x1234


def test_without_the_battery_the_backup_domain_is_lost():
    clock, rcc, rtc = rcc_and_rtc(vbat=False)
    power_cycle(clock, rcc, rtc, 10)
    assert rtc.datetime() == dt.datetime(2000, 1, 1)
    assert rtc.read(0x50, 4) == 0 and not rtc.read(0x0C, 4) & (1 << 4)    # INITS clear


def test_bdrst_resets_the_rtc_with_bdcr():
    clock, rcc, rtc = rcc_and_rtc()
    rcc.write(0x70, 4, 1 << 16)
    assert rtc.read(0x50, 4) == 0 and rtc.datetime().year == 2000
