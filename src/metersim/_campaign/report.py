"""The summary of a results table (printed) and its plots (PNG): pass/fail per parameter value,
energy error per scenario, wall time against virtual time."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path


def summarize(rows: list[dict]) -> str:
    n = len(rows)
    passed = sum(r["passed"] for r in rows)
    errors = [r for r in rows if r["error"]]
    lines = [f"{n} scenarios: {passed} passed, {n - passed} failed"
             + (f" ({len(errors)} did not run to the end)" if errors else "")]
    walls = [r["wall_s"] for r in rows if r["wall_s"] is not None]
    virt = [r["virtual_s"] for r in rows if r["virtual_s"] is not None]
    if walls and virt:
        lines.append(f"virtual time {sum(virt):.1f} s, wall time {sum(walls):.1f} s "
                     f"(summed over workers), {sum(virt) / sum(walls):.2f}x real time per worker")
    errs = [r["max_abs_error_Wh"] for r in rows if r["max_abs_error_Wh"] is not None]
    if errs:
        lines.append(f"worst room energy error {max(errs):.3f} Wh (median {sorted(errs)[len(errs) // 2]:.3f} Wh)")
    lines += _figures(rows)
    by_param = _by_param(rows)
    if by_param:
        lines.append("pass rate by parameter:")
        for key, values in by_param.items():
            for value, (ok, total) in values.items():
                lines.append(f"  {key} = {value}: {ok}/{total} passed")
    failed = [r for r in rows if not r["passed"]]
    if failed:
        lines.append("failed scenarios:")
        for r in failed[:50]:
            why = "; ".join(r["failures"]) or r["error"].splitlines()[-1:]
            lines.append(f"  #{r['index']} {r['scenario_id']} seed {r['seed']} {r['params']}: {why}"
                         + (f" [artefacts: {r['artefacts']}]" if r["artefacts"] else ""))
        if len(failed) > 50:
            lines.append(f"  ... and {len(failed) - 50} more")
    return "\n".join(lines)


def _figures(rows: list[dict]) -> list[str]:
    """The systems' own counts summed over the scenarios (worst_* and max_*: the largest), and
    how many distinct trace hashes reruns of one scenario gave (1: the runs are deterministic)."""
    total: dict = {}
    for r in rows:
        for k, v in json.loads(r.get("figures") or "{}").items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                worst = k.startswith(("worst_", "max_"))
                total[k] = max(total.get(k, v), v) if worst else total.get(k, 0) + v
    out = [f"  {k}: {round(v, 6) if isinstance(v, float) else v}" for k, v in sorted(total.items())]
    hashes, runs = defaultdict(set), defaultdict(int)
    for r in rows:          # runs that differ only in their `repeat` label must agree
        params = {k: v for k, v in json.loads(r["params"]).items() if k != "repeat"}
        key = (r["seed"], json.dumps(params, sort_keys=True))
        runs[key] += 1
        if r.get("trace_sha1"):
            hashes[key].add(r["trace_sha1"])
    if any(n > 1 for n in runs.values()):
        out.append(f"  distinct trace hashes per seed: {max(len(h) for h in hashes.values())} "
                   f"(over {len(rows)} runs of {len(runs)} scenario(s))")
    return (["figures:"] + out) if out else []


def _by_param(rows: list[dict]) -> dict:
    out: dict = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for r in rows:
        for k, v in json.loads(r["params"]).items():
            cell = out[k][json.dumps(v)]
            cell[0] += r["passed"]
            cell[1] += 1
    return {k: {v: tuple(c) for v, c in vals.items()} for k, vals in out.items()}


def write_plots(rows: list[dict], folder: str | Path) -> list[Path]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []

    fig, ax = plt.subplots(figsize=(7, 3.5))
    idx = [r["index"] for r in rows if r["max_abs_error_Wh"] is not None]
    err = [r["max_abs_error_Wh"] for r in rows if r["max_abs_error_Wh"] is not None]
    colors = ["tab:green" if r["passed"] else "tab:red" for r in rows if r["max_abs_error_Wh"] is not None]
    ax.scatter(idx, err, c=colors, s=14)
    ax.set_xlabel("scenario")
    ax.set_ylabel("worst room |energy error| (Wh)")
    ax.set_title("energy against the reference (green passed, red failed)")
    written.append(_save(fig, folder / "energy_error.png"))

    by_param = _by_param(rows)
    if by_param:
        labels, ok, bad = [], [], []
        for key, values in by_param.items():
            for value, (p, total) in values.items():
                labels.append(f"{key}={value}")
                ok.append(p)
                bad.append(total - p)
        fig, ax = plt.subplots(figsize=(7, 0.4 * len(labels) + 1.2))
        ax.barh(labels, ok, color="tab:green", label="passed")
        ax.barh(labels, bad, left=ok, color="tab:red", label="failed")
        ax.set_xlabel("scenarios")
        ax.legend(loc="lower right")
        written.append(_save(fig, folder / "pass_by_parameter.png"))

    fig, ax = plt.subplots(figsize=(5, 3.5))
    pts = [(r["virtual_s"], r["wall_s"]) for r in rows if r["virtual_s"] is not None and r["wall_s"] is not None]
    ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=14)
    ax.set_xlabel("virtual time (s)")
    ax.set_ylabel("wall time (s)")
    ax.set_title("cost of a scenario")
    written.append(_save(fig, folder / "wall_vs_virtual.png"))
    return written


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
