"""pytest plugin: fixtures that build an emulated board, run its firmware and check its UART
in virtual time, with per-test artefacts kept when a test fails.

    import pytest

    @pytest.mark.metersim(platform="stm32f413", elf="hello")
    def test_uptime(machine, uart):
        line = uart.expect("uptime 2 s", timeout="3s")
        assert 2.0 < line.time_s < 2.01

Fixtures (function scope, layered: `uart` -> `machine` -> `emulation`):

- `emulation`: an `Emulation` seeded from `--metersim-seed` (or the marker's `seed=`).
- `machine`: the machine described by `@pytest.mark.metersim(...)` (closest marker wins per
  argument, then the ini options `metersim_platform`, `metersim_elf`, `metersim_core`,
  `metersim_target`):
  `platform` a `.repl` path or a name under `platforms/cpus|boards` (`"stm32f103rb"`);
  `core` ("cortex-m3", "cortex-m4f") picks the default platform of that core when no platform
  is given and is checked against the platform otherwise; `elf` a path or a firmware name
  resolved by `firmware`; `target` the build folder under `build/fw` (inferred from the
  platform: stm32f413 -> f413rg, stm32f103rb -> f103rb); `name` the machine name; `uart` the
  console for the `uart` fixture.
- `firmware`: resolves `firmware("hello")`, `firmware("hello.elf")`,
  `firmware("f103rb", "hello")` or a path to an existing ELF; a clear error names the places
  it looked and how to build the firmware.
- `uart`: a terminal tester on the console UART (metersim._orchestration.testers.UartTester):
  `uart.expect(pattern, timeout="1s")` returns the line and its virtual time, a failure says
  what was expected, what was seen and where the full log is; `expect_no`, `write_line`,
  `texts()` as well.
- `metersim_artifacts`: this test's artefact folder (`Path`).

Options: `--metersim-seed N`, `--metersim-trace-dir DIR` (artefacts, default
`build/test-artifacts` under the rootdir), `--metersim-log-level LEVEL` (metersim's log,
written per test to `metersim.log`, default WARNING), `--metersim-keep-artifacts` (keep the
artefacts of passed tests too; those of failed tests are always kept).

Artefacts per test, in `<trace-dir>/<test id>/`: `<machine>.<uart>.log` (every UART line
with its virtual time), `metersim.log`, `summary.txt` (virtual/wall time, instructions).

Load it with `-p metersim.pytest_plugin` or `pytest_plugins = [...]` in a conftest.
It brings two more: on-target C unit tests as pytest items (`c_tests`,
metersim._frontends.pytest_ctest) and `--metersim-coverage DIR`, the firmware's code coverage
(metersim._coverage.pytest_coverage; fixture `metersim_coverage` for emulations a test builds).
"""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from metersim._errors import SetupError
from metersim._orchestration.testers import UartTester, parse_level
from metersim import _resources as resources
from metersim._resources import data_root, firmware_dirs

# The fixtures and the marker are the interface; the pytest_* hooks are found by name.
__all__ = ["emulation", "firmware", "machine", "uart", "metersim_artifacts", "FirmwareResolver"]


pytest_plugins = ["metersim._frontends.pytest_ctest", "metersim._coverage.pytest_coverage"]

#: Build folder under build/fw for each platform name (see firmware/mk/targets.mk).
PLATFORM_TARGETS = {"stm32f413": "f413rg", "stm32f413rg": "f413rg", "stm32f103": "f103rb",
                    "stm32f103rb": "f103rb", "stm32f103rc": "f103rc"}
#: The platform used when a marker names only a core.
CORE_PLATFORMS = {"cortex-m3": "stm32f103rb", "cortex-m4": "stm32f413", "cortex-m4f": "stm32f413"}

_REPORTS = pytest.StashKey[dict]()
_ARTIFACTS = pytest.StashKey[Path]()
_KEPT = pytest.StashKey[list]()
MARKER_ARGS = ("platform", "elf", "core", "target", "name", "uart", "seed")


