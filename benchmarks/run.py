"""Run every benchmark side by side and write the results as JSON (benchmarks/results.json).

    .venv/bin/python benchmarks/run.py [cpu idle ...]

Numbers are ratios measured in one run on one machine; they are never asserted in tests.
"""

import json
import sys
from pathlib import Path

from metersim._bench import BENCHMARKS, run


def main(names: list[str]) -> int:
    results = {name: run(name) for name in (names or list(BENCHMARKS))}
    out = Path(__file__).with_name("results.json")
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0 if all(r.get("checksums_agree", True) for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
