"""Fixtures of the monitor tests: a Monitor whose printed lines are collected."""

import pytest

from metersim._frontends.monitor import Monitor


@pytest.fixture
def lines():
    return []


@pytest.fixture
def mon(lines):
    m = Monitor(out=lines.append)
    yield m
    m.close()
