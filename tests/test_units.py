import pytest

from metersim._errors import SetupError
from metersim._units import PS_PER_MS, PS_PER_S, format_time, parse_frequency_hz, parse_time_ps


@pytest.mark.parametrize("text, ps", [
    ("1.5s", 1_500_000_000_000), ("10ms", 10 * PS_PER_MS), ("250 us", 250_000_000),
    ("3ns", 3000), ("00:00:05", 5 * PS_PER_S), ("00:01:00.5", 60_500_000_000_000),
    ("0.1", 100 * PS_PER_MS), ("2h", 7200 * PS_PER_S), (".5ms", PS_PER_MS // 2),
])
def test_durations_parse_exactly(text, ps):
    assert parse_time_ps(text) == ps


def test_numbers_are_seconds():
    assert parse_time_ps(2) == 2 * PS_PER_S
    assert parse_time_ps(0.25) == PS_PER_S // 4


@pytest.mark.parametrize("bad", ["fast", "10 parsecs", "-1s", "1:2"])
def test_bad_durations_say_what_was_expected(bad):
    with pytest.raises(SetupError, match="expected|duration"):
        parse_time_ps(bad)


def test_frequency_and_formatting():
    assert parse_frequency_hz("72MHz") == 72_000_000
    assert parse_frequency_hz("32.768kHz") == 32_768
    assert format_time(1_500_000_000_000) == "1.500000 s"
    assert format_time(12_345_000_000) == "12.345 ms"
