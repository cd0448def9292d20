"""Renode's STM32 suites' keywords and monitor commands on metersim's stand-in firmware
(firmware/targets/renode_samples): a suite of ours whose binaries are URLs, run by `metersim
test --binaries`, on Renode's own platform files (../shared/renode-upstream)."""

import io
import textwrap
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from metersim._cli import main
from metersim._resources import SEARCH_PATH_ENV

HERE = Path(__file__).parent
REPO = HERE.resolve().parents[1]
SUITE = HERE / "renode_style" / "renode_samples.robot"
BINARIES = REPO / "build" / "fw" / "renode_samples" / "binaries"
UPSTREAM = REPO.parents[1] / "shared" / "renode-upstream"
if not UPSTREAM.is_dir():
    UPSTREAM = Path("/work/shared/renode-upstream")


def _run(argv, monkeypatch, cwd=REPO):
    monkeypatch.chdir(cwd)
    monkeypatch.setenv(SEARCH_PATH_ENV, str(UPSTREAM))
    out = io.StringIO()
    with redirect_stdout(out):
        rc = main(["test", *argv])
    return rc, out.getvalue()


def test_renode_suite_keywords_on_the_samples_with_url_binaries(tmp_path, monkeypatch):
    if not (BINARIES / "zephyr-stm32f103-button.elf").exists():
        pytest.fail(f"{BINARIES} is missing: build the firmware with `make firmware`")
    rc, out = _run([str(SUITE), "-r", str(tmp_path), "--binaries", str(BINARIES)], monkeypatch)
    assert rc == 0, out
    assert out.count("with status OK") == 4, out
    # without the binaries folder, the URL is named in the failure
    rc, out = _run([str(SUITE), "-r", str(tmp_path), "-f", "F103"], monkeypatch)
    assert rc == 1
    assert ("https://dl.example.invalid/renode/zephyr-stm32f103-button.elf-s_100-"
            "0123456789abcdef0123456789abcdef01234567: no replacement file") in out


def test_tests_tagged_skipped_are_skipped_unless_asked(tmp_path, monkeypatch):
    suite = tmp_path / "unstable.robot"
    suite.write_text(textwrap.dedent("""\
        *** Test Cases ***
        Unstable
            [Tags]    skipped
            Fail      ran
        Flaky
            [Tags]    flaky
            Fail      ran
        """))
    rc, out = _run([str(suite), "-r", str(tmp_path / "r1"), "--skip", "flaky"], monkeypatch,
                   cwd=tmp_path)
    assert rc == 0 and out.count("with status skipped") == 2, out
    rc, out = _run([str(suite), "-r", str(tmp_path / "r2"), "--run-skipped", "--skip", "flaky"],
                   monkeypatch, cwd=tmp_path)
    assert rc == 1 and "'Unstable.Unstable' in" in out and "      | ran" in out, out
    rc, out = _run([str(suite), "--binaries", str(tmp_path / "nowhere")], monkeypatch,
                   cwd=tmp_path)
    assert rc == 3
