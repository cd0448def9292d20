"""Host unit tests of the RTOS data structures: firmware/rtos/host/test_units.c is compiled with
the host `cc` together with the kernel's own sources (bitmap, rings, path lookup, deadline list,
heap) into build/host/ and run; each block reports `ok <name>`."""

import subprocess

import pytest

from tests.conftest import REPO
from tests.firmware.host_c import PROTOTYPES, build_host_c

RTOS = REPO / "firmware" / "rtos"
SOURCES = ["host/test_units.c", "src/ms_ring.c", "src/ms_path.c", "src/ms_tlist.c", "src/ms_heap.c"]


@pytest.fixture(scope="module")
def unit_run():
    exe = build_host_c("rtos_units", [RTOS / s for s in SOURCES], flags=PROTOTYPES,
                       include_dirs=[RTOS / "src", RTOS / "include"])
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=30)
    return run


def test_all_unit_blocks_pass(unit_run):
    assert unit_run.returncode == 0, unit_run.stdout + unit_run.stderr
    assert unit_run.stdout.strip().endswith("ALL PASSED")


@pytest.mark.parametrize("block", ["bitmap", "msgring", "pipe_ring", "path", "tlist", "heap"])
def test_unit_block(unit_run, block):
    assert f"ok {block}" in unit_run.stdout.splitlines(), unit_run.stdout + unit_run.stderr
