#!/usr/bin/env python3
"""Protocol fuzzing of the head end's TCP link (issue 17): a seeded query manager sending
well-formed, replayed, out-of-order and malformed lines to a head end started in this process on
127.0.0.1 (metersim._headend.link_fuzz; docs/headend.md, "Malformed lines"). Prints its figures;
exit 1 if a check failed.

    .venv/bin/python benchmarks/campaigns/headend_link_fuzz.py --frames 100000 --seed 1
"""

import argparse
import platform
import sys
import tempfile

from metersim._headend import link_fuzz


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=100_000, help="lines to send (default 10^5)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--db", help="database URL (default: SQLite in a temporary directory)")
    a = ap.parse_args()
    if a.frames < 1:
        ap.error(f"--frames: expected a positive count, got {a.frames}")
    with tempfile.TemporaryDirectory(prefix="metersim-linkfuzz-") as tmp:
        url = a.db or f"sqlite:///{tmp}/headend.db"
        fig = link_fuzz.run(url, a.frames, a.seed, progress=lambda f: print(
            f"  {f.frames:,} frames, {f.reports:,} reports", file=sys.stderr, flush=True))
    print(f"head end link fuzz: seed {a.seed}, {url.split(':')[0]}, {platform.machine()}")
    print("figures:\n  " + "\n  ".join(fig.lines()))
    bad = fig.failures()
    print("passed" if not bad else "FAILED: " + "; ".join(bad[:20]))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
