"""pytest collector for on-target C unit tests (firmware/testing/mstest.h): every C test case
of a test image becomes its own pytest item, so `-k`, `--junitxml` (one testcase per C case)
and the terminal report work as for Python tests.

    # tests/firmware/test_rtos_units.py
    from metersim._frontends.pytest_ctest import c_tests

    unit_ds = c_tests("unit_ds", target="f413rg")        # build/fw/f413rg/unit_ds.elf
    unit_kernel = c_tests("build/fw/f103rb/unit_kernel.elf", timeout="5s")

The cases are listed from the ELF (no run at collection). The image runs once, on the board
its build recorded (or `platform=`), when its first selected case runs; each item then reports
its case: a failed C assertion shows `file:line: message` with the values; a case that was
running when the image faulted or hung fails with the fault report; cases after it are
reported as not run. With `--metersim-coverage DIR` the image's run is recorded too.
Loaded with metersim's pytest plugin.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from metersim._orchestration.ctest_image import (CCase, ImageRun, list_c_test_cases,
                                                run_c_test_image)


@dataclass(frozen=True)
class CTestImage:
    """A C unit-test image to collect (see `c_tests`)."""
    image: str
    target: str | None = None
    platform: str | None = None
    timeout: str = "10s"
    seed: int = 0


def c_tests(image: str, target: str | None = None, platform: str | None = None,
            timeout: str = "10s", seed: int = 0) -> CTestImage:
    """Collect the C test cases of `image` (a firmware name looked up under build/fw/<target>,
    or a path to an ELF) as pytest items; assign the result to a module-level name."""
    return CTestImage(str(image), target, platform, timeout, seed)


class CTestFailure(Exception):
    """A C case failed (its assertion's message and location), or did not run."""

    def __init__(self, case: CCase, text: str):
        super().__init__(text)
        self.case = case


@pytest.hookimpl(trylast=True)
def pytest_pycollect_makeitem(collector, name, obj):
    if isinstance(obj, CTestImage):
        return CTestImageCollector.from_parent(collector, name=name, spec=obj)
    return None


class CTestImageCollector(pytest.Collector):
    def __init__(self, *, spec: CTestImage, **kw):
        super().__init__(**kw)
        self.spec = spec
        self._run: ImageRun | None = None
        self._elf: Path | None = None

    @property
    def elf(self) -> Path:
        if self._elf is None:
            from metersim.pytest_plugin import FirmwareResolver
            self._elf = FirmwareResolver(self.config, self.spec.target)(self.spec.image)
        return self._elf

    def collect(self):
        for case in list_c_test_cases(self.elf):
            yield CTestItem.from_parent(self, name=case.full_name, case=case)

    def image_run(self) -> ImageRun:
        if self._run is None:
            from metersim._coverage.pytest_coverage import coverage_session
            cov = coverage_session(self.config)
            self._run = run_c_test_image(self.elf, self.spec.platform, self.spec.timeout,
                                         self.spec.seed, record_coverage=cov is not None)
            if cov is not None:
                cov.add_blocks(self.elf, self._run.blocks)
        return self._run


class CTestItem(pytest.Item):
    def __init__(self, *, case: CCase, **kw):
        super().__init__(**kw)
        self.case = case

    def runtest(self) -> None:
        run = self.parent.image_run()
        res = run.result(self.case)
        if res.status == "PASS":
            return
        if res.status == "FAIL" and res.file:
            raise CTestFailure(self.case, f"{res.file}:{res.line}: {res.message}")
        raise CTestFailure(self.case, f"{self.case.full_name} did not run: {res.message}")

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, CTestFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.case.file, self.case.line - 1, f"C test {self.case.full_name}"
