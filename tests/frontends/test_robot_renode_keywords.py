"""Renode's keywords added for suites written for Renode: CPU and LED assertions, binary and
idle UART checks, Renode's tester choice and argument orders. One suite runs against the
hello firmware (STM32F413) and the metering controller (its run LED blinks at 0.5 Hz); each
test below checks one of its cases through Robot's result model."""

import io

import pytest
import robot
from robot.api import ExecutionResult

SUITE = """\
*** Settings ***
Library    metersim.robot
Library    OperatingSystem

*** Keywords ***
Hello
    [Arguments]    ${name}=m
    Execute Command    mach create "${name}"
    Execute Command    machine LoadPlatformDescription @platforms/cpus/stm32f413.repl
    Execute Command    sysbus LoadELF @build/fw/f413rg/hello.elf

Controller
    Execute Command    mach create "mc"
    Execute Command    machine LoadPlatformDescription @platforms/boards/metering_controller.repl
    Execute Command    sysbus LoadELF @build/fw/f103rb/metering_controller.elf
    Create LED Tester    sysbus.gpioPortC.ledRun    defaultTimeout=3

*** Test Cases ***
Registers At Reset Come From The Vector Table
    Hello
    ${sp}=    Execute Command    sysbus ReadDoubleWord 0x08000000
    ${reset}=    Execute Command    sysbus ReadDoubleWord 0x08000004
    ${pc}=    Evaluate    ${reset} & ~1
    Pc Should Be Equal    ${pc}
    Register Should Be Equal    SP    ${sp}
    Register Should Be Equal    13    ${sp}
    Run Keyword And Expect Error    boot: Register R0 value assertion failed, actual: 0x*, expected: 0x1234
    ...    Register Should Be Equal    R0    0x1234    message=boot

PC Matches The Monitor After Running
    Hello
    Create Terminal Tester    sysbus.usart1
    Wait For Line On Uart    uptime 1 s    pauseEmulation=true
    ${pc}=    Execute Command    cpu PC
    Pc Should Be Equal    ${pc}

PC Mismatch Message
    Hello
    Pc Should Be Equal    0

Two Machines Need A Machine Name
    Hello    a
    Hello    b
    Register Should Be Equal    PC    0

Several Testers Need An Id
    Hello
    ${a}=    Create Terminal Tester    sysbus.usart1
    ${b}=    Create Terminal Tester    sysbus.usart2
    ${again}=    Create Terminal Tester    sysbus.usart1
    Should Be Equal As Integers    ${again}    ${a}
    Wait For Line On Uart    uptime 1 s    testerId=${a}
    Wait For Line On Uart    uptime 2 s

Default Tester Chosen
    Hello
    ${a}=    Create Terminal Tester    sysbus.usart1
    Create Terminal Tester    sysbus.usart2
    Set Default Tester    ${a}
    Wait For Line On Uart    uptime 1 s

Prompt In Renode's Argument Order
    Hello
    ${id}=    Create Terminal Tester    sysbus.usart1
    # prompt, testerId, timeout
    ${p}=    Wait For Prompt On Uart    uptime 2    ${id}    3
    Should Be Equal    ${p.line}    uptime 2

Bytes In Binary Mode
    Hello
    Create Terminal Tester    sysbus.usart1    binaryMode=true
    ${r}=    Wait For Bytes On Uart    75 70 74 69 6d 65 20 31 20 73 0a
    Should End With    ${r.content}    ${{b"uptime 1 s\\n"}}
    ${r}=    Wait For Bytes On Uart    75 70 74    matchStart=true
    Should Be Equal    ${r.content}    ${{b"upt"}}
    ${r}=    Wait For Bytes On Uart    ime (\\\\d) s    treatAsRegex=true
    Should Be Equal    ${r.groups}[0]    ${{b"2"}}
    Run Keyword And Expect Error    Attempt to wait for text on a tester configured in binary mode.*
    ...    Wait For Line On Uart    uptime

Idle After Pass
    Hello
    Create Terminal Tester    sysbus.usart1
    Wait For Line On Uart    PASS    timeout=6
    ${t0}=    Get Virtual Time
    Test If Uart Is Idle    2
    ${t1}=    Get Virtual Time
    Should Be True    1.99 < ${t1} - ${t0} < 2.01

Not Idle While Counting
    Hello
    Create Terminal Tester    sysbus.usart1
    Wait For Line On Uart    uptime 1 s
    Test If Uart Is Idle    1.5

Writes Do Not Wait
    Hello
    Create Terminal Tester    sysbus.usart1
    Wait For Line On Uart    cpuid
    # CR1 = UE | TE | RE: let the USART receive too.
    Execute Command    sysbus WriteDoubleWord 0x4001100C 0x200C
    ${t0}=    Get Virtual Time
    Send Key To Uart    0x5A
    Write Char On Uart    Q
    ${t1}=    Get Virtual Time
    Should Be Equal As Numbers    ${t0}    ${t1}
    Run For    1ms
    # 'Q' arrived before 'Z' was read: an overrun (ORE), DR keeps 'Z' (RM0430 USART_SR)
    ${sr}=    Execute Command    sysbus ReadDoubleWord 0x40011000
    Should Be True    ${sr} & 0x08    ORE must be set
    ${dr}=    Execute Command    sysbus ReadDoubleWord 0x40011004
    Should Be Equal    ${dr}    0x0000005A

Lines In A Row
    Hello
    Create Terminal Tester    sysbus.usart1
    @{two}=    Create List    uptime 2 s    uptime (\\\\d) s
    ${r}=    Wait For Lines On Uart    ${two}    treatAsRegex=true
    Should Be Equal    ${r.line}    uptime 3 s
    Should Be Equal    ${r.groups}[0]    3
    # "uptime 5 s" follows "uptime 4 s", not "bye": no run of lines matches
    @{gap}=    Create List    uptime 4 s    bye
    Run Keyword And Expect Error    lines matching >>uptime 4 s<<, >>bye<< did not appear*
    ...    Wait For Lines On Uart    ${gap}    timeout=4

Report Cleared
    Hello
    Create Terminal Tester    sysbus.usart1
    Run For    2.5s
    Clear Terminal Tester Report
    Run Keyword And Expect Error    *did not appear*    Wait For Line On Uart    uptime 1 s    timeout=0
    Wait For Line On Uart    uptime 3 s

Characters Spaced By Write Char Delay
    Hello
    Create Terminal Tester    sysbus.usart1
    Wait For Line On Uart    cpuid
    Execute Command    sysbus WriteDoubleWord 0x4001100C 0x200C
    Write Char Delay    0.01
    Write To Uart    AB
    Run For    1ms
    ${dr}=    Execute Command    sysbus ReadDoubleWord 0x40011004
    Should Be Equal    ${dr}    0x00000041
    Run For    15ms
    ${sr}=    Execute Command    sysbus ReadDoubleWord 0x40011000
    Should Be True    not ${sr} & 0x08    no overrun: B came 10 ms after A
    ${dr}=    Execute Command    sysbus ReadDoubleWord 0x40011004
    Should Be Equal    ${dr}    0x00000042

Log Tester In Renode's Order
    Hello
    Create Log Tester    1    False    1000
    ${t0}=    Get Virtual Time
    Run Keyword And Expect Error    *did not appear*
    ...    Wait For Log Entry    reset (pin)    startEmulation=false
    ${t1}=    Get Virtual Time
    Should Be Equal As Numbers    ${t0}    ${t1}
    Execute Command    machine Reset
    Wait For Log Entry    reset (pin)    startEmulation=false
    Should Not Be In Log    reset (pin)    timeout=0.1
    Should Not Be In Log    reset (pin)    timeout=0.1    level=Error

Temporary File
    ${f}=    Allocate Temporary File
    File Should Exist    ${f}
    File Should Be Empty    ${f}
    ${g}=    Allocate Temporary File
    Should Not Be Equal    ${f}    ${g}
    Set Suite Variable    ${TEMP FILE}    ${f}

Run LED Blinks At Half A Hertz
    Controller
    Assert LED State    true    pauseEmulation=true
    ${on}=    Get Virtual Time
    Assert LED State    false    pauseEmulation=true
    ${off}=    Get Virtual Time
    Should Be True    0.999 < ${off} - ${on} < 1.001
    Assert LED Is Blinking    6    1    1    tolerance=0.01
    Assert LED Duty Cycle    6    0.5    tolerance=0.01
    # from the start of an off second, so the hold does not begin as the LED turns off
    Assert LED State    false    pauseEmulation=true
    Assert And Hold LED State    true    1.1    0.9

LED Hold Broken
    Controller
    Assert LED State    true
    Assert And Hold LED State    true    0    1.5

LED Not Blinking As Expected
    Controller
    Assert LED Is Blinking    4    0.5    0.5

LED Duty Cycle Off
    Controller
    Assert LED Duty Cycle    4    0.9

LED Tester Needs A Number
    Controller
    Assert LED Is Blinking    0    1    1
"""

