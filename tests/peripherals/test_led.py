from metersim._units import PS_PER_MS
from metersim.peripherals.base import GPIO, Context
from metersim.peripherals.led import Led
from metersim.peripherals.registry import lookup


def test_led_history_and_on_time():
    ctx = Context.standalone("led")
    led = Led(ctx)
    pin = GPIO("PD12")
    pin.connect(led, 0)
    for _ in range(3):                    # 1 Hz blink at 25 % duty, 3 periods
        pin.set(True)
        ctx.clock.run_for(250 * PS_PER_MS)
        pin.set(False)
        ctx.clock.run_for(750 * PS_PER_MS)
    assert led.turn_ons() == 3
    assert led.on_time_ps() == 750 * PS_PER_MS
    assert led.on_time_ps(since_ps=2000 * PS_PER_MS) == 250 * PS_PER_MS
    assert led.history[1] == (0, True) and led.history[2] == (250 * PS_PER_MS, False)
    assert lookup("Miscellaneous.LED") is Led


def test_inverted_led_is_lit_by_a_low_pin():
    ctx = Context.standalone("led")
    led = Led(ctx, invert=True)
    assert led.is_on                      # pin low at reset
    led.on_gpio(0, True)
    assert not led.state