# ----------------------------------------------------------------------------- options
def pytest_addoption(parser):
    group = parser.getgroup("metersim", "metersim emulation")
    group.addoption("--metersim-seed", type=int, default=None, metavar="N",
                    help="seed of every test's emulation (default 0)")
    group.addoption("--metersim-trace-dir", default=None, metavar="DIR",
                    help="folder for per-test artefacts (UART logs, metersim log, summary); "
                         "default build/test-artifacts under the rootdir")
    group.addoption("--metersim-log-level", default=None, metavar="LEVEL",
                    help="level of metersim's log written per test (Noisy, Debug, Info, "
                         "Warning, Error; default Warning)")
    group.addoption("--metersim-keep-artifacts", action="store_true", default=False,
                    help="keep the artefacts of passed tests too")
    parser.addini("metersim_platform", "default platform (.repl path or name) for `machine`")
    parser.addini("metersim_elf", "default firmware (path or name) for `machine`")
    parser.addini("metersim_core", "default core when no platform is given")
    parser.addini("metersim_target", "default firmware build folder under build/fw")
    parser.addini("metersim_firmware_dir", "where firmware builds live (default build/fw)")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "metersim(platform=None, elf=None, core=None, target=None, name=None, "
        "uart=None, seed=None): the emulated machine the metersim fixtures build")
    level = config.getoption("--metersim-log-level")
    if level is not None:
        parse_level(level)   # a typo fails the run at once, not in every test
    config.stash[_KEPT] = []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    rep = yield
    item.stash.setdefault(_REPORTS, {})[rep.when] = rep
    folder = item.stash.get(_ARTIFACTS, None)
    if rep.failed and folder is not None and rep.when in ("setup", "call"):
        rep.sections.append(("metersim artifacts", f"kept in {folder}"))
    return rep


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    kept = config.stash.get(_KEPT, [])
    if kept:
        terminalreporter.write_sep("-", "metersim artifacts kept for failed tests")
        for path in kept:
            terminalreporter.write_line(str(path))


# ----------------------------------------------------------------------------- helpers
def _settings(request) -> dict[str, Any]:
    """Marker arguments (closest marker first), then ini defaults."""
    out: dict[str, Any] = {}
    for mark in request.node.iter_markers("metersim"):
        if mark.args:
            raise SetupError(f"@pytest.mark.metersim takes keyword arguments only "
                             f"({', '.join(MARKER_ARGS)}), got {mark.args!r}")
        for key, value in mark.kwargs.items():
            if key not in MARKER_ARGS:
                raise SetupError(f"@pytest.mark.metersim: unknown argument {key!r}; expected "
                                 f"one of {', '.join(MARKER_ARGS)}")
            out.setdefault(key, value)
    for key in ("platform", "elf", "core", "target"):
        if out.get(key) is None:
            ini = request.config.getini(f"metersim_{key}")
            if ini:
                out[key] = ini
    return out


def _roots(config) -> list[Path]:
    roots = [Path(config.rootpath), Path.cwd(), data_root()]
    return list(dict.fromkeys(r.resolve() for r in roots))


