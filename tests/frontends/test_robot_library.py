"""The Robot Framework library: Renode's keyword names and arguments, and suites run in
process against the real hello firmware, checked through Robot's own result model."""

import io
import re
import textwrap

import pytest
import robot
from robot.api import ExecutionResult
from robot.libdoc import LibraryDocumentation

LIB = "metersim.robot"

#: Renode's keywords (renode src/Renode/RobotFrameworkEngine/*Keywords.cs) with the argument
#: names suites pass by name.
RENODE_KEYWORDS = {
    "Execute Command": ["command", "machine"],
    "Execute Script": ["path"],
    "Start Emulation": [],
    "Reset Emulation": [],
    "Provides": ["name"],
    "Requires": ["name"],
    "Create Terminal Tester": ["uart", "timeout", "machine", "endLineOption",
                               "defaultPauseEmulation", "defaultWaitForEcho",
                               "defaultMatchNextLine", "binaryMode"],
    "Wait For Line On Uart": ["content", "timeout", "testerId", "treatAsRegex",
                              "includeUnfinishedLine", "pauseEmulation", "matchNextLine"],
    "Wait For Prompt On Uart": ["prompt", "testerId", "timeout", "treatAsRegex",
                                "pauseEmulation"],
    "Wait For Bytes On Uart": ["content", "timeout", "testerId", "treatAsRegex",
                               "pauseEmulation", "matchStart"],
    "Test If Uart Is Idle": ["timeout", "testerId", "pauseEmulation"],
    "Write To Uart": ["content", "testerId"],
    "Send Key To Uart": ["c", "testerId"],
    "Wait For Next Line On Uart": ["timeout", "testerId", "pauseEmulation"],
    "Should Not Be On Uart": ["content", "timeout", "testerId", "treatAsRegex",
                              "includeUnfinishedLine"],
    "Write Line To Uart": ["content", "testerId", "waitForEcho", "pauseEmulation"],
    "Wait For Lines On Uart": ["content", "timeout", "testerId", "treatAsRegex",
                               "includeUnfinishedLine", "pauseEmulation", "matchFromNextLine"],
    "Clear Terminal Tester Report": ["testerId"],
    "Write Char Delay": ["delay", "testerId"],
    "Write Char On Uart": ["c", "testerId"],
    "Set Default Uart Timeout": ["timeout"],
    "Set Default Tester": ["id"],
    "Register Failing Uart String": ["pattern", "treatAsRegex", "testerId"],
    "Create Log Tester": ["timeout", "defaultPauseEmulation", "maxLogEntries"],
    "Wait For Log Entry": ["pattern", "timeout", "keep", "treatAsRegex", "pauseEmulation",
                           "level", "startEmulation"],
    "Should Not Be In Log": ["pattern", "timeout", "treatAsRegex", "pauseEmulation", "level"],
    "Pc Should Be Equal": ["value", "machine", "cpuName"],
    "Register Should Be Equal": ["register", "value", "machine", "cpuName", "message"],
    "Create Led Tester": ["led", "defaultTimeout", "machine"],
    "Assert Led State": ["state", "timeout", "testerId", "pauseEmulation"],
    "Assert And Hold Led State": ["initialState", "timeoutAssert", "timeoutHold", "testerId",
                                  "pauseEmulation"],
    "Assert Led Duty Cycle": ["testDuration", "expectedDutyCycle", "tolerance", "testerId",
                              "pauseEmulation"],
    "Assert Led Is Blinking": ["testDuration", "onDuration", "offDuration", "tolerance",
                               "testerId", "pauseEmulation"],
    "Allocate Temporary File": [],
}


def test_keywords_have_renodes_names_and_argument_names():
    doc = LibraryDocumentation(LIB)
    kws = {kw.name: kw for kw in doc.keywords}
    for name, args in RENODE_KEYWORDS.items():
        assert name in kws, f"missing keyword {name}"
        have = list(kws[name].args.argument_names)
        assert have[:len(args)] == args, f"{name}: {have}"
        assert kws[name].doc.strip(), f"{name} has no documentation"
    assert doc.scope == "SUITE"
    for extra in ("Run For", "Power Cut", "Power Restore"):
        assert extra in kws


