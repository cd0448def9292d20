"""One scenario on a worker (a local pool process or a Dask worker): the ELF from the cache,
the system's run, the wall time, and any exception turned into a failed row (a firmware fault
or a hung engine is a result of the scenario, not a crash of the campaign)."""

from __future__ import annotations

import time
import traceback

from metersim._campaign.elf_cache import cached_elf
from metersim._campaign.systems import system_module


def elf_blob(data: bytes) -> bytes:
    """A firmware's bytes as a Dask task of their own (recomputed if its worker dies)."""
    return data


def run_scenario(job: dict, elf_data: bytes | None) -> dict:
    """`job`: {scenario_id, system, scenario, seed, firmware, firmware_sha256}."""
    wall0 = time.perf_counter()
    out = {"scenario_id": job["scenario_id"]}
    try:
        elf = cached_elf(job["firmware_sha256"], elf_data)
        res = system_module(job["system"]).run(job["scenario"], job["seed"], {job["firmware"]: str(elf)})
        out.update(res)
        out["error"] = ""
    except Exception as e:     # the scenario failed to run: a result, kept with its traceback
        out.update(passed=False, failures=[f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"],
                   error="".join(traceback.format_exception(e)),
                   artefacts={"error.txt": "".join(traceback.format_exception(e)).encode()})
    out["wall_s"] = time.perf_counter() - wall0
    return out