def _safe(nodeid: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", nodeid).strip("_")[:150] or "test"


def find_platform(config, platform: str) -> Path:
    """A .repl path (relative to the project, the current folder or metersim's data) or a
    platform name such as `stm32f103rb`."""
    p = Path(platform).expanduser()
    if not p.is_absolute():
        for root in _roots(config):
            if (root / p).is_file():
                return root / p
    return resources.find_platform(p)


def target_of(platform: str | None, core: str | None) -> str | None:
    if platform:
        stem = Path(str(platform)).stem.lower()
        if stem in PLATFORM_TARGETS:
            return PLATFORM_TARGETS[stem]
        m = re.match(r"stm32(f\d{3}[a-z]{2})", stem)
        if m:
            return m.group(1)
    if core:
        return target_of(CORE_PLATFORMS.get(str(core).lower()), None)
    return None


class FirmwareResolver:
    """`firmware("hello")` -> Path of build/fw/<target>/hello.elf (see the module doc)."""

    def __init__(self, config, default_target: str | None):
        self.config = config
        self.default_target = default_target
        fw_dir = config.getini("metersim_firmware_dir")
        if not fw_dir:        # the project's build/fw, then metersim's firmware search path
            self.dirs = list(dict.fromkeys([r / "build" / "fw" for r in _roots(config)]
                                           + firmware_dirs()))
        else:
            self.dirs = [r / fw_dir for r in _roots(config)] if not Path(fw_dir).is_absolute() \
                else [Path(fw_dir)]

    def __call__(self, *parts: str) -> Path:
        if len(parts) == 2:
            target, name = parts
        elif len(parts) == 1:
            target, name = self.default_target, parts[0]
        else:
            raise SetupError(f"firmware() takes a name, or a target and a name, got {parts!r}")
        name = str(name)
        direct = Path(name).expanduser()
        if direct.suffix == ".elf" or "/" in name:
            for c in ([direct] if direct.is_absolute() else [r / direct for r in _roots(self.config)]):
                if c.is_file():
                    return c
            if "/" in name:
                raise SetupError(f"firmware {name!r} not found (relative to "
                                 f"{', '.join(str(r) for r in _roots(self.config))})")
        if target is None:
            raise SetupError(f"firmware {name!r}: no build target to look in; give the "
                             "marker a platform or `target=\"f413rg\"`, or call "
                             f"firmware(\"f413rg\", {name!r})")
        stem = name[:-4] if name.endswith(".elf") else name
        looked = []
        for d in self.dirs:
            c = d / str(target) / f"{stem}.elf"
            looked.append(str(c))
            if c.is_file():
                return c
        raise SetupError(f"firmware {stem!r} for {target} not found (looked at "
                         f"{', '.join(looked)}); build it with `make firmware`")


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture
def metersim_artifacts(request):
    """This test's artefact folder, removed after a pass unless --metersim-keep-artifacts."""
    config = request.config
    base = config.getoption("--metersim-trace-dir")
    base = Path(base) if base else Path(config.rootpath) / "build" / "test-artifacts"
    folder = (base / _safe(request.node.nodeid)).resolve()
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    request.node.stash[_ARTIFACTS] = folder
    yield folder
    reports = request.node.stash.get(_REPORTS, {})
    passed = "call" in reports and all(r.passed for r in reports.values())
    if passed and not config.getoption("--metersim-keep-artifacts"):
        shutil.rmtree(folder, ignore_errors=True)
    elif not passed:
        config.stash[_KEPT].append(folder)


@pytest.fixture
def emulation(request, metersim_artifacts):
    """An Emulation seeded from --metersim-seed (or the marker's seed=), with metersim's log
    written to the test's artefacts."""
    from metersim._engine.emulation import Emulation

    settings = _settings(request)
    seed = settings.get("seed")
    if seed is None:
        seed = request.config.getoption("--metersim-seed")
    emu = Emulation(seed=int(seed or 0))
    level = parse_level(request.config.getoption("--metersim-log-level") or "warning")
    logger = logging.getLogger("metersim")
    saved = logger.level
    handler = logging.FileHandler(metersim_artifacts / "metersim.log", encoding="utf-8")
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    if logger.getEffectiveLevel() > level:
        logger.setLevel(level)
    from metersim._coverage.pytest_coverage import coverage_session
    cov = coverage_session(request.config)
    if cov is not None:
        cov.watch(emu)
    try:
        yield emu
    finally:
        if cov is not None:
            cov.collect(emu)
        logger.removeHandler(handler)
        logger.setLevel(saved)
        handler.close()
        (metersim_artifacts / "summary.txt").write_text(emu.summary() + "\n", encoding="utf-8")


@pytest.fixture
def firmware(request):
    """Firmware path resolver; the default target comes from the marker or ini options."""
    settings = _settings(request)
    return FirmwareResolver(request.config,
                            settings.get("target") or target_of(settings.get("platform"),
                                                                settings.get("core")))


@pytest.fixture
def machine(request, emulation):
    """The machine the metersim marker (or the ini options) describes, firmware loaded."""
    from metersim._engine.platform_builder import create_machine

    settings = _settings(request)
    platform, core = settings.get("platform"), settings.get("core")
    if platform is None:
        if core is None:
            raise SetupError("the `machine` fixture needs a platform: use "
                             "@pytest.mark.metersim(platform=\"stm32f413\", elf=\"hello\") or "
                             "the ini option metersim_platform")
        key = str(core).lower()
        if key not in CORE_PLATFORMS:
            raise SetupError(f"core {core!r} is not emulated; expected one of "
                             f"{', '.join(CORE_PLATFORMS)}")
        platform = CORE_PLATFORMS[key]
    repl = find_platform(request.config, str(platform))
    resolver = FirmwareResolver(request.config,
                                settings.get("target") or target_of(str(platform), core))
    elf = resolver(str(settings["elf"])) if settings.get("elf") else None
    m = create_machine(emulation, repl, elf=elf, name=settings.get("name") or "machine-0")
    if core is not None and m.cpu.core.replace("cortex-m4f", "cortex-m4") != \
            str(core).lower().replace("cortex-m4f", "cortex-m4"):
        raise SetupError(f"platform {repl.name} has a {m.cpu.core} core, the metersim marker "
                         f"asks for {core}")
    return m


@pytest.fixture
def uart(request, machine, emulation, metersim_artifacts):
    """A terminal tester on the console UART (the marker's `uart=`, else usart1 or the first
    UART), logging every line with its virtual time to the test's artefacts."""
    from metersim._orchestration.testers import console_uart_of

    name = _settings(request).get("uart")
    if isinstance(name, str) and name.startswith("sysbus."):
        name = name[len("sysbus."):]
    uart_name, _ = console_uart_of(machine, name)
    tester = UartTester(emulation, machine, uart_name, timeout="1s",
                        log_path=metersim_artifacts / f"{machine.name}.{uart_name}.log",
                        pause=True, wait_for_echo=False)
    yield tester
    tester.close()