@pytest.fixture(scope="module")
def suite_result(tmp_path_factory, firmware):
    """One suite, several tests; each test below checks one of them."""
    firmware("f413rg", "hello")
    out = tmp_path_factory.mktemp("robot")
    suite = out / "checks.robot"
    suite.write_text(textwrap.dedent("""\
        *** Settings ***
        Library    metersim.robot

        *** Keywords ***
        Hello
            Execute Command    mach create "m"
            Execute Command    machine LoadPlatformDescription @platforms/cpus/stm32f413.repl
            Execute Command    sysbus LoadELF @build/fw/f413rg/hello.elf
            Create Terminal Tester    sysbus.usart1

        *** Test Cases ***
        Timeout Message
            Hello
            Wait For Line On Uart    uptime 9 s    timeout=1.5

        Earlier Test Left Nothing Behind
            ${out}=    Execute Command    mach
            Should Start With    ${out}    no machines

        Pause Stops At The Line
            Hello
            ${r}=    Wait For Line On Uart    uptime (\\\\d) s    treatAsRegex=true    pauseEmulation=true
            Should Be Equal    ${r.groups}[0]    1
            Should Be Equal    ${r}[line]    uptime 1 s
            ${t}=    Get Virtual Time
            Should Be Equal As Numbers    ${t * 1000}    ${r.timestamp}

        Prompt Matches Before The Line Ends
            Hello
            ${p}=    Wait For Prompt On Uart    uptime 2    timeout=3    pauseEmulation=true
            ${t}=    Get Virtual Time
            ${l}=    Wait For Next Line On Uart
            Should Be Equal As Numbers    ${p.timestamp}    ${t * 1000}    precision=6
            Should Be True    ${p.timestamp} < ${l.timestamp}
            # the prompt consumed the front of the line; the rest comes as the next line
            Should Be Equal    ${l.line}    ${SPACE}s

        Characters Reach The Receiver
            Hello
            Wait For Line On Uart    cpuid
            # CR1 = UE | TE | RE: let the USART receive too.
            Execute Command    sysbus WriteDoubleWord 0x4001100C 0x200C
            Write Char On Uart    Z
            Run For    1ms
            ${sr}=    Execute Command    sysbus ReadDoubleWord 0x40011000
            Should Be True    ${sr} & 0x20    RXNE must be set
            ${dr}=    Execute Command    sysbus ReadDoubleWord 0x40011004
            Should Be Equal    ${dr}    0x0000005A

        Bad Monitor Command
            Execute Command    mach create
            Execute Command    machine LoadPlatformDescription @platforms/cpus/stm32f413.repl
            Execute Command    sysbus LoadELF @no/such/file.elf

        Requires Unknown
            Requires    never-provided

        Log Entries With Level
            Hello
            Create Log Tester    1
            Run For    10ms
            Execute Command    machine Reset
            Wait For Log Entry    m: reset (pin)    level=Info
            Execute Command    machine Reset
            Wait For Log Entry    reset (pin)    level=Warning    timeout=0.5

        Failing String
            Hello
            Register Failing Uart String    uptime 2
            Wait For Line On Uart    bye    timeout=6

        Provider With Expected Failure
            Hello
            Run Keyword And Expect Error    *did not appear*
            ...    Wait For Line On Uart    uptime 9 s    timeout=1.5
            Provides    after-timeout
            ${l}=    Wait For Line On Uart    uptime
            Set Suite Variable    ${PROVIDER_UPTIME}    ${l.timestamp}

        Requirer Gets The Same State
            Requires    after-timeout
            ${t}=    Get Virtual Time
            Should Be Equal As Numbers    ${t}    1.5
            # the failed wait consumed nothing: the lines before 1.5 s are still there
            ${l}=    Wait For Next Line On Uart
            Should Be Equal    ${l.line}    metersim hello on STM32F413RG (Cortex-M4F)
            ${l}=    Wait For Line On Uart    uptime
            Should Be Equal    ${l.line}    uptime 1 s
            Should Be Equal As Numbers    ${l.timestamp}    ${PROVIDER_UPTIME}
            ${t}=    Get Virtual Time
            Should Be Equal As Numbers    ${t}    1.5

        Power Cut Twice
            Hello
            Run For    10ms
            Power Cut
            Power Cut
        """))
    stdout = io.StringIO()
    rc = robot.run(str(suite), outputdir=str(out), log="NONE", report="NONE",
                   stdout=stdout, stderr=stdout)
    result = ExecutionResult(str(out / "output.xml"))
    tests = {t.name: t for t in result.suite.all_tests}
    return rc, tests, out


def _test(suite_result, name):
    return suite_result[1][name]


def test_timeout_failure_says_expected_seen_and_log_path(suite_result):
    t = _test(suite_result, "Timeout Message")
    assert t.status == "FAIL"
    msg = t.message
    assert msg.startswith("a line containing >>uptime 9 s<< did not appear on m:usart1 within "
                          "1.500000 s of virtual time (waited from ")
    assert re.search(r"\n  \[1\.00\d+ s\] uptime 1 s\n", msg), msg
    out = suite_result[2]
    log = out / "metersim" / "Checks" / "Timeout_Message" / "m.usart1.log"
    assert f"full log: {log}" in msg
    assert "uptime 1 s" in log.read_text()


def test_each_test_starts_from_an_empty_emulation(suite_result):
    assert _test(suite_result, "Earlier Test Left Nothing Behind").status == "PASS"


def test_pause_on_match_stops_at_the_line_and_returns_groups(suite_result):
    t = _test(suite_result, "Pause Stops At The Line")
    assert t.status == "PASS", t.message


