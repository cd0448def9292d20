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


@pytest.mark.parametrize("chunk", [1, 3, 7])
def test_history_extended_in_chunks_keeps_what_appending_one_by_one_keeps(chunk):
    """A USART adds the characters of a DMA run a look at a time (History.extend): the
    record and its count of dropped entries are those of one append per character."""
    one, many = History(limit=4), History(limit=4)
    for i in range(23):
        one.append(i)
    for i in range(0, 23, chunk):
        many.extend(range(i, min(i + chunk, 23)))
    assert list(many) == list(one) and many.dropped == one.dropped and many[-1] == 22


def test_history_refuses_a_limit_below_one():
    with pytest.raises(ValueError, match="at least 1"):
        History(limit=0)


def test_the_bus_tap_is_a_bounded_history():
    bus = Rs485Bus(Context.standalone("bus"))
    assert isinstance(bus.tap, History) and bus.tap.limit == History.DEFAULT_LIMIT
