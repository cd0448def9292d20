import pytest

from metersim._errors import SetupError
from metersim._units import PS_PER_MS, PS_PER_US
from metersim.peripherals.base import Context
from metersim.peripherals.inputs import KeypadMatrix, PushButton
from metersim.peripherals.led import Led
from metersim.peripherals.registry import lookup


class Recorder:
    def __init__(self, clock):
        self.clock = clock
        self.edges = []

    def on_gpio(self, pin, level):
        self.edges.append((self.clock.now_ps, level))


def test_button_levels_follow_renode_semantics():
    ctx = Context.standalone("btn")
    b = PushButton(ctx)
    assert lookup("Miscellaneous.Button") is PushButton
    b.press()
    assert b.IRQ.level is True
    b.release()
    assert b.IRQ.level is False
    inv = PushButton(ctx, invert=True)            # button to GND with pull-up
    assert inv.IRQ.level is True
    inv.press_and_release(hold_ps=50 * PS_PER_MS)
    assert inv.IRQ.level is False
    ctx.clock.run_for(50 * PS_PER_MS)
    assert inv.IRQ.level is True


def bounce_edges(seed):
    ctx = Context.standalone("btn", seed=seed)
    b = PushButton(ctx, bounce_ps=5 * PS_PER_MS)
    rec = Recorder(ctx.clock)
    b.IRQ.connect(rec)
    b.press()
    ctx.clock.run_for(10 * PS_PER_MS)
    return rec.edges, b.IRQ.level


def test_button_bounce_is_seeded_and_settles():
    edges, level = bounce_edges(1)
    assert level is True
    assert len(edges) >= 3 and len(edges) % 2 == 1      # first edge + an even number of chatter edges
    assert all(t < 5 * PS_PER_MS for t, _ in edges)
    assert bounce_edges(1) == (edges, level)
    assert bounce_edges(2)[0] != edges


def scan(pad):
    """What firmware sees scanning row by row: set of (row, col) reading low."""
    hits = set()
    for r in range(pad.rows):
        for rr in range(pad.rows):
            pad.on_gpio(rr, rr != r)                   # drive only row r low
        hits |= {(r, c) for c, g in pad.connections.items() if not g.level}
    for rr in range(pad.rows):
        pad.on_gpio(rr, True)
    return hits


def test_keypad_scan_finds_pressed_keys():
    ctx = Context.standalone("kp")
    labels = [f"{r}{c}" for r in range(4) for c in range(8)]
    pad = KeypadMatrix(ctx, keymap=labels)
    assert scan(pad) == set()
    pad.press("25")
    assert scan(pad) == {(2, 5)}
    pad.press((0, 7))
    assert scan(pad) == {(2, 5), (0, 7)}
    pad.release("25")
    assert scan(pad) == {(0, 7)}
    # with no row driven low nothing reads low even with keys pressed
    assert all(g.level for g in pad.connections.values())


def test_keypad_ghosting_on_a_rectangle():
    pad = KeypadMatrix(Context.standalone("kp"))
    for key in ((0, 0), (0, 3), (1, 0)):
        pad.press(key)
    assert scan(pad) == {(0, 0), (0, 3), (1, 0), (1, 3)}   # (1, 3) appears without being pressed


def test_keypad_tap_and_errors():
    ctx = Context.standalone("kp")
    pad = KeypadMatrix(ctx)
    pad.tap("K12", hold_ps=20 * PS_PER_MS)
    assert (1, 2) in pad.pressed
    ctx.clock.run_for(20 * PS_PER_MS)
    assert not pad.pressed
    with pytest.raises(SetupError, match="no key labelled"):
        pad.press("ENTER")
    with pytest.raises(SetupError, match="outside"):
        pad.press((4, 0))
    with pytest.raises(SetupError, match="labels"):
        KeypadMatrix(ctx, keymap=["a"])


def test_keypad_types_a_sequence_in_virtual_time():
    ctx = Context.standalone("kp")
    labels = list("123A456B789C*0#D") + [f"F{i}" for i in range(16)]
    pad = KeypadMatrix(ctx, keymap=labels)
    seen = []
    took = pad.type_keys(["4", "0", "F3"], hold_ps=50 * PS_PER_MS, gap_ps=50 * PS_PER_MS)
    assert took == 300 * PS_PER_MS
    for _ in range(6):
        ctx.clock.run_for(25 * PS_PER_MS)
        seen.append(set(pad.pressed))
        ctx.clock.run_for(25 * PS_PER_MS)
    assert seen == [{(0, 4)}, set(), {(1, 5)}, set(), {(2, 3)}, set()]
    with pytest.raises(SetupError, match="no key labelled"):
        pad.type_keys("4X")
    assert ctx.clock.pending() == 0          # a bad sequence schedules nothing