@pytest.fixture(scope="module")
def results(tmp_path_factory, firmware):
    firmware("f413rg", "hello")
    firmware("f103rb", "metering_controller")
    out = tmp_path_factory.mktemp("robot")
    suite = out / "renode_keywords.robot"
    suite.write_text(SUITE)
    stdout = io.StringIO()
    robot.run(str(suite), outputdir=str(out), log="NONE", report="NONE", stdout=stdout,
              stderr=stdout)
    result = ExecutionResult(str(out / "output.xml"))
    return {t.name: t for t in result.suite.all_tests}


def _passes(results, name):
    t = results[name]
    assert t.status == "PASS", t.message


def _fails(results, name, *parts):
    t = results[name]
    assert t.status == "FAIL"
    for p in parts:
        assert p in t.message, t.message


def test_register_and_pc_assertions_read_the_core(results):
    _passes(results, "Registers At Reset Come From The Vector Table")
    _passes(results, "PC Matches The Monitor After Running")


def test_pc_mismatch_says_actual_and_expected(results):
    _fails(results, "PC Mismatch Message", "PC value assertion failed, actual: 0x8", "expected: 0x0")


def test_cpu_keywords_with_two_machines_need_a_name(results):
    _fails(results, "Two Machines Need A Machine Name",
           "There is more than 1 machine and no machine name was specified. "
           "Available machines: [a, b]")


