from metersim.peripherals.base import Context, SPIDevice
from metersim.peripherals.decoder import Decoder74HC154
from metersim.peripherals.registry import lookup


class Chip(SPIDevice):
    def __init__(self):
        self.finished = 0

    def transmit(self, byte):
        return byte

    def finish_transmission(self):
        self.finished += 1


def select(dec, n, enable=True):
    for i in range(4):
        dec.on_gpio(i, bool(n >> i & 1))
    dec.on_gpio(4, not enable)
    dec.on_gpio(5, not enable)


def low_outputs(dec):
    return [i for i, g in dec.connections.items() if not g.level]


def test_exactly_one_output_low_when_enabled():
    dec = Decoder74HC154(Context.standalone("dec"))
    assert low_outputs(dec) == []                     # enables pulled up at start
    for n in range(16):
        select(dec, n)
        assert low_outputs(dec) == [n]
        assert dec.selected == n
    assert lookup("metersim.HC154") is Decoder74HC154


def test_either_enable_high_deselects_all():
    dec = Decoder74HC154(Context.standalone("dec"))
    select(dec, 5)
    dec.on_gpio(4, True)
    assert low_outputs(dec) == []
    dec.on_gpio(4, False)
    dec.on_gpio(5, True)
    assert low_outputs(dec) == []


def test_outputs_drive_spi_chip_selects():
    dec = Decoder74HC154(Context.standalone("dec"))
    chips = [Chip() for _ in range(16)]
    for i, c in enumerate(chips):
        dec.connections[i].connect(c, 0)
    select(dec, 3)
    assert [c.cs_active for c in chips] == [i == 3 for i in range(16)]
    dec.on_gpio(4, True)                               # end of the transfer
    assert chips[3].finished == 1 and not any(c.cs_active for c in chips)


def test_propagation_delay_coalesces_an_address_change():
    ctx = Context.standalone("dec")
    dec = Decoder74HC154(ctx, propagation_ps=15_000, enabled_at_start=True)
    assert low_outputs(dec) == [0]
    select(dec, 0b1111)                                # four pins change in one GPIO write
    assert low_outputs(dec) == [0]                     # not settled yet
    ctx.clock.run_for(15_000)
    assert low_outputs(dec) == [15]
    assert [s for _, s in dec.selections] == [0, 15]   # no intermediate codes seen


def test_only_the_old_and_new_outputs_change_old_first():
    """Moving the selection from /Y1 to /Y3 raises /Y1 before /Y3 falls; the other chip selects
    see no edge, and a write that leaves the address alone changes nothing."""
    dec = Decoder74HC154(Context.standalone("dec"))
    edges = []

    class Probe:
        def on_gpio(self, pin, level):
            edges.append((pin, level))

    for i in range(16):
        dec.connections[i].connect(Probe(), i)
    select(dec, 1)
    assert edges == [(1, False)]                           # address set, then enabled
    edges.clear()
    dec.on_gpio(1, True)                                   # address 3
    assert edges == [(1, True), (3, False)]
    edges.clear()
    dec.on_gpio(1, True)                                   # same level again
    dec.on_gpio(5, False)
    assert edges == []
    dec.on_gpio(4, True)
    assert edges == [(3, True)] and [s for _, s in dec.selections] == [None, 1, 3, None]
