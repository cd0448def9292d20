"""`metersim test`: Renode-style suites (no Settings section, no library import) run as
renode-test runs them, with results a CI job can read (exit code, robot_output.xml, xunit)."""

import io
import textwrap
import xml.etree.ElementTree as ET
from contextlib import redirect_stdout
from pathlib import Path

from robot.api import ExecutionResult

from metersim._cli import main

SUITE = Path(__file__).parent / "renode_style" / "hello_f413.robot"
SHELL = Path(__file__).parent / "renode_style" / "shell_f413.robot"
REPO = Path(__file__).resolve().parents[2]


def _run(argv, cwd, monkeypatch):
    monkeypatch.chdir(cwd)
    out = io.StringIO()
    with redirect_stdout(out):
        rc = main(["test", *argv])
    return rc, out.getvalue()


def test_renode_style_suites_pass_unchanged(tmp_path, firmware, monkeypatch):
    firmware("f413rg", "hello")
    firmware("f413rg", "shell_demo")
    before = {p: p.read_text() for p in (SUITE, SHELL)}
    assert not any("*** Settings ***" in t or "Library" in t for t in before.values())
    rc, out = _run([str(SUITE), str(SHELL), "-r", str(tmp_path)], REPO, monkeypatch)
    assert rc == 0, out
    assert {p: p.read_text() for p in (SUITE, SHELL)} == before
    assert "+++++ Finished test 'Hello F413.Should Count Uptime' in" in out
    assert "+++++ Finished test 'Shell F413.Should Blink The LED' in" in out
    assert out.count("with status OK") == 6
    assert out.rstrip().endswith("Tests finished successfully :)")
    for name in ("robot_output.xml", "log.html", "report.html", "xunit.xml"):
        assert (tmp_path / name).is_file(), name
    xunit = ET.parse(tmp_path / "xunit.xml").getroot()
    assert (xunit.get("tests"), xunit.get("failures")) == ("6", "0")
    # renode-test's set-up ran: suite Setup and, per test, Reset Emulation / Test Teardown
    for suite in ExecutionResult(str(tmp_path / "robot_output.xml")).suite.suites:
        assert suite.setup.name == "Setup" and suite.teardown.name == "Teardown"
        test = suite.tests[0]
        assert (test.setup.name, test.teardown.name) == ("Reset Emulation", "Test Teardown")


def test_failures_give_exit_1_the_failed_list_and_xunit(tmp_path, firmware, monkeypatch):
    firmware("f413rg", "hello")
    suite = tmp_path / "failing.robot"
    suite.write_text(textwrap.dedent("""\
        *** Test Cases ***
        Should Wait In Vain
            Execute Command           mach create
            Execute Command           machine LoadPlatformDescription @platforms/cpus/stm32f413.repl
            Execute Command           sysbus LoadELF @build/fw/f413rg/hello.elf
            Create Terminal Tester    sysbus.usart1
            Wait For Line On Uart     uptime 9 s    timeout=1

        Keeps Its Own Setup
            [Setup]    Set Test Variable    ${OWN}    mine
            Should Be Equal    ${OWN}    mine

        Tagged Out
            [Tags]    excluded
            Fail    must not run
        """))
    results = tmp_path / "results"
    rc, out = _run([str(suite), "-r", str(results)], REPO, monkeypatch)
    assert rc == 1
    assert "Some tests failed :(" in out
    assert "  Failing.Should Wait In Vain: a line containing >>uptime 9 s<< did not appear" in out
    assert "with status failed" in out and "Tagged Out" not in out
    xunit = ET.parse(results / "xunit.xml").getroot()
    assert (xunit.get("tests"), xunit.get("failures")) == ("2", "1")
    # the failed test's teardown logged what the tester saw
    log = (results / "robot_output.xml").read_text()
    assert "terminal tester 0: last" in log


def test_fixture_selects_tests_by_name(tmp_path, firmware, monkeypatch):
    firmware("f413rg", "hello")
    firmware("f103rb", "hello")
    rc, out = _run([str(SUITE), "robot/hello_f103.robot", "-r", str(tmp_path), "-f", "Banner"],
                   REPO, monkeypatch)
    assert rc == 0
    # two files: each keeps its own suite name, as renode-test shows them
    assert "+++++ Finished test 'Hello F413.Should Print The Banner'" in out
    assert "Should Count Uptime" not in out and "Hello F103." not in out


def test_missing_suite_is_a_setup_error(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["test", "nope.robot"]) == 3
    assert "nope.robot does not exist" in capsys.readouterr().err
