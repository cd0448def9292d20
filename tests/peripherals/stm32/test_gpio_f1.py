"""STM32F1 GPIO: CRL/CRH modes, BSRR/BRR, input pulls through ODR, LCKR."""

from metersim._engine.clock import Clock
from metersim.peripherals.base import Context
from metersim.peripherals.stm32.gpio_f1 import STM32F1GPIOPort

CRL, CRH, IDR, ODR, BSRR, BRR, LCKR = 0, 4, 8, 0xC, 0x10, 0x14, 0x18


class Rx:
    def __init__(self):
        self.levels = []

    def on_gpio(self, pin, level):
        self.levels.append(level)


def port():
    return STM32F1GPIOPort(Context.standalone("gpioPortC"))


def test_reset_is_floating_inputs():
    p = port()
    assert p.read(CRL, 4) == p.read(CRH, 4) == 0x44444444
    assert not p.is_output(13)


def test_pc13_led_output_bsrr_brr():
    p = port()
    led = Rx()
    p.connections[13].connect(led, 0)
    p.write(CRH, 4, (0x44444444 & ~(0xF << 20)) | (0x2 << 20))   # PC13 push-pull 2 MHz
    assert p.is_output(13)
    p.write(BSRR, 4, 1 << 13)
    assert led.levels == [True]
    p.write(BRR, 4, 1 << 13)
    assert led.levels == [True, False]
    p.write(BSRR, 4, 1 << 13 | 1 << 29)                          # set wins
    assert p.read(ODR, 4) == 1 << 13 and p.read(IDR, 4) & 1 << 13


def test_input_pull_selected_by_odr_and_external_drive():
    p = port()
    p.write(CRL, 4, (0x44444444 & ~0xF) | 0x8)                   # PC0 input pull-up/down
    p.write(ODR, 4, 1)                                           # pull-up
    assert p.read(IDR, 4) & 1
    p.write(BRR, 4, 1)                                           # pull-down
    assert not p.read(IDR, 4) & 1
    p.drive(0, True)
    assert p.read(IDR, 4) & 1
    p.write(CRL, 4, 0x44444440)                                  # analog: IDR 0
    assert not p.read(IDR, 4) & 1


def test_af_open_drain_i2c_line():
    p = port()
    p.write(CRL, 4, (0x44444444 & ~(0xF << 24)) | (0xF << 24))   # PC6 AF open-drain 50 MHz
    src = p.get_local_receiver(6)
    src.on_gpio(3, False)
    assert not p.pin_level(6)
    src.on_gpio(3, True)                                          # released
    p.drive(6, False)                                             # slave holds it low
    assert not p.pin_level(6)
    p.drive(6, None)
    assert p.pin_level(6)


def test_lock_freezes_crl_fields():
    p = port()
    for v in (1 << 16 | 1, 1, 1 << 16 | 1):
        p.write(LCKR, 4, v)
    p.write(CRL, 4, 0x33333333)
    assert p.read(CRL, 4) == 0x33333334                          # PC0 field kept
    assert p.read(LCKR, 4) == 1 << 16 | 1


def test_bsrr_announces_each_changed_pin_once_lowest_first():
    """A chip-select/address bus on PB0..PB3: one BSRR write announces exactly the pins whose
    level changed, in pin order, to both the wired devices and the port watchers (AFIO)."""
    p = port()
    p.write(CRL, 4, 0x44482222)                  # PC0..PC3 push-pull outputs, PC4 input with pull
    seen = []
    p.watch(lambda pin, level: seen.append((pin, level)))
    p.write(BSRR, 4, 0b0101)
    assert seen == [(0, True), (2, True)]
    seen.clear()
    p.write(BSRR, 4, 0b0011 | 0b0100 << 16)                      # PC1 up, PC2 down, PC0 stays
    assert seen == [(1, True), (2, False)]
    seen.clear()
    p.write(BSRR, 4, 0b0011)                                     # already high: no edges
    assert seen == []
    p.write(BSRR, 4, 1 << 4)                                     # ODR4 selects PC4's pull-up
    assert seen == [(4, True)] and p.read(IDR, 4) == 0b10011
    seen.clear()
    p.write(ODR, 4, 0b10000)                                     # PC0, PC1 fall together
    assert seen == [(0, False), (1, False)] and p.read(IDR, 4) == 0b10000


def test_odr_write_keeps_external_drive_of_inputs():
    p = port()
    p.drive(7, True)                                             # PC7 floating input, driven high
    p.write(ODR, 4, 0xFFFF)
    p.write(ODR, 4, 0)
    assert p.pin_level(7) and p.read(IDR, 4) == 1 << 7
