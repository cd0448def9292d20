"""A progress bar for a campaign: redrawn in place on a terminal, a plain line per tenth of the
campaign into a log or pipe."""

from __future__ import annotations

import sys
import time


class ProgressBar:
    def __init__(self, total: int, done: int = 0, out=None, width: int = 30):
        self.total, self.done, self.failed = total, done, 0
        self.out = out if out is not None else sys.stderr
        self.width, self.wall0 = width, time.perf_counter()
        self.tty = getattr(self.out, "isatty", lambda: False)()
        self._tenth = -1
        self.show()

    def update(self, row: dict) -> None:
        self.done += 1
        self.failed += not row["passed"]
        self.show()

    def show(self) -> None:
        frac = self.done / self.total if self.total else 1.0
        n = int(frac * self.width)
        text = (f"[{'#' * n}{'.' * (self.width - n)}] {self.done}/{self.total} scenarios, "
                f"{self.failed} failed, {time.perf_counter() - self.wall0:7.1f} s wall")
        finished = self.done >= self.total
        if self.tty:
            self.out.write("\r" + text + ("\n" if finished else ""))
        elif int(frac * 10) > self._tenth or finished:
            self._tenth = int(frac * 10)
            self.out.write(text + "\n")
        self.out.flush()
