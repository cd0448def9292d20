"""VCD traces: GPIO pins driving a relay, the relay contact, ADE7753 SPI bytes, parsed back."""

from collections import defaultdict

import pytest
from vcd.reader import TokenKind, tokenize

from metersim._engine.clock import Clock
from metersim.peripherals.ade7753 import Ade7753
from metersim.peripherals.base import GPIO, Context
from metersim.peripherals.relay import LatchingRelay
from metersim.peripherals.stm32.gpio_f4 import STM32_GPIOPort
from metersim._traces.errors import TraceError
from metersim._traces.vcd import VcdTracer
from metersim._units import PS_PER_MS, PS_PER_US

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


def test_spi_bus_bytes_appear_when_the_controller_has_shifted_them_out(tmp_path):
    from types import SimpleNamespace

    from metersim.peripherals.clock_tree import ClockTree
    from metersim.peripherals.stm32 import spi as s

    machine = SimpleNamespace(name="m", clocks=ClockTree({"PCLK2": 72_000_000}))
    spi = s.STM32Spi(Context(Clock(), name="spi1", machine=machine, address=0x40013000),
                     series="STM32Series.F1")
    chip = Ade7753(Context(spi.ctx.clock, name="ade1"))
    spi.register_child(chip)
    tr = VcdTracer(tmp_path / "bus.vcd", spi.ctx.clock, timescale="1 ps")
    tr.spi_bus(spi)
    br = 5                                               # 72 MHz / 64 = 1.125 MHz SCK
    spi.write(s.CR1, 4, s.MSTR | s.SSM | s.SSI | (br << 3))
    spi.write(s.CR1, 4, s.MSTR | s.SSM | s.SSI | (br << 3) | s.SPE)
    chip.on_gpio(0, False)
    t0 = spi.ctx.clock.now_ps
    spi.write(s.DR, 4, DIEREV)                           # read the die revision
    spi.ctx.clock.run_for(20 * PS_PER_US)
    spi.read(s.DR, 4)
    spi.write(s.DR, 4, 0)
    spi.ctx.clock.run_for(20 * PS_PER_US)
    got = spi.read(s.DR, 4)
    chip.on_gpio(0, True)
    tr.close()
    ch, _, _ = parse_vcd(tmp_path / "bus.vcd")
    frame_ps = 8 * 64 * 10**12 // 72_000_000             # 8 SCK periods
    assert ch["ade1.mosi"] == [(0, "x"), (t0 + frame_ps, DIEREV), (t0 + 20 * PS_PER_US + frame_ps, 0)]
    assert ch["ade1.miso"][-1] == (t0 + 20 * PS_PER_US + frame_ps, got)
    assert got == chip.peek("DIEREV") != 0


def test_uart_characters_at_their_start_bits(tmp_path):
    from types import SimpleNamespace

    from metersim.peripherals.clock_tree import ClockTree
    from metersim.peripherals.stm32 import usart as u

    machine = SimpleNamespace(name="m", clocks=ClockTree({"PCLK1": 36_000_000}))
    dev = u.STM32Usart(Context(Clock(), name="usart2", machine=machine, address=0x40004400))
    tr = VcdTracer(tmp_path / "uart.vcd", dev.ctx.clock)
    tr.uart(dev)
    dev.write(u.BRR, 4, 36_000_000 // 9600)
    dev.write(u.CR1, 4, u.UE | u.TE)
    dev.ctx.clock.run_for(5 * PS_PER_MS)
    t0 = dev.ctx.clock.now_ps
    dev.write(u.DR, 4, ord("O"))
    dev.write(u.DR, 4, ord("K"))                        # waits in TDR behind the first
    dev.ctx.clock.run_for(5 * PS_PER_MS)
    tr.close()
    ch, _, _ = parse_vcd(tmp_path / "uart.vcd")
    char_ns = 10 * 36_000_000 // 9600 * 10**12 // 36_000_000 // 1000   # 10 bits at BRR 3750
    assert ch["usart2.tx"] == [(0, "x"), (t0 // 1000, ord("O")), (t0 // 1000 + char_ns, ord("K"))]
    assert len(ch["usart2.tx_char"]) == 2
