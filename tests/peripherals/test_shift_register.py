import pytest

from metersim.peripherals.base import Context
from metersim.peripherals.relay import LatchingRelay
from metersim.peripherals.shift_register import HC165Chain, HC595Chain, ShiftRegisterError, SpiSharedLines
from metersim.peripherals.wired_and import WiredAnd
from metersim._units import PS_PER_MS


def latch(chain):
    chain.on_gpio(HC595Chain.RCLK, True)
    chain.on_gpio(HC595Chain.RCLK, False)


def test_595_outputs_change_only_on_the_latch_edge():
    ctx = Context.standalone()
    sr = HC595Chain(ctx, chips=1)
    sr.transmit(0b1000_0001)
    assert not any(sr.output(k) for k in range(8))       # shifted, not latched
    latch(sr)
    assert [sr.output(k) for k in range(8)] == [True] + [False] * 6 + [True]
    sr.transmit(0x00)
    assert sr.output(0) and sr.output(7)                   # storage holds until the next RCLK edge
    latch(sr)
    assert not any(sr.output(k) for k in range(8))


def test_595_chain_first_byte_ends_in_the_last_chip():
    sr = HC595Chain(Context.standalone(), chips=3)
    for b in (0xAA, 0x01, 0x80):
        sr.transmit(b)
    latch(sr)
    outs = [sr.output(k) for k in range(24)]
    assert outs[0:8] == [False] * 7 + [True]               # chip 0: last byte 0x80 -> Q7
    assert outs[8:16] == [True] + [False] * 7              # chip 1: 0x01 -> Q0
    assert outs[16:24] == [bool(0xAA >> k & 1) for k in range(8)]
    # the bytes pushed out of the far end come back on Q7S, oldest first
    assert sr.transmit(0) == 0xAA and sr.transmit(0) == 0x01


def test_595_oe_high_releases_outputs_and_mr_clears_the_shift_register():
    sr = HC595Chain(Context.standalone(), chips=1)
    sr.transmit(0xFF)
    latch(sr)
    sr.on_gpio(HC595Chain.OE_N, True)
    assert not any(sr.output(k) for k in range(8))
    sr.on_gpio(HC595Chain.OE_N, False)
    assert all(sr.output(k) for k in range(8))
    sr.on_gpio(HC595Chain.MR_N, False)
    sr.on_gpio(HC595Chain.MR_N, True)
    latch(sr)
    assert not any(sr.output(k) for k in range(8))


def test_595_drives_a_latching_relay_with_a_timed_coil_pulse():
    ctx = Context.standalone()
    sr = HC595Chain(ctx, chips=1)
    relay = LatchingRelay(ctx.child("relay"))
    sr.connections[2].connect(relay, 0)          # room 1: bit 2 = set coil, bit 3 = reset coil
    sr.connections[3].connect(relay, 1)
    sr.transmit(0b0100)
    latch(sr)
    ctx.clock.run_for(25 * PS_PER_MS)
    sr.transmit(0)
    latch(sr)
    assert relay.closed and relay.pulses[0][3]
    sr.transmit(0b1000)
    latch(sr)
    ctx.clock.run_for(2 * PS_PER_MS)             # too short to open it
    sr.transmit(0)
    latch(sr)
    assert relay.closed


def test_165_load_then_shift_returns_chip0_first_then_serial_in():
    ctx = Context.standalone()
    sr = HC165Chain(ctx, chips=2)
    sr.get_local_receiver(0).on_gpio(3, True)
    sr.get_local_receiver(1).on_gpio(7, True)
    sr.get_local_receiver(1).on_gpio(0, True)
    sr.on_gpio(HC165Chain.PL_N, False)
    sr.on_gpio(HC165Chain.PL_N, True)
    assert [sr.transmit(0) for _ in range(3)] == [0x08, 0x81, 0x00]
    # while /PL is low the output is D7 of chip 0 for every clock
    sr.on_gpio(HC165Chain.PL_N, False)
    assert sr.transmit(0) == 0x00
    sr.set_input(7, True)
    assert sr.transmit(0) == 0xFF


def test_165_without_a_new_load_keeps_the_old_snapshot():
    sr = HC165Chain(Context.standalone(), chips=1)
    sr.on_gpio(HC165Chain.PL_N, False)
    sr.on_gpio(HC165Chain.PL_N, True)
    sr.set_input(0, True)
    assert sr.transmit(0) == 0x00                # input changed after the load
    sr.on_gpio(HC165Chain.PL_N, False)
    sr.on_gpio(HC165Chain.PL_N, True)
    assert sr.transmit(0) == 0x01
    assert sr.loads == 2


def test_shared_lines_feed_both_chains_and_only_the_165_drives_miso():
    ctx = Context.standalone()
    lines = SpiSharedLines(ctx)
    out, inp = HC595Chain(ctx.child("o")), HC165Chain(ctx.child("i"))
    lines.register_child(out)
    lines.register_child(inp)
    inp.set_input(1, True)
    inp.on_gpio(HC165Chain.PL_N, False)
    inp.on_gpio(HC165Chain.PL_N, True)
    assert lines.transmit(0x55) == 0x02          # the 595's Q7S does not reach MISO
    latch(out)
    assert out.storage == 0x55


def test_bad_chain_sizes_are_errors():
    with pytest.raises(ShiftRegisterError, match="chips"):
        HC595Chain(Context.standalone(), chips=0)
    with pytest.raises(ShiftRegisterError, match="no chip 2"):
        HC165Chain(Context.standalone(), chips=2).get_local_receiver(2)


class Probe:
    def __init__(self):
        self.seen = []

    def on_gpio(self, pin, level):
        self.seen.append(level)


def test_wired_and_is_low_while_any_device_pulls():
    ctx = Context.standalone()
    line = WiredAnd(ctx, inputs=3)
    probe = Probe()
    line.OUT.connect(probe, 0)
    ctx.clock.run_for(1)
    assert probe.seen == [True]                  # the pull-up is announced at start
    line.on_gpio(1, False)
    line.on_gpio(2, False)
    line.on_gpio(1, True)
    assert probe.seen == [True, False] and line.pulling == [2]
    line.on_gpio(2, True)
    assert probe.seen == [True, False, True]
