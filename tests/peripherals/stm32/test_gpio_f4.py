"""STM32F4 GPIO: output levels on wired receivers, BSRR, input IDR, pulls, AF, LCKR."""

import pytest

from metersim._engine.clock import Clock
from metersim._errors import MetersimError
from metersim.peripherals.base import Context
from metersim.peripherals.stm32.gpio_f4 import STM32_GPIOPort

MODER, OTYPER, PUPDR, IDR, ODR, BSRR, LCKR, AFRL, AFRH = 0, 4, 0xC, 0x10, 0x14, 0x18, 0x1C, 0x20, 0x24


class Rx:
    def __init__(self):
        self.events = []

    def on_gpio(self, pin, level):
        self.events.append((pin, level))


def port(**kw):
    return STM32_GPIOPort(Context.standalone("gpioPortA"), **kw)


def test_reset_values_from_repl_arguments():
    p = port(mode_reset_value=0xA8000000, pull_up_pull_down_reset_value=0x64000000,
             numberOfAFs=16)
    assert p.read(MODER, 4) == 0xA8000000
    assert p.read(PUPDR, 4) == 0x64000000


def test_output_levels_reach_receiver_and_bsrr_semantics():
    p = port()
    led = Rx()
    p.connections[5].connect(led, 0)
    p.write(MODER, 4, 1 << 10)                 # PA5 output
    p.write(BSRR, 4, 1 << 5)
    assert led.events == [(0, True)] and p.pin_level(5) and p.is_output(5)
    assert p.read(IDR, 4) & 1 << 5             # IDR reads back the driven level
    p.write(BSRR, 4, 1 << 21)                  # BR5
    assert led.events[-1] == (0, False)
    p.write(BSRR, 4, 1 << 5 | 1 << 21)         # both: set wins
    assert p.read(ODR, 4) == 1 << 5
    p.write(BSRR + 2, 2, 1 << 5)               # half-word write to the reset half
    assert p.read(ODR, 4) == 0 and not p.pin_level(5)
    assert p.read(BSRR, 4) == 0


def test_odr_on_input_pin_does_not_drive():
    p = port()
    rx = Rx()
    p.connections[3].connect(rx, 0)
    p.write(ODR, 4, 1 << 3)                    # input mode: ODR has no effect on the pin
    assert rx.events == [] and not p.pin_level(3)


def test_input_follows_external_drive_and_pulls():
    p = port()
    p.write(PUPDR, 4, 1 << 0)                  # PA0 pull-up
    assert p.read(IDR, 4) & 1
    p.drive(0, False)
    assert not p.read(IDR, 4) & 1
    p.on_gpio(0, True)
    assert p.read(IDR, 4) & 1
    p.drive(0, None)                           # released: pull-up again
    p.write(PUPDR, 4, 2 << 0)                  # pull-down
    assert not p.read(IDR, 4) & 1
    p.write(MODER, 4, 3)                       # analog: Schmitt trigger off
    p.drive(0, True)
    assert not p.read(IDR, 4) & 1


def test_open_drain_releases_to_external_level():
    p = port()
    p.write(MODER, 4, 1 << 2)                  # PA1 output
    p.write(OTYPER, 4, 1 << 1)                 # open drain
    p.write(ODR, 4, 1 << 1)                    # released
    p.drive(1, False)                          # another device pulls the line low
    assert not p.pin_level(1)
    p.drive(1, None)
    assert p.pin_level(1)
    p.write(ODR, 4, 0)
    assert not p.pin_level(1)


def test_alternate_function_source_drives_selected_pin():
    p = port()
    af = p.get_local_receiver(8)               # as in `timer1: 0 -> gpioPortA#08@01`
    af.on_gpio(1, True)
    assert not p.pin_level(8)                  # pin still an input
    p.write(MODER, 4, 2 << 16)                 # PA8 AF
    p.write(AFRH, 4, 1)                        # AF1
    assert p.pin_level(8)
    p.write(AFRH, 4, 2)                        # another AF selected: its level (low)
    assert not p.pin_level(8)


def test_lock_sequence_freezes_configuration():
    p = port()
    p.write(MODER, 4, 1 << 4)                  # PA2 output
    for v in (1 << 16 | 1 << 2, 1 << 2, 1 << 16 | 1 << 2):
        p.write(LCKR, 4, v)
    assert p.read(LCKR, 4) & 1 << 16           # LCKK reads 1: locked
    p.write(MODER, 4, 0x0000_0001)             # PA2 change refused, PA0 accepted
    assert p.read(MODER, 4) == 0x11
    p.write(LCKR, 4, 0)                        # cannot unlock
    assert p.read(LCKR, 4) & 1 << 16
    p.reset()
    assert p.read(LCKR, 4) == 0 and p.read(MODER, 4) == 0


def test_wrong_lock_sequence_aborts():
    p = port()
    for v in (1 << 16 | 1 << 2, 1 << 3, 1 << 16 | 1 << 3):   # LCK value changed mid-way
        p.write(LCKR, 4, v)
    assert not p.read(LCKR, 4) & 1 << 16
    p.write(MODER, 4, 1 << 4)
    assert p.read(MODER, 4) == 1 << 4


def test_bad_pin_is_a_clear_error():
    with pytest.raises(MetersimError, match="no pin 16"):
        port().drive(16, True)


def test_bsrr_announces_only_changed_pins_and_idr_masks_analog():
    p = port()
    seen = Rx()
    p.watch(seen.on_gpio)
    p.write(MODER, 4, 0x55)                    # PA0..PA3 outputs
    p.write(OTYPER, 4, 1 << 3)                 # PA3 open drain: high releases to the pull
    p.write(BSRR, 4, 0b1111)
    assert seen.events == [(0, True), (1, True), (2, True), (3, True)]
    seen.events.clear()
    p.write(BSRR, 4, 0b0110 << 16 | 0b0001)    # PA0 already high: only PA1, PA2 fall
    assert seen.events == [(1, False), (2, False)]
    p.write(PUPDR, 4, 2 << 6)                  # PA3 pull-down: the released net falls
    assert seen.events[-1] == (3, False)
    p.drive(8, True)                           # PA8 input driven high ...
    assert p.read(IDR, 4) == 0b0001 | 1 << 8
    p.write(MODER, 4, 0x55 | 3 << 16)          # ... reads 0 once analog
    assert p.read(IDR, 4) == 0b0001
