"""Scenarios on a local process pool (nothing to start): one process per core by default,
spawned fresh so nothing of the caller's threads or state leaks into a run."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool

from metersim._campaign.task import run_scenario
from metersim._errors import MetersimError


def job_of(sc) -> dict:
    return {"scenario_id": sc.scenario_id, "system": sc.system, "scenario": sc.scenario,
            "seed": sc.seed, "firmware": sc.firmware, "firmware_sha256": sc.firmware_sha256}


def run_local(spec, todo: list, on_result, workers: int | None = None) -> None:
    if not todo:
        return
    workers = workers or os.cpu_count() or 1
    elves = {fw.sha256: fw.path.read_bytes() for fw in spec.firmware.values()}
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(workers, len(todo)), mp_context=ctx) as pool:
        futures = {pool.submit(run_scenario, job_of(sc), elves[sc.firmware_sha256]): sc for sc in todo}
        try:
            for f in as_completed(futures):
                on_result(futures[f], f.result())
        except BrokenProcessPool:
            raise MetersimError("a local worker process died (the rows done so far are kept: "
                                "`metersim campaign resume` runs the rest)") from None
