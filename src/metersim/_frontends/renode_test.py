"""`metersim test SUITE.robot...`: runs Robot suites the way Renode's `renode-test` does
(renode `tests/robot_tests_provider.py`), with metersim in place of Renode's server.

Each suite file is taken unchanged; what renode-test adds is added to the in-memory suite:
- `Resource  renode_keywords.resource` (metersim's library under Renode's keyword names and
  the set-up keywords below), so a suite with no Settings section finds its keywords;
- suite setup `Setup` and teardown `Teardown` where the suite has none; test setup
  `Reset Emulation` and teardown `Test Teardown` where a test has none;
- the variables renode-test passes: RENODEKEYWORDS, RESULTS_DIRECTORY, RENODETOOLS,
  SKIP_RUNNING_SERVER, PORT_NUMBER, plus the user's `--variable NAME:VALUE`.

Results go to the results directory: `robot_output.xml` (Renode's name), `log.html`,
`report.html` and `xunit.xml` for CI. The console shows renode-test's
`+++++ Starting test` / `+++++ Finished test ... with status OK|failed` lines and ends with its
summary; the exit code is 0 when every test passed, 1 otherwise.
"""

from __future__ import annotations

import os
import sys
import time
from importlib import resources
from pathlib import Path
from typing import Iterable, TextIO

from metersim._errors import SetupError
from metersim._frontends.renode_binaries import BINARIES_ENV

ROBOT_OUTPUT = "robot_output.xml"


def keywords_resource() -> Path:
    """The resource renode-test's `renode-keywords.robot` stands for."""
    return Path(str(resources.files("metersim._frontends") / "renode_keywords.resource"))


class _Progress:
    """renode-test's console lines (its robot_output_formatter.py), without colours."""

    ROBOT_LISTENER_API_VERSION = 3

    def __init__(self, out: TextIO, prefix: str = ""):
        self.out = out
        self.prefix = prefix     # the name of the suite joining several files, left out
        self.started: dict[str, float] = {}
        self.failed: list[tuple[str, str]] = []

    def _name(self, data) -> str:
        name = data.full_name
        return name[len(self.prefix):] if self.prefix and name.startswith(self.prefix) else name

    def start_test(self, data, result) -> None:
        self.started[data.full_name] = time.time()
        print(f"+++++ Starting test '{self._name(data)}'", file=self.out, flush=True)

    def end_test(self, data, result) -> None:
        took = time.time() - self.started.pop(data.full_name, time.time())
        status = "OK" if result.passed else "skipped" if result.skipped else "failed"
        print(f"+++++ Finished test '{self._name(data)}' in {took:.2f} seconds with status "
              f"{status}", file=self.out, flush=True)
        if not result.passed and not result.skipped:
            self.failed.append((self._name(data), result.message))
            for line in result.message.splitlines():
                print(f"      | {line}", file=self.out, flush=True)


def _prepare(suite, keywords: Path) -> None:
    """What renode-test adds to a suite file (recursively for a directory of suites)."""
    for child in suite.suites:
        _prepare(child, keywords)
    if not suite.tests:
        return
    suite.resource.imports.create(type="Resource", name=str(keywords))
    if not suite.setup:
        suite.setup.config(name="Setup")
    if not suite.teardown:
        suite.teardown.config(name="Teardown")
    for test in suite.tests:
        if not test.setup:
            test.setup.config(name="Reset Emulation")
        if not test.teardown:
            test.teardown.config(name="Test Teardown")


def run_suites(paths: Iterable[str | Path], results_dir: str | Path = "test-results",
               variables: Iterable[str] = (), include: Iterable[str] = (),
               exclude: Iterable[str] = (), fixture: str | None = None,
               stop_on_error: bool = False, out: TextIO | None = None,
               skip: Iterable[str] = ("skipped",), binaries: Iterable[str | Path] = ()) -> int:
    """Run Robot suites as renode-test does; returns the exit code (0: all passed, 1: a test
    failed). Raises SetupError for a missing suite or a suite Robot cannot parse.
    Tests tagged with a `skip` tag are reported skipped without running (renode-test skips
    `skipped`); `binaries` are folders searched first for the suites' URL binaries
    (renode_binaries), ahead of $METERSIM_BINARIES."""
    binaries = [str(Path(b).resolve()) for b in binaries]
    for b in binaries:
        if not Path(b).is_dir():
            raise SetupError(f"metersim test --binaries: {b} is not a folder")
    saved = os.environ.get(BINARIES_ENV)
    if binaries:
        os.environ[BINARIES_ENV] = os.pathsep.join(binaries + ([saved] if saved else []))
    try:
        return _run_suites(paths, results_dir, variables, include, exclude, fixture,
                           stop_on_error, out, list(skip))
    finally:
        if binaries:
            if saved is None:
                os.environ.pop(BINARIES_ENV, None)
            else:
                os.environ[BINARIES_ENV] = saved


def _run_suites(paths, results_dir, variables, include, exclude, fixture, stop_on_error, out,
                skip) -> int:
    from robot.errors import DataError
    from robot.reporting import ResultWriter
    from robot.running import TestSuite
    from robot.running.builder import TestSuiteBuilder

    out = out if out is not None else sys.stdout
    files = [Path(p) for p in paths]
    if not files:
        raise SetupError("metersim test: no suite given (expected SUITE.robot files or folders)")
    for f in files:
        if not f.exists():
            raise SetupError(f"metersim test: {f} does not exist")
    results = Path(results_dir).resolve()
    results.mkdir(parents=True, exist_ok=True)
    keywords = keywords_resource()
    builder = TestSuiteBuilder(included_extensions=("robot",))
    suites = []
    for f in files:
        try:
            suite = builder.build(str(f))
        except DataError as exc:
            raise SetupError(f"metersim test: {f}: {exc}") from None
        _prepare(suite, keywords)
        suites.append(suite)
    if len(suites) == 1:
        top = suites[0]
    else:
        top = TestSuite(name="Tests")
        top.suites.extend(suites)
    # Selection as renode-test does it: tags, then names holding the fixture text.
    top.configure(include_tags=list(include) or None,
                  exclude_tags=list(exclude) or ["excluded"],
                  include_tests=[f"*{fixture}*"] if fixture else None, empty_suite_ok=True)
    variable = [f"RENODEKEYWORDS:{keywords}", f"RESULTS_DIRECTORY:{results}",
                f"RENODETOOLS:{keywords.parent}", "SKIP_RUNNING_SERVER:True",
                "PORT_NUMBER:9999", *variables]
    progress = _Progress(out, "" if top in suites else f"{top.name}.")
    output = results / ROBOT_OUTPUT
    result = top.run(output=str(output), outputdir=str(results), variable=variable,
                     exitonfailure=stop_on_error, listener=[progress], console="none",
                     skip=skip,
                     loglevel="TRACE", stdout=out, stderr=out)
    ResultWriter(str(output)).write_results(log=str(results / "log.html"),
                                            report=str(results / "report.html"),
                                            xunit=str(results / "xunit.xml"))
    stats = result.suite.statistics
    print(f"{stats.total} tests, {stats.passed} passed, {stats.failed} failed, "
          f"{stats.skipped} skipped; results in {results} (robot_output.xml, log.html, "
          f"report.html, xunit.xml)", file=out, flush=True)
    if result.return_code != 0:
        print("Some tests failed :( See the list of failed tests below and logs for details!",
              file=out)
        for name, message in progress.failed:
            print(f"  {name}: {message.splitlines()[0] if message else ''}", file=out)
        out.flush()
        return 1
    print("Tests finished successfully :)", file=out, flush=True)
    return 0
