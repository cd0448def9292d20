"""Binaries named by URL in monitor paths (`sysbus LoadELF @https://host/x.elf-s_1234-<sha1>`),
as Renode's suites and scripts name their firmware.

Renode downloads such a file into its cache and, when the name ends in `-s_<size>-<sha1>`,
checks the size and SHA-1 it carries. metersim does the same, after first looking for a file
to use instead: in each folder of `METERSIM_BINARIES` (separated by `os.pathsep`; `metersim
test --binaries DIR` adds folders) a file named as the URL's last segment, or as that name
without Renode's `-s_<size>-<sha1>` suffix, replaces the download. A replacement is used as
it is (it is a different build, so the checksum of the URL does not apply to it).

Downloads go to `$XDG_CACHE_HOME/metersim/binaries` (default `~/.cache/metersim/binaries`)
and are reused while they still match the URL's size and SHA-1.
"""

from __future__ import annotations

import hashlib
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from metersim._errors import SetupError

BINARIES_ENV = "METERSIM_BINARIES"
DOWNLOAD_TIMEOUT_S = 30

# Renode's checked-download suffix: `-s_<size in bytes>-<40 hex digits of SHA-1>`.
_RENODE_SUFFIX = re.compile(r"-s_(\d+)-([0-9a-fA-F]{40})$")


class BinaryNotFound(SetupError):
    """A URL binary with no replacement file and no successful, verified download."""


def is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


def url_file_name(url: str) -> str:
    name = urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1])
    if not name:
        raise BinaryNotFound(f"{url}: the URL names no file (its path ends in '/')")
    return name


def split_renode_suffix(name: str) -> tuple[str, int | None, str | None]:
    """`x.elf-s_1234-<sha1>` -> ("x.elf", 1234, "<sha1>"); a name without it -> (name, None, None)."""
    m = _RENODE_SUFFIX.search(name)
    if not m:
        return name, None, None
    return name[:m.start()], int(m.group(1)), m.group(2).lower()


def binaries_dirs() -> list[Path]:
    """The folders of METERSIM_BINARIES, in order."""
    return [Path(p).expanduser() for p in os.environ.get(BINARIES_ENV, "").split(os.pathsep) if p]


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "metersim" / "binaries"


def _mismatch(path: Path, size: int | None, sha1: str | None) -> str | None:
    """Why `path` does not match the URL's size and SHA-1, or None when it does (or the URL
    carries neither)."""
    if size is not None and path.stat().st_size != size:
        return f"{path.stat().st_size} bytes, the URL says {size}"
    if sha1 is not None:
        digest = hashlib.sha1(path.read_bytes()).hexdigest()
        if digest != sha1:
            return f"SHA-1 {digest}, the URL says {sha1}"
    return None


def resolve_binary(url: str, dirs: list[Path] | None = None, cache: Path | None = None) -> Path:
    """The local file standing for `url` (see the module docstring); BinaryNotFound naming the
    URL, the names looked for, the folders and why the download failed."""
    name = url_file_name(url)
    bare, size, sha1 = split_renode_suffix(name)
    names = list(dict.fromkeys([name, bare]))
    dirs = binaries_dirs() if dirs is None else [Path(d) for d in dirs]
    for d in dirs:
        for n in names:
            if (d / n).is_file():
                return (d / n).resolve()
    cache = cache_dir() if cache is None else Path(cache)
    cached = cache / name
    if cached.is_file() and _mismatch(cached, size, sha1) is None:
        return cached
    why = _download(url, cached, size, sha1)
    if why is None:
        return cached
    looked = ", ".join(str(d) for d in dirs) if dirs else f"none (${BINARIES_ENV} is not set)"
    raise BinaryNotFound(
        f"{url}: no replacement file and the download failed ({why}); looked for "
        f"{' or '.join(repr(n) for n in names)} in the binaries folders: {looked}. Put the file "
        f"in a folder of ${BINARIES_ENV} (`metersim test --binaries DIR`) or in {cache}")


def _download(url: str, dest: Path, size: int | None, sha1: str | None) -> str | None:
    """Fetch `url` into `dest` (through a temporary file, so a failed download leaves nothing);
    None when done and verified, else why not."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as resp, open(tmp, "wb") as f:
            while chunk := resp.read(1 << 16):
                f.write(chunk)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        tmp.unlink(missing_ok=True)
        return f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
    bad = _mismatch(tmp, size, sha1)
    if bad is not None:
        tmp.unlink(missing_ok=True)
        return f"the downloaded file does not match: {bad}"
    os.replace(tmp, dest)
    return None
