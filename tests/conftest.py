"""Shared fixtures: firmware paths (built by `make firmware`, which `make test` runs first)."""

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FW = REPO / "build" / "fw"


@pytest.fixture(scope="session")
def firmware():
    def path(target: str, name: str) -> Path:
        p = FW / target / f"{name}.elf"
        if not p.is_file():
            pytest.fail(f"{p} is missing: build the firmware with `make firmware` (make test does)")
        return p
    return path
