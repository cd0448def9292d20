#!/usr/bin/env python3
"""Put littlefs's C sources (lfs.c, lfs.h, lfs_util.c, lfs_util.h) under <deps>/littlefs/.

littlefs is not vendored: the firmware compiles the C sources shipped inside the
littlefs-python source distribution pinned in pyproject.toml, so the firmware and the host
side (which mounts flash images with littlefs-python) run the very same littlefs.

Steps, each skipped when its result is already there:
1. the version pin is read from pyproject.toml ("littlefs-python==X.Y.Z");
2. the sdist littlefs_python-X.Y.Z.tar.gz is looked for in <deps>, then fetched with
   `python -m pip download --no-deps --no-binary littlefs-python` (pip, the ordinary client;
   only this package is built from source, its build tools come as wheels);
3. the four files are unpacked from its littlefs/ directory into <deps>/littlefs/, and
   <deps>/littlefs/VERSION records the pin, LFS_VERSION and LFS_DISK_VERSION of lfs.h.

When the installed littlefs-python (host side) has another version than the pin, the script
says so and fails: the two ends must agree on the on-disk format.

Usage: fetch_littlefs.py <deps dir> <pyproject.toml> [<python>]
"""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
from pathlib import Path

FILES = ("lfs.c", "lfs.h", "lfs_util.c", "lfs_util.h")


def fail(msg: str) -> None:
    print(f"fetch_littlefs: {msg}", file=sys.stderr)
    sys.exit(1)


def pinned_version(pyproject: Path) -> str:
    m = re.search(r'"littlefs-python==([0-9][^"\s;]*)"', pyproject.read_text())
    if not m:
        fail(f"{pyproject}: no pin 'littlefs-python==X.Y.Z' in the dependencies")
    return m.group(1)


def host_version(python: str) -> str | None:
    try:
        out = subprocess.run([python, "-c", "import importlib.metadata as m; "
                              "print(m.version('littlefs-python'))"],
                             capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def sdist(deps: Path, version: str, python: str) -> Path:
    name = f"littlefs_python-{version}.tar.gz"
    path = deps / name
    if path.is_file():
        return path
    deps.mkdir(parents=True, exist_ok=True)
    print(f"fetch_littlefs: downloading the littlefs-python {version} sdist with pip", flush=True)
    cmd = [python, "-m", "pip", "download", "--no-deps", "--no-binary", "littlefs-python",
           "--disable-pip-version-check", "-q", f"littlefs-python=={version}", "-d", str(deps)]
    r = subprocess.run(cmd)
    if r.returncode != 0 or not path.is_file():
        fail(f"pip could not download {name} (command: {' '.join(cmd)}); put the file in {deps} "
             "by hand to build offline")
    return path


def unpack(archive: Path, version: str, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    prefix = f"littlefs_python-{version}/littlefs/"
    with tarfile.open(archive) as tar:
        for f in FILES:
            try:
                member = tar.getmember(prefix + f)
            except KeyError:
                fail(f"{archive} has no {prefix + f}")
            data = tar.extractfile(member).read()
            tmp = out / (f + ".tmp")
            tmp.write_bytes(data)
            tmp.replace(out / f)


def lfs_versions(lfs_h: Path) -> tuple[int, int]:
    text = lfs_h.read_text()
    v = re.search(r"#define LFS_VERSION (0x[0-9a-fA-F]+)", text)
    d = re.search(r"#define LFS_DISK_VERSION (0x[0-9a-fA-F]+)", text)
    if not v or not d:
        fail(f"{lfs_h}: LFS_VERSION / LFS_DISK_VERSION not found")
    return int(v.group(1), 16), int(d.group(1), 16)


def main(argv: list[str]) -> None:
    if len(argv) not in (3, 4):
        fail("usage: fetch_littlefs.py <deps dir> <pyproject.toml> [<python>]")
    deps, pyproject = Path(argv[1]), Path(argv[2])
    python = argv[3] if len(argv) == 4 else sys.executable
    version = pinned_version(pyproject)
    host = host_version(python)
    if host is not None and host != version:
        fail(f"the host has littlefs-python {host} but pyproject.toml pins {version}: "
             "reinstall the project so both ends use the same littlefs")
    out = deps / "littlefs"
    stamp = out / "VERSION"
    if not (stamp.is_file() and stamp.read_text().startswith(f"littlefs-python {version}\n")
            and all((out / f).is_file() for f in FILES)):
        unpack(sdist(deps, version, python), version, out)
        lfs, disk = lfs_versions(out / "lfs.h")
        stamp.write_text(f"littlefs-python {version}\nLFS_VERSION 0x{lfs:08x}\n"
                         f"LFS_DISK_VERSION 0x{disk:08x}\n")
        print(f"fetch_littlefs: littlefs {lfs >> 16}.{lfs & 0xFFFF} (disk {disk >> 16}.{disk & 0xFFFF}) "
              f"from littlefs-python {version} in {out}")
    else:
        stamp.touch()   # up to date: newer than pyproject.toml for make


if __name__ == "__main__":
    main(sys.argv)
