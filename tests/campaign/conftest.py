"""A campaign of 20 short controller scenarios, and a real Dask cluster (a `dask scheduler` and
two `dask worker` processes on 127.0.0.1, free ports, stopped at the end)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

DASK = str(Path(sys.executable).parent / "dask")

# 2 load-limit settings x 2 room powers x 5 seeds = 20 scenarios of 2.5 virtual seconds, with
# RS-485 noise bursts at seeded random instants; the 300 W load limit trips rooms, which the
# `trips: none` check turns into failed scenarios (with artefacts).
SPEC_20 = """\
name: twenty
system: controller
firmware:
  v1: {elf}
scenario:
  duration: 2.5s
  price_cents_per_kWh: 60
  settings: {{overload_delay_s: 1}}
  loads:
    standard: {{power_W: 1500}}
  faults:
    bus_noise: {{bursts: 3, duration_ms: 2}}
  checks:
    energy: {{tolerance_pct: 1, abs_Wh: 2}}
    trips: none
matrix:
  settings.load_limit_W: [0, 300]
  loads.standard.power_W: [1000, 2500]
seeds: {{count: 5, first: 1}}
"""


@pytest.fixture(scope="session")
def controller_elf():
    from metersim._resources import firmware_path

    p = Path(firmware_path("f103rb", "metering_controller"))
    if not p.is_file():
        pytest.fail(f"{p} is missing: build the firmware with `make firmware` (make test does)")
    return p


@pytest.fixture(scope="session")
def spec20_file(tmp_path_factory, controller_elf):
    d = tmp_path_factory.mktemp("spec20")
    f = d / "twenty.yaml"
    f.write_text(SPEC_20.format(elf=controller_elf))
    return f


@pytest.fixture(scope="session")
def local_table(spec20_file, tmp_path_factory):
    """The 20-scenario campaign on the local pool (2 processes)."""
    from metersim._campaign.runner import run_campaign
    from metersim._campaign.spec import load_spec

    out = tmp_path_factory.mktemp("local") / "twenty.parquet"
    return run_campaign(load_spec(spec20_file), out, workers=2, quiet=True), out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """`dask scheduler` + `dask worker` subprocesses, each in its own process group."""

    def __init__(self, tmp: Path, workers: int = 2):
        self.port = free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.elf_cache = tmp / "worker-elf-cache"
        self.env = dict(os.environ, METERSIM_ELF_CACHE=str(self.elf_cache),
                        DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES="3")
        self.logs = tmp
        self.scheduler = self._start("scheduler", [DASK, "scheduler", "--host", "127.0.0.1",
                                                   "--port", str(self.port), "--no-dashboard"])
        self.workers = [self._start(f"worker{i}", [DASK, "worker", self.address, "--nthreads", "1",
                                                   "--nworkers", "1", "--no-dashboard",
                                                   "--host", "127.0.0.1", "--memory-limit", "0",
                                                   "--death-timeout", "30"])
                        for i in range(workers)]
        self.wait_for_workers(workers)

    def _start(self, name: str, cmd: list[str]) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "w")
        return subprocess.Popen(cmd, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)

    def wait_for_workers(self, n: int, timeout_s: float = 90.0) -> None:
        from distributed import Client

        with Client(self.address, timeout="60s") as c:
            c.wait_for_workers(n, timeout=timeout_s)

    def kill_worker(self, i: int) -> None:
        """SIGKILL the worker's whole process group (nanny and worker): no goodbye to the scheduler."""
        os.killpg(self.workers[i].pid, signal.SIGKILL)
        self.workers[i].wait(10)

    def stop(self) -> None:
        procs = self.workers + [self.scheduler]
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for p in procs:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(5)


@pytest.fixture
def dask_cluster(tmp_path):
    cluster = Cluster(tmp_path)
    try:
        yield cluster
    finally:
        cluster.stop()
