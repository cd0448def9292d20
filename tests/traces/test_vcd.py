"""VCD traces: GPIO pins driving a relay, the relay contact, ADE7753 SPI bytes, parsed back."""

from collections import defaultdict

import pytest
from vcd.reader import TokenKind, tokenize

from metersim.engine.clock import Clock
from metersim.peripherals.ade7753 import Ade7753
from metersim.peripherals.base import GPIO, Context
from metersim.peripherals.relay import LatchingRelay
from metersim.peripherals.stm32.gpio_f4 import STM32_GPIOPort
from metersim.traces.errors import TraceError
from metersim.traces.vcd import VcdTracer
from metersim.units import PS_PER_MS, PS_PER_US

MODER, BSRR = 0x00, 0x18
CFNUM, DIEREV = 0x14, 0x3F


def parse_vcd(path):
    """{'scope.name': [(time, value), ...]} plus the timescale, from pyvcd's tokenizer."""
    names, changes, scopes = {}, defaultdict(list), []
    t = 0
    timescale = None
    with open(path, "rb") as f:
        for tok in tokenize(f):
            if tok.kind is TokenKind.TIMESCALE:
                ts = tok.timescale
                timescale = (getattr(ts.magnitude, "value", ts.magnitude), ts.unit.value)
            elif tok.kind is TokenKind.SCOPE:
                scopes.append(tok.scope.ident)
            elif tok.kind is TokenKind.UPSCOPE:
                scopes.pop()
            elif tok.kind is TokenKind.VAR:
                names[tok.var.id_code] = ".".join(scopes + [tok.var.reference])
            elif tok.kind is TokenKind.CHANGE_TIME:
                t = tok.time_change
            elif tok.kind is TokenKind.CHANGE_SCALAR:
                v = tok.scalar_change.value
                changes[names[tok.scalar_change.id_code]].append((t, int(v) if v in "01" else v))
            elif tok.kind is TokenKind.CHANGE_VECTOR:
                changes[names[tok.vector_change.id_code]].append((t, tok.vector_change.value))
    return dict(changes), timescale, set(names.values())


def test_coil_pin_and_relay_contact_edges_at_their_virtual_times(tmp_path):
    ctx = Context.standalone("gpioPortB")
    port = STM32_GPIOPort(ctx)
    relay = LatchingRelay(ctx.child("relay1"))
    port.connections[3].connect(relay, 0)               # PB3 -> SET coil
    tr = VcdTracer(tmp_path / "relay.vcd", ctx.clock, timescale="1 ns")
    tr.gpio_port(port, names={3: "SET_COIL"})
    tr.relay(relay)
    port.write(MODER, 4, 1 << 6)                        # PB3 output
    ctx.clock.run_for(2 * PS_PER_MS)
    port.write(BSRR, 4, 1 << 3)                         # coil on at 2 ms
    ctx.clock.run_for(15 * PS_PER_MS)
    port.write(BSRR, 4, 1 << 19)                        # coil off at 17 ms
    ctx.clock.run_for(1 * PS_PER_MS)
    tr.close()
    ch, ts, names = parse_vcd(tmp_path / "relay.vcd")
    assert ts == (1, "ns")
    assert {"gpioPortB.SET_COIL", "relay1.contact", "relay1.feedback"} <= names
    assert ch["gpioPortB.SET_COIL"] == [(0, 0), (2_000_000, 1), (17_000_000, 0)]
    # contact closes one operate time (10 ms) after the coil was energised
    assert ch["relay1.contact"] == [(0, 0), (12_000_000, 1)]
    assert ch["relay1.feedback"] == [(0, 0), (12_000_000, 1)]


def test_spi_bytes_of_an_ade7753_register_read_as_8_bit_vectors(tmp_path):
    ctx = Context.standalone("ade")
    chip = Ade7753(ctx)
    tr = VcdTracer(tmp_path / "spi.vcd", ctx.clock, timescale="1 ps")
    tr.spi_device(chip)
    tr.outputs(chip)
    ctx.clock.run_for(100 * PS_PER_US)
    chip.on_gpio(0, False)                      # CS low at 100 us
    for when_us, byte in ((101, CFNUM), (106, 0), (107, 0)):
        ctx.clock.run_for(when_us * PS_PER_US - ctx.clock.now_ps)
        chip.transmit(byte)
    ctx.clock.run_for(2 * PS_PER_US)
    chip.on_gpio(0, True)                       # CS high at 109 us
    tr.close()
    ch, ts, names = parse_vcd(tmp_path / "spi.vcd")
    assert ts == (1, "ps")
    assert {"ade.IRQ", "ade.CF", "ade.ZX", "ade.xfer"} <= names
    us = PS_PER_US
    assert ch["ade.cs_active"] == [(0, 0), (100 * us, 1), (109 * us, 0)]
    assert ch["ade.mosi"] == [(0, "x"), (101 * us, CFNUM), (106 * us, 0)]
    # CFNUM reads 0x003F, MSB first; the command byte itself is answered with 0
    assert ch["ade.miso"] == [(0, "x"), (101 * us, 0), (107 * us, 0x3F)]
    assert [t for t, _ in ch["ade.xfer"]] == [101 * us, 106 * us, 107 * us]


def test_changes_are_written_while_running_and_reordered_within_the_window(tmp_path):
    clock = Clock()
    a, b = GPIO("a"), GPIO("b")
    tr = VcdTracer(tmp_path / "live.vcd", clock, reorder_ps=PS_PER_MS)
    sa, sb = tr.gpio(a), tr.gpio(b)
    clock.run_for(5 * PS_PER_US)
    a.set(True)
    sb.set(1, time_ps=3 * PS_PER_US)        # a late report from another machine's slice
    clock.run_for(3 * PS_PER_MS)
    a.set(False)                            # now 3 ms past the first two: they go out
    text = (tmp_path / "live.vcd").read_text()
    assert "$enddefinitions" in text and "#3000" in text and "#5000" in text
    assert text.index("#3000") < text.index("#5000")
    assert "#3005000" not in text           # still inside the reorder window
    tr.flush()
    assert "#3005000" in (tmp_path / "live.vcd").read_text()
    with pytest.raises(TraceError, match="register every signal before"):
        tr.gpio(GPIO("late"))
    tr.close()
    a.set(True)                             # after close: ignored, no error
    ch, _, _ = parse_vcd(tmp_path / "live.vcd")
    assert ch["gpio.a"] == [(0, 0), (5000, 1), (3_005_000, 0)]
    assert ch["gpio.b"] == [(0, 0), (3000, 1)]


def test_bad_set_up_is_refused_with_a_clear_error(tmp_path):
    clock = Clock()
    with pytest.raises(TraceError, match="timescale"):
        VcdTracer(tmp_path / "a.vcd", clock, timescale="3 fs")
    with pytest.raises(TraceError, match="no virtual time"):
        VcdTracer(tmp_path / "b.vcd", object())
    tr = VcdTracer(tmp_path / "c.vcd", clock)
    tr.gpio(GPIO("x"))
    with pytest.raises(TraceError, match="traced already"):
        tr.gpio(GPIO("x"))
    with pytest.raises(TraceError, match="not an SPI device"):
        tr.spi_device(object(), "nothing")
    tr.close()
