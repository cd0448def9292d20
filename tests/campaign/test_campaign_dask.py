"""The 20-scenario campaign on a real Dask cluster (a scheduler and two workers started here)
gives the local pool's table apart from wall times, and survives a worker killed mid-campaign."""

from __future__ import annotations

import threading
import time

from metersim._campaign.results import journal_path, read_table, without_wall_times
from metersim._campaign.runner import run_campaign
from metersim._campaign.spec import load_spec


def test_dask_cluster_and_local_pool_give_the_same_table(local_table, spec20_file, dask_cluster, tmp_path):
    local, _ = local_table
    out = tmp_path / "twenty.parquet"
    spec = load_spec(spec20_file)
    remote = run_campaign(spec, out, scheduler=dask_cluster.address, quiet=True)
    assert remote.num_rows == local.num_rows == 20
    assert without_wall_times(remote).equals(without_wall_times(local))
    assert read_table(out).equals(remote)                        # what was written is what ran
    rows = local.to_pylist()
    # the campaign really ran: noise hashed in, both outcomes seen, distinct traces per seed
    assert len({r["trace_sha1"] for r in rows}) == 20
    assert 0 < sum(r["passed"] for r in rows) < 20
    assert all(r["virtual_s"] >= 2.5 and r["wall_s"] > 0 and not r["error"] for r in rows)
    # workers got the ELF with the tasks and cached it by its hash
    assert [p.name for p in dask_cluster.elf_cache.iterdir()] == [f"{spec.firmware['v1'].sha256}.elf"]


def test_a_worker_killed_mid_campaign_and_every_row_is_still_there(local_table, spec20_file,
                                                                    dask_cluster, tmp_path):
    local, _ = local_table
    out = tmp_path / "twenty.parquet"
    result, errors = {}, []

    def campaign():
        try:
            result["table"] = run_campaign(load_spec(spec20_file), out,
                                           scheduler=dask_cluster.address, quiet=True)
        except Exception as e:      # reported by the assertion below
            errors.append(e)

    th = threading.Thread(target=campaign)
    th.start()
    journal = journal_path(out)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and th.is_alive():
        if journal.exists() and len(journal.read_text().splitlines()) >= 3:
            break
        time.sleep(0.2)
    done_before = len(journal.read_text().splitlines())
    assert 3 <= done_before < 20, "the kill must come mid-campaign"
    dask_cluster.kill_worker(0)
    th.join(300)
    assert not th.is_alive() and not errors, errors
    table = result["table"]
    assert table.num_rows == 20
    assert not any(r["error"] for r in table.to_pylist())          # nothing lost to the kill
    assert without_wall_times(table).equals(without_wall_times(local))
