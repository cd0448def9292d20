"""The pytest plugin, exercised the way users meet it: small test files run by pytester
against the real hello firmware, checking outcomes, failure messages and artefacts."""

import re

import pytest

# Imported here so the in-process pytester runs share them (numpy cannot be loaded twice).
import metersim._engine.platform_builder  # noqa: F401
import metersim.pytest_plugin  # noqa: F401
import metersim.peripherals  # noqa: F401
from metersim.peripherals import registry

registry.known_types()   # imports every model module now, outside the pytester runs

pytest_plugins = ["pytester"]

PLUGIN = "metersim.pytest_plugin"


def _plugin_args() -> list[str]:
    """`-p` the plugin unless the installed package already loads it (pytest11 entry point):
    pytest refuses the same plugin registered under two names."""
    from importlib.metadata import entry_points

    if any(ep.value == PLUGIN for ep in entry_points(group="pytest11")):
        return []
    return ["-p", PLUGIN]


@pytest.fixture
def run(pytester, firmware):
    firmware("f413rg", "hello")   # fails clearly when the firmware is not built
    firmware("f103rb", "hello")

    def go(source: str, *args: str):
        pytester.makepyfile(test_user=source)
        art = pytester.path / "art"
        return pytester.runpytest_inprocess(*_plugin_args(), "--metersim-trace-dir", str(art),
                                            "-p", "no:cacheprovider",
                                            "-W", "ignore::pytest.PytestAssertRewriteWarning",
                                            *args), art
    return go


def test_expect_returns_the_line_and_its_virtual_time(run):
    result, art = run("""
        import pytest

        @pytest.mark.metersim(platform="stm32f413", elf="hello")
        def test_uptime(machine, uart, emulation):
            first = uart.expect("uptime 1 s", timeout="2s")
            third = uart.expect(r"uptime (\\d) s", timeout="3s", regex=True)
            assert third.groups == ["2"]
            # one line per virtual second, from a 1 ms SysTick
            assert abs((third.time_ps - first.time_ps) - 10**12) < 10**6
            # the wait stopped at the instant the line ended
            assert emulation.now_ps == third.time_ps
            assert machine.name == "machine-0"
    """)
    result.assert_outcomes(passed=1)
    # passed tests leave nothing behind by default
    assert not any(art.glob("*/machine-0.usart1.log"))


def test_failing_expect_says_what_was_expected_seen_and_where_the_log_is(run):
    result, art = run("""
        import pytest

        @pytest.mark.metersim(platform="stm32f413", elf="hello")
        def test_too_early(uart):
            uart.expect("uptime 4 s", timeout="2500ms")
    """)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*a line containing >>uptime 4 s<< did not appear on machine-0:usart1 within "
        "2.500000 s of virtual time (waited from 0.000 ns to 2.500000 s)*",
        "*last 4 of 4 lines seen on machine-0:usart1:*",
        "*full log: *test_too_early*machine-0.usart1.log*",
    ])
    assert re.search(r"\[2\.00\d+ s\] uptime 2 s", result.stdout.str())
    logs = list(art.glob("*test_too_early/machine-0.usart1.log"))
    assert len(logs) == 1, "the failed test's UART log must be kept"
    text = logs[0].read_text()
    assert "uptime 2 s" in text and "uptime 3 s" not in text
    assert "metersim artifacts kept for failed tests" in result.stdout.str()


def test_keep_artifacts_keeps_passed_tests_logs(run):
    result, art = run("""
        import pytest

        @pytest.mark.metersim(platform="stm32f413", elf="hello")
        def test_pass(uart):
            uart.expect("PASS", timeout="6s")
    """, "--metersim-keep-artifacts")
    result.assert_outcomes(passed=1)
    (log,) = art.glob("*test_pass/machine-0.usart1.log")
    lines = log.read_text().splitlines()
    assert lines[-1].endswith("] PASS")
    assert "uptime 5 s" in lines[-3]
    assert "virtual time" in next(art.glob("*test_pass/summary.txt")).read_text()


def test_marker_core_picks_the_f103_and_module_markers_merge(run):
    result, _ = run("""
        import pytest

        pytestmark = pytest.mark.metersim(core="cortex-m3")

        @pytest.mark.metersim(elf="hello")
        def test_m3(machine, uart, firmware):
            assert machine.cpu.core == "cortex-m3"
            uart.expect("metersim hello on STM32F103RB (Cortex-M3)")
            assert firmware("hello").parts[-2:] == ("f103rb", "hello.elf")
    """)
    result.assert_outcomes(passed=1)


def test_firmware_resolver_errors_name_where_it_looked(run):
    result, _ = run("""
        import pytest
        from metersim._errors import SetupError

        @pytest.mark.metersim(platform="stm32f103rb")
        def test_missing(firmware):
            assert firmware("f413rg", "hello").name == "hello.elf"
            with pytest.raises(SetupError) as exc:
                firmware("no_such_app")
            msg = str(exc.value)
            assert "no_such_app" in msg and "f103rb" in msg and "make firmware" in msg

        @pytest.mark.metersim(platform="stm32f413", elf="nope")
        def test_machine_with_missing_elf(machine):
            pass
    """)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*firmware 'nope' for f413rg not found*make firmware*"])


def test_seed_option_and_marker_seed(run):
    result, _ = run("""
        import pytest

        def test_default(emulation):
            assert emulation.seed == 7

        @pytest.mark.metersim(seed=3)
        def test_marker(emulation):
            assert emulation.seed == 3
    """, "--metersim-seed", "7")
    result.assert_outcomes(passed=2)


def test_log_level_writes_metersim_log_per_test(run):
    result, art = run("""
        import pytest

        @pytest.mark.metersim(platform="stm32f413", elf="hello")
        def test_reset(machine, uart, emulation):
            uart.expect("uptime 1 s", timeout="2s")
            machine.reset()
            uart.expect("metersim hello", timeout="10ms")
    """, "--metersim-log-level", "info", "--metersim-keep-artifacts")
    result.assert_outcomes(passed=1)
    (log,) = art.glob("*test_reset/metersim.log")
    assert "machine-0: reset (pin)" in log.read_text()


def test_bad_marker_and_bad_option_are_clear_errors(run, pytester):
    result, _ = run("""
        import pytest

        @pytest.mark.metersim(platfrom="stm32f413")
        def test_typo(machine):
            pass

        def test_no_platform(machine):
            pass
    """)
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*unknown argument 'platfrom'*",
                                 "*the `machine` fixture needs a platform*"])
    bad = pytester.runpytest_inprocess(*_plugin_args(), "--metersim-log-level", "loud")
    assert bad.ret != 0
    assert "unknown log level 'loud'" in bad.stderr.str() + bad.stdout.str()


def test_expect_no_and_failing_strings(run):
    result, _ = run("""
        import pytest
        from metersim._orchestration.testers import TesterFailure

        @pytest.mark.metersim(platform="stm32f413", elf="hello")
        def test_silence_then_failure(uart):
            uart.expect("PASS", timeout="6s")
            uart.expect_no("uptime", timeout="1s")       # nothing after PASS

        @pytest.mark.metersim(platform="stm32f413", elf="hello")
        def test_failing_string(uart):
            uart.register_failing_string("uptime 2")
            with pytest.raises(TesterFailure, match="failing string >>uptime 2<<"):
                uart.expect("bye", timeout="6s")
    """)
    result.assert_outcomes(passed=2)

