"""On-target C unit tests as pytest items (metersim._frontends.pytest_ctest), the way users meet
them: small test files run by pytester against mstest's own check images (passing, failing
and faulting C cases), JUnit XML for CI, and `--metersim-coverage`."""

import xml.etree.ElementTree as ET

import pytest

# Imported here so the in-process pytester runs share them (numpy cannot be loaded twice).
import metersim._engine.platform_builder  # noqa: F401
import metersim.pytest_plugin  # noqa: F401
import metersim.peripherals  # noqa: F401
from metersim._orchestration.ctest_image import list_c_test_cases
from metersim.peripherals import registry

from tests.conftest import REPO
from tests.frontends.test_pytest_plugin import _plugin_args

registry.known_types()

pytest_plugins = ["pytester"]

SELFTEST = REPO / "firmware" / "testing" / "selftest" / "main.c"
SELFTEST_CASES = ["selftest.passes", "selftest.eq_fails_with_both_values",
                  "selftest.str_fails_with_both_strings",
                  "selftest.mem_fails_at_first_difference", "selftest.failure_ends_its_case"]


def c_tests_file(extra: str = "", **images: str) -> str:
    """A user's test file collecting `name = c_tests(image, target="f413rg", ...)`."""
    lines = ["from metersim._frontends.pytest_ctest import c_tests"]
    lines += [f'{name} = c_tests({args}, target="f413rg")' for name, args in images.items()]
    return "\n".join(lines) + "\n" + extra


def line_of(path, text: str) -> int:
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if text in line:
            return n
    raise AssertionError(f"{text!r} not in {path}")


@pytest.fixture
def run(pytester, firmware):
    for name in ("mstest_selftest", "mstest_crash", "hello"):
        firmware("f413rg", name)   # fails clearly when the firmware is not built

    def go(source: str, *args: str):
        pytester.makepyfile(test_c=source)
        return pytester.runpytest_inprocess(
            *_plugin_args(), "--rootdir", str(REPO), "-p", "no:cacheprovider",
            "--metersim-trace-dir", str(pytester.path / "art"),
            "-W", "ignore::pytest.PytestAssertRewriteWarning", *args)
    return go


def test_cases_are_listed_from_the_elf_in_source_order(firmware):
    cases = list_c_test_cases(firmware("f413rg", "mstest_selftest"))
    assert [c.full_name for c in cases] == SELFTEST_CASES
    assert cases[1].file == "testing/selftest/main.c"
    assert cases[1].line == line_of(SELFTEST, "MSTEST(selftest, eq_fails_with_both_values)")


def test_each_c_case_is_a_pytest_item_with_its_assertion_message(run, pytester):
    junit = pytester.path / "junit.xml"
    result = run(c_tests_file(selftest='"mstest_selftest"'), "-v", f"--junitxml={junit}")
    result.assert_outcomes(passed=2, failed=3)
    out = result.stdout.str()
    assert "test_c.py::selftest::selftest.passes PASSED" in out
    assert "test_c.py::selftest::selftest.failure_ends_its_case PASSED" in out
    eq_line = line_of(SELFTEST, "MST_EQ(energy_Wh, 42);")
    assert (f"testing/selftest/main.c:{eq_line}: expected energy_Wh == 42, "
            "got 41 (0x29) and 42 (0x2a)") in out
    assert 'got "relay open" and "relay closed"' in out
    assert "differ at 2: 0x22 and 0x23" in out
    # JUnit XML: one testcase per C case, failures carry the C location and message
    cases = list(ET.parse(junit).getroot().iter("testcase"))
    assert [c.get("name") for c in cases] == SELFTEST_CASES
    assert {c.get("classname") for c in cases} == {"test_c.selftest"}
    failed = {c.get("name"): c.find("failure") for c in cases if c.find("failure") is not None}
    assert set(failed) == {"selftest.eq_fails_with_both_values",
                           "selftest.str_fails_with_both_strings",
                           "selftest.mem_fails_at_first_difference"}
    assert f"main.c:{eq_line}: expected energy_Wh == 42" in \
        failed["selftest.eq_fails_with_both_values"].get("message")


