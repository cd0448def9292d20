import pytest

from metersim._errors import SetupError
from metersim._units import PS_PER_MS, PS_PER_S, PS_PER_US
from metersim.peripherals.base import Context, UartFrame, UartPort
from metersim.peripherals.registry import lookup
from metersim.peripherals.rs485 import Rs485Bus, Rs485Transceiver
from metersim.peripherals.uart_line import sample_frame

BIT_9600_PS = PS_PER_S // 9600


class Node:
    """A board node: a USART TX port, a transceiver, and a list of what its USART RX got."""

    def __init__(self, ctx, bus, name):
        self.ctx = ctx.child(name)
        self.tx = UartPort()
        self.xcvr = Rs485Transceiver(self.ctx, bus)
        self.got = []
        self.xcvr.connect_usart(self.tx, self.got.append)

    def de(self, level):
        self.xcvr.on_gpio(0, level)
        self.xcvr.on_gpio(1, level)       # DE and /RE tied together, as on most boards

    def send(self, value, baud=9600, **kw):
        f = UartFrame(value, baud=baud, start_ps=self.ctx.clock.now_ps, **kw)
        self.tx.send(f)
        return f

    def decoded(self, baud=9600):
        return [sample_frame(f, baud) for f in self.got]


def setup(n=2, seed=0, **kw):
    ctx = Context.standalone("rs485", seed=seed)
    bus = Rs485Bus(ctx, **kw)
    nodes = [Node(ctx, bus, f"n{i}") for i in range(n)]
    return ctx, bus, nodes


def test_registered():
    assert lookup("metersim.Rs485Bus") is Rs485Bus
    assert lookup("metersim.Rs485Transceiver") is Rs485Transceiver


def test_clean_frame_reaches_receivers_at_its_end_time():
    ctx, bus, (a, b) = setup()
    a.de(True)
    f = a.send(0x5A)
    ctx.clock.run_for(f.duration_ps - 1)
    assert b.got == []                                # still on the wire
    ctx.clock.run_for(1)
    assert len(b.got) == 1 and b.got[0].start_ps == 0 and b.got[0].value == 0x5A
    assert not b.got[0].corrupted
    assert a.got == []                                # /RE tied to DE: no local echo
    rec = bus.tap[0]
    assert (rec.start_ps, rec.end_ps, rec.driver, rec.value, rec.corrupted) == (0, f.end_ps, "n0", 0x5A, False)


def test_echo_when_receiver_left_enabled():
    ctx, bus, (a, b) = setup()
    a.xcvr.on_gpio(0, True)                           # DE high, /RE stays low
    a.send(0x11)
    ctx.clock.run_for(2 * PS_PER_MS)
    assert [f.value for f in a.got] == [0x11]


def test_de_low_drops_a_nodes_bytes():
    ctx, bus, (a, b) = setup()
    a.send(0x42)                                      # DE never raised
    ctx.clock.run_for(2 * PS_PER_MS)
    assert b.got == [] and bus.tap == []
    assert a.xcvr.dropped_frames == 1


def test_de_released_mid_frame_cuts_the_tail():
    ctx, bus, (a, b) = setup()
    a.de(True)
    a.send(0x00)
    ctx.clock.run_for(5 * BIT_9600_PS)                # start + 4 data bits sent
    a.de(False)
    ctx.clock.run_for(2 * PS_PER_MS)
    value, fe, _, _ = sample_frame(b.got[0], 9600)
    assert value == 0xF0 and not fe                   # the undriven line reads 1
    assert bus.tap[0].corrupted and bus.tap[0].reasons == ("DE dropped",)


