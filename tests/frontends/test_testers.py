"""Terminal and log testers: line assembly, consumption, pause precision and messages.

The bare machine's console UART emits each byte during the CPU's store to DR, i.e. in the
middle of an execution slice, which is where pausing on a match has to stop the core."""

import logging

import pytest

from metersim._engine.emulation import Emulation
from metersim._engine.machine import Machine
from metersim._errors import SetupError
from metersim._orchestration.testers import LogTester, LogTimeout, TesterFailure, UartTester, UartTimeout


@pytest.fixture
def bare(firmware):
    emu = Emulation()
    m = Machine.bare(emu, "bare")
    m.load_elf(firmware("f413rg", "hello"))
    return emu, m


def send(machine, text: bytes) -> None:
    """Bytes as if the firmware wrote them to the console's DR."""
    for b in text:
        machine["usart1"].write(0x04, 4, b)


def test_pause_stops_the_core_at_the_matching_byte(bare):
    emu, m = bare
    t = UartTester(emu, m, "usart1")
    r = t.wait_for_line("uptime 1 s", pause=True)
    assert emu.now_ps == r.timestamp_ps == m.cpu.now_ps()
    p = t.wait_for_prompt("uptime 2", pause=True)
    assert emu.now_ps == p.timestamp_ps
    assert p.time_s == pytest.approx(2.0, abs=0.01)  # the firmware prints once a second


def test_without_pause_the_wait_ends_with_the_engine_step(bare):
    emu, m = bare
    t = UartTester(emu, m, "usart1")
    r = t.wait_for_line("uptime 1 s", pause=False)
    # the line is stamped when it ended, the emulation ran on to the next event (SysTick)
    assert r.timestamp_ps < emu.now_ps <= r.timestamp_ps + 10**9


def test_cr_is_ignored_lf_ends_lines_and_matches_consume(bare):
    emu, m = bare
    t = UartTester(emu, m, "usart1", timeout=0)
    send(m, b"alpha\r\nbeta\r\ngamma\r\npartial")
    assert t.texts() == ["alpha", "beta", "gamma"]
    assert t.wait_for_line("beta").line == "beta"
    # alpha was consumed along with beta
    with pytest.raises(UartTimeout):
        t.wait_for_line("alpha")
    assert t.wait_for_next_line().line == "gamma"
    with pytest.raises(UartTimeout) as exc:
        t.wait_for_line("partial")                 # not a complete line yet
    assert "unfinished line: 'partial'" in str(exc.value)
    assert t.wait_for_line("part", include_unfinished_line=True).line == "partial"


def test_match_next_line_and_regex_groups(bare):
    emu, m = bare
    t = UartTester(emu, m, "usart1", timeout=0)
    send(m, b"v=12 mV\nother\n")
    r = t.wait_for_line(r"v=(\d+) (\w+)", treat_as_regex=True, match_next_line=True)
    assert r.groups == ["12", "mV"] and r["line"] == "v=12 mV"
    with pytest.raises(TesterFailure, match="the next line on bare:usart1 did not match"):
        t.wait_for_line("absent", match_next_line=True)
    with pytest.raises(SetupError, match="invalid regular expression"):
        t.wait_for_line("(", treat_as_regex=True)


def test_log_file_has_every_line_with_its_virtual_time(bare, tmp_path):
    emu, m = bare
    t = UartTester(emu, m, "usart1", log_path=tmp_path / "u.log")
    t.wait_for_line("uptime 2 s", timeout="3s")
    send(m, b"tail without newline")
    t.close()
    lines = (tmp_path / "u.log").read_text().splitlines()
    assert lines[1].endswith("] metersim hello on STM32F413RG (Cortex-M4F)")
    assert lines[-2].startswith("[     2.00") and lines[-2].endswith("] uptime 2 s")
    assert lines[-1].endswith("(unfinished) tail without newline")
    assert t._feed not in m["usart1"].on_byte


def test_unknown_uart_lists_the_uarts(bare):
    emu, m = bare
    with pytest.raises(SetupError, match="bare has no UART 'usart9'; its UARTs: usart1"):
        UartTester(emu, m, "usart9")


def test_log_tester_waits_in_virtual_time_and_filters_levels(bare):
    emu, m = bare
    logs = LogTester(emu, timeout="1s")
    try:
        emu.run_for("10ms")
        m.reset()
        e = logs.wait_for_entry("reset (pin)", level="Info")
        assert e.time_ps == 10**10 and e.level == logging.INFO
        with pytest.raises(LogTimeout, match="did not appear within 5.000 ms"):
            logs.wait_for_entry("reset", timeout="5ms")   # consumed already
        m.reset()
        logs.should_not_be_in_log("fault")
        with pytest.raises(TesterFailure, match="is in the log"):
            logs.should_not_be_in_log("reset (pin)")
    finally:
        logs.close()
    assert logs not in logging.getLogger("metersim").handlers
