"""Firmware C built for the host, for the tests that check it against Python or run its unit
harnesses: the host compiler (`cc`, installed by `make setup`) with every warning an error and
the address and undefined-behaviour sanitizers (a sanitizer report stops the program, so it
fails the test), into build/host/."""

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO

OUT = REPO / "build" / "host"
WARNINGS = ["-Wall", "-Wextra", "-Werror"]
# for the harnesses of whole modules: every function outside its file declared in a header
PROTOTYPES = ["-Wmissing-prototypes", "-Wmissing-declarations"]
SANITIZERS = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined"]


def build_host_c(name: str, sources, include_dirs=(), defines=(), flags=(), libs=(),
                 harness: str | None = None) -> Path:
    """Compile and link `sources` (paths) into build/host/`name` and return the binary's path.

    `harness`: C text of a test program, written to build/host/`name`.c and compiled first.
    `include_dirs`: -I; `defines`: -D (NAME or NAME=value); `flags`: further compiler flags
    (more warnings); `libs`: linker inputs after the sources (-lm). A failed build fails the
    test with the command line and the compiler's output."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.fail("no host C compiler (cc) on PATH: `make setup` installs it")
    OUT.mkdir(parents=True, exist_ok=True)
    exe = OUT / name
    srcs = [str(s) for s in sources]
    if harness is not None:
        src = OUT / f"{name}.c"
        src.write_text(harness)
        srcs.insert(0, str(src))
    cmd = [cc, "-std=c11", *WARNINGS, *flags, "-O1", "-g",
           *(f"-I{d}" for d in include_dirs), *(f"-D{d}" for d in defines),
           *SANITIZERS, "-o", str(exe), *srcs, *libs]
    build = subprocess.run(cmd, capture_output=True, text=True)
    if build.returncode != 0:
        pytest.fail(f"host build failed:\n{' '.join(cmd)}\n{build.stdout}{build.stderr}",
                    pytrace=False)
    return exe
