import pytest

from metersim._errors import SetupError
from metersim._units import PS_PER_MS
from metersim.peripherals.base import Context
from metersim.peripherals.led import Led
from metersim.peripherals.registry import lookup
from metersim.peripherals.relay import LatchingRelay


def make(**kw):
    ctx = Context.standalone("relay")
    return ctx, LatchingRelay(ctx, **kw)


def pulse(ctx, relay, pin, length_ps):
    relay.on_gpio(pin, True)
    ctx.clock.run_for(length_ps)
    relay.on_gpio(pin, False)


def test_pulse_shorter_than_operate_time_does_not_switch():
    ctx, r = make()
    pulse(ctx, r, 0, 9 * PS_PER_MS)
    ctx.clock.run_for(50 * PS_PER_MS)
    assert not r.closed and not r.contact.level and r.operations == 0
    assert r.pulses == [(0, 9 * PS_PER_MS, True, False)]


def test_set_and_reset_coils_switch_and_latch():
    ctx, r = make()
    seen = []
    lamp = Led(ctx.child("lamp"))
    r.contact.connect(lamp)                       # the contact output is a GPIO source
    r.on_change(seen.append)
    pulse(ctx, r, 0, 20 * PS_PER_MS)
    assert r.closed and r.contact.level and r.feedback.level and lamp.is_on
    ctx.clock.run_for(1000 * PS_PER_MS)
    assert r.closed                               # latched with the coil off
    pulse(ctx, r, 1, 10 * PS_PER_MS)              # exactly the operate time is enough
    assert not r.closed
    assert r.history == [(10 * PS_PER_MS, True), (1030 * PS_PER_MS, False)]
    assert r.operations == 2 and seen == [True, False]


def test_pulse_towards_current_state_counts_no_operation():
    ctx, r = make(initially_closed=True)
    pulse(ctx, r, 0, 20 * PS_PER_MS)
    assert r.closed and r.operations == 0 and r.history == []


def test_both_coils_energised_do_nothing():
    ctx, r = make()
    r.on_gpio(0, True)
    r.on_gpio(1, True)
    ctx.clock.run_for(50 * PS_PER_MS)
    assert not r.closed


def test_single_coil_polarity():
    ctx, r = make(coils=1, feedback_inverted=True)
    assert r.feedback.level is True               # normally-closed auxiliary, main contact open
    r.on_gpio(0, True)                            # A high, B low: close
    ctx.clock.run_for(15 * PS_PER_MS)
    assert r.closed and r.feedback.level is False
    r.on_gpio(1, True)                            # both high: coil off, stays closed
    ctx.clock.run_for(15 * PS_PER_MS)
    assert r.closed
    r.on_gpio(0, False)                           # A low, B high: open
    ctx.clock.run_for(15 * PS_PER_MS)
    assert not r.closed


def test_operate_time_parameter_and_errors():
    ctx, r = make(operate_time_ps=50 * PS_PER_MS)
    pulse(ctx, r, 0, 30 * PS_PER_MS)
    assert not r.closed
    assert lookup("metersim.LatchingRelay") is LatchingRelay
    with pytest.raises(SetupError, match="1 or 2 coils"):
        make(coils=3)
