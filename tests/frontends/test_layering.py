"""Only the engine touches the CPU emulator: every front end (CLI, Robot library, pytest
plugin, monitor, console, GDB stub) and every model goes through metersim's API and the
engine's debug API."""

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ENGINE = REPO / "src" / "metersim" / "_engine"


def unicorn_imports(path: Path) -> list[int]:
    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            continue
        if any(n == "unicorn" or n.startswith("unicorn.") for n in names):
            lines.append(node.lineno)
    return lines


def test_no_unicorn_import_outside_the_engine():
    sources = [p for root in (REPO / "src", REPO / "peripherals") for p in root.rglob("*.py")]
    assert any(unicorn_imports(p) for p in ENGINE.glob("*.py"))   # the scan does find them
    offenders = [f"{p.relative_to(REPO)}:{line}" for p in sources
                 if ENGINE not in p.parents for line in unicorn_imports(p)]
    assert offenders == []
