"""Where metersim finds its files, installed from a wheel or run from a checkout.

- Platform files (`platforms/cpus`, `platforms/boards`, `platforms/scenes`) are package data
  (`metersim.platforms`). `data_root()` is the folder that holds `platforms/`, so the paths
  Renode-style scripts use (`@platforms/cpus/stm32f413.repl`) resolve there as in Renode's own
  tree; the current directory is searched first, then the folders of `METERSIM_SEARCH_PATH`
  (for instance a Renode checkout, whose scripts name `@platforms/cpus/stm32f4.repl`).
- Firmware builds (`<target>/<program>.elf`) are looked up, in order, in the folders of
  `METERSIM_FIRMWARE_PATH` (separated by `os.pathsep`), `./build/fw`, the checkout's `build/fw`
  when metersim runs from one, and the user cache (`$XDG_CACHE_HOME/metersim/fw`, by default
  `~/.cache/metersim/fw`).
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from metersim._errors import SetupError

FIRMWARE_PATH_ENV = "METERSIM_FIRMWARE_PATH"
SEARCH_PATH_ENV = "METERSIM_SEARCH_PATH"


def platforms_dir() -> Path:
    """The folder of the platform files shipped with metersim."""
    return Path(str(resources.files("metersim.platforms")))


def data_root() -> Path:
    """The folder that contains `platforms/`: a checkout's root or the installed package."""
    return platforms_dir().parent


def extra_search_paths() -> list[Path]:
    """The folders of METERSIM_SEARCH_PATH (separated by `os.pathsep`): where a user keeps
    other platform files and scripts, such as a Renode tree."""
    return [Path(p) for p in os.environ.get(SEARCH_PATH_ENV, "").split(os.pathsep) if p]


def search_roots() -> list[Path]:
    """Where relative platform and script paths are resolved: the current directory, the
    folders of METERSIM_SEARCH_PATH, then metersim's own data."""
    return list(dict.fromkeys([Path.cwd(), *extra_search_paths(), data_root()]))


def find_platform(name_or_path: str | Path) -> Path:
    """A `.repl`/`.resc` path as given, or relative to a search root, or a short platform name
    (`stm32f413`, `metering_controller`) under platforms/cpus or platforms/boards."""
    p = Path(name_or_path)
    candidates = [p] if p.is_absolute() else [r / p for r in search_roots()]
    if not p.suffix and len(p.parts) == 1:
        candidates += [platforms_dir() / sub / f"{p.name}.repl" for sub in ("cpus", "boards")]
    for c in candidates:
        if c.is_file():
            return c
    known = sorted(f.stem for sub in ("cpus", "boards") for f in (platforms_dir() / sub).glob("*.repl"))
    raise SetupError(f"platform {str(name_or_path)!r} not found (looked in "
                     f"{', '.join(str(c.parent) for c in candidates)}); known names: "
                     f"{', '.join(known)}")


def user_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "metersim" / "fw"


def firmware_dirs() -> list[Path]:
    """The firmware search path, in order (see the module docstring)."""
    dirs = [Path(p) for p in os.environ.get(FIRMWARE_PATH_ENV, "").split(os.pathsep) if p]
    dirs += [Path.cwd() / "build" / "fw", data_root() / "build" / "fw", user_cache_dir()]
    seen, out = set(), []
    for d in dirs:
        if d not in seen:
            seen.add(d)
            out.append(d)
    return out


def firmware_path(target: str, program: str) -> Path:
    """Where `program` for `target` is found, or, if it is nowhere yet, where `make firmware`
    in this checkout (or the first folder of the search path) would put it."""
    try:
        return find_firmware(target, program)
    except SetupError:
        return firmware_dirs()[0 if os.environ.get(FIRMWARE_PATH_ENV) else 2] / target / \
            f"{program}.elf"


def find_firmware(target: str, program: str) -> Path:
    """The ELF of `program` built for `target` (e.g. "f103rb", "metering_controller")."""
    for d in firmware_dirs():
        elf = d / target / f"{program}.elf"
        if elf.is_file():
            return elf
    raise SetupError(f"firmware {target}/{program}.elf not found in "
                     f"{', '.join(str(d) for d in firmware_dirs())}: build it with `make firmware` "
                     f"in a metersim checkout, or point {FIRMWARE_PATH_ENV} at a folder that has "
                     f"{target}/{program}.elf")