def test_prompt_matches_an_unfinished_line(suite_result):
    t = _test(suite_result, "Prompt Matches Before The Line Ends")
    assert t.status == "PASS", t.message


def test_written_characters_reach_the_usart_receiver(suite_result):
    t = _test(suite_result, "Characters Reach The Receiver")
    assert t.status == "PASS", t.message


def test_monitor_errors_fail_the_keyword_with_the_monitor_message(suite_result):
    t = _test(suite_result, "Bad Monitor Command")
    assert t.status == "FAIL"
    assert t.message.startswith("file 'no/such/file.elf' not found (looked in: ")


def test_requires_without_provides_is_a_clear_error(suite_result):
    t = _test(suite_result, "Requires Unknown")
    assert t.status == "FAIL"
    assert "Requires 'never-provided': no test provided it" in t.message


def test_log_entries_match_by_text_and_level(suite_result):
    t = _test(suite_result, "Log Entries With Level")
    assert t.status == "FAIL"
    # the first wait (Info) passed; the reset is not a warning, so the second one fails
    assert t.message.startswith("a log entry containing >>reset (pin)<< at level WARNING or "
                                "above did not appear within 500.000 ms")
    assert "m: reset (pin)" in t.message


def test_failing_string_aborts_the_wait(suite_result):
    t = _test(suite_result, "Failing String")
    assert t.status == "FAIL"
    assert re.match(r"failing string >>uptime 2<< seen on m:usart1 at 2\.00\d+ s while "
                    r"waiting for a line containing >>bye<<", t.message), t.message


def test_requires_replays_the_provided_state_including_failed_waits(suite_result):
    assert _test(suite_result, "Provider With Expected Failure").status == "PASS"
    t = _test(suite_result, "Requirer Gets The Same State")
    assert t.status == "PASS", t.message


def test_power_cut_twice_is_refused(suite_result):
    t = _test(suite_result, "Power Cut Twice")
    assert t.status == "FAIL"
    assert "m is already without power" in t.message


def test_repository_suites_pass(tmp_path, firmware):
    """robot/*.robot, as `make test` runs them (from the repository root)."""
    import os
    from pathlib import Path

    firmware("f103rb", "systick_rate")
    repo = Path(__file__).resolve().parents[2]
    cwd = os.getcwd()
    os.chdir(repo)
    try:
        stdout = io.StringIO()
        rc = robot.run(str(repo / "robot"), outputdir=str(tmp_path), log="NONE",
                       report="NONE", stdout=stdout, stderr=stdout)
    finally:
        os.chdir(cwd)
    assert rc == 0, stdout.getvalue()[-3000:]


def test_old_style_renode_suite_runs_with_the_renode_keywords_resource(tmp_path, firmware):
    """A suite written for `renode-test` with `Resource ${RENODEKEYWORDS}`."""
    from pathlib import Path

    firmware("f103rb", "hello")
    repo = Path(__file__).resolve().parents[2]
    suite = tmp_path / "old_style.robot"
    suite.write_text(textwrap.dedent("""\
        *** Settings ***
        Suite Setup       Setup
        Suite Teardown    Teardown
        Test Setup        Reset Emulation
        Test Teardown     Test Teardown
        Resource          ${RENODEKEYWORDS}

        *** Test Cases ***
        Should Print Uptime
            Execute Command    mach create
            Execute Command    machine LoadPlatformDescription @platforms/cpus/stm32f103rb.repl
            Execute Command    sysbus LoadELF @build/fw/f103rb/hello.elf
            Create Terminal Tester    sysbus.usart1
            Start Emulation
            Wait For Line On Uart    uptime 2 s

        Should Fail And Report
            Execute Command    mach create
            Execute Command    machine LoadPlatformDescription @platforms/cpus/stm32f103rb.repl
            Execute Command    sysbus LoadELF @build/fw/f103rb/hello.elf
            Create Terminal Tester    sysbus.usart1
            Wait For Line On Uart    uptime 2 s    timeout=1
        """))
    stdout = io.StringIO()
    robot.run(str(suite), outputdir=str(tmp_path), log="NONE", report="NONE", stdout=stdout,
              stderr=stdout,
              variable=[f"RENODEKEYWORDS:{repo / 'robot' / 'renode-keywords.resource'}"])
    result = ExecutionResult(str(tmp_path / "output.xml"))
    tests = {t.name: t for t in result.suite.all_tests}
    assert tests["Should Print Uptime"].status == "PASS", tests["Should Print Uptime"].message
    failed = tests["Should Fail And Report"]
    assert failed.status == "FAIL"
    # the teardown logged the tester's report
    messages = [m.message for kw in [failed.teardown] for m in _messages(kw)]
    assert any("terminal tester 0: last 2 of 2 lines seen on machine-0:usart1" in m
               for m in messages), messages


def _messages(item):
    for child in getattr(item, "body", []):
        if getattr(child, "type", "") == "MESSAGE":
            yield child
        else:
            yield from _messages(child)
