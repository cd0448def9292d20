"""Scenarios on a Dask distributed cluster (`--scheduler tcp://HOST:PORT`).

Workers need only the metersim package. Each firmware is a task of its own holding the ELF's
bytes (`elf_blob`), so it is sent once to the workers that need it and recomputed from its task
if its worker dies; a worker writes it into its ELF cache under its SHA-256 and reuses it.

Worker loss is handled by Dask, configured explicitly here: a scenario whose worker dies is
rescheduled on another worker by the scheduler, up to `allowed-failures` deaths (raised to the
spec's `retries` + 1 on the scheduler, never lowered); a scenario that raises in the runner
itself is retried `retries` times (`Client.submit(retries=)`). A scenario still lost after that
becomes a failed row naming the reason.
"""

from __future__ import annotations

import os

from metersim._campaign.local_pool import job_of
from metersim._campaign.task import elf_blob, run_scenario
from metersim._errors import SetupError


def _raise_allowed_failures(n: int, dask_scheduler=None) -> int:
    dask_scheduler.allowed_failures = max(dask_scheduler.allowed_failures, n)
    return dask_scheduler.allowed_failures


def connect(scheduler: str, timeout: str = "30s"):
    from distributed import Client

    try:
        return Client(scheduler, timeout=timeout)
    except (OSError, TimeoutError) as e:
        raise SetupError(f"cannot reach the Dask scheduler at {scheduler} ({e}); start one with "
                         f"`dask scheduler` and workers with `dask worker {scheduler}`") from None


def run_dask(spec, todo: list, on_result, scheduler: str) -> None:
    from distributed import as_completed

    if not todo:
        return
    nonce = os.urandom(4).hex()
    with connect(scheduler) as client:
        client.run_on_scheduler(_raise_allowed_failures, spec.retries + 1)
        blobs = {fw.sha256: client.submit(elf_blob, fw.path.read_bytes(), pure=False,
                                          key=f"metersim-elf-{fw.sha256[:16]}-{nonce}")
                 for fw in spec.firmware.values()}
        by_key = {}
        futures = []
        for sc in todo:
            f = client.submit(run_scenario, job_of(sc), blobs[sc.firmware_sha256], pure=False,
                              retries=spec.retries, key=f"metersim-{sc.scenario_id}-{nonce}")
            by_key[f.key] = sc
            futures.append(f)
        for f in as_completed(futures):
            sc = by_key[f.key]
            try:
                res = f.result()
            except Exception as e:          # lost after Dask's retries (e.g. KilledWorker)
                res = {"passed": False, "failures": [f"{type(e).__name__}: {e}"],
                       "error": f"{type(e).__name__}: {e}", "wall_s": None}
            on_result(sc, res)
            f.release()
