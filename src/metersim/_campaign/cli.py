"""`metersim campaign run|resume|report`: the parser (added to the top-level CLI's subparsers
by `add_campaign_parser`) and its handlers."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from metersim._errors import SetupError

EXAMPLES = """examples:
  metersim campaign run qualify.yaml                       local process pool, one per core
  metersim campaign run qualify.yaml --workers 2 --out build/qualify.parquet
  metersim campaign run qualify.yaml --scheduler tcp://10.0.0.5:8786   on a Dask cluster
  metersim campaign resume qualify.yaml --out build/qualify.parquet    skip what is done
  metersim campaign report build/qualify.parquet --plots build/qualify-plots
"""


def _out(args) -> Path:
    return Path(args.out) if args.out else Path(args.spec).with_suffix(".parquet")


def _cmd_run(args, resume: bool = False) -> int:
    from metersim._campaign.report import summarize
    from metersim._campaign.runner import run_campaign
    from metersim._campaign.spec import load_spec

    if args.workers is not None and args.workers < 1:
        raise SetupError(f"--workers must be >= 1, got {args.workers}")
    if args.workers is not None and args.scheduler:
        raise SetupError("--workers is for the local pool; a Dask cluster has its own workers")
    spec = load_spec(args.spec)
    out = _out(args)
    table = run_campaign(spec, out, scheduler=args.scheduler, workers=args.workers, resume=resume)
    rows = table.to_pylist()
    print(summarize(rows))
    print(f"results: {out}")
    return 0 if all(r["passed"] for r in rows) else 1


def _cmd_resume(args) -> int:
    return _cmd_run(args, resume=True)


def _cmd_report(args) -> int:
    from metersim._campaign.report import summarize, write_plots
    from metersim._campaign.results import read_table

    rows = read_table(args.results).to_pylist()
    print(summarize(rows))
    plots = Path(args.plots) if args.plots else Path(args.results).with_name(Path(args.results).stem + "-plots")
    for p in write_plots(rows, plots):
        print(f"plot: {p}")
    return 0 if all(r["passed"] for r in rows) else 1


def add_campaign_parser(sub) -> argparse.ArgumentParser:
    """Add `campaign` (run, resume, report) to an argparse subparsers object."""
    fmt = argparse.RawDescriptionHelpFormatter
    ca = sub.add_parser("campaign", help="run a matrix of scenarios (local pool or Dask cluster)",
                        epilog=EXAMPLES, formatter_class=fmt)
    csub = ca.add_subparsers(dest="campaign_command", required=True)
    for name, fn, what in (("run", _cmd_run, "run a campaign spec"),
                           ("resume", _cmd_resume, "run what an interrupted campaign has not done")):
        p = csub.add_parser(name, help=what, epilog=EXAMPLES, formatter_class=fmt)
        p.add_argument("spec", help="campaign spec (YAML)")
        p.add_argument("--out", help="results Parquet file (default: the spec's name with .parquet)")
        p.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                       help="run on this Dask distributed scheduler (default: a local process pool)")
        p.add_argument("--workers", type=int, help="local pool size (default: one per core)")
        p.set_defaults(fn=fn)
    rp = csub.add_parser("report", help="summarise a results file and write plots", epilog=EXAMPLES,
                         formatter_class=fmt)
    rp.add_argument("results", help="results Parquet file")
    rp.add_argument("--plots", help="folder for the PNG plots (default: <results>-plots)")
    rp.set_defaults(fn=_cmd_report)
    return ca


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="metersim")
    add_campaign_parser(p.add_subparsers(dest="command", required=True))
    args = p.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
