"""Campaigns: matrices of meter and cabinet scenarios (firmware builds x tariffs x loads x faults
x seeds) run on a local process pool or on a Dask distributed cluster, one Parquet row per
scenario.

    spec = load_spec("qualify.yaml")             # validated: errors name field, line, expectation
    scenarios = expand(spec)                     # the matrix times the seeds
    rows = run_local(spec, scenarios, workers=2)  # or run_dask(spec, scenarios, "tcp://host:8786")
"""
