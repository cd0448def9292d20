"""Host unit tests of the RTOS data structures: firmware/rtos/host/test_units.c is compiled with
the host `cc` together with the kernel's own sources (bitmap, rings, path lookup, deadline list,
heap) into build/host/ and run; each block reports `ok <name>`."""

import shutil
import subprocess

import pytest

from tests.conftest import REPO

RTOS = REPO / "firmware" / "rtos"
OUT = REPO / "build" / "host"
SOURCES = ["host/test_units.c", "src/ms_ring.c", "src/ms_path.c", "src/ms_tlist.c", "src/ms_heap.c"]


@pytest.fixture(scope="module")
def unit_run():
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.fail("no host C compiler (cc) on PATH")
    OUT.mkdir(parents=True, exist_ok=True)
    exe = OUT / "rtos_units"
    cmd = [cc, "-std=c11", "-Wall", "-Wextra", "-Werror", "-Wmissing-prototypes", "-Wmissing-declarations",
           "-O1", "-g", "-fsanitize=address,undefined",
           f"-I{RTOS / 'src'}", f"-I{RTOS / 'include'}", "-o", str(exe)] + [str(RTOS / s) for s in SOURCES]
    build = subprocess.run(cmd, capture_output=True, text=True)
    assert build.returncode == 0, f"host build failed:\n{' '.join(cmd)}\n{build.stderr}"
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=30)
    return run


def test_all_unit_blocks_pass(unit_run):
    assert unit_run.returncode == 0, unit_run.stdout + unit_run.stderr
    assert unit_run.stdout.strip().endswith("ALL PASSED")


@pytest.mark.parametrize("block", ["bitmap", "msgring", "pipe_ring", "path", "tlist", "heap"])
def test_unit_block(unit_run, block):
    assert f"ok {block}" in unit_run.stdout.splitlines(), unit_run.stdout + unit_run.stderr