def test_several_testers_without_id_fail_as_in_renode(results):
    _fails(results, "Several Testers Need An Id",
           "There is more than one tester available - please specify ID of the desired tester.")
    _passes(results, "Default Tester Chosen")


def test_prompt_takes_tester_id_before_timeout(results):
    _passes(results, "Prompt In Renode's Argument Order")


def test_binary_mode_waits_for_bytes(results):
    _passes(results, "Bytes In Binary Mode")


def test_idle_check_runs_the_timeout_or_fails_at_the_first_byte(results):
    _passes(results, "Idle After Pass")
    _fails(results, "Not Idle While Counting", "Terminal tester failed!",
           "m:usart1 was not idle")


def test_writes_return_at_once(results):
    _passes(results, "Writes Do Not Wait")


def test_lines_in_a_row_report_clearing_and_char_delay(results):
    _passes(results, "Lines In A Row")
    _passes(results, "Report Cleared")
    _passes(results, "Characters Spaced By Write Char Delay")


def test_log_tester_positional_arguments_and_start_emulation(results):
    _passes(results, "Log Tester In Renode's Order")


def test_temporary_files(results):
    _passes(results, "Temporary File")


def test_led_tester_measures_the_run_led(results):
    _passes(results, "Run LED Blinks At Half A Hertz")


def test_led_failures_have_renodes_messages(results):
    _fails(results, "LED Hold Broken", "LED changed state.")
    _fails(results, "LED Not Blinking As Expected",
           "Expected blinking pattern not detected (State duration was out of specified range)")
    # the LED is on 1 s in 2 from its first turn-on after boot: well under 90 % of 4 s
    _fails(results, "LED Duty Cycle Off", "Fill assertion not met: expected 90 with tolerance 5%,"
           " but got ")
    got = float(results["LED Duty Cycle Off"].message.split("but got ")[1].split()[0])
    assert 25 < got < 50, got
    _fails(results, "LED Tester Needs A Number", "testDuration: Value must be positive, but was 0")
