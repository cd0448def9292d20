"""The run loop converts time to cycles with `freq_hz / PS_PER_S` reduced (cpu.cycles_per_ps):
the cycle counts a core reaches (slice limits, idle cycles up to an instant) must be exactly the
ones of the plain formula at every core clock RCC can set, or traces would move."""

from __future__ import annotations

import random

from metersim._engine.cpu import cycles_per_ps
from metersim._units import PS_PER_S


def test_reduced_conversion_floors_and_ceils_exactly_as_the_plain_formula():
    rng = random.Random(7)
    for hz in (8_000_000, 16_000_000, 48_000_000, 72_000_000, 100_000_000, 168_000_000,
               32_768, 16_777_216, 99_999_989):
        num, den = cycles_per_ps(hz)
        assert num * PS_PER_S == hz * den                    # the same ratio
        for _ in range(2000):
            dt_ps = rng.randrange(-10**13, 40 * 86_400 * PS_PER_S)   # up to 40 virtual days
            assert dt_ps * num // den == dt_ps * hz // PS_PER_S
            assert -(-dt_ps * num // den) == -(-dt_ps * hz // PS_PER_S)
