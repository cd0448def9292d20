"""The one emulation and monitor a pyrenode3 process talks to (pyrenode3 keeps Renode's
EmulationManager and Monitor as singletons), and RPath."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from metersim._errors import SetupError


class Session:
    """Holds the metersim Monitor (and through it the Emulation) of this process."""

    _monitor = None
    background = False       # run_in_background(): a Runner advances time after StartAll
    runner = None

    @classmethod
    def monitor(cls):
        if cls._monitor is None:
            from metersim._frontends.monitor import Monitor, default_search_paths

            cls._monitor = Monitor(search_paths=default_search_paths())
        return cls._monitor

    @classmethod
    def start(cls) -> None:
        mon = cls.monitor()
        mon.started = True
        if cls.background and cls.runner is None:
            from metersim.pyrenode3.background import Runner
            cls.runner = Runner(mon)

    @classmethod
    def drop(cls) -> None:
        if cls.runner is not None:
            cls.runner.close()
            cls.runner = None
        if cls._monitor is not None:
            cls._monitor.close()
        cls._monitor = None
        from metersim.pyrenode3.wrappers.base import MetaSingleton
        MetaSingleton.instances.clear()


class RPath:
    """pyrenode3's RPath: a local path checked to exist (relative paths are looked up in the
    current directory, METERSIM_SEARCH_PATH and metersim's own data, as Renode looks in its
    root). metersim downloads nothing: a URL is an error naming the file to fetch first."""

    def __init__(self, location: str | Path):
        self._path = self._find(location)

    @staticmethod
    def _find(location: Any) -> Path:
        text = str(location)
        if urlparse(text).scheme in ("http", "https"):
            raise FileNotFoundError(f"{text}: metersim does not download files; fetch it and "
                                    "pass its local path")
        try:
            return Session.monitor().resolve_path(text)
        except SetupError as exc:
            raise FileNotFoundError(f"'{location}' doesn't exist ({exc})") from None

    @property
    def path(self) -> str:
        return str(self._path)

    @property
    def read_file_path(self) -> str:
        return str(self._path)

    @classmethod
    def in_root(cls):
        from contextlib import nullcontext
        return nullcontext()