def test_k_selects_c_cases_by_name(run):
    result = run(c_tests_file(selftest='"mstest_selftest"'), "-k", "str_fails or passes")
    result.assert_outcomes(passed=1, failed=1, deselected=3)


def test_a_fault_fails_the_running_case_with_the_report_and_the_rest_did_not_run(run):
    result = run(c_tests_file(crash='"mstest_crash"'), "-v")
    result.assert_outcomes(passed=1, failed=2)
    out = result.stdout.str()
    assert "crash.passes_before_the_fault PASSED" in out
    assert "crash.writes_where_nothing_is_mapped FAILED" in out
    assert "while this case ran, the image faulted" in out
    assert "HardFault" in out and "mstest_crash_writes_where_nothing_is_mapped" in out
    assert ("crash.never_runs did not run: the image faulted in "
            "crash.writes_where_nothing_is_mapped") in out


def test_a_missing_image_is_a_collection_error_that_says_how_to_build_it(run):
    result = run(c_tests_file(nothing='"unit_nothing"'))
    result.assert_outcomes(errors=1)
    out = result.stdout.str()
    assert "unit_nothing" in out and "make firmware" in out


def test_coverage_option_records_c_tests_and_fixture_runs(run, pytester):
    cov_dir = pytester.path / "cov"
    result = run(c_tests_file("""
import pytest

@pytest.mark.metersim(platform="stm32f413", elf="hello")
def test_hello(uart):
    uart.expect("uptime 1 s", timeout="2s")
""", selftest='"mstest_selftest"'), f"--metersim-coverage={cov_dir}")
    result.assert_outcomes(passed=3, failed=3)
    out = result.stdout.str()
    assert "metersim firmware coverage" in out and f"lcov: {cov_dir / 'coverage.info'}" in out
    info = (cov_dir / "coverage.info").read_text()
    fw = REPO / "firmware"
    assert f"SF:{fw / 'testing' / 'selftest' / 'main.c'}" in info   # the C tests' image
    assert f"SF:{fw / 'targets' / 'hello' / 'main.c'}" in info      # the uart fixture's run
    assert "FNDA:1,mstest_run_all" in info
    assert ET.parse(cov_dir / "coverage.xml").getroot().get("lines-valid")


def test_an_image_that_outlives_its_timeout_fails_the_running_case(run):
    # unit_kernel's timer case sleeps 55 ticks (55 ms); 30 ms of virtual time end it there
    result = run(c_tests_file(kernel='"unit_kernel", timeout="30ms"'), "-v")
    out = result.stdout.str()
    assert "timer.periodic_fires_each_period_until_stopped FAILED" in out
    assert "while this case ran, the image hung" in out
    assert "did not run: the image hung in timer.periodic_fires_each_period_until_stopped" in out
    assert "sem.counts_up_to_max_and_times_out PASSED" in out


def test_tests_that_build_their_own_emulation_hand_it_to_metersim_coverage(run, pytester):
    cov_dir = pytester.path / "cov"
    source = """
from metersim._engine.boards import machine_for_firmware
from metersim._engine.emulation import Emulation

def test_own(metersim_coverage, firmware):
    emu = metersim_coverage(Emulation())
    machine_for_firmware(emu, str(firmware("f413rg", "rtos_ipc")))
    emu.run_for("1s")
"""
    result = run(source, f"--metersim-coverage={cov_dir}",
                 "--metersim-coverage-include=*/rtos/tests/*")
    result.assert_outcomes(passed=1)
    info = (cov_dir / "coverage.info").read_text()
    assert f"SF:{REPO / 'firmware' / 'rtos' / 'tests' / 'rtos_ipc' / 'main.c'}" in info
    assert "SF:" + str(REPO / "firmware" / "rtos" / "src") not in info   # the include filter
    assert "FNDA:1,prod_main" in info
    # without the option the fixture records nothing and reports nothing
    result = run(source)
    result.assert_outcomes(passed=1)
    assert "metersim firmware coverage" not in result.stdout.str()
