"""`import metersim` is the user's API: every exported name resolves, and the README's Python
example runs as written, using nothing but those names."""

import re
import subprocess
import sys
from pathlib import Path

import metersim

REPO = Path(__file__).resolve().parents[1]


def test_every_exported_name_resolves():
    for name in metersim.__all__:
        assert getattr(metersim, name) is not None, name
    assert "Emulation" in dir(metersim)


def test_an_unknown_name_is_a_clear_attribute_error():
    try:
        metersim.NoSuchThing
    except AttributeError as e:
        assert "NoSuchThing" in str(e)
    else:
        raise AssertionError("metersim.NoSuchThing did not raise")


def readme_python_example() -> str:
    section = (REPO / "README.md").read_text().split("## Python\n", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_example_uses_only_the_public_names():
    code = readme_python_example()
    assert "from metersim" not in code and "import metersim." not in code
    used = set(re.findall(r"metersim\.(\w+)", code))
    assert used and used <= set(metersim.__all__), used - set(metersim.__all__)


def test_readme_example_runs_from_another_folder(tmp_path):
    proc = subprocess.run([sys.executable, "-c", readme_python_example()], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "504." in proc.stdout and "ms" in proc.stdout     # tick 500 at ~504.7 ms


def test_the_api_reference_in_docs_is_up_to_date():
    from metersim import _apidoc

    assert _apidoc.main(["--check", str(REPO / "docs" / "api.md")]) == 0, \
        "docs/api.md is stale: python -m metersim._apidoc docs/api.md"


# The modules users name themselves: the Robot libraries (`Library  ...`), the pytest plugin
# (`-p ...`) and the CLI's entry point. Each says what it offers in __all__.
ENTRY_MODULES = ["metersim.robot", "metersim.robot.cabinet",
                 "metersim.pytest_plugin", "metersim._cli"]


def test_entry_modules_list_what_they_offer():
    import importlib

    for name in ENTRY_MODULES:
        module = importlib.import_module(name)
        exported = getattr(module, "__all__", None)
        assert exported, f"{name} has no __all__"
        missing = [n for n in exported if not hasattr(module, n)]
        assert missing == [], f"{name}.__all__ names what it lacks: {missing}"
