"""Run a campaign: expand the spec, skip what is done (resume), run the rest on the local pool
or on a Dask cluster, journal each row as it arrives, write the Parquet table at the end."""

from __future__ import annotations

from pathlib import Path

from metersim._campaign.matrix import expand
from metersim._campaign.progress import ProgressBar
from metersim._campaign.results import Journal, journal_path, make_row, read_rows, write_table
from metersim._errors import SetupError


def run_campaign(spec, out: str | Path, *, scheduler: str | None = None, workers: int | None = None,
                 resume: bool = False, progress_out=None, quiet: bool = False):
    """Returns the results table (pyarrow.Table), also written to `out`."""
    out = Path(out)
    scenarios = expand(spec)
    ids = {s.scenario_id: s for s in scenarios}
    done: dict = {}
    if resume:
        for r in read_rows(out):
            if r["scenario_id"] in ids:
                r["index"] = ids[r["scenario_id"]].index
                done[r["scenario_id"]] = r
    elif out.exists() or journal_path(out).exists():
        raise SetupError(f"{out} exists: `metersim campaign resume` continues that campaign "
                         f"(or remove the file to start again)")
    todo = [s for s in scenarios if s.scenario_id not in done]
    bar = None if quiet else ProgressBar(len(scenarios), len(done), progress_out)
    journal = Journal(out)

    def on_result(sc, res: dict) -> None:
        row = make_row(sc, res, out)
        journal.append(row)
        done[sc.scenario_id] = row
        if bar is not None:
            bar.update(row)

    try:
        if scheduler:
            from metersim._campaign.dask_pool import run_dask
            run_dask(spec, todo, on_result, scheduler)
        else:
            from metersim._campaign.local_pool import run_local
            run_local(spec, todo, on_result, workers)
    finally:
        journal.close()
    return write_table(list(done.values()), out)
