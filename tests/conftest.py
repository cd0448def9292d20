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


@pytest.fixture(scope="session")
def meter_image(firmware, tmp_path_factory):
    """The meter's factory image (platforms/images/meter_mu.yaml: the bootloader, the RTOS image
    meter_mu, the extended app LOADID), packed once from the built ELFs."""
    from metersim._image.pack import pack

    for name in ("meter_boot", "meter_mu", "app_loadid"):
        firmware("f413rg", name)                  # fails clearly when one is not built
    firmware("f103rb", "metrology_unit")
    out = tmp_path_factory.mktemp("meter") / "meter_mu.bin"
    out.write_bytes(pack(REPO / "platforms/images/meter_mu.yaml"))
    return out


# Files that take minutes start first, so that with several workers (make test: pytest-xdist,
# a file per worker at a time) none of them is left running alone at the end.
SLOW_FILES_FIRST = (
    "tests/cabinet/test_query_manager_outage_2h.py",
    "tests/image/test_upgrade_powercut.py",
    "tests/meter/test_meter_dlt645_fuzz.py",
    "tests/campaign/",
    "tests/cabinet/test_controller_e2e.py",
    "tests/firmware/test_storage_powercut.py",
    "tests/cabinet/test_query_manager.py",
)


def pytest_collection_modifyitems(items):
    def rank(item) -> int:   # longest first, then the rest in collection order (stable sort)
        return next((i for i, p in enumerate(SLOW_FILES_FIRST) if item.nodeid.startswith(p)),
                    len(SLOW_FILES_FIRST))
    items.sort(key=rank)
