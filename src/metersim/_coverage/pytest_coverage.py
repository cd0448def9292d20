"""`pytest --metersim-coverage DIR`: the coverage of the firmware the tests ran, over the whole
session, written to DIR/coverage.info (lcov) and DIR/coverage.xml (Cobertura), with a summary
at the end of the terminal report.

Recorded: the emulations of metersim's `emulation` fixture (so `machine` and `uart` tests), the
C unit-test images of `c_tests`, and emulations a test builds itself and hands to the
`metersim_coverage` fixture (`metersim_coverage(emu)`; nothing happens without the option).
Only sources present here are reported;
`--metersim-coverage-include GLOB` (repeatable) narrows them, e.g. '*/firmware/rtos/*'.
Loaded with metersim's pytest plugin.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from metersim._coverage.report import CoverageData
from metersim._engine.debug import Debugger

_SESSION = pytest.StashKey["CoverageSession"]()


class CoverageSession:
    """Executed blocks per firmware ELF, merged over the session's runs."""

    def __init__(self, folder: Path, include: list[str]):
        self.folder = folder
        self.include = include
        self.blocks: dict[str, set[tuple[int, int]]] = {}
        self.data: CoverageData | None = None

    def add_blocks(self, elf, blocks) -> None:
        self.blocks.setdefault(str(Path(elf).resolve()), set()).update(blocks)

    def watch(self, emulation) -> None:
        """Trace every machine of `emulation` from before its first instruction (the run loop
        calls its pollers before each step)."""
        traced: set[int] = set()

        def start_new_machines() -> None:
            for m in emulation.machines:
                if id(m) not in traced:
                    traced.add(id(m))
                    Debugger.of(m).start_block_trace()
        emulation.pollers.append(start_new_machines)

    def collect(self, emulation) -> None:
        for m in emulation.machines:
            dbg = Debugger.of(m)
            blocks = dbg.stop_block_trace()
            if m.firmware is not None and blocks:
                self.add_blocks(m.firmware.path, blocks)

    def write(self) -> CoverageData:
        data = CoverageData()
        for elf, blocks in sorted(self.blocks.items()):
            data.merge(CoverageData.from_blocks(elf, blocks))
        data = data.filtered(self.include, existing=True)
        data.write_lcov(self.folder / "coverage.info", test_name="pytest")
        data.write_cobertura(self.folder / "coverage.xml")
        self.data = data
        return data


def coverage_session(config) -> CoverageSession | None:
    return config.stash.get(_SESSION, None)


@pytest.fixture
def metersim_coverage(request):
    """`metersim_coverage(emulation)` records that emulation's machines for the session's
    coverage (from before their first instruction to the end of the test); returns it.
    Does nothing without --metersim-coverage."""
    cov = coverage_session(request.config)
    watched = []

    def record(emulation):
        if cov is not None:
            cov.watch(emulation)
            watched.append(emulation)
        return emulation
    yield record
    for emu in watched:
        cov.collect(emu)


def pytest_addoption(parser):
    group = parser.getgroup("metersim", "metersim emulation")
    group.addoption("--metersim-coverage", default=None, metavar="DIR",
                    help="record the firmware's code coverage; write DIR/coverage.info (lcov) "
                         "and DIR/coverage.xml (Cobertura)")
    group.addoption("--metersim-coverage-include", action="append", default=[], metavar="GLOB",
                    help="report only firmware sources whose absolute path matches (repeatable)")


def pytest_configure(config):
    folder = config.getoption("--metersim-coverage")
    if folder:
        config.stash[_SESSION] = CoverageSession(
            Path(folder).resolve(), list(config.getoption("--metersim-coverage-include")))


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session):
    cov = coverage_session(session.config)
    if cov is not None and cov.blocks:
        cov.write()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    cov = coverage_session(config)
    if cov is None:
        return
    terminalreporter.write_sep("-", "metersim firmware coverage")
    if cov.data is None:
        terminalreporter.write_line("no firmware ran under metersim's fixtures, c_tests or "
                                    "metersim_coverage")
        return
    terminalreporter.write_line(cov.data.summary())
    terminalreporter.write_line(f"lcov: {cov.folder / 'coverage.info'}")
    terminalreporter.write_line(f"cobertura: {cov.folder / 'coverage.xml'}")
