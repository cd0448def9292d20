"""A model's record of what it did (bus frames, bytes sent) stays bounded over long runs."""

import pytest

from metersim.peripherals.base import Context, History
from metersim.peripherals.rs485 import Rs485Bus


def test_history_keeps_the_newest_entries_and_counts_what_it_let_go():
    h = History(limit=4)
    for i in range(20):
        h.append(i)
        assert len(h) <= 8                       # never more than twice the limit
    assert h[-1] == 19 and h == list(range(h[0], 20)) and len(h) >= 4
    assert h.dropped == h[0]                     # the oldest kept is the count let go
    assert h[-3:] == [17, 18, 19]                # a list: slices, indexes, iteration


def test_history_refuses_a_limit_below_one():
    with pytest.raises(ValueError, match="at least 1"):
        History(limit=0)


def test_the_bus_tap_is_a_bounded_history():
    bus = Rs485Bus(Context.standalone("bus"))
    assert isinstance(bus.tap, History) and bus.tap.limit == History.DEFAULT_LIMIT