def test_de_released_during_stop_bit_is_harmless():
    ctx, bus, (a, b) = setup()
    a.de(True)
    a.send(0x00)
    ctx.clock.run_for(9 * BIT_9600_PS + BIT_9600_PS // 4)
    a.de(False)
    ctx.clock.run_for(2 * PS_PER_MS)
    assert b.decoded() == [(0x00, False, False, False)] and not bus.tap[0].corrupted


def test_collision_corrupts_both_frames_and_tap_records_it():
    ctx, bus, (a, b, c) = setup(3)
    a.de(True)
    b.de(True)
    a.send(0x00)
    ctx.clock.run_for(3 * BIT_9600_PS)
    b.send(0xFF)                                       # b talks over a
    ctx.clock.run_for(3 * PS_PER_MS)
    assert [r.driver for r in bus.tap] == ["n0", "n1"]
    assert all(r.corrupted and "collision" in r.reasons for r in bus.tap)
    got = c.decoded()
    assert len(got) == 2
    assert (got[0][0], got[1][0]) != (0x00, 0xFF)      # c cannot read what was sent
    assert [r.value for r in bus.tap] == [g[0] for g in got]


def test_collision_is_deterministic_per_seed():
    def run(seed):
        ctx, bus, (a, b, c) = setup(3, seed=seed)
        a.de(True)
        b.de(True)
        for v in range(0, 256, 17):
            a.send(v)
            ctx.clock.run_for(BIT_9600_PS // 2)
            b.send(v ^ 0xFF)
            ctx.clock.run_for(2 * PS_PER_MS)
        return [(r.value, r.framing_error) for r in bus.tap]

    assert run(1) == run(1)
    assert run(1) != run(2)


def test_frames_back_to_back_from_two_nodes_do_not_collide():
    ctx, bus, (a, b, c) = setup(3)
    a.de(True)
    f = a.send(0x01)
    ctx.clock.run_for(f.duration_ps)
    a.de(False)
    b.de(True)
    b.send(0x02)
    ctx.clock.run_for(2 * PS_PER_MS)
    assert [f.value for f in c.got] == [0x01, 0x02] and not any(r.corrupted for r in bus.tap)


def test_bit_error_rate_is_reproducible_and_roughly_right():
    def run(seed):
        ctx = Context.standalone("bus", seed=seed)
        bus = Rs485Bus(ctx, bit_error_rate=0.01)
        tx = bus.attach_host("master", baud=115200)
        rx = bus.attach_host("slave", baud=115200)
        tx.send(bytes(range(256)) * 4)
        ctx.clock.run_for(PS_PER_S)
        return rx.read(), bus.tap

    got, tap = run(3)
    sent = bytes(range(256)) * 4
    assert len(got) == len(sent)
    damaged = sum(r.corrupted for r in tap)
    assert 40 < damaged < 170                          # 1 - 0.99**10 = 9.6 % of 1024 frames
    assert sum(g != s for g, s in zip(got, sent)) > 30
    assert run(3)[0] == got
    assert run(4)[0] != got


def test_noise_burst_garbles_overlapping_frames_and_spikes_an_idle_line():
    ctx = Context.standalone("bus", seed=1)
    bus = Rs485Bus(ctx)
    tx = bus.attach_host("master")
    rx = bus.attach_host("slave")
    bus.noise_burst(3 * PS_PER_MS, at_ps=2 * PS_PER_MS)
    end = tx.send(bytes([0x55] * 6))                   # ~6.25 ms of traffic
    ctx.clock.run_for(end + PS_PER_MS)
    damaged = [r.corrupted for r in bus.tap]
    assert damaged[0] is False and any(damaged[1:5]) and damaged[-1] is False
    # an idle line: the spike is read as a character with errors
    bus2 = Rs485Bus(Context.standalone("bus2", seed=1))
    rx2 = bus2.attach_host("slave")
    bus2.noise_burst(200 * PS_PER_US)
    bus2.ctx.clock.run_for(5 * PS_PER_MS)
    assert len(rx2.rx) == 1 and bus2.tap[0].driver == "noise"


def test_host_endpoint_paces_characters_at_its_baud():
    ctx = Context.standalone("bus")
    bus = Rs485Bus(ctx)
    host = bus.attach_host("pc", baud=19200, parity="E")
    node = Node(ctx, bus, "meter")
    end = host.send(b"\x01\x03")
    one = UartFrame(0, parity="E", baud=19200).duration_ps
    assert end == 2 * one
    ctx.clock.run_for(end)
    assert [(f.start_ps, f.value) for f in node.got] == [(0, 1), (one, 3)]
    # the node answers; the host decodes with its own settings
    node.de(True)
    node.send(0x7E, baud=19200, parity="E")
    ctx.clock.run_for(PS_PER_MS)
    assert host.read() == b"\x7e" and host.errors == []


def test_host_with_wrong_baud_sees_garbage_and_errors():
    ctx = Context.standalone("bus")
    bus = Rs485Bus(ctx)
    fast = bus.attach_host("fast", baud=19200)
    slow = bus.attach_host("slow", baud=9600)
    fast.send(bytes(range(0, 256, 8)))
    ctx.clock.run_for(PS_PER_S)
    assert slow.read() != bytes(range(0, 256, 8))
    assert slow.errors


def test_bad_settings():
    ctx = Context.standalone()
    with pytest.raises(SetupError, match="bit_error_rate"):
        Rs485Bus(ctx, bit_error_rate=2)
    with pytest.raises(SetupError, match="parity"):
        Rs485Bus(ctx).attach_host("x", parity="Q")
