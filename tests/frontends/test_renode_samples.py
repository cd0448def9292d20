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
    # from a folder of its own, so that @platforms/... are Renode's files, as for its suites
    rc, out = _run([str(SUITE), "-r", str(tmp_path), "--binaries", str(BINARIES)], monkeypatch,
                   cwd=tmp_path)
    assert rc == 0, out
    assert out.count("with status OK") == 7, out
    # without the binaries folder, the URL is named in the failure
    rc, out = _run([str(SUITE), "-r", str(tmp_path), "-f", "F072"], monkeypatch, cwd=tmp_path)
    assert rc == 1
    assert ("https://dl.example.invalid/renode/stm32f072b_disco--zephyr-echo.elf-s_100-"
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


def test_monitor_led_tester_and_peripherals_export(tmp_path, monkeypatch):
    """`emulation CreateLEDTester` and its `AssertState`/`AssertAndHoldState` (the monitor form
    Renode's older F072 suite uses), and `peripherals export @file`."""
    from metersim._frontends.monitor import Monitor
    from metersim._frontends.monitor_syntax import MonitorError
    from metersim._frontends.renode_binaries import BINARIES_ENV
    from metersim._frontends.renode_testers import LedAssertionFailed

    monkeypatch.setenv(SEARCH_PATH_ENV, str(UPSTREAM))
    monkeypatch.setenv(BINARIES_ENV, str(BINARIES))
    mon = Monitor(out=lambda text: None)
    try:
        mon.execute("mach create")
        mon.execute("machine LoadPlatformDescription @platforms/boards/stm32f072b_discovery.repl")
        mon.execute("sysbus LoadELF @https://dl.example.invalid/stm32f072b_disco--zephyr-blinky.elf")
        with pytest.raises(MonitorError, match="'sysbus.usart1' is not an LED"):
            mon.execute('emulation CreateLEDTester "uart_tester" sysbus.usart1')
        mon.execute('emulation CreateLEDTester "led_tester" sysbus.gpioPortC.led')
        mon.execute("start")
        for state in ("true", "false", "true"):
            mon.execute(f"led_tester AssertState {state} 1")
        assert 0.9 < mon.emulation.now_ps / 1e12 < 1.1          # toggles every 500 ms
        with pytest.raises(LedAssertionFailed, match="LED changed state"):
            mon.execute("led_tester AssertAndHoldState false 1 1")
        out = tmp_path / "map.txt"
        mon.execute(f"peripherals export @{out}")
        text = out.read_text().splitlines()
        assert text[0] == "Peripheral Map 1.0"
        assert any(line.startswith("usart1\tUART.STM32F7_USART\t<0x40013800, ") for line in text)
        assert any(line.startswith("gpioPortC\tGPIOPort.STM32_GPIOPort\t") for line in text)
        assert "led\tMiscellaneous.LED\t@ gpioPortC" in text
    finally:
        mon.close()
